import Foundation
import Testing
import TestSupport

/// Mesh identity end to end, on Cilium's star wars demo: sidecars in network namespaces
/// this test makes, with certificates from Chancery's mesh CA, and a CiliumNetworkPolicy
/// that lets only `org: empire` callers, proven by mutual TLS, `POST /v1/request-landing`
/// to the deathstar.
@Suite(.serialized) struct MeshSecurityTests {
    static let world = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: default, labels: {chancery.dev/mesh: enabled}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: deathstar, namespace: default}
        spec:
          clusterIP: 10.96.0.80
          selector: {org: empire, class: deathstar}
          ports: [{name: http, port: 80, targetPort: 80}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: deathstar, namespace: default, labels: {org: empire, class: deathstar}}
        spec: {serviceAccountName: deathstar, nodeName: node-1, containers: [{name: app, ports: [{containerPort: 80}]}]}
        status: {podIP: 10.78.0.10, phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: tiefighter, namespace: default, labels: {org: empire, class: tiefighter}}
        spec: {serviceAccountName: tiefighter, nodeName: node-1}
        status: {podIP: 10.78.0.11, phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: xwing, namespace: default, labels: {org: alliance, class: xwing}}
        spec: {serviceAccountName: xwing, nodeName: node-1}
        status: {podIP: 10.78.0.12, phase: Running}
        ---
        # Not in the mesh (no sidecar, no certificate), though its labels say empire.
        apiVersion: v1
        kind: Pod
        metadata: {name: impostor, namespace: default, labels: {org: empire, chancery.dev/mesh: disabled}}
        spec: {serviceAccountName: tiefighter, nodeName: node-1}
        status: {podIP: 10.78.0.13, phase: Running}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: rule1, namespace: default}
        spec:
          description: "L7 policy to restrict access to specific HTTP call"
          endpointSelector:
            matchLabels: {org: empire, class: deathstar}
          ingress:
          - fromEndpoints:
            - matchLabels: {org: empire}
            authentication:
              mode: required
            toPorts:
            - ports:
              - {port: "80", protocol: TCP}
              rules:
                http:
                - {method: POST, path: "/v1/request-landing"}

        """

    @Test func theDeathstarLandsOnlyEmpireShipsThatProveWhoTheyAre() async throws {
        let lab = try await MeshLab.offPool { try MeshLab(name: "m", gateway: "10.78.0.1") }
        defer { lab.remove() }
        let pods = [("deathstar", "10.78.0.10"), ("tiefighter", "10.78.0.11"), ("xwing", "10.78.0.12"), ("impostor", "10.78.0.13")]
        let namespaces = try await MeshLab.offPool {
            var made: [String: String] = [:]
            for (name, address) in pods { made[name] = try lab.addPod(name, address: address) }
            return made
        }
        try lab.start(in: namespaces["deathstar"]!, [MeshTests.python, MeshTests.echo, "deathstar", "80"], log: "deathstar.log")

        let config = lab.directory.appendingPathComponent("config")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        try Self.world.write(to: config.appendingPathComponent("starwars.yaml"), atomically: true, encoding: .utf8)
        // Certificates live 12 s and are renewed every 6 s: the request loop below spans renewals.
        let caDirectory = lab.directory.appendingPathComponent("mesh-ca")
        let server = try await ChanceryProcess.serve([
            "--config-dir", config.path, "--xds-socket", lab.directory.appendingPathComponent("xds.sock").path,
            "--mesh-ca-dir", caDirectory.path, "--workload-cert-ttl", "12",
        ])
        defer { server.stop() }
        for name in ["deathstar", "tiefighter", "xwing"] {
            _ = try await MeshTests.chancery(lab, in: namespaces[name]!, ["mesh-init", "--apply"])
            try await MeshTests.startEnvoy(lab, in: namespaces[name]!, name: name, bootstrap: ["--sidecar", "--pod", "default/\(name)"])
        }
        func context() -> String {
            "chancery:\n\(server.output.suffix(1500))\ndeathstar envoy:\n\(lab.log("deathstar-envoy.log").suffix(2500))"
        }
        let synced = await eventually(timeout: .seconds(40), every: .milliseconds(250)) {
            let clients = try await server.adminJSON("/api/v1/clients")["clients"] as? [[String: Any]] ?? []
            let inSync = Set(clients.filter { $0["inSync"] as? Bool == true }.compactMap { $0["group"] as? String })
            return inSync.isSuperset(of: ["sidecar:default/deathstar", "sidecar:default/tiefighter", "sidecar:default/xwing"])
        }
        try #require(synced, "the sidecars did not all take their configuration\n\(context())")
        // The CA was made on first start, its key readable by its owner alone.
        let keyMode = try FileManager.default.attributesOfItem(atPath: caDirectory.appendingPathComponent("ca.key").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)

        let tiefighter = namespaces["tiefighter"]!
        let landed = await eventually(timeout: .seconds(20), every: .milliseconds(250)) {
            try await MeshTests.call(lab, from: tiefighter, "http://10.96.0.80/v1/request-landing", method: "POST").first?.status == 200
        }
        try #require(landed, "tiefighter never landed\n\(context())")
        let logBefore = lab.log("deathstar.log")

        // tiefighter: POST /v1/request-landing is allowed, and the deathstar learns who called.
        let landing = try await MeshTests.call(lab, from: tiefighter, "http://10.96.0.80/v1/request-landing", method: "POST")
        #expect(landing.first?.status == 200, "\(landing)")
        let xfcc = landing.first?.headers["x-forwarded-client-cert"] ?? ""
        #expect(xfcc.contains("URI=spiffe://cluster.local/ns/default/sa/tiefighter"), "\(xfcc)")
        #expect(xfcc.contains("By=spiffe://cluster.local/ns/default/sa/deathstar"), "\(xfcc)")

        // tiefighter: PUT /v1/exhaust-port is not: 403 from the deathstar's sidecar.
        let exhaust = try await MeshTests.call(lab, from: tiefighter, "http://10.96.0.80/v1/exhaust-port", method: "PUT")
        #expect(exhaust.first?.status == 403, "\(exhaust)")
        #expect(exhaust.first?.text?.contains("RBAC: access denied") == true, "\(exhaust)")

        // xwing: its certificate says who it is, and it is not empire: refused before HTTP.
        let xwing = try await MeshTests.call(lab, from: namespaces["xwing"]!, "http://10.96.0.80/v1/request-landing", method: "POST")
        #expect(xwing.first?.status != 200 && xwing.first?.status != 403, "\(xwing)")
        #expect(xwing.first?.pod == nil, "\(xwing)")

        // impostor: empire's labels but no mesh certificate: the connection is closed.
        let impostor = try await MeshTests.call(lab, from: namespaces["impostor"]!, "http://10.78.0.10:80/v1/request-landing", method: "POST")
        #expect(impostor.first?.status == nil && impostor.first?.error != nil, "\(impostor)")

        // Both were refused by the deathstar's sidecar, on the connection (network RBAC).
        let stats = try await MeshLab.offPool {
            try lab.exec(
                in: namespaces["deathstar"]!,
                [MeshTests.python, "-c", "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:15000/stats?filter=rbac').read().decode())"])
        }.output
        #expect(stats.contains("inbound-80-mutualTLS.allow.rbac.denied: 1"), "xwing: \(stats)")
        #expect(stats.contains("inbound-80-plaintext.allow.rbac.denied: 1"), "impostor: \(stats)")
        #expect(stats.contains("http.inbound-80-mutualTLS.rbac.denied: 1"), "exhaust port: \(stats)")
        // The deathstar's application saw the landings alone, each naming tiefighter.
        let seen = lab.log("deathstar.log").dropFirst(logBefore.count).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(seen.count == 1, "\(seen)")
        #expect(seen.allSatisfy { $0["method"] as? String == "POST" && $0["path"] as? String == "/v1/request-landing" }, "\(seen)")
        #expect(seen.allSatisfy { ($0["xfcc"] as? String)?.contains("URI=spiffe://cluster.local/ns/default/sa/tiefighter") == true })

        // Renewal under load: 100 landings over 15 s, across at least two renewals of
        // both sidecars' certificates; not one is lost.
        let before = try await Self.servedSerial(lab, in: tiefighter)
        let loop = try await MeshTests.call(
            lab, from: tiefighter, "http://10.96.0.80/v1/request-landing", count: 100, method: "POST", interval: 0.15)
        let after = try await Self.servedSerial(lab, in: tiefighter)
        #expect(loop.count == 100 && loop.allSatisfy { $0.status == 200 }, "\(loop.filter { $0.status != 200 }.prefix(3))")
        #expect(before != nil && after != nil && before != after, "tiefighter's certificate was not renewed: \(before ?? "none") → \(after ?? "none")")
        #expect(server.output.contains("certificate-renewal"), "\(server.output.suffix(1500))")

        // The admin endpoint never shows a workload key.
        let node = try await Self.nodeID(server, group: "sidecar:default/tiefighter")
        let path = "/api/v1/clients/\(node.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? node)/config?type=secrets"
        let secrets = String(decoding: try await server.admin(path).body, as: UTF8.self)
        #expect(!secrets.contains("PRIVATE KEY") && secrets.contains("BEGIN CERTIFICATE"), "\(secrets.prefix(600))")

        let left = try await MeshLab.offPool {
            lab.remove()
            return lab.remaining
        }
        #expect(left.isEmpty, "namespaces left: \(left)")
    }

    /// The serial number of the certificate the Pod's sidecar presents, from Envoy's own
    /// `/certs` (inside the Pod's namespace).
    static func servedSerial(_ lab: MeshLab, in namespace: String) async throws -> String? {
        let (status, output) = try await MeshLab.offPool {
            try lab.exec(in: namespace, [MeshTests.python, "-c", "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:15000/certs').read().decode())"])
        }
        guard status == 0, let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else { return nil }
        for certificate in json["certificates"] as? [[String: Any]] ?? [] {
            for entry in certificate["cert_chain"] as? [[String: Any]] ?? [] {
                let sans = (entry["subject_alt_names"] as? [[String: Any]] ?? []).compactMap { $0["uri"] as? String }
                if sans.contains(where: { $0.hasSuffix("/sa/tiefighter") }) { return entry["serial_number"] as? String }
            }
        }
        return nil
    }

    static func nodeID(_ server: ChanceryProcess, group: String) async throws -> String {
        let clients = try await server.adminJSON("/api/v1/clients")["clients"] as? [[String: Any]] ?? []
        let id = clients.first { $0["group"] as? String == group }?["nodeID"] as? String
        return try #require(id, "no client of \(group)")
    }
}
