import EnvoyAPI
import GatewayModel
import Synchronization

/// What the previous translation built, for the next one to reuse.
///
/// Translation stays a pure function of the ResourceSet: a cached value is reused only
/// when everything it was built from compares equal to this translation's inputs, so a
/// translation with a cache gives exactly what one without gives. What it saves is the
/// building: the Envoy routes of an unchanged HTTPRoute, a virtual host whose routes
/// did not change, the cluster and endpoints of an unchanged Service. Reused messages
/// share their storage with the previous translation's, so comparing them later (and
/// the snapshot encoder's check for unchanged resources) costs a pointer comparison.
///
/// Each translation keeps what it used and drops the rest, so the cache holds one
/// world's worth of values and forgets deleted objects with the next translation.
public final class TranslationCache: Sendable {
    struct RouteInput: Equatable, Sendable {
        let key: ObjectKey
        let created: String
        let listenerPort: Int
        let listenerScheme: String
        let rules: [ResolvedRule]
    }

    struct ClusterInput: Equatable, Sendable {
        let tls: UpstreamTLS?
        let http2: Bool
    }

    struct EndpointInput: Equatable, Sendable {
        let service: Service?
        let slices: [EndpointSlice]
    }

    /// Each table: key → (what the value was built from, the value).
    struct Generation {
        var routes: [RouteKey: (input: RouteInput, value: [RouteEntry])] = [:]
        /// Virtual hosts by name, built from their routes.
        var hosts: [String: (input: [Envoy_Config_Route_V3_Route], value: Envoy_Config_Route_V3_VirtualHost)] = [:]
        var clusters: [BackendCluster: (input: ClusterInput, value: Envoy_Config_Cluster_V3_Cluster)] = [:]
        var endpoints: [BackendCluster: (input: EndpointInput, value: Envoy_Config_Endpoint_V3_ClusterLoadAssignment)] = [:]
    }

    struct RouteKey: Hashable, Sendable {
        let route: ObjectKey
        let gateway: ObjectKey
        let listener: String
    }

    private struct State {
        var previous = Generation()
        var current = Generation()
        /// How many values the last finished translation reused and built.
        var hits = 0
        var misses = 0
        var lastHits = 0
        var lastMisses = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Reused and rebuilt values in the last translation (for benchmarks and logs).
    public var lastTranslation: (reused: Int, built: Int) {
        state.withLock { ($0.lastHits, $0.lastMisses) }
    }

    /// Starts a translation: values it does not use are dropped when it finishes.
    func begin() {
        state.withLock { state in
            state.current = Generation()
            state.hits = 0
            state.misses = 0
        }
    }

    func finish() {
        state.withLock { state in
            state.previous = state.current
            state.current = Generation()
            state.lastHits = state.hits
            state.lastMisses = state.misses
        }
    }

    /// The value kept under `key` in `path` if its input equals `input`, else `build()`'s;
    /// either way it is kept for the next translation.
    private func memo<Key: Hashable & Sendable, Input: Equatable & Sendable, Value: Sendable>(
        _ path: WritableKeyPath<Generation, [Key: (input: Input, value: Value)]>, _ key: Key, _ input: Input,
        build: () -> Value
    ) -> Value {
        let cached: Value? = state.withLock { state in
            if let hit = state.current[keyPath: path][key] ?? state.previous[keyPath: path][key], hit.input == input {
                state.current[keyPath: path][key] = hit
                state.hits += 1
                return hit.value
            }
            return nil
        }
        if let cached { return cached }
        let value = build()
        state.withLock { state in
            state.current[keyPath: path][key] = (input, value)
            state.misses += 1
        }
        return value
    }

    func entries(for attached: AttachedRoute, build: () -> [RouteEntry]) -> [RouteEntry] {
        let input = RouteInput(
            key: attached.key, created: attached.object.metadata.creationTimestamp ?? "",
            listenerPort: attached.listenerPort, listenerScheme: attached.listenerScheme, rules: attached.rules)
        return memo(
            \.routes, RouteKey(route: attached.key, gateway: attached.gateway, listener: attached.listener), input,
            build: build)
    }

    func virtualHost(
        named name: String, routes: [Envoy_Config_Route_V3_Route], build: () -> Envoy_Config_Route_V3_VirtualHost
    ) -> Envoy_Config_Route_V3_VirtualHost {
        memo(\.hosts, name, routes, build: build)
    }

    func cluster(
        _ backend: BackendCluster, tls: UpstreamTLS?, http2: Bool, build: () -> Envoy_Config_Cluster_V3_Cluster
    ) -> Envoy_Config_Cluster_V3_Cluster {
        memo(\.clusters, backend, ClusterInput(tls: tls, http2: http2), build: build)
    }

    func endpoints(
        _ backend: BackendCluster, service: Service?, slices: [EndpointSlice],
        build: () -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment
    ) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        memo(\.endpoints, backend, EndpointInput(service: service, slices: slices), build: build)
    }
}
