import EnvoyBuild
import GatewayModel
import MeshIdentity
import Translation
import XDS

extension SnapshotEncoder {
    /// A group's snapshot of a translated proxy, as `chancery serve` builds it.
    public func snapshot(for group: String, _ config: ProxyConfig) throws -> Snapshot {
        try snapshot(
            for: group, listeners: config.listeners, scopedRoutes: config.scopedRoutes, routes: config.routes,
            clusters: config.clusters, endpoints: config.endpoints, secrets: config.secrets)
    }
}

/// Both stages of translation, as `chancery serve` runs them: objects → a plan per proxy
/// group, then each plan → Envoy resources (reusing, with a cache, what did not change).
public struct TwoStageTranslation: Sendable {
    public let translator: Translator
    public let builder: EnvoyBuilder

    /// With `reusing`, each stage keeps what it built for the next call, as `serve` does;
    /// mesh sidecars get their certificates from a mesh CA, as `serve` gives them.
    public init(reusing: Bool = false, routeLayout: RouteLayout = .single) {
        translator = Translator(cache: reusing ? PlanCache() : nil)
        builder = EnvoyBuilder(cache: reusing ? EnvoyCache() : nil, meshCertificates: Self.meshCA, routeLayout: routeLayout)
    }

    static let meshCA: MeshCA = {
        do {
            return try MeshCA.generate(trustDomain: Translator.defaultTrustDomain)
        } catch {
            fatalError("the benchmark's mesh CA: \(error)")
        }
    }()

    public func callAsFunction(_ set: ResourceSet) -> [String: ProxyConfig] {
        let result = translator.translate(set)
        return builder.build(result.plans, identical: result.identical)
    }
}
