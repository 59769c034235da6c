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
