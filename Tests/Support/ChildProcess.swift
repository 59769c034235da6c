import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with posix_spawn and reaped with waitpid by this type alone.
///
/// Foundation's `Process` learns of a child's exit through a run loop source that a
/// test running on Swift concurrency's threads may never service, so `isRunning` and
/// `waitUntilExit()` can lag or hang; this asks the kernel directly.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments`; standard output and error go to `output`
    /// (a file path), or to /dev/null.
    public init(executable: String, arguments: [String], output: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let target = output ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, target, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // Close every other descriptor in the child: sockets opened without CLOEXEC (a
        // gRPC server's listening socket among them) would otherwise stay open in it
        // and keep their ports bound after this process closes them.
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap(Int32.init) where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        // The child starts with no blocked signals and default handlers: the test
        // process's threads block or ignore some (SIGTERM among them), and a child
        // would inherit that and never hear the SIGTERM that asks it to stop.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw EnvoyProcess.Failed(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// The exit status once the process has ended (a signal death is 128 + signal).
    public var status: Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let exitStatus { return exitStatus }
        var raw: Int32 = 0
        let reaped = waitpid(pid, &raw, WNOHANG)
        if reaped == -1, errno == ECHILD {
            // Someone else reaped it (a process-wide SIGCHLD handler): it has ended.
            exitStatus = -1
            return exitStatus
        }
        guard reaped == pid else { return nil }
        let signal = raw & 0x7f
        exitStatus = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
        return exitStatus
    }

    public var isRunning: Bool { status == nil }

    /// SIGTERM, then SIGKILL if it has not ended within `grace`; returns once reaped.
    public func stop(grace: Duration = .seconds(5)) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while isRunning, ContinuousClock.now < deadline { usleep(5_000) }
        if isRunning {
            kill(pid, SIGKILL)
            while isRunning { usleep(5_000) }
        }
    }

    /// SIGKILL at once, as a crash or an OOM kill ends a process: no clean-up runs.
    public func crash() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        while isRunning { usleep(5_000) }
    }

    /// Waits for the process to end by itself, blocking the calling thread (for
    /// threads of one's own; async code uses ``exited()``).
    public func wait() -> Int32 {
        while true {
            if let status { return status }
            usleep(5_000)
        }
    }

    /// Waits for the process to end by itself without holding a thread: tests run in
    /// parallel on Swift concurrency's few threads (one per core), and a test blocking
    /// them while a child process runs stalls every other test — and every server they
    /// run in process — for as long.
    public func exited() async -> Int32 {
        while true {
            if let status { return status }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    deinit { stop(grace: .seconds(1)) }
}
