import EnvoyAPI
import IR
import Synchronization

/// The Envoy messages the previous build made, for the next one to reuse.
///
/// A message is reused when the plan element it was built from is equal to the new
/// one — the element is its whole input, so there is no list of inputs to keep in step
/// with what the builder reads: a route's planned match, filters and backends; a virtual
/// host's planned routes; a cluster's upstream settings; a cluster's endpoints. Reused
/// messages share their storage with the previous build's, so comparing them later
/// (the snapshot encoder's check for unchanged resources) costs a pointer comparison.
///
/// Elements are found by name. Groups may plan different elements under one name (a
/// class's merged virtual host and one Gateway's), so a name keeps every element seen
/// under it in a build. Each build keeps what it used and drops the rest, so the cache
/// holds one world's worth of messages and forgets deleted objects with the next build.
public final class EnvoyCache: Sendable {
    struct Table<Input: Hashable & Sendable, Value: Sendable>: Sendable {
        var entries: [String: [(input: Input, value: Value)]] = [:]

        func find(_ name: String, _ input: Input) -> Value? {
            entries[name]?.first { $0.input == input }?.value
        }

        /// Adds an element this table does not have yet.
        mutating func add(_ name: String, _ input: Input, _ value: Value) {
            entries[name, default: []].append((input, value))
        }
    }

    struct Generation: Sendable {
        var routes = Table<RoutePlan, Envoy_Config_Route_V3_Route>()
        var hosts = Table<VirtualHostPlan, Envoy_Config_Route_V3_VirtualHost>()
        var clusters = Table<UpstreamSettings, Envoy_Config_Cluster_V3_Cluster>()
        var endpoints = Table<ClusterPlan.Kind, Envoy_Config_Endpoint_V3_ClusterLoadAssignment>()
    }

    private struct State {
        var previous = Generation()
        var current = Generation()
        var hits = 0
        var misses = 0
        var last = (reused: 0, built: 0)
    }

    private let state = Mutex(State())

    public init() {}

    /// Messages reused and built by the last build (for benchmarks and logs).
    public var lastBuild: (reused: Int, built: Int) { state.withLock { $0.last } }

    /// Starts a build: messages it does not use are dropped when it finishes.
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
            state.last = (state.hits, state.misses)
        }
    }

    /// The message kept for an element equal to `input` under `name`, else `build()`'s;
    /// either way it is kept for the next build.
    func memo<Input: Hashable & Sendable, Value: Sendable>(
        _ table: WritableKeyPath<Generation, Table<Input, Value>>, _ name: String, _ input: Input, build: () -> Value
    ) -> Value {
        let cached: Value? = state.withLock { state in
            if let hit = state.current[keyPath: table].find(name, input) {
                state.hits += 1
                return hit
            }
            guard let hit = state.previous[keyPath: table].find(name, input) else { return nil }
            state.current[keyPath: table].add(name, input, hit)
            state.hits += 1
            return hit
        }
        if let cached { return cached }
        let value = build()
        state.withLock { state in
            // Another element equal to this one may have been built meanwhile (builds
            // of several groups can run at once): either value is right.
            if state.current[keyPath: table].find(name, input) == nil { state.current[keyPath: table].add(name, input, value) }
            state.misses += 1
        }
        return value
    }
}
