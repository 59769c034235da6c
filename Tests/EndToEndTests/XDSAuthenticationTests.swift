import Foundation
import Testing
import TestSupport
import XDS

/// Who may ask Chancery for what: real Envoys proving who they are with a Kubernetes
/// service account token (checked by a TokenReview on the test API server) or a client
/// certificate, and a real `chancery serve --xds-auth required` refusing every stream
/// whose identity does not own the group it asks for.
@Suite(.serialized) struct XDSAuthenticationTests {
    static let pods = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop, labels: {chancery.dev/mesh: enabled}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: echo, namespace: shop}
        spec: {clusterIP: 10.96.0.10, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: echo-0, namespace: shop, labels: {app: echo}}
        spec: {serviceAccountName: echo, nodeName: node-1, containers: [{name: echo, ports: [{containerPort: 8080}]}]}
        status: {podIP: 10.79.0.11, phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: other-0, namespace: shop}
        spec: {serviceAccountName: other, nodeName: node-1}
        status: {podIP: 10.79.0.12, phase: Running}
        """

    /// A sidecar's token says which service account it runs as: the Pod of that account
    /// gets its configuration and certificate; another Pod's, or none at all, is refused.
    @Test func aSidecarGetsOnlyItsOwnPodsConfigurationAndCertificate() async throws {
        let api = try await FakeKubeAPI.start()
        for document in Self.pods.components(separatedBy: "\n---\n") { try api.create(KubernetesTests.json(document)) }
        let lab = try await MeshLab.offPool { try MeshLab(name: "x", gateway: "10.79.0.1") }
        defer { lab.remove() }
        let socket = lab.directory.appendingPathComponent("xds.sock").path
        let chancery = try await ChanceryProcess.serve([
            "--kubeconfig", try KubernetesTests.kubeconfig(server: api.url, ca: api.ca), "--xds-socket", socket,
            "--xds-auth", "required",
        ])
        defer { chancery.stop() }
        let known = await eventually(timeout: .seconds(20)) {
            let proxies = try await chancery.adminJSON("/api/v1/mesh")["proxies"] as? [[String: Any]] ?? []
            return proxies.contains { $0["group"] as? String == "sidecar:shop/echo-0" }
        }
        try #require(known, "\(chancery.output.suffix(2000))")

        // Three sidecars, each in a network namespace of its own, all claiming echo-0:
        // one with echo's token, one with other's, one with none.
        let echoToken = api.serviceAccountToken(namespace: "shop", name: "echo")
        let otherToken = api.serviceAccountToken(namespace: "shop", name: "other")
        for (name, token) in [("rightful", echoToken), ("impostor", otherToken), ("anonymous", nil)] as [(String, String?)] {
            let namespace = try await MeshLab.offPool { try lab.addPod(name, address: name == "rightful" ? "10.79.0.11" : name == "impostor" ? "10.79.0.12" : "10.79.0.13") }
            var arguments = ["--sidecar", "--pod", "shop/echo-0", "--node-id", name]
            if let token {
                let file = lab.directory.appendingPathComponent("\(name).token")
                try token.write(to: file, atomically: true, encoding: .utf8)
                arguments += ["--xds-token-file", file.path]
            }
            try await MeshTests.startEnvoy(lab, in: namespace, name: name, bootstrap: arguments)
        }

        func clients() async throws -> (clients: [[String: Any]], refused: [[String: Any]]) {
            let page = try await chancery.adminJSON("/api/v1/clients")
            return (page["clients"] as? [[String: Any]] ?? [], page["refused"] as? [[String: Any]] ?? [])
        }
        let settled = await eventually(timeout: .seconds(30), every: .milliseconds(250)) {
            let (clients, refused) = try await clients()
            let synced = clients.contains { $0["nodeID"] as? String == "rightful" && $0["inSync"] as? Bool == true }
            let names = Set(refused.compactMap { $0["nodeID"] as? String })
            return synced && names.isSuperset(of: ["impostor", "anonymous"])
        }
        let (connected, refused) = try await clients()
        try #require(settled, "clients: \(connected)\nrefused: \(refused)\n\(chancery.output.suffix(2000))")

        // Only the rightful sidecar is connected; the others are refused, and told why.
        #expect(Set(connected.compactMap { $0["nodeID"] as? String }) == ["rightful"])
        let impostor = refused.last { $0["nodeID"] as? String == "impostor" }
        #expect(impostor?["group"] as? String == "sidecar:shop/echo-0")
        #expect(impostor?["identity"] as? String == "spiffe://cluster.local/ns/shop/sa/other (by token)", "\(impostor ?? [:])")
        #expect((impostor?["reason"] as? String)?.contains("runs as spiffe://cluster.local/ns/shop/sa/echo") == true, "\(impostor ?? [:])")
        let anonymous = refused.last { $0["nodeID"] as? String == "anonymous" }
        #expect((anonymous?["reason"] as? String)?.contains("no credentials") == true, "\(anonymous ?? [:])")
        #expect(chancery.output.contains("xDS stream refused"))

        // The rightful sidecar holds echo's certificate; the impostor holds none, and was
        // told PermissionDenied (Envoy logs the gRPC status).
        let rightfulCerts = try await Self.envoyAdmin(lab, pod: "rightful", "/certs")
        #expect(rightfulCerts.contains("spiffe://cluster.local/ns/shop/sa/echo"), "\(rightfulCerts.prefix(800))")
        let impostorCerts = try await Self.envoyAdmin(lab, pod: "impostor", "/certs")
        #expect(!impostorCerts.contains("spiffe://"), "\(impostorCerts.prefix(800))")
        let told = await eventually(timeout: .seconds(10)) { lab.log("impostor-envoy.log").contains("PermissionDenied") || lab.log("impostor-envoy.log").contains("7, ") }
        #expect(told, "\(lab.log("impostor-envoy.log").suffix(1500))")

        let left = try await MeshLab.offPool {
            lab.remove()
            return lab.remaining
        }
        #expect(left.isEmpty, "namespaces left: \(left)")
        await api.stop()
    }

    /// TLS on the xDS address with client certificates: a gateway proxy's certificate
    /// names its namespace's identity; it gets that namespace's group, not another's.
    @Test func clientCertificatesProveAGatewayProxysNamespace() async throws {
        let ca = try TestCA.make(commonName: "xDS CA")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xds-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func write(_ name: String, _ text: String) throws -> String {
            let file = directory.appendingPathComponent(name)
            try text.write(to: file, atomically: true, encoding: .utf8)
            return file.path
        }
        let server = try ca.issue(commonName: "chancery", dnsNames: ["chancery.example"], ipAddresses: ["127.0.0.1"])
        let proxy = try ca.issue(
            commonName: "gateway proxy", dnsNames: [], uris: ["spiffe://cluster.local/ns/shop/sa/gateway"], clientAuth: true)
        let caFile = try write("ca.pem", ca.certificatePEM)
        let config = directory.appendingPathComponent("config")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        let chancery = try await ChanceryProcess.serve([
            "--config-dir", config.path, "--xds-tls-cert", try write("server.pem", server.certificatePEM),
            "--xds-tls-key", try write("server.key", server.privateKeyPEM), "--xds-client-ca", caFile, "--xds-auth", "required",
        ])
        defer { chancery.stop() }
        let tls = Bootstrap.TLS(
            ca: caFile, certificate: try write("proxy.pem", proxy.certificatePEM), key: try write("proxy.key", proxy.privateKeyPEM),
            serverName: "chancery.example")
        var own = Bootstrap(xdsAddress: chancery.xdsAddress, group: "shop/gateway", nodeID: "own", adminPort: 0)
        own.tls = tls
        var foreign = Bootstrap(xdsAddress: chancery.xdsAddress, group: "payments/gateway", nodeID: "foreign", adminPort: 0)
        foreign.tls = tls
        let ownEnvoy = try await EnvoyProcess.start(bootstrap: own)
        defer { ownEnvoy.stop() }
        let foreignEnvoy = try await EnvoyProcess.start(bootstrap: foreign)
        defer { foreignEnvoy.stop() }

        let settled = await eventually(timeout: .seconds(20), every: .milliseconds(250)) {
            let page = try await chancery.adminJSON("/api/v1/clients")
            let connected = (page["clients"] as? [[String: Any]] ?? []).compactMap { $0["nodeID"] as? String }
            let refused = (page["refused"] as? [[String: Any]] ?? []).compactMap { $0["nodeID"] as? String }
            return connected.contains("own") && refused.contains("foreign")
        }
        let page = try await chancery.adminJSON("/api/v1/clients")
        #expect(settled, "\(page)\n\(chancery.output.suffix(1500))")
        let connected = (page["clients"] as? [[String: Any]] ?? []).compactMap { $0["nodeID"] as? String }
        #expect(!connected.contains("foreign"), "\(connected)")
        let refusal = (page["refused"] as? [[String: Any]] ?? []).last { $0["nodeID"] as? String == "foreign" }
        #expect(refusal?["identity"] as? String == "spiffe://cluster.local/ns/shop/sa/gateway (by certificate)", "\(refusal ?? [:])")
        #expect((refusal?["reason"] as? String)?.contains("not of its namespace shop") == true, "\(refusal ?? [:])")
    }

    /// GET on a sidecar's Envoy admin (port 15000 inside its Pod's namespace).
    static func envoyAdmin(_ lab: MeshLab, pod: String, _ path: String) async throws -> String {
        let namespace = "\(lab.prefix)-\(pod)"
        let (status, output) = try await MeshLab.offPool {
            try lab.exec(
                in: namespace,
                [MeshTests.python, "-c", "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:15000\(path)').read().decode())"])
        }
        guard status == 0 else { throw MeshLab.Failed(description: "Envoy admin \(path) in \(pod): \(output)") }
        return output
    }
}
