import Foundation
import Testing
import TestSupport
import XDS

/// A real Envoy 1.40 against a real Chancery over real gRPC, with real HTTP through it
/// to loopback backends. These fail — they never skip — when Envoy is missing.
@Suite(.serialized) struct ADSEndToEndTests {
    let group = "default/gateway"

    /// Polls Envoy's listener until the answering backend is `name`.
    func expectServed(
        by name: String, port: Int, path: String = "/", _ envoy: EnvoyProcess,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        var last = "nothing yet"
        let ok = await eventually {
            do {
                let result = try await httpGet(port: port, path: path)
                last = "HTTP \(result.status) from \(result.backend ?? "no backend"): \(result.text.prefix(200))"
                return result.status == 200 && result.backend == name
            } catch {
                last = "\(error)"
                return false
            }
        }
        #expect(ok, "expected backend \(name) on :\(port)\(path); last answer: \(last)\n\(envoy.log.suffix(1500))",
            sourceLocation: sourceLocation)
    }

    /// Chancery's bootstrap makes Envoy retry its xDS connection at most a second apart:
    /// after a long outage (Envoy's own backoff would have grown to several seconds),
    /// a restarted Chancery has the proxy back within about a second.
    @Test func envoysReconnectWithinASecondOfARestart() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-restart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: chancery}
            spec: {controllerName: chancery.dev/gateway-controller}
            """.write(to: dir.appendingPathComponent("class.yaml"), atomically: true, encoding: .utf8)
        let port = try freePort()
        let arguments = ["--config-dir", dir.path, "--xds-address", "127.0.0.1:\(port)"]
        let first = try await ChanceryProcess.serve(arguments)
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: first.xdsAddress, group: "chancery", nodeID: "restart", adminPort: 0))
        defer { envoy.stop() }
        func connected() async -> Bool { (try? await envoy.stat("control_plane.connected_state")) == 1 }
        #expect(await eventually(timeout: .seconds(20)) { await connected() }, "Envoy never connected\n\(envoy.log.suffix(1500))")

        func failedAttempts() async -> Int { (try? await envoy.stat("cluster.chancery_xds.upstream_cx_connect_fail")) ?? 0 }
        first.stop()
        #expect(await eventually(timeout: .seconds(5)) { !(await connected()) }, "Envoy did not notice Chancery stopping")
        // Long enough for Envoy's default backoff (500 ms doubling, jittered) to pass
        // 4 s: it would try about 5 times; capped at a second, Envoy tries at least
        // once a second.
        let before = await failedAttempts()
        try await Task.sleep(for: .seconds(8))
        let attempts = await failedAttempts() - before
        #expect(attempts >= 8, "Envoy tried to reconnect \(attempts) times in 8 s")
        let second = try await ChanceryProcess.serve(arguments)
        defer { second.stop() }
        let back = await eventually(timeout: .milliseconds(2500)) { await connected() }
        #expect(back, "Envoy was not back within 2.5 s of Chancery's restart\n\(envoy.log.suffix(2000))")
    }

    @Test(arguments: [false, true])
    func serveAndChangeWithoutRestart(delta: Bool) async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let harness = ChanceryHarness()
        try await harness.start()
        let port = try freePort()
        harness.cache.setSnapshot(
            try Fixtures.httpSnapshot(port: port, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [a.port]]),
            for: group)
        let envoy = try await EnvoyProcess.start(bootstrap: harness.bootstrap(group: group, nodeID: "e1", delta: delta))
        defer { envoy.stop() }
        await expectServed(by: "a", port: port, envoy)
        let pid = envoy.pid

        let next = try Fixtures.httpSnapshot(
            port: port, routes: [.init(prefix: "/", cluster: "b")], backends: ["b": [b.port]])
        harness.cache.setSnapshot(next, for: group)
        await expectServed(by: "b", port: port, envoy)
        #expect(envoy.isRunning && envoy.pid == pid, "the change was applied without restarting Envoy")

        // The registry knows the proxy and that it ACKed every type at the current content.
        #expect(await eventually { harness.everyoneAcked(group: group, expecting: 1) })
        let client = try #require(harness.registry.clients(inGroup: group).first)
        #expect(client.nodeID == "e1")
        #expect(client.transport == (delta ? .delta : .stateOfTheWorld))
        #expect(client.service == "ADS")
        #expect(client.peer.contains("127.0.0.1"))
        #expect(Set(client.types.keys) == [.cluster, .endpoint, .listener, .route])
        if !delta {
            // State of the world: the ACKed version is the version of the whole set,
            // which for a wildcard type is the snapshot's own version of that type.
            #expect(client.types[.cluster]?.ackedVersion == next.versions[.cluster])
            #expect(client.types[.listener]?.ackedVersion == next.versions[.listener])
        }
        // Envoy's own view agrees: the cluster b exists and a is gone (removed after the
        // routes that named it were ACKed).
        #expect(
            await eventually {
                let clusters = try await envoy.admin("/clusters")
                return clusters.contains("b::") && !clusters.contains("\na::")
            })
        await a.stop()
        await b.stop()
        await harness.stop()
    }

    /// A fleet restarting together connects at once. The listening socket's accept
    /// queue must hold the storm while the event loops are busy sending snapshots: NIO's
    /// default of 128 let 1,000 simulated Envoys connecting to a 10,000-route world lose
    /// 122 connections (`chancery-load --clients 1000 --routes 10000 --clients-process`,
    /// docs/performance.md). The kernel reports a listening socket's backlog as its
    /// Send-Q (`ss -ltn`), capped at net.core.somaxconn.
    @Test func theXDSListenerQueuesAConnectionStorm() async throws {
        let harness = ChanceryHarness()
        try await harness.start()
        let port = harness.address.port
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ss", "-ltnH", "sport = :\(port)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // State, Recv-Q, Send-Q (the backlog), local address, peer address.
        let fields = try #require(output.split(separator: "\n").first?.split(separator: " "), "ss shows no listener on \(port)")
        let backlog = try #require(Int(fields[2]), "\(output)")
        let somaxconn = try #require(
            Int(try String(contentsOfFile: "/proc/sys/net/core/somaxconn", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(backlog == min(4096, somaxconn), "listen backlog \(backlog)")
        await harness.stop()
    }

    @Test func twoProxyGroupsGetTheirOwnConfig() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let harness = ChanceryHarness()
        try await harness.start()
        let portA = try freePort()
        let portB = try freePort()
        harness.cache.setSnapshot(
            try Fixtures.httpSnapshot(port: portA, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [a.port]]),
            for: "team-a/gw")
        harness.cache.setSnapshot(
            try Fixtures.httpSnapshot(port: portB, routes: [.init(prefix: "/", cluster: "b")], backends: ["b": [b.port]]),
            for: "team-b/gw")
        let envoyA = try await EnvoyProcess.start(bootstrap: harness.bootstrap(group: "team-a/gw", nodeID: "ea"))
        defer { envoyA.stop() }
        let envoyB = try await EnvoyProcess.start(
            bootstrap: harness.bootstrap(group: "team-b/gw", nodeID: "eb", delta: true))
        defer { envoyB.stop() }
        await expectServed(by: "a", port: portA, envoyA)
        await expectServed(by: "b", port: portB, envoyB)
        let listenersA = try await envoyA.admin("/listeners")
        let listenersB = try await envoyB.admin("/listeners")
        #expect(listenersA.contains("http-\(portA)") && !listenersA.contains("http-\(portB)"))
        #expect(listenersB.contains("http-\(portB)") && !listenersB.contains("http-\(portA)"))
        #expect(harness.registry.clients(inGroup: "team-a/gw").map(\.nodeID) == ["ea"])
        #expect(harness.registry.clients(inGroup: "team-b/gw").map(\.nodeID) == ["eb"])
        await a.stop()
        await b.stop()
        await harness.stop()
    }

    @Test(arguments: [false, true])
    func rejectedConfigIsRecordedAndTheOldOneKeepsServing(delta: Bool) async throws {
        let a = try await EchoBackend.start(name: "a")
        let harness = ChanceryHarness()
        try await harness.start()
        let port = try freePort()
        harness.cache.setSnapshot(
            try Fixtures.httpSnapshot(port: port, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [a.port]]),
            for: group)
        let envoy = try await EnvoyProcess.start(bootstrap: harness.bootstrap(group: group, nodeID: "e1", delta: delta))
        defer { envoy.stop() }
        await expectServed(by: "a", port: port, envoy)
        #expect(await eventually { harness.everyoneAcked(group: group, expecting: 1) })

        // An RE2 regex that does not compile: Envoy rejects the route configuration.
        let bad = try Fixtures.httpSnapshot(
            port: port, routes: [.init(regex: "/(unclosed", cluster: "a")], backends: ["a": [a.port]])
        harness.cache.setSnapshot(bad, for: group)
        var nack: ClientRegistry.Nack?
        #expect(
            await eventually {
                nack = harness.registry.clients(inGroup: group).first?.types[.route]?.lastNack
                return nack != nil
            })
        let message = nack?.message ?? ""
        #expect(message.contains("/(unclosed"), "Envoy's own error text is kept: \(message)")
        #expect(nack?.version == ContentHash.of(versions: [("routes", bad[.route]["routes"]!.version)]))
        // Envoy keeps serving the previous routes, and the rejected ones are not resent.
        let pushes = harness.registry.clients(inGroup: group).first?.types[.route]?.pushes
        for _ in 0..<5 {
            let result = try await httpGet(port: port, path: "/anything")
            #expect(result.status == 200 && result.backend == "a")
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(harness.registry.clients(inGroup: group).first?.types[.route]?.pushes == pushes)
        #expect(try await envoy.stat("http.http_\(port).rds.routes.update_rejected") == 1)
        await a.stop()
        await harness.stop()
    }

    @Test(arguments: [false, true])
    func reconnectGetsTheCurrentSnapshot(delta: Bool) async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let harness = ChanceryHarness()
        try await harness.start()
        let port = try freePort()
        let before = try Fixtures.httpSnapshot(
            port: port, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [a.port]])
        harness.cache.setSnapshot(before, for: group)
        let envoy = try await EnvoyProcess.start(bootstrap: harness.bootstrap(group: group, nodeID: "e1", delta: delta))
        defer { envoy.stop() }
        await expectServed(by: "a", port: port, envoy)
        #expect(await eventually { harness.everyoneAcked(group: group, expecting: 1) })

        // Chancery goes away; the configuration changes meanwhile; Chancery comes back.
        await harness.stop()
        #expect(await eventually { harness.registry.all.isEmpty })
        let after = try Fixtures.httpSnapshot(
            port: port, routes: [.init(prefix: "/", cluster: "b")], backends: ["a": [a.port], "b": [b.port]])
        harness.cache.setSnapshot(after, for: group)
        try await harness.start()
        await expectServed(by: "b", port: port, envoy)
        #expect(await eventually { harness.everyoneAcked(group: group, expecting: 1) })

        let client = try #require(harness.registry.clients(inGroup: group).first)
        if delta {
            // Envoy reported what it held (initial_resource_versions): only what changed
            // since was sent — cluster b and its endpoints, and the routes.
            #expect(client.types[.cluster]?.lastPushResources == ["b"])
            #expect(client.types[.endpoint]?.lastPushResources == ["b"])
            #expect(client.types[.route]?.lastPushResources == ["routes"])
            #expect(client.types[.listener]?.lastPushResources == [])
        } else {
            #expect(client.types[.cluster]?.lastPushResources == ["a", "b"])
            #expect(client.types[.listener]?.lastPushResources == ["http-\(port)"])
        }
        await a.stop()
        await b.stop()
        await harness.stop()
    }

    @Test(arguments: [false, true])
    func bootstrapIsValidForEnvoy(delta: Bool) async throws {
        for host in ["127.0.0.1", "localhost"] {
            let bootstrap = Bootstrap(
                xdsAddress: HostPort(host: host, port: 18000), group: "default/gateway", nodeID: "n", adminPort: 9901,
                delta: delta)
            let (ok, output) = try await EnvoyProcess.validate(yaml: bootstrap.yaml)
            #expect(ok, "envoy --mode validate: \(output)")
            #expect(bootstrap.yaml.contains(delta ? "api_type: DELTA_GRPC" : "api_type: GRPC"))
        }
    }
}
