import Foundation
import Testing
import TestSupport
import XDS

/// The admin page as a person sees it: rendered by a real headless Chromium.
@Suite(.serialized) struct AdminPageTests {
    static func chromium() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            for name in ["chromium", "chromium-browser", "google-chrome"] {
                let path = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
        }
        throw EnvoyProcess.Failed(
            description: "chromium was not found: scripts/test installs Debian's chromium package (apt-get install chromium)")
    }

    @Test func pageRendersGroupsAndRejectedObjects() async throws {
        let browser = try Self.chromium()
        // The golden case with rejected objects, alone in a directory.
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-page-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: config) }
        try FileManager.default.copyItem(
            at: EnvoyProcess.packageRoot.appendingPathComponent("testdata/translation/invalid-input/input.yaml"),
            to: config.appendingPathComponent("routes.yaml"))
        let chancery = try await ChanceryProcess.serve(["--config-dir", config.path])
        defer { chancery.stop() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "infra/gw", nodeID: "page-envoy", adminPort: 0))
        defer { envoy.stop() }
        #expect(
            await eventually {
                let clients = try await chancery.adminJSON("/api/v1/clients")["clients"] as? [[String: Any]] ?? []
                return clients.first?["inSync"] as? Bool == true
            })
        let url = "http://\(chancery.adminAddress)/"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-page-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(dir.path)/profile"]

        let domFile = dir.appendingPathComponent("dom.html")
        let dump = try ChildProcess(executable: browser, arguments: flags + ["--dump-dom", url], output: domFile.path)
        #expect(dump.wait() == 0)
        let dom = try String(contentsOf: domFile, encoding: .utf8)
        #expect(dom.contains("<table id=\"groups\">"), "\(dom.prefix(500))")
        #expect(dom.contains("infra/gw") && dom.contains("chancery"))
        #expect(dom.contains("page-envoy") && dom.contains("in sync"))
        #expect(dom.contains("HTTPRoute app/bad-enum: spec.rules[0].matches[0].path.type"))
        #expect(dom.contains("HTTPRoute app/extension"))

        // A screenshot, as docs/admin-page.png shows it.
        let png = dir.appendingPathComponent("page.png")
        let shot = try ChildProcess(
            executable: browser,
            arguments: flags + ["--screenshot=\(png.path)", "--window-size=1280,900", "--hide-scrollbars", url],
            output: dir.appendingPathComponent("shot.log").path)
        #expect(shot.wait() == 0)
        let bytes = try Data(contentsOf: png)
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) && bytes.count > 10_000)
        if let keep = ProcessInfo.processInfo.environment["CHANCERY_SCREENSHOT"] {
            try bytes.write(to: URL(fileURLWithPath: keep))
        }
    }
}
