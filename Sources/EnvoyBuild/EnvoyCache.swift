import EnvoyAPI
import IR

/// The Envoy messages the previous build made, for the next one to reuse.
///
/// A message is reused when the plan element it was built from is equal to the new
/// one — the element is its whole input (with the builder's filter list, which is fixed
/// for an ``EnvoyBuilder`` and its cache), so there is no list of inputs to keep in step
/// with what the builder reads: a virtual host's planned routes; a cluster's upstream
/// settings; a cluster's endpoints. A virtual host that changed keeps the messages of
/// its routes whose plans did not. Reused messages share their storage with the
/// previous build's, so comparing them later (the snapshot encoder's check for
/// unchanged resources) costs a pointer comparison. Elements are found by name; each
/// build keeps what it used (``Reuse``).
public final class EnvoyCache: Sendable {
    let hosts = Reuse<String, VirtualHostPlan, Envoy_Config_Route_V3_VirtualHost>()
    /// A virtual host's scope, in the scoped route layout (made from the host alone; when
    /// the host changed, its unchanged routes' messages are taken from its last scope).
    let scopes = Reuse<String, VirtualHostPlan, Envoy_Config_Route_V3_ScopedRouteConfiguration>()
    let clusters = Reuse<String, UpstreamSettings, Envoy_Config_Cluster_V3_Cluster>()
    let endpoints = Reuse<String, ClusterPlan.Kind, Envoy_Config_Endpoint_V3_ClusterLoadAssignment>()

    public init() {}

    /// Messages reused and built by the last build (for benchmarks and logs).
    public var lastBuild: (reused: Int, built: Int) {
        [hosts.lastRound, scopes.lastRound, clusters.lastRound, endpoints.lastRound].reduce((0, 0)) {
            ($0.0 + $1.reused, $0.1 + $1.built)
        }
    }

    func begin() {
        hosts.begin()
        scopes.begin()
        clusters.begin()
        endpoints.begin()
    }

    func finish() {
        hosts.finish()
        scopes.finish()
        clusters.finish()
        endpoints.finish()
    }
}
