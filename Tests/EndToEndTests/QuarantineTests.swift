import Foundation
import Testing
import TestSupport
import XDS

/// What Envoy rejects anyway is set aside, so the rest of the fleet keeps converging;
/// a listener moved to a port Envoy cannot bind never costs the port that was serving.
/// A real `chancery serve` and two real Envoys (state of the world and delta).
@Suite(.serialized) struct QuarantineTests {
    static func world(port: Int, backend: Int) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: chancery}
        spec: {controllerName: chancery.dev/gateway-controller}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: a, namespace: app}
        spec: {ports: [{name: http, port: 80}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: a-1, namespace: app, labels: {kubernetes.io/service-name: a}}
        addressType: IPv4
        endpoints: [{addresses: [127.0.0.1]}]
        ports: [{name: http, port: \(backend)}]
        """
    }

    static func gateway(port: Int) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: infra}
        spec:
          gatewayClassName: chancery
          addresses: [{type: IPAddress, value: 127.0.0.1}]
          listeners: [{name: http, protocol: HTTP, port: \(port), allowedRoutes: {namespaces: {from: All}}}]
        """
    }

    static func route(_ name: String, corrupt: Bool = false) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata:
          name: \(name)
          namespace: app
          annotations: {\(corrupt ? "chancery.dev/test-corrupt: \"yes\"" : "")}
        spec:
          parentRefs: [{name: gw, namespace: infra}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /\(name)}}]
            backendRefs: [{name: a, port: 80}]
        """
    }

    struct World {
        let directory: URL
        let chancery: ChanceryProcess
        let envoys: [EnvoyProcess]

        func write(_ file: String, _ text: String) throws {
            try text.write(to: directory.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }

        func quarantined() async throws -> [[String: Any]] {
            try await chancery.adminJSON("/api/v1/quarantine")["quarantined"] as? [[String: Any]] ?? []
        }

        func object(_ kind: String, _ name: String) async throws -> [String: Any]? {
            let objects = try await chancery.adminJSON("/api/v1/objects?kind=\(kind)")["objects"] as? [[String: Any]] ?? []
            return objects.first { $0["name"] as? String == name }
        }

        /// NACKs and pushes per proxy, to see that nothing is tried again and again.
        func pushCounts() async throws -> [String: Int] {
            let clients = try await chancery.adminJSON("/api/v1/clients")["clients"] as? [[String: Any]] ?? []
            var counts: [String: Int] = [:]
            for client in clients {
                let types = client["types"] as? [String: Any] ?? [:]
                for (type, status) in types {
                    counts["\(client["nodeID"] as? String ?? "?") \(type)"] = (status as? [String: Any])?["pushes"] as? Int
                }
            }
            return counts
        }

        func stop() {
            for envoy in envoys { envoy.stop() }
            chancery.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static func start(port: Int, backend: Int, arguments: [String] = []) async throws -> World {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-quarantine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try world(port: port, backend: backend).write(
            to: directory.appendingPathComponent("world.yaml"), atomically: true, encoding: .utf8)
        try gateway(port: port).write(
            to: directory.appendingPathComponent("gateway.yaml"), atomically: true, encoding: .utf8)
        try route("first").write(to: directory.appendingPathComponent("first.yaml"), atomically: true, encoding: .utf8)
        let chancery = try await ChanceryProcess.serve(["--config-dir", directory.path] + arguments)
        var envoys: [EnvoyProcess] = []
        for delta in [false, true] {
            envoys.append(
                try await EnvoyProcess.start(
                    bootstrap: Bootstrap(
                        xdsAddress: chancery.xdsAddress, group: "infra/gw", nodeID: delta ? "delta-1" : "sotw-1",
                        adminPort: 0, delta: delta)))
        }
        return World(directory: directory, chancery: chancery, envoys: envoys)
    }

    /// The three cases that once reached Envoy: a regex RE2 refuses, a 20 MB hostname and
    /// a listener on a port taken on the proxies' hosts. Each is refused by Chancery, no
    /// proxy ever rejects anything, and an unrelated route keeps propagating meanwhile.
    @Test func badInputIsRefusedBeforeAnyEnvoySeesIt() async throws {
        let backend = try await EchoBackend.start(name: "a")
        let port = try freePort()
        // The backend's port is taken on this host: say so, as an operator would.
        let world = try await Self.start(port: port, backend: backend.port, arguments: ["--reserved-ports", "\(backend.port)"])
        defer { world.stop() }
        #expect(await eventually { try await httpGet(port: port, path: "/first").backend == "a" })

        try world.write(
            "regex.yaml",
            Self.route("regex").replacingOccurrences(
                of: "{path: {type: PathPrefix, value: /regex}}", with: "{path: {type: RegularExpression, value: \"/re/(?!admin).*\"}}"))
        let hostname = String(repeating: "a", count: 20 * 1024 * 1024)
        try world.write(
            "huge.yaml",
            Self.route("huge").replacingOccurrences(of: "  parentRefs:", with: "  hostnames: [\(hostname)]\n  parentRefs:"))
        try world.write(
            "busy.yaml",
            Self.gateway(port: backend.port).replacingOccurrences(of: "name: gw,", with: "name: busy,"))
        try world.write("later.yaml", Self.route("later"))
        #expect(await eventually { try await httpGet(port: port, path: "/later").backend == "a" })

        // Each is refused, naming what is wrong.
        let objects = try await world.chancery.adminJSON("/api/v1/objects")
        let readErrors = objects["readErrors"] as? [String] ?? []
        #expect(readErrors.contains { $0.contains("huge.yaml") && $0.contains("--max-object-size") }, "\(readErrors)")
        let regex = try #require(try await world.object("HTTPRoute", "regex"))
        #expect("\(regex)".contains("RE2 refuses it: invalid perl operator"), "\(regex)")
        let busy = try #require(try await world.object("Gateway", "busy"))
        let listener = try #require((busy["listeners"] as? [[String: Any]])?.first)
        let accepted = (listener["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Accepted" }
        #expect(accepted?["reason"] as? String == "PortUnavailable")

        // No proxy ever rejected anything, and what they hold is small.
        let clients = try await world.chancery.adminJSON("/api/v1/clients")["clients"] as? [[String: Any]] ?? []
        #expect(clients.count == 2)
        for client in clients {
            for (type, status) in client["types"] as? [String: Any] ?? [:] {
                #expect((status as? [String: Any])?["lastNack"] == nil, "\(client["nodeID"] ?? "") \(type)")
            }
        }
        for envoy in world.envoys {
            let routes = try await envoy.admin("/config_dump?resource=dynamic_route_configs")
            #expect(routes.utf8.count < 100_000 && !routes.contains("(?!admin)"))
        }
        #expect(try await world.quarantined().isEmpty)

        // Fixed, each says so in the log.
        try world.write("huge.yaml", Self.route("huge"))
        try world.write("regex.yaml", Self.route("regex"))
        #expect(await eventually { try await httpGet(port: port, path: "/huge").backend == "a" })
        #expect(await eventually { try await httpGet(port: port, path: "/regex").backend == "a" })
        let log = world.chancery.output
        #expect(log.contains("reads again") && log.contains("huge.yaml") && log.contains("object=HTTPRoute app/huge"), "\(log)")
        #expect(log.contains("accepted again") && log.contains("object=HTTPRoute app/regex"), "\(log)")
        await backend.stop()
    }

    /// A route whose route configuration Envoy refuses (corrupted by the test-only hook,
    /// since Chancery's own checks would catch any real mistake) is quarantined: the
    /// route configuration goes out again without it, later changes keep arriving, and
    /// the route is served again once it changes.
    @Test func whatEnvoyRejectsIsSetAsideAndTheRestKeepsConverging() async throws {
        let backend = try await EchoBackend.start(name: "a")
        let port = try freePort()
        let world = try await Self.start(port: port, backend: backend.port, arguments: ["--corrupt-annotated-for-tests"])
        defer { world.stop() }
        #expect(await eventually { try await httpGet(port: port, path: "/first").backend == "a" })

        try world.write("bad.yaml", Self.route("bad", corrupt: true))
        var entry: [String: Any] = [:]
        #expect(
            await eventually {
                entry = try await world.quarantined().first ?? [:]
                return entry["name"] as? String == "bad"
            })
        #expect(entry["kind"] as? String == "HTTPRoute")
        #expect(entry["serving"] as? String == "nothing (new object)")
        let message = entry["message"] as? String ?? ""
        #expect(message.contains("invalid perl operator"), "Envoy's own words: \(message)")
        #expect(message.contains("rejected route"), "\(message)")

        // Every proxy converges on the configuration without it, and the route never serves.
        let group = "infra%2Fgw"
        #expect(
            await eventually {
                let snapshot = try await world.chancery.adminJSON("/api/v1/snapshots/\(group)?type=none")
                let version = snapshot["version"] as? String ?? "-"
                let timeline = try await world.chancery.adminJSON("/api/v1/snapshots/\(group)/versions/\(version)")
                return timeline["allAckedAt"] is String
            })
        #expect(try await httpGet(port: port, path: "/bad").status == 404)
        #expect(try await httpGet(port: port, path: "/first").backend == "a")

        // Its status says so, in Envoy's words; `wait` does not claim the change arrived.
        let bad = try #require(try await world.object("HTTPRoute", "bad"))
        #expect(bad["quarantined"] as? Bool == true)
        let parent = try #require((bad["parents"] as? [[String: Any]])?.first)
        let programmed = (parent["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Programmed" }
        #expect(programmed?["status"] as? String == "False")
        #expect(programmed?["reason"] as? String == "Quarantined")
        #expect((programmed?["message"] as? String)?.contains("invalid perl operator") == true)
        let (waited, waitOutput) = try await runChancery([
            "wait", "--admin", world.chancery.adminAddress.description, "--group", "infra/gw", "--timeout", "10s",
        ])
        #expect(waited == 1)
        #expect(waitOutput.contains("HTTPRoute app/bad") && waitOutput.contains("quarantined"), "\(waitOutput)")

        // An unrelated change still reaches every proxy.
        try world.write("later.yaml", Self.route("later"))
        #expect(await eventually { try await httpGet(port: port, path: "/later").backend == "a" })

        // Nothing oscillates: the same version is never tried again.
        let settled = try await world.pushCounts()
        try await Task.sleep(for: .seconds(3))
        #expect(try await world.pushCounts() == settled)
        #expect(try await world.quarantined().count == 1)

        // Changed, it leaves quarantine and is served.
        try world.write("bad.yaml", Self.route("bad"))
        #expect(await eventually { try await httpGet(port: port, path: "/bad").backend == "a" })
        #expect(try await world.quarantined().isEmpty)
        let (waitedAgain, againOutput) = try await runChancery([
            "wait", "--admin", world.chancery.adminAddress.description, "--group", "infra/gw", "--timeout", "20s",
        ])
        #expect(waitedAgain == 0, "\(againOutput)")
        await backend.stop()
    }

    /// A Gateway's listener moved to a port Envoy cannot bind: the new listener is
    /// added before the old one is removed, so when Envoy refuses it the old port keeps
    /// answering; the Gateway is quarantined (served as it was), with Envoy's reason.
    @Test func aListenerMovedToABusyPortNeverCostsTheOldPort() async throws {
        let backend = try await EchoBackend.start(name: "a")
        let port = try freePort()
        let world = try await Self.start(port: port, backend: backend.port)
        defer { world.stop() }
        #expect(await eventually { try await httpGet(port: port, path: "/first").backend == "a" })

        // Envoy's own count of listeners it removed: the old one must never be.
        var removed: [Int] = []
        for envoy in world.envoys { removed.append(try await envoy.stat("listener_manager.listener_removed") ?? -1) }

        // The backend holds the new port, so Envoy cannot bind it.
        try world.write("gateway.yaml", Self.gateway(port: backend.port))
        var failures: [String] = []
        var requests = 0
        /// One request to the old port; what went wrong, if anything, is kept.
        func probe() async {
            requests += 1
            do {
                let result = try await httpGet(port: port, path: "/first", timeout: .seconds(2))
                if result.backend != "a" { failures.append("status \(result.status)") }
            } catch {
                failures.append("\(error)")
            }
        }
        var entry: [String: Any] = [:]
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            await probe()
            if let first = try await world.quarantined().first {
                entry = first
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(entry["kind"] as? String == "Gateway" && entry["name"] as? String == "gw")
        #expect(entry["serving"] as? String == "previous version")
        let message = entry["message"] as? String ?? ""
        #expect(message.contains("127.0.0.1:\(backend.port)") && message.contains("rejected listener"), "\(message)")
        // Once every proxy holds the Gateway as it was, the old port still answers.
        #expect(
            await eventually {
                let clients = try await world.chancery.adminJSON("/api/v1/clients")["clients"] as? [[String: Any]] ?? []
                return clients.count == 2 && clients.allSatisfy { $0["inSync"] as? Bool == true }
            })
        for _ in 0..<20 { await probe() }
        #expect(failures.isEmpty, "\(failures.count) of \(requests) requests to the old port failed: \(failures.prefix(3))")
        for (index, envoy) in world.envoys.enumerated() {
            #expect(
                try await envoy.stat("listener_manager.listener_removed") == removed[index],
                "the listener on the old port was removed and added again")
            let listeners = try await envoy.admin("/listeners")
            #expect(listeners.contains(":\(port)") && !listeners.contains(":\(backend.port)"), "\(listeners)")
        }
        let gateway = try #require(try await world.object("Gateway", "gw"))
        let programmed = (gateway["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Programmed" }
        #expect(programmed?["status"] as? String == "False")
        #expect(programmed?["reason"] as? String == "Quarantined")

        // Moved to a free port: it leaves quarantine, the new port serves and the old one goes.
        let free = try freePort()
        try world.write("gateway.yaml", Self.gateway(port: free))
        #expect(await eventually { try await httpGet(port: free, path: "/first").backend == "a" })
        #expect(await eventually { (try? await httpGet(port: port, path: "/first", timeout: .seconds(1))) == nil })
        #expect(try await world.quarantined().isEmpty)
        await backend.stop()
    }
}
