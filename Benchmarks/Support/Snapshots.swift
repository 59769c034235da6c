import EnvoyBuild
import GatewayModel
import Translation
import XDS

extension SnapshotEncoder {
    /// A group's snapshot of a translated proxy, as `chancery serve` builds it.
    public func snapshot(for group: String, _ config: ProxyConfig) throws -> Snapshot {
        try snapshot(
            for: group, listeners: config.listeners, routes: config.routes, clusters: config.clusters,
            endpoints: config.endpoints, secrets: config.secrets)
    }
}

/// Both stages of translation, as `chancery serve` runs them: objects → a plan per proxy
/// group, then each plan → Envoy resources (reusing, with a cache, what did not change).
public struct TwoStageTranslation: Sendable {
    public let builder: EnvoyBuilder

    public init(cache: EnvoyCache? = nil) {
        builder = EnvoyBuilder(cache: cache)
    }

    public func callAsFunction(_ set: ResourceSet) -> [String: ProxyConfig] {
        let result = Translator().translate(set)
        return builder.build(result.plans, identical: result.identical)
    }
}
