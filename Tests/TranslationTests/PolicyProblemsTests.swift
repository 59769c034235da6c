import Foundation
import GatewayModel
import IR
import Testing

@testable import Translation

/// Policy values Envoy would refuse never reach it: the policy is `Invalid`, its status
/// says why, and the routes it governs answer 500.
@Suite struct PolicyProblemsTests {
    static let world = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: chancery}
        spec: {controllerName: chancery.dev/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: edge, namespace: apps}
        spec:
          gatewayClassName: chancery
          listeners: [{name: http, protocol: HTTP, port: 8080}, {name: https, protocol: HTTPS, port: 8443, tls: {certificateRefs: [{name: none}]}}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: app, namespace: apps}
        spec:
          parentRefs: [{name: edge, sectionName: http}]
          rules: [{name: only, backendRefs: [{name: app, port: 80}]}]
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: users, namespace: apps}
        type: Opaque
        stringData: {.htpasswd: "alice:{SHA}F2GPAaOiG5EcklvLUlodIavTBnM=\\nalice:{SHA}pLSKgc2rHhpd03kH1shcocYd3Hw=\\n"}
        """

    /// The Accepted message of the one policy in `policy`, and the route's action.
    func translate(_ policy: String) throws -> (message: String, action: RouteAction?) {
        let decoded = ManifestDecoder.decode(file: "input.yaml", contents: Self.world + "\n---\n" + policy)
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let result = Translator(now: Date(timeIntervalSince1970: 1_767_225_600)).translate(ResourceSet(manifests: decoded.manifests))
        let key = try #require(decoded.manifests.last?.object.key)
        let message = result.statuses[key]?.ancestors?.first?.conditions.first?.message ?? "(no status)"
        let route = result.plans["apps/edge"]?.listeners.compactMap { listener -> RoutePlan? in
            guard case .http(.plain(let table)) = listener.traffic else { return nil }
            return table.virtualHosts.flatMap(\.routes).first
        }.first
        return (message, route?.action)
    }

    static func policy(_ kind: String, target: String = "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: app}", _ spec: String) -> String {
        """
        apiVersion: gateway.envoyproxy.io/v1alpha1
        kind: \(kind)
        metadata: {name: p, namespace: apps}
        spec:
          targetRefs: [\(target)]
        \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    @Test(arguments: [
        ("BackendTrafficPolicy", "timeout: {tcp: {connectTimeout: 0s}}", "spec.timeout.tcp.connectTimeout: must be longer than 0"),
        ("BackendTrafficPolicy", "healthCheck: {active: {type: TCP, interval: 0s, tcp: {}}}", "spec.healthCheck.active.interval: must be longer than 0"),
        ("BackendTrafficPolicy", "healthCheck: {active: {type: TCP, tcp: {send: {type: Text, text: \"\"}}}}", "spec.healthCheck.active.tcp.send: the payload is empty"),
        ("BackendTrafficPolicy", "faultInjection: {delay: {fixedDelay: 0s}}", "not a duration longer than 0"),
        (
            "BackendTrafficPolicy",
            "rateLimit: {type: Local, local: {rules: [{limit: {requests: 5, unit: Minute}}, {clientSelectors: [{headers: [{name: a, value: b}]}], limit: {requests: 1, unit: Second}}]}}",
            "must be a multiple of the default rule's (60 s)"
        ),
        (
            "BackendTrafficPolicy",
            "rateLimit: {type: Local, local: {rules: [{clientSelectors: [{headers: [{name: a, type: RegularExpression, value: \"\"}]}], limit: {requests: 1, unit: Second}}]}}",
            "an empty regular expression"
        ),
        (
            "BackendTrafficPolicy",
            "rateLimit: {type: Local, local: {rules: [{clientSelectors: [{path: {type: Exact, value: /\(String(repeating: "abcdefghij", count: 12))}}], limit: {requests: 1, unit: Second}}]}}",
            "rateLimit.local.rules[0].clientSelectors[0].path.value"
        ),
        ("BackendTrafficPolicy", "loadBalancer: {type: ConsistentHash, consistentHash: {type: SourceIP, tableSize: 1000}}", "not a prime number"),
        ("SecurityPolicy", "basicAuth: {users: {name: users}}", "user alice is listed twice"),
        ("SecurityPolicy", "authorization: {rules: [{action: Deny, operation: {path: {type: RegularExpression, value: \"\"}}, principal: {clientCIDRs: [0.0.0.0/0]}}]}", "an empty regular expression"),
        ("SecurityPolicy", "authorization: {rules: [{action: Allow, cel: \"true\"}]}", "spec.authorization.rules[0].cel is not supported"),
        ("SecurityPolicy", "authorization: {rules: [{action: Deny, principal: {clientIPGeoLocations: [{country: XX}]}}]}", "clientIPGeoLocations is not supported"),
    ])
    func refused(_ kind: String, _ spec: String, _ expected: String) throws {
        let (message, action) = try translate(Self.policy(kind, spec))
        #expect(message.contains(expected), "\(message)")
        guard case .respond(let response)? = action else {
            Issue.record("the route is served: \(String(describing: action))")
            return
        }
        #expect(response.status == 500)
    }

    @Test func unknownTLSNamesAreRefused() throws {
        let (message, _) = try translate(
            Self.policy(
                "ClientTrafficPolicy", target: "{group: gateway.networking.k8s.io, kind: Gateway, name: edge}",
                "tls: {ciphers: [\"[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-RSA-AES128-GCM-SHA256]\", NOT-A-CIPHER]}"))
        #expect(message.contains("spec.tls.ciphers[1]: NOT-A-CIPHER is not a name Envoy knows"), "\(message)")
    }

    /// A Deny rule on claims of a provider the route's jwt does not have would never
    /// match: the route answers 500 rather than let the tokens through.
    @Test func aRuleOnAProviderTheRouteLacksFailsClosed() throws {
        let jwks = #"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#
        let gatewayPolicy = Self.policy(
            "SecurityPolicy", target: "{group: gateway.networking.k8s.io, kind: Gateway, name: edge}",
            """
            jwt: {providers: [{name: corp, localJWKS: {inline: '\(jwks)'}}]}
            authorization:
              defaultAction: Allow
              rules: [{action: Deny, principal: {jwt: {provider: corp, claims: [{name: role, values: [banned]}]}}}]
            """
        ).replacingOccurrences(of: "name: p,", with: "name: gateway-wide,")
        let routePolicy = Self.policy("SecurityPolicy", "jwt: {providers: [{name: other, localJWKS: {inline: '\(jwks)'}}]}")
        let (_, action) = try translate(gatewayPolicy + "\n---\n" + routePolicy)
        guard case .respond(let response)? = action else {
            Issue.record("the route is served: \(String(describing: action))")
            return
        }
        #expect(response.status == 500 && response.body.contains("reads the claims of JWT provider apps/gateway-wide/corp"), "\(response.body)")
    }

    /// A SecurityPolicy that cannot be read (here a value its CRD refuses) is reported
    /// with its file and line, and still stands for the routes it names: they answer 500
    /// rather than go unprotected.
    @Test func aPolicyThatCannotBeReadFailsClosed() throws {
        let policy = Self.policy("SecurityPolicy", "authorization: {defaultAction: Maybe}")
        let decoded = ManifestDecoder.decode(file: "input.yaml", contents: Self.world + "\n---\n" + policy)
        #expect(decoded.errors.count == 1 && decoded.errors.first?.field == "spec.authorization.defaultAction", "\(decoded.errors)")
        let result = Translator(now: Date(timeIntervalSince1970: 1_767_225_600)).translate(
            ResourceSet(manifests: decoded.manifests, errors: decoded.errors))
        let status = result.statuses[ObjectKey(.securityPolicy, namespace: "apps", name: "p")]
        let message = status?.ancestors?.first?.conditions.first?.message ?? ""
        #expect(message.contains("it could not be read (spec.authorization.defaultAction:"), "\(message)")
        let route = result.plans["apps/edge"]?.listeners.compactMap { listener -> RoutePlan? in
            guard case .http(.plain(let table)) = listener.traffic else { return nil }
            return table.virtualHosts.flatMap(\.routes).first
        }.first
        guard case .respond(let response)? = route?.action else {
            Issue.record("the route is served: \(String(describing: route?.action))")
            return
        }
        #expect(response.status == 500)
    }
}
