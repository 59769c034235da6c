import Dispatch
import Foundation
import GatewayModel
import Logging

#if os(Linux)
    import Glibc
#else
    #error("Chancery runs on Linux only: the file source watches directories with inotify (docs/architecture.md, Platforms)")
#endif

/// Kubernetes manifests from one or more directories, read recursively and watched.
///
/// Files ending `.yaml`, `.yml` or `.json` are read; entries whose name starts with `.`
/// are skipped (so a Kubernetes ConfigMap mount, whose files are symlinks into a hidden
/// `..data` directory, is read once). A file that is not valid YAML keeps the objects it
/// had before in force and its error is reported — an editor's half-saved file never
/// deletes routes. Bursts of changes (an editor's atomic rename, a ConfigMap swap, a
/// `git checkout`) coalesce into one new ResourceSet.
public final class FileSource: Sendable {
    public let directories: [String]
    public let limits: SourceLimits
    private let logger: Logger
    private let state = FileSourceState()

    public init(directories: [String], limits: SourceLimits = .defaults, logger: Logger = Logger(label: "chancery.files")) {
        self.directories = directories
        self.limits = limits
        self.logger = logger
    }

    /// The manifest files under each directory (`.yaml`, `.yml`, `.json`, hidden names
    /// skipped), as the source reads them, in the order it reads them.
    public static func manifestFiles(under directories: [String]) -> [String] {
        directories.flatMap { FileSourceState.walk($0).filter { !$0.1 }.map(\.0) }
    }

    /// Reads every file now.
    public func load() -> ResourceSet {
        state.rescan(directories: directories, limits: limits, logger: logger).set
    }

    /// A new ResourceSet, and when the change that produced it was first noticed.
    public struct Update: Sendable {
        public var set: ResourceSet
        public var seenAt: Date
    }

    /// The current ResourceSet, then a new one after every change that alters what
    /// was read (objects or errors).
    public func updates(debounce: Duration = .milliseconds(10), safetyRescan: Duration = .seconds(2))
        -> AsyncStream<ResourceSet>
    {
        let (stream, continuation) = AsyncStream<ResourceSet>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let task = Task {
            for await update in timedUpdates(debounce: debounce, safetyRescan: safetyRescan) {
                continuation.yield(update.set)
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Like ``updates(debounce:safetyRescan:)``, with the time each change was noticed.
    public func timedUpdates(debounce: Duration = .milliseconds(10), safetyRescan: Duration = .seconds(2))
        -> AsyncStream<Update>
    {
        let (stream, continuation) = AsyncStream<Update>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let directories = directories
        let limits = limits
        let logger = logger
        let state = state
        let task = Task {
            let watcher = DirectoryWatcher(logger: logger)
            var last = state.rescan(directories: directories, limits: limits, logger: logger)
            watcher.watch(last.directories)
            continuation.yield(Update(set: last.set, seenAt: Date()))
            let ticks = watcher.events(safetyRescan: safetyRescan)
            for await _ in ticks {
                let seen = Date()
                try? await Task.sleep(for: debounce)
                let next = state.rescan(directories: directories, limits: limits, logger: logger)
                watcher.watch(next.directories)
                if next.set != last.set {
                    continuation.yield(Update(set: next.set, seenAt: seen))
                }
                last = next
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// What was read from each file, kept between scans.
final class FileSourceState: @unchecked Sendable {
    private struct FileEntry {
        var contents: Data
        var stamp: Stamp?
        var manifests: [Manifest]
        var errors: [ManifestError]
    }

    /// What `stat` says of a file: while it stays the same the file is not read again
    /// (a rescan of 1,000 unchanged files then costs 1,000 `stat`s, not 1,000 reads).
    /// A rename into place changes the inode, a write the modification and change times.
    struct Stamp: Equatable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modified: timespec
        let changed: timespec

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = info.st_mtim
            changed = info.st_ctim
        }

        static func == (a: Stamp, b: Stamp) -> Bool {
            a.device == b.device && a.inode == b.inode && a.size == b.size
                && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
                && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
        }
    }

    private let lock = NSLock()
    private var files: [String: FileEntry] = [:]

    struct Scan {
        var set: ResourceSet
        var directories: [String]
    }

    func rescan(directories: [String], limits: SourceLimits, logger: Logger) -> Scan {
        lock.lock()
        defer { lock.unlock() }
        var seen: Set<String> = []
        var dirs: [String] = []
        var manifests: [Manifest] = []
        var errors: [ManifestError] = []
        for root in directories {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
                errors.append(ManifestError(file: root, line: 0, message: "config directory does not exist"))
                continue
            }
            for (path, isDir) in Self.walk(root) {
                if isDir {
                    dirs.append(path)
                    continue
                }
                seen.insert(path)
                let stamp = Stamp(path: path)
                if let stamp, let known = files[path], known.stamp == stamp {
                    manifests += known.manifests
                    errors += known.errors
                    continue
                }
                if let size = stamp?.size, size > limits.maxFileBytes {
                    // Not read at all: what the file had before stays in force.
                    let previous = files[path]?.manifests ?? []
                    let kept = previous.isEmpty ? "" : " (its previous \(previous.count) objects stay in force)"
                    let error = ManifestError(
                        file: path, line: 1,
                        message:
                            "not read: the file is \(SourceLimits.describe(Int(size))), over the limit of \(SourceLimits.describe(limits.maxFileBytes)) (--max-file-size)\(kept)"
                    )
                    if files[path]?.errors != [error] { logger.error("config file too large", metadata: ["error": "\(error)"]) }
                    files[path] = FileEntry(contents: Data(), stamp: stamp, manifests: previous, errors: [error])
                    manifests += previous
                    errors.append(error)
                    continue
                }
                guard let contents = FileManager.default.contents(atPath: path) else { continue }
                if files[path]?.contents != contents {
                    let decoded = ManifestDecoder.decode(
                        file: path, contents: String(decoding: contents, as: UTF8.self), maxObjectBytes: limits.maxObjectBytes)
                    var entry = FileEntry(
                        contents: contents, stamp: stamp, manifests: decoded.manifests, errors: decoded.errors)
                    if let fileError = decoded.fileError {
                        // Keep what this file had before; say why it was not re-read.
                        entry.manifests = files[path]?.manifests ?? []
                        let kept = entry.manifests.isEmpty ? "" : " (its previous \(entry.manifests.count) objects stay in force)"
                        var error = fileError
                        error.message += kept
                        entry.errors = [error]
                        logger.error("cannot read config file", metadata: ["error": "\(error)"])
                    } else {
                        for error in decoded.errors { logger.warning("rejected object", metadata: ["error": "\(error)"]) }
                    }
                    files[path] = entry
                } else {
                    files[path]!.stamp = stamp
                }
                manifests += files[path]!.manifests
                errors += files[path]!.errors
            }
        }
        for path in files.keys where !seen.contains(path) { files.removeValue(forKey: path) }
        return Scan(set: ResourceSet(manifests: manifests, errors: errors), directories: directories + dirs)
    }

    /// Files and directories under `root`, sorted, skipping hidden names, following
    /// symlinks to files.
    static func walk(_ root: String) -> [(String, Bool)] {
        var result: [(String, Bool)] = []
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return [] }
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = (root as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                result.append((path, true))
                result += walk(path)
            } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml") || name.hasSuffix(".json") {
                result.append((path, false))
            }
        }
        return result
    }
}

/// inotify on every watched directory, plus a periodic tick as a safety net.
final class DirectoryWatcher: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var watched: [String: Int32] = [:]
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0 { logger.warning("inotify is unavailable; changes are picked up by periodic rescans") }
    }

    deinit { if fd >= 0 { close(fd) } }

    func watch(_ directories: [String]) {
        guard fd >= 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        let mask = UInt32(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB)
            | UInt32(IN_DELETE_SELF | IN_MOVE_SELF)
        for directory in directories where watched[directory] == nil {
            let wd = inotify_add_watch(fd, directory, mask)
            if wd >= 0 { watched[directory] = wd }
        }
        let current = Set(directories)
        for (directory, wd) in watched where !current.contains(directory) {
            inotify_rm_watch(fd, wd)
            watched.removeValue(forKey: directory)
        }
    }

    /// A value whenever something changed (or the safety interval passed).
    func events(safetyRescan: Duration) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        var source: (any DispatchSourceRead)?
        if fd >= 0 {
            let read = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: "chancery.inotify"))
            let fd = self.fd
            read.setEventHandler {
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while Glibc.read(fd, &buffer, buffer.count) > 0 {}
                continuation.yield()
            }
            read.resume()
            source = read
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: safetyRescan)
                continuation.yield()
            }
        }
        let retained = SourceBox(source: source, watcher: self)
        continuation.onTermination = { _ in
            retained.source?.cancel()
            ticker.cancel()
        }
        return stream
    }
}

/// Keeps the dispatch source (and the watcher owning the inotify descriptor) alive for
/// as long as the event stream is.
private final class SourceBox: @unchecked Sendable {
    let source: (any DispatchSourceRead)?
    let watcher: DirectoryWatcher

    init(source: (any DispatchSourceRead)?, watcher: DirectoryWatcher) {
        self.source = source
        self.watcher = watcher
    }
}
