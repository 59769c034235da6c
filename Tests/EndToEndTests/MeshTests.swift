import Foundation
import Testing
import TestSupport

/// The mesh end to end: Pods in network namespaces this test makes, their traffic
/// captured by `chancery mesh-init`'s iptables rules into real Envoys configured by a
/// real `chancery serve` (over its unix socket), calling each other by Service VIP —
/// once with a sidecar per Pod, once with one node-level proxy for every Pod.
@Suite(.serialized) struct MeshTests {
    enum Mode: String, CustomStringConvertible {
        case sidecars, nodeProxy
        var description: String { rawValue }
    }

    static let python = EnvoyProcess.packageRoot.appendingPathComponent(".venv/bin/python3").path
    static let echo = EnvoyProcess.packageRoot.appendingPathComponent("testdata/mesh/echo.py").path
    static let client = EnvoyProcess.packageRoot.appendingPathComponent("testdata/mesh/client.py").path

    /// The world: shop/echo (VIP 10.96.0.10) in front of echo-v1 and echo-v2, each also
    /// a Service of its own; a producer route splitting /api 50/50 with a rewrite; a
    /// consumer route in namespace web sending web's callers to v2 alone (across namespaces
    /// without a ReferenceGrant, as GAMMA allows). Callers:
    /// client-a in web, client-b and client-c (outbound blocked) in other; outside is a
    /// server not in the mesh.
    static let world = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop, labels: {chancery.dev/mesh: enabled}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: web, labels: {chancery.dev/mesh: enabled}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata:
          name: other
          labels: {chancery.dev/mesh: enabled}
          annotations: {chancery.dev/mesh-egress: "shop/*"}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: echo, namespace: shop}
        spec:
          clusterIP: 10.96.0.10
          selector: {app: echo}
          ports: [{name: http, port: 80, targetPort: http}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: echo-v1, namespace: shop}
        spec:
          clusterIP: 10.96.0.11
          selector: {app: echo, version: v1}
          ports: [{name: http, port: 80, targetPort: 8080}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: echo-v2, namespace: shop}
        spec:
          clusterIP: 10.96.0.12
          selector: {app: echo, version: v2}
          ports: [{name: http, port: 80, targetPort: 8080}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: echo-split, namespace: shop}
        spec:
          parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /api}}]
            filters:
            - type: URLRewrite
              urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /rewritten}}
            backendRefs:
            - {name: echo-v1, port: 80, weight: 50}
            - {name: echo-v2, port: 80, weight: 50}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: echo-for-web, namespace: web}
        spec:
          parentRefs: [{group: "", kind: Service, name: echo, namespace: shop}]
          rules:
          - backendRefs: [{name: echo-v2, namespace: shop, port: 80}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: echo-v1, namespace: shop, labels: {app: echo, version: v1}}
        spec:
          serviceAccountName: echo
          nodeName: node-1
          containers: [{name: echo, ports: [{name: http, containerPort: 8080}]}]
        status: {podIP: 10.77.0.11, phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: echo-v2, namespace: shop, labels: {app: echo, version: v2}}
        spec:
          serviceAccountName: echo
          nodeName: node-1
          containers: [{name: echo, ports: [{name: http, containerPort: 8080}]}]
        status: {podIP: 10.77.0.12, phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client-a, namespace: web}
        spec: {nodeName: node-1}
        status: {podIP: 10.77.0.20, phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client-b, namespace: other}
        spec: {nodeName: node-1}
        status: {podIP: 10.77.0.21, phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: client-c
          namespace: other
          annotations: {chancery.dev/mesh-outbound: blocked}
        spec: {nodeName: node-1}
        status: {podIP: 10.77.0.22, phase: Running}

        """

    struct Pod {
        let namespace: String
        let name: String
        let address: String
        let serves: Bool
    }

    static let pods = [
        Pod(namespace: "shop", name: "echo-v1", address: "10.77.0.11", serves: true),
        Pod(namespace: "shop", name: "echo-v2", address: "10.77.0.12", serves: true),
        Pod(namespace: "web", name: "client-a", address: "10.77.0.20", serves: false),
        Pod(namespace: "other", name: "client-b", address: "10.77.0.21", serves: false),
        Pod(namespace: "other", name: "client-c", address: "10.77.0.22", serves: false),
    ]

    /// One answer of client.py: a status and the echo's body, or an error.
    struct Answer {
        let status: Int?
        /// The body when it is not the echo's JSON (an answer of Envoy's own).
        let text: String?
        let pod: String?
        let path: String?
        let peer: String?
        let headers: [String: String]
        let error: String?
    }

    /// Sends `count` requests from a Pod's namespace.
    static func call(
        _ lab: MeshLab, from namespace: String, _ url: String, count: Int = 1, method: String = "GET", header: String? = nil,
        interval: Double? = nil
    ) async throws -> [Answer] {
        let (status, output) = try await MeshLab.offPool {
            let command = [python, client, url, String(count), method] + (header.map { [$0] } ?? [])
            return try lab.exec(in: namespace, interval.map { ["/usr/bin/env", "INTERVAL=\($0)"] + command } ?? command)
        }
        guard status == 0 else { throw MeshLab.Failed(description: "client.py failed (\(status)): \(output)") }
        return output.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            let body = object["body"] as? [String: Any]
            return Answer(
                status: object["status"] as? Int, text: object["body"] as? String, pod: body?["pod"] as? String, path: body?["path"] as? String,
                peer: body?["peer"] as? String, headers: body?["headers"] as? [String: String] ?? [:],
                error: object["error"] as? String)
        }
    }

    /// Runs `chancery` with `arguments` (inside `namespace` when given) and returns its output.
    static func chancery(_ lab: MeshLab, in namespace: String? = nil, _ arguments: [String]) async throws -> String {
        let binary = try ChanceryProcess.executable().path
        if let namespace {
            let (status, output) = try await MeshLab.offPool { try lab.exec(in: namespace, [binary] + arguments) }
            guard status == 0 else { throw MeshLab.Failed(description: "chancery \(arguments) failed (\(status)): \(output)") }
            return output
        }
        let (status, output) = try await runChancery(arguments)
        guard status == 0 else { throw MeshLab.Failed(description: "chancery \(arguments) failed (\(status)): \(output)") }
        return output
    }

    /// Starts an Envoy with `chancery bootstrap` `arguments` in `namespace`, as the proxy's
    /// group (1337), whose connections the capture rules leave alone.
    static func startEnvoy(_ lab: MeshLab, in namespace: String, name: String, bootstrap arguments: [String]) async throws {
        let socket = lab.directory.appendingPathComponent("xds.sock").path
        let yaml = try await chancery(lab, ["bootstrap", "--xds-socket", socket, "--admin-port", "15000"] + arguments)
        let file = lab.directory.appendingPathComponent("\(name).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        try lab.start(
            in: namespace,
            [try EnvoyProcess.binary().path, "-c", file.path, "--disable-hot-restart", "--concurrency", "1", "-l", "info", "--drain-time-s", "1"],
            group: 1337, log: "\(name)-envoy.log")
    }

    @Test(arguments: [Mode.sidecars, .nodeProxy])
    func podsCallServicesThroughTheirProxies(_ mode: Mode) async throws {
        let lab = try await MeshLab.offPool { try MeshLab(name: mode == .sidecars ? "s" : "n", gateway: "10.77.0.1") }
        defer { lab.remove() }
        let namespaces = try await MeshLab.offPool {
            var made: [String: String] = [:]
            for pod in Self.pods { made[pod.name] = try lab.addPod(pod.name, address: pod.address) }
            return made
        }
        let outside = try await MeshLab.offPool { try lab.addPod("outside", address: "10.77.0.50") }
        for pod in Self.pods where pod.serves {
            try lab.start(in: namespaces[pod.name]!, [Self.python, Self.echo, pod.name, "8080"], log: "\(pod.name).log")
        }
        try lab.start(in: outside, [Self.python, Self.echo, "outside", "8080"], log: "outside.log")

        let config = lab.directory.appendingPathComponent("config")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        try Self.world.write(to: config.appendingPathComponent("mesh.yaml"), atomically: true, encoding: .utf8)
        let server = try await ChanceryProcess.serve([
            "--config-dir", config.path, "--xds-socket", lab.directory.appendingPathComponent("xds.sock").path,
        ])
        defer { server.stop() }

        switch mode {
        case .sidecars:
            for pod in Self.pods {
                let namespace = namespaces[pod.name]!
                _ = try await Self.chancery(lab, in: namespace, ["mesh-init", "--apply"])
                try await Self.startEnvoy(
                    lab, in: namespace, name: pod.name, bootstrap: ["--sidecar", "--pod", "\(pod.namespace)/\(pod.name)"])
            }
        case .nodeProxy:
            _ = try await Self.chancery(
                lab, in: lab.node, ["mesh-init", "--node-proxy", "--pod-interface", "br0", "--node-addresses", "10.77.0.1/32", "--apply"])
            try await Self.startEnvoy(lab, in: lab.node, name: "node-1", bootstrap: ["--node-proxy", "node-1"])
        }
        let a = namespaces["client-a"]!
        let b = namespaces["client-b"]!
        func context() -> String {
            "chancery:\n\(server.output.suffix(1500))\nenvoy:\n\(lab.log(mode == .sidecars ? "client-b-envoy.log" : "node-1-envoy.log").suffix(3000))"
        }

        // Every proxy holds its configuration before anything is asked of it.
        let expected =
            mode == .sidecars ? Self.pods.map { "sidecar:\($0.namespace)/\($0.name)" } : ["node:node-1"]
        let synced = await eventually(timeout: .seconds(40), every: .milliseconds(250)) {
            let clients = try await server.adminJSON("/api/v1/clients")["clients"] as? [[String: Any]] ?? []
            let inSync = Set(clients.filter { $0["inSync"] as? Bool == true }.compactMap { $0["group"] as? String })
            return inSync.isSuperset(of: expected)
        }
        try #require(synced, "the mesh proxies did not all take their configuration\n\(context())")
        // The VIP is routed nowhere: an answer means the caller's proxy captured the call.
        let ready = await eventually(timeout: .seconds(20), every: .milliseconds(250)) {
            try await Self.call(lab, from: b, "http://10.96.0.10/api/ready").first?.status == 200
        }
        try #require(ready, "client-b never reached shop/echo through its proxy\n\(context())")

        // The producer route: /api splits 50/50 between v1 and v2, rewritten.
        let split = try await Self.call(lab, from: b, "http://10.96.0.10/api/hello", count: 100)
        #expect(split.count == 100 && split.allSatisfy { $0.status == 200 }, "\(split.compactMap(\.error).prefix(3))")
        let v1 = split.filter { $0.pod == "echo-v1" }.count
        let v2 = split.filter { $0.pod == "echo-v2" }.count
        #expect(v1 + v2 == 100)
        #expect((30...70).contains(v1), "v1 got \(v1) of 100, v2 \(v2)")
        #expect(split.allSatisfy { $0.path == "/rewritten/hello" }, "\(Set(split.compactMap(\.path)))")
        // Through the server's own sidecar (it reaches the application on loopback), or
        // from the node-level proxy on the node's address.
        let peers = Set(split.compactMap(\.peer))
        #expect(peers == [mode == .sidecars ? "127.0.0.1" : "10.77.0.1"], "\(peers)")
        if mode == .sidecars {
            // Sidecar to sidecar is mutual TLS: the server's proxy names the caller's identity.
            let callers = Set(split.map { $0.headers["x-forwarded-client-cert"] ?? "none" })
            #expect(callers.allSatisfy { $0.contains("URI=spiffe://cluster.local/ns/other/sa/default") }, "\(callers)")
        }

        // A path no rule of the route matches: 404, the route governs every call.
        #expect(try await Self.call(lab, from: b, "http://10.96.0.10/elsewhere").first?.status == 404)

        // The consumer route in web: web's caller goes to v2 alone, unrewritten.
        let consumer = try await Self.call(lab, from: a, "http://10.96.0.10/api/hello", count: 30)
        #expect(consumer.count == 30 && consumer.allSatisfy { $0.status == 200 && $0.pod == "echo-v2" }, "\(consumer.map { $0.pod ?? $0.error ?? "?" })")
        #expect(consumer.allSatisfy { $0.path == "/api/hello" })

        // A Service without routes: straight to its endpoints.
        let direct = try await Self.call(lab, from: b, "http://10.96.0.11/direct", count: 5)
        #expect(direct.allSatisfy { $0.status == 200 && $0.pod == "echo-v1" && $0.path == "/direct" })

        if mode == .sidecars {
            // Sidecars' inbound listener sets X-Forwarded-Client-Cert itself: a caller's
            // forged one never reaches the application. (Called by Pod address, the
            // caller's proxy passes the connection through as it is, header and all.)
            let forged = try await Self.call(
                lab, from: b, "http://10.77.0.11:8080/xfcc", header: "x-forwarded-client-cert: By=spiffe://evil/ns/x/sa/y")
            #expect(forged.first?.status == 200 && forged.first?.pod == "echo-v1", "\(forged)")
            #expect(forged.first?.peer == "127.0.0.1" && forged.first?.headers["x-forwarded-client-cert"] == nil, "\(forged)")
            // An address outside the mesh passes through unchanged, through the caller's
            // proxy (its access log names the original destination)…
            let passed = try await Self.call(lab, from: b, "http://10.77.0.50:8080/out", count: 3)
            #expect(passed.allSatisfy { $0.status == 200 && $0.pod == "outside" && $0.path == "/out" }, "\(passed)")
            let logged = await eventually { lab.log("client-b-envoy.log").contains("\"10.77.0.50:8080\"") }
            #expect(logged, "\(lab.log("client-b-envoy.log").suffix(1500))")
            // …unless the Pod's outbound traffic is blocked: then only the mesh is reached.
            let c = namespaces["client-c"]!
            #expect(await eventually { try await Self.call(lab, from: c, "http://10.96.0.11/ok").first?.status == 200 })
            let blocked = try await Self.call(lab, from: c, "http://10.77.0.50:8080/out")
            #expect(blocked.first?.status == nil && blocked.first?.error != nil, "\(blocked)")
            #expect(lab.log("outside.log").contains("listening"))
        }

        // The admin endpoint lists the mesh proxies, whom they serve and who is connected.
        let mesh = try await server.adminJSON("/api/v1/mesh")
        let proxies = mesh["proxies"] as? [[String: Any]] ?? []
        let groups = Set(proxies.compactMap { $0["group"] as? String })
        #expect(groups.isSuperset(of: ["sidecar:shop/echo-v1", "sidecar:web/client-a", "node:node-1"]), "\(groups)")
        let connectedGroup = mode == .sidecars ? "sidecar:other/client-b" : "node:node-1"
        let entry = proxies.first { $0["group"] as? String == connectedGroup }
        #expect((entry?["connected"] as? [Any])?.isEmpty == false, "\(entry ?? [:])")
        let identities = (entry?["workloads"] as? [[String: Any]] ?? []).compactMap { $0["identity"] as? String }
        #expect(identities.contains("spiffe://cluster.local/ns/other/sa/default"), "\(identities)")

        let left = try await MeshLab.offPool {
            lab.remove()
            return lab.remaining
        }
        #expect(left.isEmpty, "namespaces left: \(left)")
    }
}
