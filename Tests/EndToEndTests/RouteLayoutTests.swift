import Foundation
import Synchronization
import Testing
import TestSupport
import XDS

/// `serve --route-layout scoped` through a real Envoy: each hostname of the Gateway's
/// HTTP listener is a scope of its own (SRDS over ADS), requests are routed by the Host
/// header as in the single layout, and while routes are added, edited and removed the
/// hosts that stay answer every request with 2xx. (A listener moving into or out of the
/// layout is not covered: docs/xds.md says what it costs.)
@Suite(.serialized) struct RouteLayoutTests {
    static func route(_ name: String, host: String, service: String, path: String = "/") -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: \(name), namespace: apps}
        spec:
          parentRefs: [{name: edge}]
          hostnames: [\(host)]
          rules: [{matches: [{path: {type: PathPrefix, value: \(path)}}], backendRefs: [{name: \(service), port: 80}]}]
        """
    }

    /// What `host` answers on `port`: the status and the backend.
    static func ask(_ port: Int, host: String, path: String = "/") async -> String {
        do {
            let result = try await httpGet(port: port, path: path, host: host)
            return "\(result.status) \(result.backend ?? "-")"
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [false, true])
    func eachHostIsAScopeAndChurnKeepsTheOthersServed(delta: Bool) async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-layout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ file: String, _ text: String) throws {
            try text.write(to: dir.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
        try write(
            "world.yaml",
            """
            \(PolicyTests.world(port: port, target: a.port))
            ---
            \(IngressTests.service("b", namespace: "apps", target: b.port))
            """)
        try write("a.yaml", Self.route("a", host: "a.example.com", service: "app"))
        try write("b.yaml", Self.route("b", host: "b.example.com", service: "b"))
        let chancery = try await ChanceryProcess.serve(["--config-dir", dir.path, "--route-layout", "scoped"])
        defer { chancery.stop() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "apps/edge", nodeID: "layout", adminPort: 0, delta: delta))
        defer { envoy.stop() }
        let (waited, output) = try await runChancery(["wait", "--admin", chancery.adminAddress.description, "--group", "apps/edge"])
        #expect(waited == 0, "\(output)")

        // Routed by scope: the Host header's name, with or without a port.
        #expect(await Self.ask(port, host: "a.example.com") == "200 a")
        #expect(await Self.ask(port, host: "b.example.com:\(port)") == "200 b")
        #expect(await Self.ask(port, host: "c.example.com") == "404 -")
        // Envoy holds the two scopes, and no route configuration of its own for the listener.
        let dump = try await envoy.admin("/config_dump?resource=dynamic_scoped_route_configs")
        #expect(dump.contains("\"a.example.com\"") && dump.contains("\"b.example.com\""), "\(dump.prefix(3000))")
        let routes = try await envoy.admin("/config_dump?resource=dynamic_route_configs")
        #expect(!routes.contains("\"name\": \"127.0.0.1:\(port)\""), "\(routes.prefix(2000))")
        // The snapshot names them as scoped routes.
        let snapshot = try await chancery.adminJSON("/api/v1/snapshots/apps/edge?type=scoped_routes")
        let scopes = (snapshot["scoped_routes"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(scopes == ["a.example.com", "b.example.com"], "\(snapshot)")

        // Churn: a third host comes and goes, and b's route moves between paths, while
        // a and b are asked continuously.
        let answers = Tally()
        let traffic = Task {
            while !answers.stopped {
                // `/v/1`: under both of b's paths.
                for host in ["a.example.com", "b.example.com"] {
                    let phase = answers.phase
                    let answer = host + " " + (await Self.ask(port, host: host, path: "/v/1"))
                    answers.add(answer, during: phase)
                }
            }
        }
        /// Until the traffic has answered a few more requests, so that every change
        /// happens while requests are in flight, however loaded the machine is.
        func trafficGoesOn(_ when: String) async {
            let before = answers.total
            #expect(await eventually(timeout: .seconds(20)) { answers.total >= before + 4 }, "no traffic \(when)")
        }
        for round in 0..<6 {
            answers.phase = "churn round \(round)"
            await trafficGoesOn("before round \(round)")
            try write("c.yaml", Self.route("c", host: "c.example.com", service: "b"))
            #expect(
                await eventually(timeout: .seconds(20)) { await Self.ask(port, host: "c.example.com") == "200 b" },
                "round \(round): c.example.com was not served")
            await trafficGoesOn("in round \(round)")
            try write("b.yaml", Self.route("b", host: "b.example.com", service: "b", path: round % 2 == 0 ? "/v" : "/"))
            try FileManager.default.removeItem(at: dir.appendingPathComponent("c.yaml"))
            #expect(
                await eventually(timeout: .seconds(20)) { await Self.ask(port, host: "c.example.com") == "404 -" },
                "round \(round): c.example.com was still served")
            let expected = round % 2 == 0 ? "404 -" : "200 b"
            #expect(
                await eventually(timeout: .seconds(20)) { await Self.ask(port, host: "b.example.com", path: "/x") == expected },
                "round \(round): b's edit was not applied")
        }
        answers.stop()
        await traffic.value
        let seen = answers.counts
        #expect(Set(seen.keys).isSubset(of: ["a.example.com 200 a", "b.example.com 200 b"]), "answers: \(seen), \(answers.unexpected)")
    }
}

/// Answers counted by what they were, shared between the traffic and the test; the
/// unexpected ones also by the step of the test they were asked during.
final class Tally: Sendable {
    private let state = Mutex<(counts: [String: Int], unexpected: [String], phase: String, stopped: Bool)>(([:], [], "start", false))
    func add(_ answer: String, during phase: String) {
        state.withLock {
            $0.counts[answer, default: 0] += 1
            if !answer.hasSuffix(" 200 a"), !answer.hasSuffix(" 200 b") { $0.unexpected.append("\(answer) during \(phase)") }
        }
    }
    var phase: String {
        get { state.withLock { $0.phase } }
        set { state.withLock { $0.phase = newValue } }
    }
    func stop() { state.withLock { $0.stopped = true } }
    var stopped: Bool { state.withLock { $0.stopped } }
    var counts: [String: Int] { state.withLock { $0.counts } }
    var unexpected: [String] { state.withLock { $0.unexpected } }
    var total: Int { state.withLock { $0.counts.values.reduce(0, +) } }
}
