import Admin
import Foundation
import GatewayModel
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing
import Translation
import XDS

/// The admin API's route collections, in process (HummingbirdTesting's router framework,
/// no sockets): health and readiness, objects, the IR of a group, snapshots, and the
/// bearer token that guards all but the probes. `AdminTests` covers the same endpoint
/// over real HTTP with real Envoys connected.
@Suite struct AdminRoutesTests {
    static let world = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: chancery}
        spec: {controllerName: chancery.dev/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: infra}
        spec:
          gatewayClassName: chancery
          listeners: [{name: http, protocol: HTTP, port: 8080, allowedRoutes: {namespaces: {from: All}}}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: web, namespace: app}
        spec:
          parentRefs: [{name: gw, namespace: infra}]
          rules: [{backendRefs: [{name: missing, port: 80}]}]
        """

    static func server(token: String? = nil) throws -> AdminServer {
        try AdminServer(
            address: HostPort(host: "127.0.0.1", port: 0), token: token, cache: SnapshotCache(), registry: ClientRegistry(),
            state: AdminState(), metrics: PrometheusCollectorRegistry())
    }

    static func translate(into server: AdminServer) {
        let decoded = ManifestDecoder.decode(file: "world.yaml", contents: world)
        let set = ResourceSet(manifests: decoded.manifests)
        server.state.update(set: set, result: Translator().translate(set), translatedAt: Date(), seconds: 0)
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    @Test func probesAnswerAndReadinessFollowsTheFirstTranslation() async throws {
        let server = try Self.server()
        try await Application(router: server.router()).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let error = try Self.json(response)["error"] as? [String: Any]
                #expect(error?["code"] as? String == "not_ready")
            }
            Self.translate(into: server)
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func objectsAndTheIRofAGroup() async throws {
        let server = try Self.server()
        Self.translate(into: server)
        try await Application(router: server.router()).test(.router) { client in
            try await client.execute(uri: "/api/v1/objects?rejected=true", method: .get) { response in
                #expect(response.status == .ok)
                let objects = try Self.json(response)["objects"] as? [[String: Any]] ?? []
                #expect(objects.map { $0["name"] as? String } == ["web"], "only the route with a missing backend")
            }
            try await client.execute(uri: "/api/v1/ir/infra/gw", method: .get) { response in
                #expect(response.status == .ok)
                let plan = try Self.json(response)
                let listeners = plan["listeners"] as? [[String: Any]] ?? []
                #expect(listeners.map { $0["name"] as? String } == ["0.0.0.0:8080"])
            }
            try await client.execute(uri: "/api/v1/ir/infra%2Fgw", method: .get) { response in
                #expect(response.status == .ok, "a group's / may be encoded")
            }
            try await client.execute(uri: "/api/v1/ir/nope", method: .get) { response in
                #expect(response.status == .notFound)
                let message = (try Self.json(response)["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.contains("chancery, infra/gw"), "the error lists the groups: \(message)")
            }
            try await client.execute(uri: "/api/v1/snapshots/nope", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func everythingButTheProbesNeedsTheToken() async throws {
        let server = try Self.server(token: "s3cret")
        Self.translate(into: server)
        try await Application(router: server.router()).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
            for path in ["/", "/metrics", "/api/v1/objects", "/api/v1/clients", "/api/v1/snapshots", "/api/v1/ir/infra/gw"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(path) without a token")
                }
                try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer wrong"]) { response in
                    #expect(response.status == .unauthorized, "\(path) with a wrong token")
                }
                try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer s3cret"]) { response in
                    #expect(response.status == .ok, "\(path) with the token")
                }
            }
        }
    }
}
