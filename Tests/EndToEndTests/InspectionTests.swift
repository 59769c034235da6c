import Foundation
import Testing
import TestSupport
import XDS

/// `chancery status`, `get`, `describe`, `config-dump`, `diff` and `plan` against a running
/// `chancery serve` with real Envoys connected.
@Suite(.serialized) struct InspectionTests {
    @Test func theInspectionCommandsShowWhatTheProxiesHold() async throws {
        let backend = try await EchoBackend.start(name: "a")
        let port = try freePort()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-inspect-\(UUID().uuidString)")
        let candidate = dir.appendingPathComponent("candidate")
        let served = dir.appendingPathComponent("served")
        try FileManager.default.createDirectory(at: candidate, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = served.appendingPathComponent("config.yaml")
        try AdminTests.config(port: port, backend: backend.port, route: "PathPrefix, value: /").write(
            to: file, atomically: true, encoding: .utf8)

        let chancery = try await ChanceryProcess.serve(["--config-dir", served.path])
        defer { chancery.stop() }
        let admin = ["--admin", chancery.adminAddress.description]
        let group = "infra/gw"
        let sotw = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: group, nodeID: "sotw-1", adminPort: 0))
        defer { sotw.stop() }
        let delta = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: group, nodeID: "delta-1", adminPort: 0, delta: true))
        defer { delta.stop() }
        // A proxy whose bootstrap names a group that does not exist.
        let stray = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "infra/gw-typo", nodeID: "stray-1", adminPort: 0))
        defer { stray.stop() }
        let (waited, waitOutput) = try await runChancery(["wait", "--group", group, "--timeout", "20s"] + admin)
        #expect(waited == 0, "\(waitOutput)")
        #expect(await eventually { try await chancery.adminJSON("/api/v1/clients")["clients"].map { ($0 as? [Any])?.count == 3 } ?? false })

        // status: a row a proxy, the version of each type it ACKed, in sync or not.
        let clients = try await chancery.adminJSON("/api/v1/clients")["clients"] as? [[String: Any]] ?? []
        let sotwClient = try #require(clients.first { $0["nodeID"] as? String == "sotw-1" })
        let ackedLDS = try #require(
            ((sotwClient["types"] as? [String: Any])?["LDS"] as? [String: Any])?["ackedVersion"] as? String)
        let (statusCode, status) = try await runChancery(["status"] + admin)
        #expect(statusCode == 0, "\(status)")
        let rows = status.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.first?.starts(with: ["NODE", "GROUP", "PROTOCOL", "LDS", "RDS", "CDS", "EDS", "SDS", "STATE"]) == true, "\(status)")
        let sotwRow = try #require(rows.first { $0.first == "sotw-1" }, "\(status)")
        #expect(sotwRow[1] == group && sotwRow[2] == "sotw" && sotwRow[3] == String(ackedLDS.prefix(8)), "\(status)")
        #expect(sotwRow[8...9] == ["in", "sync"], "\(status)")
        #expect(rows.first { $0.first == "delta-1" }?[2] == "delta", "\(status)")
        #expect(status.contains("unknown group"), "the stray proxy is pointed out: \(status)")
        #expect(rows.first { $0.first == "stray-1" }?.contains("unknown") == true, "\(status)")

        // get: objects with their state and conditions; groups; JSON and YAML.
        let (_, gateways) = try await runChancery(["get", "gateways"] + admin)
        #expect(gateways.contains("Gateway") && gateways.contains("infra") && gateways.contains("Accepted Programmed"), "\(gateways)")
        let (_, routes) = try await runChancery(["get", "routes", "-o", "json"] + admin)
        let routeList = try JSONSerialization.jsonObject(with: Data(routes.utf8)) as? [String: Any]
        let routeObjects = routeList?["objects"] as? [[String: Any]] ?? []
        #expect(routeObjects.map { $0["name"] as? String } == ["web"], "\(routes)")
        let (_, groups) = try await runChancery(["get", "groups", "-o", "yaml"] + admin)
        #expect(groups.contains("group: infra/gw") && groups.contains("proxiesInSync: 2"), "\(groups)")
        let (unknownCode, unknown) = try await runChancery(["get", "gatewys"] + admin)
        #expect(unknownCode != 0 && unknown.contains("cannot list \"gatewys\""), "\(unknown)")
        // Singular and plural kind names, -ies included.
        for what in ["backendtlspolicies", "ingress", "ingresses", "gatewayclass", "httproute"] {
            let (code, output) = try await runChancery(["get", what] + admin)
            #expect(code == 0, "\(what): \(output)")
        }

        // describe: conditions, the group and proxies carrying it, the resources it made.
        let (describeCode, described) = try await runChancery(["describe", "httproute", "app/web"] + admin)
        #expect(describeCode == 0, "\(described)")
        for expected in [
            "HTTPRoute app/web", "Parent Gateway infra/gw:", "Accepted=True (Accepted)", "Carried by group infra/gw",
            "route/127.0.0.1:\(port)", "cluster/", "delta-1 (in sync)", "sotw-1 (in sync)",
        ] {
            #expect(described.contains(expected), "\(expected): \(described)")
        }
        let (missingCode, missing) = try await runChancery(["describe", "httproute", "app/nope"] + admin)
        #expect(missingCode != 0 && missing.contains("no HTTPRoute app/nope"), "\(missing)")

        // config-dump: what the proxy holds is what Envoy reports holding.
        let (dumpCode, dump) = try await runChancery(["config-dump", "--proxy", "sotw-1", "--type", "routes"] + admin)
        #expect(dumpCode == 0, "\(dump)")
        let dumped = try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any]
        let dumpedRoutes = (dumped?["routes"] as? [String: Any])?["resources"] as? [[String: Any]] ?? []
        #expect(dumpedRoutes.map { $0["name"] as? String } == ["127.0.0.1:\(port)"], "\(dump)")
        let envoyRoutes = try await sotw.admin("/config_dump?resource=dynamic_route_configs")
        #expect(envoyRoutes.contains("\"name\": \"127.0.0.1:\(port)\""), "\(envoyRoutes)")
        #expect(dumped?["listeners"] == nil, "only the type asked for")
        let (strayCode, strayDump) = try await runChancery(["config-dump", "--proxy", "nobody"] + admin)
        #expect(strayCode != 0 && strayDump.contains("no connected proxy has node id \"nobody\"") && strayDump.contains("sotw-1"))

        // plan: a candidate route with another prefix shows the route's diff and the
        // object as changed, applies nothing, and exits 0.
        let before = try await chancery.adminJSON("/api/v1/snapshots/infra/gw?type=none")["version"] as? String
        try AdminTests.config(port: port, backend: backend.port, route: "PathPrefix, value: /v3").write(
            to: candidate.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let (planCode, plan) = try await runChancery(["plan", "--config-dir", candidate.path] + admin)
        #expect(planCode == 0, "\(plan)")
        for expected in [
            "Proxy group infra/gw: version \(before ?? "?") → ", "~ route/127.0.0.1:\(port)", "+++ route/127.0.0.1:\(port) (planned)",
            "changed HTTPRoute app/web", "Nothing would be rejected.",
        ] {
            #expect(plan.contains(expected), "\(expected): \(plan)")
        }
        #expect(plan.split(separator: "\n").contains { $0.hasPrefix("    +") && $0.contains("/v3") }, "\(plan)")
        #expect(plan.split(separator: "\n").contains { $0.hasPrefix("    -") && $0.contains("\"prefix\" : \"/\"") }, "\(plan)")
        #expect(try await chancery.adminJSON("/api/v1/snapshots/infra/gw?type=none")["version"] as? String == before)

        // A candidate that would be rejected: the plan says which file, line and field,
        // and exits 1; what is served stays.
        try AdminTests.config(port: port, backend: backend.port, route: "Glob, value: /").write(
            to: candidate.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let (badCode, bad) = try await runChancery(["plan", "--config-dir", candidate.path] + admin)
        #expect(badCode == 1, "\(bad)")
        #expect(bad.contains("\(candidate.path)/config.yaml:") && bad.contains("spec.rules[0].matches[0].path.type"), "\(bad)")
        #expect(bad.contains("Something would be rejected"), "\(bad)")

        // Apply the /v3 change by saving it; diff shows the content change between versions.
        try AdminTests.config(port: port, backend: backend.port, route: "PathPrefix, value: /v3").write(
            to: file, atomically: true, encoding: .utf8)
        // Right after the save, `wait --config-dir` waits for the version those files give
        // (the server may not have read them yet), never the one before.
        let (waitedAgain, againOutput) = try await runChancery(["wait", "--group", group, "--timeout", "20s", "--config-dir", served.path] + admin)
        #expect(waitedAgain == 0, "\(againOutput)")
        let after = try await chancery.adminJSON("/api/v1/snapshots/infra/gw?type=none")["version"] as? String
        #expect(after != before && againOutput.contains("hold version \(after ?? "?")"), "\(againOutput)")
        let (diffCode, diff) = try await runChancery(["diff", "--group", group] + admin)
        #expect(diffCode == 0, "\(diff)")
        #expect(diff.contains("group infra/gw: version \(before ?? "?") → \(after ?? "?"): 0 added, 0 removed, 1 changed"), "\(diff)")
        #expect(diff.split(separator: "\n").contains { $0.hasPrefix("+") && $0.contains("/v3") }, "\(diff)")
        #expect(try await httpGet(port: port, path: "/v3/x").backend == "a")
        // An object defined twice among the candidates is reported, as the file source does.
        let twice = dir.appendingPathComponent("twice")
        try FileManager.default.createDirectory(at: twice, withIntermediateDirectories: true)
        for name in ["a.yaml", "b.yaml"] {
            try AdminTests.config(port: port, backend: backend.port, route: "PathPrefix, value: /v3").write(
                to: twice.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let (twiceCode, twiceOutput) = try await runChancery(["plan", "--config-dir", twice.path] + admin)
        #expect(twiceCode == 1 && twiceOutput.contains("defined again; the definition at \(twice.path)/a.yaml"), "\(twiceOutput)")

        // `wait --config-dir` for a group the files create waits for the server to read them.
        let newGateway = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: gw2, namespace: infra}
            spec:
              gatewayClassName: chancery
              addresses: [{type: IPAddress, value: 127.0.0.1}]
              listeners: [{name: http, protocol: HTTP, port: \(try freePort())}]
            """
        let fresh = dir.appendingPathComponent("fresh")
        try FileManager.default.createDirectory(at: fresh, withIntermediateDirectories: true)
        try newGateway.write(to: fresh.appendingPathComponent("gw2.yaml"), atomically: true, encoding: .utf8)
        let waitLog = dir.appendingPathComponent("wait.log")
        let waiting = try ChildProcess(
            executable: try ChanceryProcess.executable().path,
            arguments: ["wait", "--group", "infra/gw2", "--config-dir", fresh.path, "--allow-no-proxies", "--timeout", "20s"] + admin,
            output: waitLog.path)
        // The group does not exist yet when wait first asks; it appears a moment later.
        try await Task.sleep(for: .seconds(1))
        try newGateway.write(to: served.appendingPathComponent("gw2.yaml"), atomically: true, encoding: .utf8)
        let waitedForNew = await waiting.exited()
        #expect(waitedForNew == 0, "\((try? String(contentsOf: waitLog, encoding: .utf8)) ?? "")")
        try FileManager.default.removeItem(at: served.appendingPathComponent("gw2.yaml"))

        // The plan of what is now served is empty.
        let (_, noop) = try await runChancery(["plan", "--file", file.path] + admin)
        #expect(noop.contains("No proxy group would change.") && noop.contains("Nothing would be rejected."), "\(noop)")
        await backend.stop()
    }
}
