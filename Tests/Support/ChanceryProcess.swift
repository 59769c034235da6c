import Foundation
import XDS

/// The real `chancery` executable (built next to the test bundle by `swift build` /
/// `swift test`), run as a process: what a user runs.
public final class ChanceryProcess: @unchecked Sendable {
    public let process: ChildProcess
    public let xdsAddress: HostPort
    public let adminAddress: HostPort
    public let outputFile: URL

    /// `chancery serve --xds-address 127.0.0.1:0 <arguments>`; waits for the address line.
    public static func serve(_ arguments: [String]) async throws -> ChanceryProcess {
        let binary = try executable()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-\(UUID().uuidString).log")
        let process = try ChildProcess(
            executable: binary.path,
            arguments: ["serve", "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0"] + arguments,
            output: output.path)
        // 60 s: in the first wave of a full run (dozens of processes starting at once on
        // two cores) a start took over 20 s.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let status = process.status {
                throw EnvoyProcess.Failed(description: "chancery serve exited with \(status):\n\(text)")
            }
            if let range = text.range(of: "delta) listening on "),
                let line = text[range.upperBound...].split(separator: "\n").first,
                let address = HostPort(String(line)),
                let adminRange = text.range(of: "Admin: http://"),
                let adminLine = text[adminRange.upperBound...].split(separator: "/").first,
                let admin = HostPort(String(adminLine))
            {
                return ChanceryProcess(process: process, xdsAddress: address, adminAddress: admin, outputFile: output)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.stop()
        throw EnvoyProcess.Failed(description: "chancery serve printed no xDS address within 60 s")
    }

    /// The `chancery` binary beside this test bundle.
    public static func executable() throws -> URL {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = me.deletingLastPathComponent()
        // The bundle may be a directory (…/ChanceryPackageTests.xctest/…) on some layouts.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("chancery")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw EnvoyProcess.Failed(description: "the chancery executable was not found next to \(me.path); run swift build")
    }

    private init(process: ChildProcess, xdsAddress: HostPort, adminAddress: HostPort, outputFile: URL) {
        self.process = process
        self.xdsAddress = xdsAddress
        self.adminAddress = adminAddress
        self.outputFile = outputFile
    }

    public var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }

    /// GET on the admin endpoint: status and body.
    public func admin(_ path: String, token: String? = nil) async throws -> HTTPResult {
        try await httpGet(
            port: adminAddress.port, path: path, host: adminAddress.description,
            headers: token.map { [("authorization", "Bearer \($0)")] } ?? [])
    }

    /// GET on the admin endpoint, decoded as a JSON object.
    public func adminJSON(_ path: String) async throws -> [String: Any] {
        let result = try await admin(path)
        return (try JSONSerialization.jsonObject(with: result.body) as? [String: Any]) ?? [:]
    }

    public func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: outputFile)
    }

    deinit { stop() }
}

/// Runs `chancery` with arguments to completion: its exit status and output.
public func runChancery(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: output) }
    let process = try ChildProcess(
        executable: try ChanceryProcess.executable().path, arguments: arguments, output: output.path)
    let status = await process.exited()
    return (status, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
}
