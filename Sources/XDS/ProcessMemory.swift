#if canImport(Glibc)
    import Glibc
#endif

/// How the process uses glibc's allocator. `chancery serve` and the benchmarks that
/// stand in for it call these, so their figures are those of the server.
public enum ProcessMemory {
    /// Allocations of 128 KiB and more get their own mapping, returned to the system
    /// when freed. Each push a stream writes is serialised into a buffer of the
    /// response's size (a few MiB for ten thousand clusters); by default glibc raises
    /// this threshold after every such free (up to 32 MiB), so those buffers come from
    /// its arenas and a fan-out to a thousand streams leaves their peak in RSS. Setting
    /// the threshold fixes it (1,000 streams at 10,000 routes: 1,291 → 422 MiB).
    public static func configureAllocator() {
        #if canImport(Glibc)
            _ = mallopt(mmapThreshold, 128 * 1024)
        #endif
    }

    /// Hands memory that glibc keeps in its arenas after frees back to the system
    /// (`malloc_trim`), so RSS falls after routes are deleted instead of staying at its
    /// peak. Costs a few milliseconds.
    public static func returnFreePages() {
        #if canImport(Glibc)
            _ = mallocTrim(0)
        #endif
    }
}

#if canImport(Glibc)
    /// `M_MMAP_THRESHOLD` in <malloc.h>.
    private let mmapThreshold: Int32 = -3
    // <malloc.h> is not part of the Glibc module.
    @_silgen_name("malloc_trim") private func mallocTrim(_ pad: Int) -> Int32
    @_silgen_name("mallopt") private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
