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
        // A proxy pointed at a group that does not exist.
        let stray = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "infra/gw-typo", nodeID: "stray-envoy", adminPort: 0))
        defer { stray.stop() }
        #expect(
            await eventually {
                let clients = try await chancery.adminJSON("/api/v1/clients")["clients"] as? [[String: Any]] ?? []
                return clients.count == 2 && clients.first { $0["nodeID"] as? String == "page-envoy" }?["inSync"] as? Bool == true
            })
        // A second version of the group: a route added, for the group page's diff.
        try """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: added, namespace: app}
            spec:
              parentRefs: [{name: gw, namespace: infra}]
              rules: [{matches: [{path: {type: PathPrefix, value: /added-by-the-test}}], backendRefs: [{name: a, port: 8080}]}]
            """.write(to: config.appendingPathComponent("added.yaml"), atomically: true, encoding: .utf8)
        #expect(
            await eventually {
                let versions = (try await chancery.adminJSON("/api/v1/snapshots"))["snapshots"] as? [[String: Any]] ?? []
                return (versions.first { $0["group"] as? String == "infra/gw" }?["versions"] as? [String])?.count == 2
            })
        let url = "http://\(chancery.adminAddress)/"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-page-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(dir.path)/profile"]

        let domFile = dir.appendingPathComponent("dom.html")
        let dump = try ChildProcess(executable: browser, arguments: flags + ["--dump-dom", url], output: domFile.path)
        #expect(await dump.exited() == 0)
        let dom = try String(contentsOf: domFile, encoding: .utf8)
        #expect(dom.contains("<table id=\"groups\">"), "\(dom.prefix(500))")
        #expect(dom.contains("infra/gw") && dom.contains("chancery"))
        #expect(dom.contains("page-envoy") && dom.contains("in sync"))
        #expect(dom.contains("HTTPRoute app/bad-enum: spec.rules[0].matches[0].path.type"))
        #expect(dom.contains("HTTPRoute app/extension"))
        // Every Gateway, route and policy with its conditions, not only the rejected ones.
        let objects = try #require(dom.range(of: "<table id=\"objects\">")).upperBound
        let objectTable = String(dom[objects...].prefix { _ in true }.components(separatedBy: "</table>")[0])
        #expect(objectTable.contains("HTTPRoute app/good") && objectTable.contains("Gateway infra/gw"), "\(objectTable)")
        #expect(objectTable.contains("Accepted=True"), "\(objectTable)")
        // The stray proxy stands out, and when each proxy got where it is.
        let proxies = String(dom[try #require(dom.range(of: "<table id=\"proxies\">")).upperBound...].components(separatedBy: "</table>")[0])
        let strayRow = try #require(proxies.components(separatedBy: "<tr").first { $0.contains("stray-envoy") })
        #expect(strayRow.contains("class=\"bad\"") && strayRow.contains("unknown group"), "\(strayRow)")
        #expect(proxies.range(of: #"\d+s ago"#, options: .regularExpression) != nil, "\(proxies)")

        // The group page: its versions, its resources, and what changed between the two.
        let groupFile = dir.appendingPathComponent("group.html")
        let groupDump = try ChildProcess(
            executable: browser, arguments: flags + ["--dump-dom", url + "groups/infra%2Fgw"], output: groupFile.path)
        #expect(await groupDump.exited() == 0)
        let group = try String(contentsOf: groupFile, encoding: .utf8)
        #expect(group.contains("Proxy group infra/gw") && group.contains("<table id=\"versions\">"), "\(group.prefix(800))")
        #expect(group.contains("<table id=\"resources\">") && group.contains("listener/"), "\(group.prefix(800))")
        #expect(group.contains("changes from the version before"))
        let added = group.components(separatedBy: "\n").filter { $0.contains("class=\"add\"") && $0.contains("/added-by-the-test") }
        #expect(!added.isEmpty, "the diff shows the added route's path as an added line: \(group)")

        // A screenshot, as docs/admin-page.png shows it.
        let png = dir.appendingPathComponent("page.png")
        let shot = try ChildProcess(
            executable: browser,
            arguments: flags + ["--screenshot=\(png.path)", "--window-size=1280,900", "--hide-scrollbars", url],
            output: dir.appendingPathComponent("shot.log").path)
        #expect(await shot.exited() == 0)
        let bytes = try Data(contentsOf: png)
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) && bytes.count > 10_000)
        if let keep = ProcessInfo.processInfo.environment["CHANCERY_SCREENSHOT"] {
            try bytes.write(to: URL(fileURLWithPath: keep))
        }
    }
}
