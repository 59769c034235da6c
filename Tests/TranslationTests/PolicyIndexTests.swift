import Foundation
import GatewayModel
import Testing

@testable import Translation

/// The policy index: which policies apply to a target, most specific first, oldest
/// first among equals (GEP-713), for any kind of policy and any hierarchy of targets.
@Suite struct PolicyIndexTests {
    static func meta(_ name: String, created: String?) -> ObjectMeta {
        var metadata = ObjectMeta(name: name, namespace: "shop")
        metadata.creationTimestamp = created
        return metadata
    }

    static func entry(_ name: String, created: String?, _ targets: [PolicyTarget]) -> PolicyIndex<String>.Entry {
        PolicyIndex<String>.Entry(
            key: ObjectKey(.backendTLSPolicy, namespace: "shop", name: name), metadata: meta(name, created: created),
            policy: name, targets: targets)
    }

    static let gateway = ObjectKey(.gateway, namespace: "shop", name: "gw")
    static let route = ObjectKey(.httpRoute, namespace: "shop", name: "web")
    /// A route rule, its route, the listener it attached to, its Gateway.
    static let levels = [
        PolicyTarget(route, section: "checkout"), PolicyTarget(route), PolicyTarget(gateway, section: "https"),
        PolicyTarget(gateway),
    ]

    @Test func theMostSpecificLevelWinsWhateverTheAge() {
        let index = PolicyIndex([
            Self.entry("on-gateway", created: "2025-01-01T00:00:00Z", [PolicyTarget(Self.gateway)]),
            Self.entry("on-listener", created: "2025-02-01T00:00:00Z", [PolicyTarget(Self.gateway, section: "https")]),
            Self.entry("on-route", created: "2025-03-01T00:00:00Z", [PolicyTarget(Self.route)]),
            Self.entry("on-rule", created: "2025-04-01T00:00:00Z", [PolicyTarget(Self.route, section: "checkout")]),
        ])
        #expect(index.candidates(along: Self.levels).map(\.policy) == ["on-rule", "on-route", "on-listener", "on-gateway"])
        #expect(index.effective(along: Self.levels)?.policy == "on-rule")
        // Another rule of the route: the rule's policy does not apply.
        let otherRule = [PolicyTarget(Self.route, section: "browse")] + Self.levels.dropFirst()
        #expect(index.effective(along: otherRule)?.policy == "on-route")
        #expect(index.hasPolicies(for: Self.route))
        #expect(!index.hasPolicies(for: ObjectKey(.httpRoute, namespace: "shop", name: "other")))
    }

    @Test func amongEqualsTheOldestWinsThenNamespaceAndName() {
        let index = PolicyIndex([
            Self.entry("newer", created: "2025-02-01T00:00:00Z", [PolicyTarget(Self.route)]),
            Self.entry("b-older", created: "2025-01-01T00:00:00Z", [PolicyTarget(Self.route)]),
            Self.entry("a-older", created: "2025-01-01T00:00:00Z", [PolicyTarget(Self.route)]),
            // A file's object has no creation time: it counts as the newest.
            Self.entry("from-a-file", created: nil, [PolicyTarget(Self.route)]),
        ])
        #expect(index.candidates(along: [PolicyTarget(Self.route)]).map(\.policy) == ["a-older", "b-older", "newer", "from-a-file"])
    }

    @Test func aPolicyAttachedAtSeveralLevelsCountsAtItsMostSpecific() {
        let index = PolicyIndex([
            Self.entry("both", created: "2025-02-01T00:00:00Z", [PolicyTarget(Self.gateway), PolicyTarget(Self.route)]),
            Self.entry("route-only", created: "2025-01-01T00:00:00Z", [PolicyTarget(Self.route)]),
        ])
        #expect(index.candidates(along: Self.levels).map(\.policy) == ["route-only", "both"])
    }

    /// BackendTLSPolicy on the index: a policy naming the Service port beats an older one
    /// naming the whole Service; one naming another kind attaches to nothing.
    @Test func backendTLSPoliciesAttachToServicePorts() throws {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: api, namespace: shop}
            spec: {ports: [{name: https, port: 443}, {name: admin, port: 8443}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: whole, namespace: shop, creationTimestamp: "2025-01-01T00:00:00Z"}
            spec:
              targetRefs: [{group: "", kind: Service, name: api}]
              validation: {wellKnownCACertificates: System, hostname: api.internal}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: port, namespace: shop, creationTimestamp: "2025-06-01T00:00:00Z"}
            spec:
              targetRefs: [{group: "", kind: Service, name: api, sectionName: https}]
              validation: {wellKnownCACertificates: System, hostname: public.internal}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: wrong-kind, namespace: shop}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: api}]
              validation: {wellKnownCACertificates: System, hostname: x.internal}
            """
        let decoded = ManifestDecoder.decode(file: "t.yaml", contents: yaml)
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let context = Context(set: ResourceSet(manifests: decoded.manifests), now: Date())
        let https = ServicePort(namespace: "shop", service: "api", port: 443)
        let admin = ServicePort(namespace: "shop", service: "api", port: 8443)
        #expect(BackendTLS.candidates(for: https, context: context).map(\.key.name) == ["port", "whole"])
        #expect(BackendTLS.candidates(for: admin, context: context).map(\.key.name) == ["whole"])
        guard case .success(let resolved)? = BackendTLS.resolve(https, context: context) else {
            Issue.record("no policy resolved for port 443")
            return
        }
        #expect(resolved.policy.name == "port")
        #expect(resolved.tls.sni == "public.internal")
        #expect(BackendTLS.resolve(ServicePort(namespace: "shop", service: "other", port: 443), context: context) == nil)
    }
}
