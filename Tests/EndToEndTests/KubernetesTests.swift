import Foundation
import Testing
import TestSupport
import XDS
import Yams

/// The Kubernetes API as a source, against the test API server (`FakeKubeAPI`, which
/// follows the documented API machinery): objects reach a real Envoy, compaction and
/// restarts lose nothing, status is written back once, two replicas elect one writer,
/// and bad credentials, an unreachable server and missing CRDs are said clearly and
/// recovered from.
@Suite(.serialized) struct KubernetesTests {
    /// YAML → the JSON the API takes.
    static func json(_ yaml: String) -> String {
        let object = (try? Yams.load(yaml: yaml)) ?? [:]
        let data = (try? JSONSerialization.data(withJSONObject: object as Any)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func object(_ json: String?) -> [String: Any] {
        guard let json, let data = json.data(using: .utf8) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// A kubeconfig for the server (a token, or a token file).
    static func kubeconfig(server: String, ca: TestCA, token: String? = "test-token", tokenFile: String? = nil) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kube-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let caData = Data(ca.certificatePEM.utf8).base64EncodedString()
        let user = tokenFile.map { "{tokenFile: \($0)}" } ?? token.map { "{token: \($0)}" } ?? "{}"
        let text = """
            apiVersion: v1
            kind: Config
            current-context: test
            clusters: [{name: fake, cluster: {server: "\(server)", certificate-authority-data: \(caData)}}]
            users: [{name: tester, user: \(user)}]
            contexts: [{name: test, context: {cluster: fake, user: tester, namespace: default}}]
            """
        let path = dir.appendingPathComponent("config").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let gatewayClass = json(
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: chancery}
        spec: {controllerName: chancery.dev/gateway-controller}
        """)

    static func gateway(_ name: String, port: Int) -> String {
        json(
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: \(name), namespace: default}
            spec:
              gatewayClassName: chancery
              listeners: [{name: http, protocol: HTTP, port: \(port), allowedRoutes: {namespaces: {from: Same}}}]
            """)
    }

    static func route(_ name: String, gateways: [String], path: String = "/", service: String, resourceVersion: String? = nil) -> String {
        let parents = gateways.map { "{name: \($0)}" }.joined(separator: ", ")
        let version = resourceVersion.map { ", resourceVersion: \"\($0)\"" } ?? ""
        return json(
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: \(name), namespace: default\(version)}
            spec:
              parentRefs: [\(parents)]
              rules: [{matches: [{path: {type: PathPrefix, value: \(path)}}], backendRefs: [{name: \(service), port: 80}]}]
            """)
    }

    /// A Service and its EndpointSlice pointing at a loopback backend.
    /// An Ingress created through the API server is served by its dedicated proxy, gets
    /// the proxies' address in `status.loadBalancer`, and loses it when another class
    /// takes it; another controller's Ingress is never written.
    @Test func ingressesFromTheClusterAreServedAndGetTheirAddress() async throws {
        let a = try await EchoBackend.start(name: "a")
        let port = try freePort()
        let api = try await FakeKubeAPI.start()
        for object in Self.service("svc-a", target: a.port) { try api.create(object) }
        try api.create(
            Self.json(
                """
                apiVersion: networking.k8s.io/v1
                kind: IngressClass
                metadata: {name: chancery-ingress}
                spec: {controller: chancery.dev/ingress-controller}
                """))
        func ingress(_ name: String, className: String) -> String {
            Self.json(
                """
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata: {name: \(name), namespace: default}
                spec:
                  ingressClassName: \(className)
                  rules: [{host: shop.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: svc-a, port: {number: 80}}}}]}}]
                """)
        }
        try api.create(ingress("shop", className: "chancery-ingress"))
        try api.create(ingress("theirs", className: "nginx"))
        let chancery = try await ChanceryProcess.serve([
            "--kubeconfig", try Self.kubeconfig(server: api.url, ca: api.ca), "--ingress-ports", "\(port),\(try freePort())",
            "--ingress-address", "203.0.113.7", "--ingress-address", "shop.lb.example.com",
        ])
        defer { chancery.stop() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/shop", nodeID: "ingress", adminPort: 0))
        defer { envoy.stop() }
        let served = await eventually(timeout: .seconds(20)) {
            (try? await httpGet(port: port, host: "shop.example.com"))?.backend == "a"
        }
        #expect(served, "the Ingress from the API server never reached Envoy\n\(chancery.output.suffix(3000))")

        func loadBalancer(_ name: String) -> [[String: Any]]? {
            let status = Self.object(api.get(apiVersion: "networking.k8s.io/v1", kind: "Ingress", namespace: "default", name: name))["status"]
            return ((status as? [String: Any])?["loadBalancer"] as? [String: Any])?["ingress"] as? [[String: Any]]
        }
        #expect(
            await eventually(timeout: .seconds(10)) {
                let entries = loadBalancer("shop") ?? []
                return entries.count == 2 && entries[0]["ip"] as? String == "203.0.113.7"
                    && entries[1]["hostname"] as? String == "shop.lb.example.com"
            }, "\(String(describing: loadBalancer("shop")))")
        #expect(loadBalancer("theirs") == nil, "another controller's Ingress is left alone")

        // Its class changes to another controller's: the address Chancery wrote goes.
        var shop = Self.object(api.get(apiVersion: "networking.k8s.io/v1", kind: "Ingress", namespace: "default", name: "shop"))
        var spec = shop["spec"] as? [String: Any] ?? [:]
        spec["ingressClassName"] = "nginx"
        shop["spec"] = spec
        try api.update(String(decoding: try JSONSerialization.data(withJSONObject: shop), as: UTF8.self))
        #expect(await eventually(timeout: .seconds(10)) { (loadBalancer("shop") ?? []).isEmpty }, "\(String(describing: loadBalancer("shop")))")

        await api.stop()
        await a.stop()
    }

    static func service(_ name: String, target: Int) -> [String] {
        [
            json(
                """
                apiVersion: v1
                kind: Service
                metadata: {name: \(name), namespace: default}
                spec: {ports: [{name: http, port: 80}]}
                """),
            json(
                """
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: \(name)-1, namespace: default, labels: {kubernetes.io/service-name: \(name)}}
                addressType: IPv4
                ports: [{name: http, port: \(target)}]
                endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
                """),
        ]
    }

    /// The API server with Gateway API installed, a Gateway on `port`, services a and
    /// b, and a route to a.
    static func world(_ api: FakeKubeAPI, port: Int, a: EchoBackend, b: EchoBackend, gateway: String = "web") throws {
        api.installGatewayAPI()
        try api.create(gatewayClass)
        try api.create(self.gateway(gateway, port: port))
        for object in service("svc-a", target: a.port) + service("svc-b", target: b.port) { try api.create(object) }
        try api.create(route("route", gateways: [gateway], service: "svc-a"))
    }

    /// The standard world on the test API server, a `chancery serve` reading it (with
    /// `arguments`) and an Envoy of group `default/web`, its Gateway's port `port`.
    final class Served: @unchecked Sendable {
        let a: EchoBackend
        let b: EchoBackend
        let port: Int
        let api: FakeKubeAPI
        let chancery: ChanceryProcess
        let envoy: EnvoyProcess

        /// - Parameter prepare: runs on the API server before Chancery starts.
        init(arguments: [String] = [], prepare: (FakeKubeAPI) throws -> Void = { _ in }) async throws {
            a = try await EchoBackend.start(name: "a")
            b = try await EchoBackend.start(name: "b")
            port = try freePort()
            api = try await FakeKubeAPI.start()
            try KubernetesTests.world(api, port: port, a: a, b: b)
            try prepare(api)
            chancery = try await ChanceryProcess.serve(
                ["--kubeconfig", try KubernetesTests.kubeconfig(server: api.url, ca: api.ca)] + arguments)
            envoy = try await EnvoyProcess.start(
                bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/web", nodeID: "k8s", adminPort: 0))
        }

        func backend(path: String = "/") async -> String? { await KubernetesTests.backend(port: port, path: path) }

        func stop() async {
            envoy.stop()
            chancery.stop()
            await api.stop()
            await a.stop()
            await b.stop()
        }
    }

    /// The HTTPRoute `default/route` as stored, and its resourceVersion.
    static func route(in api: FakeKubeAPI) -> (object: [String: Any], version: String?) {
        let route = object(api.get(apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: "default", name: "route"))
        return (route, (route["metadata"] as? [String: Any])?["resourceVersion"] as? String)
    }

    /// Every xDS update Envoy has received (any type).
    static func updateAttempts(_ envoy: EnvoyProcess) async throws -> Int {
        let text = try await envoy.admin("/stats?filter=update_attempt")
        return text.split(separator: "\n").compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 && parts[0].hasSuffix("update_attempt") ? Int(parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }.reduce(0, +)
    }

    static func backend(port: Int, path: String = "/") async -> String? {
        (try? await httpGet(port: port, path: path, host: "example.com"))?.backend
    }

    static func statusWrites(_ api: FakeKubeAPI) -> Int {
        api.requestLog.filter { $0.hasPrefix("PUT ") && $0.contains("/status") && $0.hasSuffix("-> 200") }.count
    }

    // MARK: objects to Envoy

    @Test func objectsCreatedChangedAndDeletedReachEnvoyWithinASecond() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        let api = try await FakeKubeAPI.start()
        try Self.world(api, port: port, a: a, b: b)
        let chancery = try await ChanceryProcess.serve([
            "--kubeconfig", try Self.kubeconfig(server: api.url, ca: api.ca),
        ])
        defer { chancery.stop() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/web", nodeID: "k8s", adminPort: 0))
        defer { envoy.stop() }

        let first = await eventually(timeout: .seconds(20)) { await Self.backend(port: port) == "a" }
        #expect(first, "the route from the API server never reached Envoy\n\(chancery.output.suffix(3000))")

        // Changed: the route now sends to b.
        let (_, version) = Self.route(in: api)
        try api.update(Self.route("route", gateways: ["web"], service: "svc-b", resourceVersion: version))
        #expect(
            await eventually(timeout: .seconds(1)) { await Self.backend(port: port) == "b" },
            "the change took over 1 s\n\(chancery.output.suffix(3000))")

        // Created: a second route.
        try api.create(Self.route("other", gateways: ["web"], path: "/other", service: "svc-a"))
        #expect(await eventually(timeout: .seconds(1)) { await Self.backend(port: port, path: "/other") == "a" }, "the new route took over 1 s")

        // Deleted: the first route is gone; the second still serves.
        try api.delete(apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: "default", name: "route")
        let gone = await eventually(timeout: .seconds(1)) {
            (try? await httpGet(port: port, path: "/", host: "example.com"))?.status == 404
        }
        #expect(gone, "the deleted route still answered after 1 s")
        #expect(await Self.backend(port: port, path: "/other") == "a")

        // Each change is counted under the source it came from.
        let metrics = try await chancery.admin("/metrics").text
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("chancery_source_events_total{source=\"kubernetes\"}") }
        #expect((line?.split(separator: " ").last).flatMap { Double($0) } ?? 0 >= 3, "\(line ?? "no kubernetes events counted")")
        #expect(!metrics.contains("chancery_source_events_total{source=\"files\"}"), "no file was read")

        await api.stop()
        await a.stop()
        await b.stop()
    }

    @Test func listenerSetsFromTheClusterAreServedAndReported() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        let api = try await FakeKubeAPI.start()
        api.installGatewayAPI()
        try api.create(Self.gatewayClass)
        for object in Self.service("svc-a", target: a.port) + Self.service("svc-b", target: b.port) { try api.create(object) }
        try api.create(
            Self.json(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: shared, namespace: default}
                spec:
                  gatewayClassName: chancery
                  allowedListeners: {namespaces: {from: Same}}
                  listeners: [{name: http, protocol: HTTP, port: \(port), hostname: gw.example.com}]
                """))
        try api.create(
            Self.json(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: ListenerSet
                metadata: {name: team, namespace: default}
                spec:
                  parentRef: {name: shared}
                  listeners: [{name: team, protocol: HTTP, port: \(port), hostname: team.example.com}]
                """))
        try api.create(
            Self.json(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: team, namespace: default}
                spec:
                  parentRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: team}]
                  rules: [{backendRefs: [{name: svc-b, port: 80}]}]
                """))
        try api.create(Self.route("route", gateways: ["shared"], service: "svc-a"))
        let chancery = try await ChanceryProcess.serve(["--kubeconfig", try Self.kubeconfig(server: api.url, ca: api.ca)])
        defer { chancery.stop() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/shared", nodeID: "k8s", adminPort: 0))
        defer { envoy.stop() }

        // The ListenerSet's host reaches its route; the Gateway's route stays on the
        // Gateway's own listener.
        let served = await eventually(timeout: .seconds(20)) {
            (try? await httpGet(port: port, path: "/", host: "team.example.com"))?.backend == "b"
        }
        #expect(served, "the ListenerSet's listener never served its route\n\(chancery.output.suffix(3000))")
        #expect((try? await httpGet(port: port, path: "/", host: "gw.example.com"))?.backend == "a")

        // Status: the ListenerSet's own, the Gateway's count, the route's parent.
        func status(_ kind: String, _ name: String) -> [String: Any] {
            Self.object(api.get(apiVersion: "gateway.networking.k8s.io/v1", kind: kind, namespace: "default", name: name))["status"]
                as? [String: Any] ?? [:]
        }
        func condition(_ conditions: Any?, _ type: String) -> [String: Any]? {
            (conditions as? [[String: Any]] ?? []).first { $0["type"] as? String == type }
        }
        let written = await eventually(timeout: .seconds(15)) {
            condition(status("ListenerSet", "team")["conditions"], "Programmed")?["status"] as? String == "True"
                && status("Gateway", "shared")["attachedListenerSets"] as? Int == 1
        }
        #expect(written, "ListenerSet status: \(status("ListenerSet", "team")); Gateway: \(status("Gateway", "shared"))")
        #expect(condition(status("ListenerSet", "team")["conditions"], "Accepted")?["reason"] as? String == "Accepted")
        let listeners = status("ListenerSet", "team")["listeners"] as? [[String: Any]] ?? []
        #expect(listeners.map { $0["name"] as? String } == ["team"])
        #expect(listeners.first?["attachedRoutes"] as? Int == 1)
        #expect(status("ListenerSet", "team")["addresses"] == nil)
        // The Gateway lists its own listener only.
        #expect((status("Gateway", "shared")["listeners"] as? [[String: Any]] ?? []).map { $0["name"] as? String } == ["http"])
        let parents = status("HTTPRoute", "team")["parents"] as? [[String: Any]] ?? []
        #expect((parents.first?["parentRef"] as? [String: Any])?["kind"] as? String == "ListenerSet")
        #expect(condition(parents.first?["conditions"], "Accepted")?["status"] as? String == "True")

        // The Gateway stops taking ListenerSets: the host is gone, and status says why.
        var gateway = Self.object(api.get(apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway", namespace: "default", name: "shared"))
        var spec = gateway["spec"] as? [String: Any] ?? [:]
        spec["allowedListeners"] = ["namespaces": ["from": "None"]]
        gateway["spec"] = spec
        try api.update(String(decoding: try JSONSerialization.data(withJSONObject: gateway), as: UTF8.self))
        let gone = await eventually(timeout: .seconds(5)) {
            (try? await httpGet(port: port, path: "/", host: "team.example.com"))?.status == 404
        }
        #expect(gone, "the ListenerSet's host still answered")
        let refused = await eventually(timeout: .seconds(5)) {
            condition(status("ListenerSet", "team")["conditions"], "Accepted")?["reason"] as? String == "NotAllowed"
        }
        #expect(refused, "ListenerSet status: \(status("ListenerSet", "team"))")
        #expect((try? await httpGet(port: port, path: "/", host: "gw.example.com"))?.backend == "a")

        // The ListenerSet names a Gateway that is not Chancery's: its status goes back to
        // what the API server starts it with, and our listeners leave it.
        var listenerSet = Self.object(api.get(apiVersion: "gateway.networking.k8s.io/v1", kind: "ListenerSet", namespace: "default", name: "team"))
        listenerSet["spec"] = ["parentRef": ["name": "elsewhere"], "listeners": (listenerSet["spec"] as? [String: Any])?["listeners"] ?? []]
        try api.update(String(decoding: try JSONSerialization.data(withJSONObject: listenerSet), as: UTF8.self))
        let released = await eventually(timeout: .seconds(5)) {
            let accepted = condition(status("ListenerSet", "team")["conditions"], "Accepted")
            return accepted?["status"] as? String == "Unknown" && accepted?["reason"] as? String == "Pending"
        }
        #expect(released, "ListenerSet status: \(status("ListenerSet", "team"))")
        #expect((status("ListenerSet", "team")["listeners"] as? [Any] ?? []).isEmpty)

        await api.stop()
        await a.stop()
        await b.stop()
    }

    // MARK: compaction and restarts

    @Test func compactionAndAPIServerRestartsLoseNothingAndPushNothingTwice() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        var api = try await FakeKubeAPI.start()
        try Self.world(api, port: port, a: a, b: b)
        // Pages of one object: every list here goes through continue tokens.
        let chancery = try await ChanceryProcess.serve([
            "--kubeconfig", try Self.kubeconfig(server: api.url, ca: api.ca), "--list-page-size", "1",
        ])
        defer { chancery.stop() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/web", nodeID: "k8s", adminPort: 0))
        defer { envoy.stop() }
        #expect(await eventually(timeout: .seconds(20)) { await Self.backend(port: port) == "a" })
        #expect(api.requestLog.contains { $0.contains("/endpointslices?") && $0.contains("continue=") }, "lists were not paginated")
        try await Task.sleep(for: .milliseconds(500))
        let pushesBefore = try await Self.updateAttempts(envoy)

        // 1. The API server restarts and, meanwhile, history is compacted past what
        //    Chancery saw (an unrelated object changed): its watches get 410 and relist.
        //    Nothing Envoy uses changed, so Envoy is sent nothing.
        await api.stop()
        try api.create(
            Self.json("{apiVersion: v1, kind: ConfigMap, metadata: {name: unrelated, namespace: default}, data: {a: b}}"))
        api.compact()
        api = try await FakeKubeAPI.start(port: api.port, ca: api.ca, state: api.store)
        let relisted = await eventually(timeout: .seconds(10)) {
            api.requestLog.contains { $0.hasPrefix("GET ") && !$0.contains("watch=") && $0.contains("/configmaps") }
        }
        #expect(relisted, "Chancery did not list again after the 410\n\(api.requestLog.suffix(20))")
        try await Task.sleep(for: .seconds(1))
        #expect(try await Self.updateAttempts(envoy) == pushesBefore, "a relist that changed nothing was pushed to Envoy")
        #expect(await Self.backend(port: port) == "a")

        // 2. A change made while the server is down, with history compacted past it,
        //    still arrives once the server is back.
        await api.stop()
        let (_, version) = Self.route(in: api)
        try api.update(Self.route("route", gateways: ["web"], service: "svc-b", resourceVersion: version))
        api.compact()
        api = try await FakeKubeAPI.start(port: api.port, ca: api.ca, state: api.store)
        let arrived = await eventually(timeout: .seconds(10)) { await Self.backend(port: port) == "b" }
        #expect(arrived, "the change made during the outage was lost\n\(chancery.output.suffix(3000))")
        try await Task.sleep(for: .seconds(1))
        let afterChange = try await Self.updateAttempts(envoy)
        try await Task.sleep(for: .seconds(2))
        #expect(try await Self.updateAttempts(envoy) == afterChange, "Envoy kept receiving pushes with nothing changing")

        await api.stop()
        await a.stop()
        await b.stop()
    }

    // MARK: status

    @Test func statusIsWrittenBackOnceAndOtherControllersAreKept() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        let api = try await FakeKubeAPI.start()
        try Self.world(api, port: port, a: a, b: b)
        // Another controller already reports on the route for its own Gateway.
        var route = Self.object(Self.route("route", gateways: ["web", "theirs"], service: "svc-a"))
        route["status"] = [
            "parents": [
                [
                    "parentRef": ["name": "theirs", "group": "gateway.networking.k8s.io", "kind": "Gateway"],
                    "controllerName": "example.com/other-controller",
                    "conditions": [
                        [
                            "type": "Accepted", "status": "True", "reason": "Accepted", "message": "theirs",
                            "lastTransitionTime": "2026-01-01T00:00:00Z",
                        ]
                    ],
                ]
            ]
        ]
        try api.delete(apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: "default", name: "route")
        try api.create(String(decoding: try JSONSerialization.data(withJSONObject: route), as: UTF8.self))

        let chancery = try await ChanceryProcess.serve(["--kubeconfig", try Self.kubeconfig(server: api.url, ca: api.ca)])
        defer { chancery.stop() }
        func gatewayStatus() -> [String: Any] {
            Self.object(api.get(apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway", namespace: "default", name: "web"))["status"]
                as? [String: Any] ?? [:]
        }
        func routeParents() -> [[String: Any]] {
            (Self.object(api.get(apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: "default", name: "route"))[
                "status"] as? [String: Any])?["parents"] as? [[String: Any]] ?? []
        }
        let written = await eventually(timeout: .seconds(15)) {
            routeParents().contains { $0["controllerName"] as? String == "chancery.dev/gateway-controller" }
                && !(gatewayStatus()["conditions"] as? [[String: Any]] ?? []).isEmpty
        }
        #expect(written, "no status was written\n\(chancery.output.suffix(3000))")

        // The Gateway's status is the translator's.
        let conditions = gatewayStatus()["conditions"] as? [[String: Any]] ?? []
        let programmed = conditions.first { $0["type"] as? String == "Programmed" }
        #expect(programmed?["status"] as? String == "True")
        #expect(programmed?["observedGeneration"] as? Int == 1)
        #expect(programmed?["lastTransitionTime"] as? String != nil)
        let listeners = gatewayStatus()["listeners"] as? [[String: Any]] ?? []
        #expect(listeners.first?["attachedRoutes"] as? Int == 1)
        // The route keeps the other controller's entry next to ours.
        let parents = routeParents()
        #expect(parents.count == 2, "\(parents)")
        #expect(parents.contains { $0["controllerName"] as? String == "example.com/other-controller" })
        let ours = parents.first { $0["controllerName"] as? String == "chancery.dev/gateway-controller" }
        let accepted = (ours?["conditions"] as? [[String: Any]] ?? []).first { $0["type"] as? String == "Accepted" }
        #expect(accepted?["status"] as? String == "True")
        #expect((ours?["parentRef"] as? [String: Any])?["name"] as? String == "web")
        // The class too.
        let gatewayClass = Self.object(api.get(apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass", namespace: nil, name: "chancery"))
        #expect(((gatewayClass["status"] as? [String: Any])?["conditions"] as? [[String: Any]])?.first?["status"] as? String == "True")

        // Nothing changes, nothing is written.
        try await Task.sleep(for: .seconds(1))
        let writes = Self.statusWrites(api)
        try await Task.sleep(for: .seconds(3))
        #expect(Self.statusWrites(api) == writes, "status was rewritten with nothing changed:\n\(api.requestLog.suffix(10))")

        // A spec change is reported with its generation; the other entry survives.
        let (current, version) = Self.route(in: api)
        var changed = Self.object(Self.route("route", gateways: ["web", "theirs"], service: "svc-b", resourceVersion: version))
        changed["status"] = current["status"]
        try api.update(String(decoding: try JSONSerialization.data(withJSONObject: changed), as: UTF8.self))
        let observed = await eventually(timeout: .seconds(5)) {
            let ours = routeParents().first { $0["controllerName"] as? String == "chancery.dev/gateway-controller" }
            return (ours?["conditions"] as? [[String: Any]] ?? []).allSatisfy { $0["observedGeneration"] as? Int == 2 }
        }
        #expect(observed, "observedGeneration did not follow the change: \(routeParents())")
        #expect(routeParents().contains { $0["controllerName"] as? String == "example.com/other-controller" })

        await api.stop()
        await a.stop()
        await b.stop()
    }

    // MARK: replicas

    /// A leader that cannot renew its Lease (the API server throttles every Lease
    /// request) steps down two thirds of the way through the lease — before any other
    /// replica may take over — and writes no status after that.
    @Test func aLeaderThatCannotRenewStepsDownBeforeItsLeaseExpires() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        let api = try await FakeKubeAPI.start()
        try Self.world(api, port: port, a: a, b: b)
        let chancery = try await ChanceryProcess.serve([
            "--kubeconfig", try Self.kubeconfig(server: api.url, ca: api.ca), "--identity", "replica-1", "--lease-duration", "3",
        ])
        defer { chancery.stop() }
        #expect(await eventually(timeout: .seconds(10)) { chancery.output.contains("became the leader") }, "\(chancery.output.suffix(3000))")
        api.throttle(resource: "leases", times: 1000, retryAfterSeconds: 0)
        let cutOff = Date()
        var steppedDown: Date?
        while Date().timeIntervalSince(cutOff) < 6 {
            if chancery.output.contains("no longer the leader") {
                steppedDown = Date()
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let when = try #require(steppedDown, "the leader never stepped down\n\(chancery.output.suffix(2000))")
        // Others may take over 3 s after the last renewal the API server accepted (the
        // Lease's renewTime); the leader stepped down two thirds of the way there.
        let lease = Self.object(api.get(apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: "default", name: "chancery-leader"))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
        let renewTime = (lease["spec"] as? [String: Any])?["renewTime"] as? String ?? ""
        let renewed = try #require(formatter.date(from: renewTime), "renewTime \(renewTime)")
        let held = when.timeIntervalSince(renewed)
        #expect(held < 2.6, "led for \(held) s after its last renewal; others may take over at 3 s")
        // No status is written once it has stepped down, whatever changes.
        let writes = Self.statusWrites(api)
        let (_, version) = Self.route(in: api)
        try api.update(Self.route("route", gateways: ["web"], service: "svc-b", resourceVersion: version))
        try await Task.sleep(for: .seconds(2))
        #expect(Self.statusWrites(api) == writes, "a replica that is no longer the leader wrote status")
        await api.stop()
        await a.stop()
        await b.stop()
    }

    @Test func twoReplicasOneLeaderHandsOverWhenItDies() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port1 = try freePort()
        let port2 = try freePort()
        let api = try await FakeKubeAPI.start()
        try Self.world(api, port: port1, a: a, b: b, gateway: "web1")
        try api.create(Self.gateway("web2", port: port2))
        let (_, rv) = Self.route(in: api)
        try api.update(Self.route("route", gateways: ["web1", "web2"], service: "svc-a", resourceVersion: rv))
        let config = try Self.kubeconfig(server: api.url, ca: api.ca)
        func holder() -> String? {
            let lease = Self.object(api.get(apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: "default", name: "chancery-leader"))
            return (lease["spec"] as? [String: Any])?["holderIdentity"] as? String
        }

        let first = try await ChanceryProcess.serve(["--kubeconfig", config, "--identity", "replica-1", "--lease-duration", "2"])
        defer { first.stop() }
        #expect(await eventually(timeout: .seconds(10)) { holder() == "replica-1" }, "replica-1 never took the lease")
        let second = try await ChanceryProcess.serve(["--kubeconfig", config, "--identity", "replica-2", "--lease-duration", "2"])
        defer { second.stop() }
        let envoy1 = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: first.xdsAddress, group: "default/web1", nodeID: "e1", adminPort: 0))
        defer { envoy1.stop() }
        let envoy2 = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: second.xdsAddress, group: "default/web2", nodeID: "e2", adminPort: 0))
        defer { envoy2.stop() }

        // Both replicas serve their Envoys; only one leads.
        #expect(await eventually(timeout: .seconds(20)) { await Self.backend(port: port1) == "a" })
        #expect(await eventually(timeout: .seconds(20)) { await Self.backend(port: port2) == "a" })
        try await Task.sleep(for: .seconds(1))
        #expect(holder() == "replica-1")
        #expect(!second.output.contains("became the leader"), "replica-2 led while replica-1 held the lease")

        // The leader dies without releasing the lease: replica-2 takes over within the
        // lease duration (2 s, plus one retry period), and its Envoy never stops.
        let killedAt = ContinuousClock.now
        first.process.crash()
        var served = 0
        var failed = 0
        var tookOver = false
        while ContinuousClock.now - killedAt < .seconds(6) {
            if await Self.backend(port: port2) == "a" { served += 1 } else { failed += 1 }
            if holder() == "replica-2" {
                tookOver = true
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let handover = ContinuousClock.now - killedAt
        #expect(tookOver, "replica-2 did not take the lease over\n\(second.output.suffix(2000))")
        #expect(handover < .seconds(4), "hand-over took \(handover)")
        #expect(failed == 0, "replica-2's Envoy failed \(failed) of \(served + failed) requests during the hand-over")

        // The new leader writes status: a change is reported with its generation.
        let (now, version) = Self.route(in: api)
        var changed = Self.object(Self.route("route", gateways: ["web1", "web2"], service: "svc-b", resourceVersion: version))
        changed["status"] = now["status"]
        try api.update(String(decoding: try JSONSerialization.data(withJSONObject: changed), as: UTF8.self))
        let reported = await eventually(timeout: .seconds(5)) {
            let route = Self.object(api.get(apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: "default", name: "route"))
            let parents = (route["status"] as? [String: Any])?["parents"] as? [[String: Any]] ?? []
            return parents.count == 2
                && parents.allSatisfy { parent in
                    (parent["conditions"] as? [[String: Any]] ?? []).allSatisfy { $0["observedGeneration"] as? Int == 2 }
                }
        }
        #expect(reported, "the new leader did not write status\n\(second.output.suffix(2000))")
        #expect(await eventually(timeout: .seconds(2)) { await Self.backend(port: port2) == "b" })

        // A clean shutdown releases the Lease at once.
        second.stop()
        #expect(holder() == "", "the lease was not released on shutdown: holder \(holder() ?? "none")")

        await api.stop()
        await a.stop()
        await b.stop()
    }

    @Test func watchNamespaceReadsOnlyThoseNamespaces() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        let api = try await FakeKubeAPI.start()
        try Self.world(api, port: port, a: a, b: b)
        try api.create(
            Self.json(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: elsewhere, namespace: other}
                spec: {parentRefs: [{name: web, namespace: default}], rules: [{backendRefs: [{name: svc, port: 80}]}]}
                """))
        // Files and the cluster together: their objects merge.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: from-file, namespace: default}
            spec: {parentRefs: [{name: web}], rules: [{matches: [{path: {value: /file}}], backendRefs: [{name: svc-b, port: 80}]}]}
            """.write(to: dir.appendingPathComponent("route.yaml"), atomically: true, encoding: .utf8)
        let chancery = try await ChanceryProcess.serve([
            "--kubeconfig", try Self.kubeconfig(server: api.url, ca: api.ca), "--watch-namespace", "default",
            "--config-dir", dir.path,
        ])
        defer { chancery.stop() }
        let ready = await eventually(timeout: .seconds(10)) { (try? await chancery.admin("/readyz"))?.status == 200 }
        #expect(ready)
        let objects = try await chancery.admin("/api/v1/objects?kind=HTTPRoute").text
        #expect(objects.contains("\"route\""), "\(objects)")
        #expect(objects.contains("\"from-file\""), "the file's route is missing: \(objects)")
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/web", nodeID: "k8s", adminPort: 0))
        defer { envoy.stop() }
        #expect(await eventually(timeout: .seconds(20)) { await Self.backend(port: port, path: "/file") == "b" })
        #expect(await Self.backend(port: port) == "a")
        #expect(!objects.contains("elsewhere"), "a route outside the watched namespace was read: \(objects)")
        // Namespaced kinds are listed in the namespace; cluster-scoped ones as a whole.
        let log = api.requestLog
        #expect(log.contains { $0.contains("/namespaces/default/httproutes") })
        #expect(!log.contains { $0.contains("/apis/gateway.networking.k8s.io/v1/httproutes") })
        #expect(log.contains { $0.contains("/apis/gateway.networking.k8s.io/v1/gatewayclasses") })

        await api.stop()
        await a.stop()
        await b.stop()
    }

    // MARK: errors

    @Test func wrongCredentialsAreNamedAndRecoveredFrom() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        let api = try await FakeKubeAPI.start()
        try Self.world(api, port: port, a: a, b: b)
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)").path
        try "wrong-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let chancery = try await ChanceryProcess.serve([
            "--kubeconfig", try Self.kubeconfig(server: api.url, ca: api.ca, tokenFile: tokenFile),
        ])
        defer { chancery.stop() }
        let said = await eventually(timeout: .seconds(10)) { chancery.output.contains("rejected the credentials (401 Unauthorized)") }
        #expect(said, "no clear line about the credentials:\n\(chancery.output.suffix(2000))")
        let notReady = try await chancery.admin("/readyz")
        #expect(notReady.status == 503)
        #expect(notReady.text.contains("waiting for the Kubernetes API"), "\(notReady.text)")

        // The token file is fixed (as a rotated ServiceAccount token would be).
        try "test-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let ready = await eventually(timeout: .seconds(15)) { (try? await chancery.admin("/readyz"))?.status == 200 }
        #expect(ready, "not ready after the token was fixed\n\(chancery.output.suffix(2000))")
        #expect(chancery.output.contains("working again"))
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/web", nodeID: "k8s", adminPort: 0))
        defer { envoy.stop() }
        #expect(await eventually(timeout: .seconds(20)) { await Self.backend(port: port) == "a" })

        await api.stop()
        await a.stop()
        await b.stop()
    }

    @Test func clientCertificateAuthentication() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        let clients = try TestCA.make(commonName: "Client CA")
        var options = FakeKubeAPI.Options()
        options.tokens = []
        options.clientCA = clients
        let api = try await FakeKubeAPI.start(options: options)
        try Self.world(api, port: port, a: a, b: b)
        let certificate = try clients.issue(commonName: "system:serviceaccount:chancery", dnsNames: [], clientAuth: true)
        let config = try Self.kubeconfig(server: api.url, ca: api.ca, token: nil)
        // The user entry gets the client certificate and key, inline.
        let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(
            of: "user: {}",
            with: "user: {client-certificate-data: \(Data(certificate.certificatePEM.utf8).base64EncodedString()), client-key-data: \(Data(certificate.privateKeyPEM.utf8).base64EncodedString())}"
        )
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let chancery = try await ChanceryProcess.serve(["--kubeconfig", config])
        defer { chancery.stop() }
        let ready = await eventually(timeout: .seconds(10)) { (try? await chancery.admin("/readyz"))?.status == 200 }
        #expect(ready, "client-certificate authentication failed\n\(chancery.output.suffix(2000))")
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/web", nodeID: "k8s", adminPort: 0))
        defer { envoy.stop() }
        #expect(await eventually(timeout: .seconds(20)) { await Self.backend(port: port) == "a" })

        await api.stop()
        await a.stop()
        await b.stop()
    }

    @Test func anUnreachableServerIsNamedAndRecoveredFrom() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        let apiPort = try freePort()
        let ca = try TestCA.make(commonName: "Later API CA")
        let chancery = try await ChanceryProcess.serve([
            "--kubeconfig", try Self.kubeconfig(server: "https://127.0.0.1:\(apiPort)", ca: ca),
        ])
        defer { chancery.stop() }
        let said = await eventually(timeout: .seconds(10)) {
            chancery.output.contains("cannot reach the API server at https://127.0.0.1:\(apiPort)")
        }
        #expect(said, "no clear line about the unreachable server:\n\(chancery.output.suffix(2000))")
        #expect(try await chancery.admin("/readyz").status == 503)
        // One line for every kind, in the system's words, with the backoff.
        try await Task.sleep(for: .seconds(1))
        let lines = chancery.output.split(separator: "\n").filter { $0.contains("cannot reach the API server") }
        #expect(lines.count == 1, "\(lines.joined(separator: "\n"))")
        #expect(lines.first?.contains("https://127.0.0.1:\(apiPort): Connection refused; every kind waits for it") == true, "\(lines)")
        #expect(lines.first?.contains("retrying in") == true && lines.first?.contains("backing off up to 8 s") == true, "\(lines)")
        #expect(!chancery.output.contains("errno"), "\(chancery.output.suffix(2000))")

        let api = try await FakeKubeAPI.start(port: apiPort, ca: ca)
        try Self.world(api, port: port, a: a, b: b)
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/web", nodeID: "k8s", adminPort: 0))
        defer { envoy.stop() }
        let recovered = await eventually(timeout: .seconds(20)) { await Self.backend(port: port) == "a" }
        #expect(recovered, "no recovery once the server came up\n\(chancery.output.suffix(2000))")
        #expect(chancery.output.contains("the API server at https://127.0.0.1:\(apiPort) answers again"), "\(chancery.output.suffix(2000))")

        await api.stop()
        await a.stop()
        await b.stop()
    }

    /// An API server over its load answers 429 with Retry-After (priority and fairness):
    /// Chancery waits as long as it asks, rather than its own shorter backoff, says so,
    /// and serves once let through.
    @Test func throttledRequestsWaitAsTheAPIServerAsks() async throws {
        let world = try await Served { $0.throttle(resource: "httproutes", times: 2, retryAfterSeconds: 2) }
        let chancery = world.chancery
        let served = await eventually(timeout: .seconds(20)) { await world.backend() == "a" }
        #expect(served, "the route never reached Envoy\n\(chancery.output.suffix(3000))")
        let arrivals = world.api.arrivals(of: "httproutes")
        #expect(arrivals.count >= 3, "\(arrivals.count) requests for httproutes")
        // The backoff alone would have asked again within a quarter of a second.
        for (earlier, later) in zip(arrivals.prefix(2), arrivals.dropFirst().prefix(2)) {
            #expect(later - earlier >= .milliseconds(1900), "asked again after \(later - earlier), not the 2 s the server asked for")
        }
        #expect(chancery.output.contains("429") && chancery.output.contains("the API server asks to retry after 2"), "\(chancery.output.suffix(3000))")
        await world.stop()
    }

    /// A watch whose path dies without either end noticing sends nothing more: Chancery
    /// starts it again once it has been silent for --watch-idle-timeout (the server sends
    /// bookmarks on quiet watches), and the change it missed arrives.
    @Test func aSilentWatchIsStartedAgain() async throws {
        let world = try await Served(arguments: ["--watch-idle-timeout", "3"])
        let (api, chancery) = (world.api, world.chancery)
        #expect(await eventually(timeout: .seconds(20)) { await world.backend() == "a" })

        // The route watch goes silent; then the route changes.
        api.stallWatches(of: "httproutes")
        let (_, version) = Self.route(in: api)
        try api.update(Self.route("route", gateways: ["web"], service: "svc-b", resourceVersion: version))
        try await Task.sleep(for: .seconds(1))
        #expect(await world.backend() == "a", "the stalled watch still delivered the change")
        // Silent for 3 s (the fake server sends a bookmark every second on a live watch):
        // watched again from the last version seen, which brings the change.
        let caughtUp = await eventually(timeout: .seconds(8)) { await world.backend() == "b" }
        #expect(caughtUp, "the change never arrived\n\(chancery.output.suffix(3000))")
        #expect(chancery.output.contains("the watch sent nothing for 3"), "\(chancery.output.suffix(2000))")
        await world.stop()
    }

    @Test func aMissingCRDIsReportedWhileTheOtherKindsWork() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let port = try freePort()
        let api = try await FakeKubeAPI.start()
        // Everything but TCPRoute (and UDPRoute): the cluster has only some CRDs.
        for (resource, kind, version, namespaced) in [
            ("gatewayclasses", "GatewayClass", "v1", false), ("gateways", "Gateway", "v1", true),
            ("httproutes", "HTTPRoute", "v1", true), ("grpcroutes", "GRPCRoute", "v1", true),
            ("referencegrants", "ReferenceGrant", "v1beta1", true), ("tlsroutes", "TLSRoute", "v1alpha2", true),
            ("backendtlspolicies", "BackendTLSPolicy", "v1", true),
        ] {
            api.installCRD(group: "gateway.networking.k8s.io", version: version, resource: resource, kind: kind, namespaced: namespaced)
        }
        try api.create(Self.gatewayClass)
        try api.create(Self.gateway("web", port: port))
        for object in Self.service("svc-a", target: a.port) + Self.service("svc-b", target: b.port) { try api.create(object) }
        try api.create(Self.route("route", gateways: ["web"], service: "svc-a"))

        let chancery = try await ChanceryProcess.serve(["--kubeconfig", try Self.kubeconfig(server: api.url, ca: api.ca)])
        defer { chancery.stop() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/web", nodeID: "k8s", adminPort: 0))
        defer { envoy.stop() }
        #expect(await eventually(timeout: .seconds(20)) { await Self.backend(port: port) == "a" }, "\(chancery.output.suffix(2000))")
        #expect(chancery.output.contains("tcproutes.gateway.networking.k8s.io: the CRD is not installed (tried v1alpha2)"))

        // Installed later, the kind is picked up.
        api.installCRD(group: "gateway.networking.k8s.io", version: "v1alpha2", resource: "tcproutes", kind: "TCPRoute", namespaced: true)
        let tcpPort = try freePort()
        let echo = try await TCPEchoBackend.start(name: "tcp")
        try api.create(
            Self.json(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: tcp, namespace: default}
                spec: {gatewayClassName: chancery, listeners: [{name: tcp, protocol: TCP, port: \(tcpPort)}]}
                """))
        try api.create(
            Self.json(
                """
                apiVersion: gateway.networking.k8s.io/v1alpha2
                kind: TCPRoute
                metadata: {name: tcp, namespace: default}
                spec: {parentRefs: [{name: tcp}], rules: [{backendRefs: [{name: svc-tcp, port: 80}]}]}
                """))
        for object in Self.service("svc-tcp", target: echo.port) { try api.create(object) }
        let tcpEnvoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/tcp", nodeID: "tcp", adminPort: 0))
        defer { tcpEnvoy.stop() }
        let picked = await eventually(timeout: .seconds(20)) {
            (try? await tcpExchange(port: tcpPort, message: "x", timeout: .milliseconds(500))) == "tcp: x"
        }
        #expect(picked, "the TCPRoute was not picked up after its CRD was installed\n\(chancery.output.suffix(2000))")
        #expect(chancery.output.contains("working again"))

        await echo.stop()
        await api.stop()
        await a.stop()
        await b.stop()
    }

    /// SecurityPolicies from the API server: the htpasswd Secret they name (an Opaque
    /// Secret) is read too; Envoy enforces them; their status is written back.
    @Test func policiesFromTheClusterAreEnforcedAndGetStatus() async throws {
        let world = try await Served { api in
            for (resource, kind) in [
                ("securitypolicies", "SecurityPolicy"), ("backendtrafficpolicies", "BackendTrafficPolicy"),
                ("clienttrafficpolicies", "ClientTrafficPolicy"),
            ] {
                api.installCRD(group: "gateway.envoyproxy.io", version: "v1alpha1", resource: resource, kind: kind, namespaced: true)
            }
            try api.create(
                Self.json(
                    """
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: users, namespace: default}
                    type: Opaque
                    data: {.htpasswd: \(Data("alice:{SHA}F2GPAaOiG5EcklvLUlodIavTBnM=\n".utf8).base64EncodedString())}
                    """))
            try api.create(
                Self.json(
                    """
                    apiVersion: gateway.envoyproxy.io/v1alpha1
                    kind: SecurityPolicy
                    metadata: {name: guard, namespace: default}
                    spec:
                      targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: route}]
                      basicAuth: {users: {name: users}}
                      authorization:
                        defaultAction: Allow
                        rules: [{action: Deny, operation: {path: {value: /private}}, principal: {clientCIDRs: [0.0.0.0/0]}}]
                    """))
        }
        func status(_ path: String, authorized: Bool) async -> Int? {
            try? await httpGet(
                port: world.port, path: path, host: "example.com",
                headers: authorized ? [("authorization", "Basic YWxpY2U6b3BlbnNlc2FtZQ==")] : []
            ).status
        }
        let enforced = await eventually(timeout: .seconds(20)) { await status("/", authorized: false) == 401 }
        #expect(enforced, "\(world.chancery.output.suffix(3000))")
        #expect(await status("/", authorized: true) == 200)
        #expect(await status("/private", authorized: true) == 403)
        // Status: accepted, for the route's Gateway, by Chancery's controller.
        let written = await eventually(timeout: .seconds(10)) {
            let policy = Self.object(
                world.api.get(apiVersion: "gateway.envoyproxy.io/v1alpha1", kind: "SecurityPolicy", namespace: "default", name: "guard"))
            let ancestors = (policy["status"] as? [String: Any])?["ancestors"] as? [[String: Any]] ?? []
            guard let ancestor = ancestors.first, ancestors.count == 1 else { return false }
            let reference = ancestor["ancestorRef"] as? [String: Any]
            let accepted = (ancestor["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Accepted" }
            return reference?["name"] as? String == "web" && ancestor["controllerName"] as? String == "chancery.dev/gateway-controller"
                && accepted?["status"] as? String == "True"
        }
        #expect(written, "\(world.api.requestLog.suffix(10))")
        await world.stop()
    }

    /// Mesh workloads from the cluster: Pods (finished ones are filtered out by the
    /// watch's field selector), a GAMMA route whose Service parent gets status, and the
    /// mesh groups the admin endpoint lists, following Pods as they come and go.
    /// `--mesh-ca-secret`: the first Chancery makes the mesh CA and stores it in the
    /// Secret; the next one (a restart, another replica) signs with the same root.
    @Test func theMeshCAIsKeptInASecret() async throws {
        let api = try await FakeKubeAPI.start()
        let kubeconfig = try Self.kubeconfig(server: api.url, ca: api.ca)
        let arguments = ["--kubeconfig", kubeconfig, "--mesh-ca-secret", "default/chancery-mesh-ca"]
        let first = try await ChanceryProcess.serve(arguments)
        #expect(first.output.contains("mesh CA made and stored in a Secret"), "\(first.output.suffix(1500))")
        first.stop()
        let stored = Self.object(api.get(apiVersion: "v1", kind: "Secret", namespace: "default", name: "chancery-mesh-ca"))
        let data = stored["data"] as? [String: String] ?? [:]
        let certificate = data["ca.crt"].flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        #expect(certificate.contains("BEGIN CERTIFICATE") && data["ca.key"] != nil, "\(stored)")

        let second = try await ChanceryProcess.serve(arguments)
        #expect(second.output.contains("mesh CA loaded from a Secret"), "\(second.output.suffix(1500))")
        second.stop()
        let again = Self.object(api.get(apiVersion: "v1", kind: "Secret", namespace: "default", name: "chancery-mesh-ca"))
        #expect((again["data"] as? [String: String]) == data, "the second start replaced the CA")

        // A Secret with a certificate and no key is named, and Chancery does not start.
        try api.create(Self.json("""
            apiVersion: v1
            kind: Secret
            metadata: {name: half, namespace: default}
            data: {ca.crt: \(data["ca.crt"] ?? "")}
            """))
        await #expect(throws: (any Error).self) {
            try await ChanceryProcess.serve(["--kubeconfig", kubeconfig, "--mesh-ca-secret", "default/half"])
        }
        let refused = try await runChancery(["serve", "--kubeconfig", kubeconfig, "--mesh-ca-secret", "default/half", "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0"])
        #expect(refused.status != 0 && refused.output.contains("Secret default/half lacks ca.key"), "\(refused.output.suffix(800))")
        await api.stop()
    }

    @Test func meshPodsAndRoutesFromTheClusterMakeMeshProxies() async throws {
        let world = try await Served { api in
            try api.create(Self.json("""
                apiVersion: v1
                kind: Namespace
                metadata: {name: shop, labels: {chancery.dev/mesh: enabled}}
                """))
            try api.create(Self.json("""
                apiVersion: v1
                kind: Service
                metadata: {name: echo, namespace: shop}
                spec: {clusterIP: 10.96.0.10, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080}]}
                """))
            for (name, phase) in [("echo-0", "Running"), ("done", "Succeeded")] {
                try api.create(Self.json("""
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: \(name), namespace: shop, labels: {app: echo}}
                    spec: {serviceAccountName: echo, nodeName: node-1}
                    status: {podIP: 10.77.0.11, phase: \(phase)}
                    """))
            }
            try api.create(Self.json("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: echo-mesh, namespace: shop}
                spec:
                  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
                  rules: [{backendRefs: [{name: echo, port: 80}]}]
                """))
        }
        func groups() async -> [String: [String: Any]] {
            let mesh = (try? await world.chancery.adminJSON("/api/v1/mesh")) ?? [:]
            var result: [String: [String: Any]] = [:]
            for proxy in mesh["proxies"] as? [[String: Any]] ?? [] { result[proxy["group"] as? String ?? ""] = proxy }
            return result
        }
        let listed = await eventually(timeout: .seconds(20)) { Set(await groups().keys) == ["sidecar:shop/echo-0", "node:node-1"] }
        let seen = await groups().keys.sorted()
        #expect(listed, "\(seen)\n\(world.chancery.output.suffix(2000))")
        let workloads = await groups()["sidecar:shop/echo-0"]?["workloads"] as? [[String: Any]] ?? []
        #expect(workloads.first?["identity"] as? String == "spiffe://cluster.local/ns/shop/sa/echo")
        #expect(workloads.first?["ports"] as? [Int] == [8080])
        // The route's status names the Service parent, written by Chancery's controller.
        let written = await eventually(timeout: .seconds(10)) {
            let route = Self.object(
                world.api.get(apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: "shop", name: "echo-mesh"))
            let parents = (route["status"] as? [String: Any])?["parents"] as? [[String: Any]] ?? []
            let accepted = (parents.first?["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Accepted" }
            return parents.count == 1 && (parents.first?["parentRef"] as? [String: Any])?["kind"] as? String == "Service"
                && accepted?["status"] as? String == "True"
        }
        #expect(written, "\(world.api.requestLog.suffix(10))")
        // A Pod that goes away takes its groups with it.
        try world.api.delete(apiVersion: "v1", kind: "Pod", namespace: "shop", name: "echo-0")
        #expect(await eventually(timeout: .seconds(20)) { await groups().isEmpty })
        await world.stop()
    }
}
