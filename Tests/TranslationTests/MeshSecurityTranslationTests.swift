import Foundation
import GatewayModel
import IR
import Testing

@testable import Translation

/// How CiliumNetworkPolicies and Istio AuthorizationPolicies become a workload's inbound
/// authorization, and how mutual TLS is planned (the golden case `mesh-security` pins a
/// whole world; these pin one rule of the semantics each).
@Suite struct MeshSecurityTranslationTests {
    static let world = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop, labels: {chancery.dev/mesh: enabled}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: other, labels: {chancery.dev/mesh: enabled}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: api, namespace: shop}
        spec: {clusterIP: 10.96.0.10, selector: {app: api}, ports: [{name: http, port: 80, targetPort: web}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: api-0, namespace: shop, labels: {app: api}}
        spec: {serviceAccountName: api, containers: [{name: api, ports: [{name: web, containerPort: 8080}]}]}
        status: {podIP: 10.0.0.10, phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client-0, namespace: shop, labels: {role: client}}
        spec: {serviceAccountName: client}
        status: {podIP: 10.0.0.11, phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client-0, namespace: other, labels: {role: client}}
        spec: {serviceAccountName: client}
        status: {podIP: 10.0.0.21, phase: Running}
        """

    /// The plans of `policies` laid over the world.
    func plans(_ policies: String, shopAnnotations: String? = nil) -> TranslationResult {
        var world = Self.world
        if let shopAnnotations {
            world = world.replacingOccurrences(
                of: "metadata: {name: shop, labels: {chancery.dev/mesh: enabled}}",
                with: "metadata: {name: shop, labels: {chancery.dev/mesh: enabled}, annotations: {\(shopAnnotations)}}")
        }
        let decoded = ManifestDecoder.decode(file: "input.yaml", contents: world + "\n---\n" + policies)
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        return Translator().translate(ResourceSet(manifests: decoded.manifests, errors: decoded.errors))
    }

    /// api-0's inbound chains (by name) in its sidecar's plan.
    func inbound(_ result: TranslationResult) throws -> [String: MeshChainPlan] {
        let plan = try #require(result.plans["sidecar:shop/api-0"])
        let listener = try #require(plan.listeners.first { $0.name == "mesh/inbound" })
        guard case .mesh(let mesh) = listener.traffic else {
            Issue.record("not a mesh listener")
            return [:]
        }
        return Dictionary(uniqueKeysWithValues: mesh.chains.map { ($0.name, $0) })
    }

    @Test func withoutPoliciesAWorkloadTakesMutualTLSAndPlaintextAndAnyone() throws {
        let chains = try inbound(plans(""))
        #expect(chains.keys.sorted() == ["inbound|shop/api-0:8080|mtls", "inbound|shop/api-0:8080|plaintext"])
        #expect(chains["inbound|shop/api-0:8080|mtls"]?.transport == .mutualTLS)
        #expect(chains.values.allSatisfy { $0.authorization == nil })
        // A caller's cluster to it presents the caller's certificate and checks api's.
        let client = try #require(plans("").plans["sidecar:shop/client-0"])
        let cluster = try #require(client.clusters.first { $0.name == "shop/api:80" })
        #expect(cluster.settings.tls?.subjectAltNames == [SubjectAltNamePlan(kind: .uri, value: "spiffe://cluster.local/ns/shop/sa/api")])
        #expect(cluster.settings.tls?.clientCertificate == SecretPlan.workloadCertificateName)
        #expect(client.secrets.map(\.name) == [SecretPlan.meshTrustBundleName, SecretPlan.workloadCertificateName])
    }

    @Test func strictRefusesPlaintextAndDisabledTakesOnlyPlaintext() throws {
        let strict = try inbound(plans("", shopAnnotations: "chancery.dev/mesh-mtls: strict"))
        guard case .tcp(let cluster)? = strict["inbound|shop/api-0:8080|plaintext"]?.traffic else {
            Issue.record("no plaintext chain: \(strict.keys)")
            return
        }
        #expect(cluster == ClusterPlan.rejectName)
        let disabled = plans("", shopAnnotations: "chancery.dev/mesh-mtls: disabled")
        #expect(try inbound(disabled).keys.sorted() == ["inbound|shop/api-0:8080"])
        #expect(try inbound(disabled).values.allSatisfy { $0.transport == .any })
        // Callers then reach it in plaintext.
        let cluster2 = disabled.plans["sidecar:shop/client-0"]?.clusters.first { $0.name == "shop/api:80" }
        #expect(cluster2 != nil && cluster2?.settings.tls == nil)
    }

    @Test func ciliumSelectorsStayInThePolicysNamespaceUnlessTheyNameAnother() throws {
        let chains = try inbound(plans("""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: clients, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: api}}
              ingress:
              - fromEndpoints: [{matchLabels: {role: client}}]
                toPorts: [{ports: [{port: web}]}]
              - fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": other, role: client}}]
                authentication: {mode: required}
                toPorts: [{ports: [{port: "8080"}], rules: {http: [{method: GET, path: "/v[0-9]+/.*", headers: ["X-Team: blue", "X-Trace"]}]}}]
            """))
        let authorization = try #require(chains["inbound|shop/api-0:8080|mtls"]?.authorization)
        let allow = try #require(authorization.allow)
        #expect(allow.count == 2)
        // Same namespace, by address (the named port resolves to 8080); the other
        // namespace's client only by certificate and address, for GET /vN/… with headers.
        #expect(allow[0].principals == [.address("10.0.0.11/32")] && allow[0].requests == nil)
        #expect(allow[1].principals == [.workload(identity: "spiffe://cluster.local/ns/other/sa/client", address: "10.0.0.21/32")])
        #expect(
            allow[1].requests == [
                MeshRequestMatch(
                    method: .regex("GET"), path: .regex("/v[0-9]+/.*"),
                    headers: [HeaderMatchPlan(name: "x-team", value: .exact("blue")), HeaderMatchPlan(name: "x-trace", value: .regex(".*"))])
            ])
        // Ports no Service reaches: no rule covers every port, so no one.
        #expect(try inbound(plans("")).keys.contains("inbound|shop/api-0:*") == false)
        #expect(chains["inbound|shop/api-0:*"]?.authorization == MeshAuthorizationPlan(deny: [], allow: []))
    }

    @Test func anEmptyIngressRuleIsDefaultDenyAndAnUnreadablePolicyFailsClosed() throws {
        let denied = try inbound(plans("""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: deny-all, namespace: shop}
            spec:
              endpointSelector: {}
              ingress: [{}]
            """))
        #expect(denied["inbound|shop/api-0:8080|mtls"]?.authorization?.allow?.allSatisfy { $0.principals.isEmpty } == true)
        let result = plans("""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: fqdn, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: api}}
              ingress: [{fromCIDR: [10.0.0.0/8]}]
            """)
        #expect(try inbound(result)["inbound|shop/api-0:8080|mtls"]?.authorization == MeshAuthorizationPlan(deny: [], allow: []))
        let condition = result.statuses[ObjectKey(.ciliumNetworkPolicy, namespace: "shop", name: "fqdn")]?.conditions.first
        #expect(condition?.status == .false && condition?.message.contains("spec.ingress[0].fromCIDR is not supported") == true)
    }

    @Test func istioAllowAndDenyJoinTheSameAuthorization() throws {
        let chains = try inbound(plans("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-other, namespace: shop}
            spec:
              selector: {matchLabels: {app: api}}
              rules:
              - from: [{source: {namespaces: [other]}}]
                to: [{operation: {methods: [GET], paths: ["/public/*"]}}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: deny-client, namespace: shop}
            spec:
              action: DENY
              rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/client"]}}]}]
            """))
        let authorization = try #require(chains["inbound|shop/api-0:8080|plaintext"]?.authorization)
        #expect(authorization.deny.map(\.principals) == [[.identity("spiffe://cluster.local/ns/shop/sa/client")]])
        #expect(authorization.allow?.map(\.principals) == [[.identityPrefix("spiffe://cluster.local/ns/other/sa/")]])
        #expect(authorization.allow?.first?.requests == [MeshRequestMatch(method: .exact("GET"), path: .regex("/public/.*"))])
    }
}
