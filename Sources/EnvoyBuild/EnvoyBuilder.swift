import EnvoyAPI
import IR
import SwiftProtobuf

/// Envoy resources for one proxy group, in a deterministic order.
public struct ProxyConfig: Sendable, Equatable {
    public var listeners: [Envoy_Config_Listener_V3_Listener] = []
    /// Scopes of the route table served in the scoped layout (``RouteLayout/scoped``).
    public var scopedRoutes: [Envoy_Config_Route_V3_ScopedRouteConfiguration] = []
    public var routes: [Envoy_Config_Route_V3_RouteConfiguration] = []
    public var clusters: [Envoy_Config_Cluster_V3_Cluster] = []
    public var endpoints: [Envoy_Config_Endpoint_V3_ClusterLoadAssignment] = []
    public var secrets: [Envoy_Extensions_TransportSockets_Tls_V3_Secret] = []

    public init() {}

    /// How many resources of all types.
    public var count: Int {
        listeners.count + scopedRoutes.count + routes.count + clusters.count + endpoints.count + secrets.count
    }
}

/// How a plain-HTTP listener's routes are sent to Envoy (docs/xds.md, "Route layout").
public enum RouteLayout: String, Sendable, CaseIterable {
    /// One route configuration per connection manager, over RDS: a change to any of its
    /// routes makes Envoy rebuild the whole table.
    case single
    /// Scoped routes (SRDS) for one plain-HTTP listener per proxy group, the first by
    /// address and port among those whose hostnames with routes are all exact: a scope
    /// per hostname, keyed on the Host header without its port, each carrying its own
    /// route configuration, so a change rebuilds one host's table. Host headers are
    /// matched byte for byte (a virtual host matches them whatever their case). Every
    /// other listener keeps the single layout.
    case scoped
}

/// Issues mesh workload certificates as resources are built: `serve`'s mesh CA.
public protocol MeshCertificateSource: Sendable {
    /// A current certificate for `identity` (a SPIFFE ID): the chain, leaf first, and its
    /// key, PEM; nil when none can be issued (the group then keeps its last good snapshot).
    func certificate(for identity: String) -> (chainPEM: String, keyPEM: String)?
    /// The roots a workload's peer certificate must chain to, PEM.
    var trustBundlePEM: String { get }
}

/// The second stage of translation: a ``ProxyPlan`` in Envoy's terms. It takes no
/// decision — every choice is in the plan — and reuses, through an ``EnvoyCache``, the
/// message built for an equal plan element last time.
public struct EnvoyBuilder: Sendable {
    public let cache: EnvoyCache?
    /// Where mesh workload certificates come from. Without it, the secrets plans ask for
    /// as ``SecretPlan/Content/workloadCertificate(identity:)`` and
    /// ``SecretPlan/Content/meshTrustBundle`` are left out (`chancery translate` shows
    /// no workload key; `serve` always has its CA).
    public let meshCertificates: (any MeshCertificateSource)?
    public let routeLayout: RouteLayout
    let filters: [any HTTPFilter]

    public init(
        cache: EnvoyCache? = nil, meshCertificates: (any MeshCertificateSource)? = nil, routeLayout: RouteLayout = .single
    ) {
        self.init(cache: cache, meshCertificates: meshCertificates, routeLayout: routeLayout, filters: HTTPFilters.ordered)
    }

    init(
        cache: EnvoyCache?, meshCertificates: (any MeshCertificateSource)? = nil, routeLayout: RouteLayout = .single,
        filters: [any HTTPFilter]
    ) {
        self.cache = cache
        self.meshCertificates = meshCertificates
        self.routeLayout = routeLayout
        self.filters = filters
    }

    /// Every group's resources. A group identical to another (`identical`: group → the
    /// group it equals) gets that group's resources without building them again.
    public func build(_ plans: [String: ProxyPlan], identical: [String: String] = [:]) -> [String: ProxyConfig] {
        cache?.begin()
        defer { cache?.finish() }
        var configs: [String: ProxyConfig] = [:]
        let chains = MeshChainMemo()
        for group in plans.keys.sorted() where identical[group] == nil {
            configs[group] = resources(plans[group]!, chains: chains)
        }
        for (group, same) in identical where plans[group] != nil {
            configs[group] = configs[same] ?? resources(plans[group]!, chains: chains)
        }
        return configs
    }

    /// One plan's resources.
    public func build(_ plan: ProxyPlan) -> ProxyConfig {
        cache?.begin()
        defer { cache?.finish() }
        return resources(plan, chains: nil)
    }

    private func resources(_ plan: ProxyPlan, chains: MeshChainMemo?) -> ProxyConfig {
        var config = ProxyConfig()
        let scoped = routeLayout == .scoped ? Self.scopedTable(in: plan) : nil
        for listener in plan.listeners {
            config.listeners.append(Listeners.listener(listener, filters: filters, chains: chains, scopedTable: scoped?.name))
            for table in listener.traffic.routeTables {
                if let scoped, table.name == scoped.name {
                    // Appended one by one, each host read where it is (mapping into a
                    // new array and appending that copied every scope once more); a host
                    // without routes is no scope.
                    config.scopedRoutes.reserveCapacity(config.scopedRoutes.count + scoped.hosts.count)
                    scoped.hosts.withUnsafeBufferPointer { hosts in
                        for h in hosts.indices where !hosts[h].routes.isEmpty { config.scopedRoutes.append(scope(hosts[h])) }
                    }
                } else {
                    config.routes.append(routeConfiguration(table))
                }
            }
        }
        // Through the array's buffer: each cluster's plan is read where it is, not copied.
        config.clusters.reserveCapacity(plan.clusters.count)
        config.endpoints.reserveCapacity(plan.clusters.count)
        plan.clusters.withUnsafeBufferPointer { clusters in
            for index in clusters.indices {
                config.clusters.append(memoCluster(clusters, index))
                if let assignment = memoEndpoints(clusters, index) { config.endpoints.append(assignment) }
            }
        }
        config.secrets = plan.secrets.compactMap { Secrets.secret($0, meshCertificates: meshCertificates) }
        return config
    }

    /// The table the scoped layout serves, by name, with its hosts (those with routes
    /// become scopes): the first by name (address and port) of the plain-HTTP listeners'
    /// tables whose virtual hosts with routes each answer one exact hostname — a scope matches its key
    /// exactly, and a request no scope matches gets 404, so a wildcard or catch-all host
    /// with routes cannot be a scope. A host without routes (the listener's catch-all
    /// when no route claims it) answers 404 to everything, as a missing scope does, so it
    /// is left out. The choice depends on no count, so adding routes elsewhere never
    /// moves it. Only one table per proxy group: Envoy subscribes to scopes as a
    /// wildcard, so every scoped connection manager of a proxy would see every scope.
    static func scopedTable(in plan: ProxyPlan) -> (name: String, hosts: [VirtualHostPlan])? {
        var chosen: (name: String, hosts: [VirtualHostPlan])?
        for listener in plan.listeners {
            guard case .http(.plain(let table)) = listener.traffic, chosen.map({ table.name < $0.name }) ?? true else { continue }
            // One pass over the hosts, read in place (not copied out), each domain's bytes
            // searched in place: whether every host with routes has one exact hostname,
            // and whether one has routes. The table's own array is handed on (the hosts
            // without routes are skipped where scopes are made: filtering them out here
            // copied every host of a table with a catch-all).
            let (exact, withRoutes) = table.virtualHosts.withUnsafeBufferPointer { hosts in
                var withRoutes = false
                for h in hosts.indices where !hosts[h].routes.isEmpty {
                    guard hosts[h].domains.count == 1, !Self.hasWildcard(hosts[h].domains[0]) else { return (false, true) }
                    withRoutes = true
                }
                return (true, withRoutes)
            }
            if exact, withRoutes { chosen = (table.name, table.virtualHosts) }
        }
        return chosen
    }

    /// Whether a hostname has a `*`, searched in its bytes where they are (`contains`
    /// with a string goes through Foundation's `NSString` search, and a search of the
    /// `utf8` view reads each byte through the view: 1.5 % of a one-route change at
    /// 10,000 hosts).
    private static func hasWildcard(_ hostname: String) -> Bool {
        var hostname = hostname
        return hostname.withUTF8 { $0.contains(UInt8(ascii: "*")) }
    }

    /// One virtual host of the scoped table as a scope, named and keyed by its hostname,
    /// carrying a route configuration of that host alone (named as the host), so Envoy
    /// installs the scope and its routes together. Named by hostname, not by listener: a
    /// scope the proxy still holds while its listener changes (``StreamSession``) can
    /// never share its key with a new one under another name, which Envoy would refuse.
    /// Reused whole while the host's plan is equal.
    private func scope(_ host: VirtualHostPlan) -> Envoy_Config_Route_V3_ScopedRouteConfiguration {
        guard let cache else { return makeScope(host, keeping: [:]) }
        return cache.scopes.value(host.name, host) {
            // The host changed: its routes whose plans did not keep their messages.
            var kept: [String: (plan: RoutePlan, message: Envoy_Config_Route_V3_Route)] = [:]
            for (plan, scope) in cache.scopes.previous(host.name) {
                let message = scope.routeConfiguration.virtualHosts[0]
                for (index, route) in plan.routes.enumerated() { kept[route.name] = (route, message.routes[index]) }
            }
            return makeScope(host, keeping: kept)
        }
    }

    private func makeScope(
        _ host: VirtualHostPlan, keeping kept: [String: (plan: RoutePlan, message: Envoy_Config_Route_V3_Route)]
    ) -> Envoy_Config_Route_V3_ScopedRouteConfiguration {
        var scope = Envoy_Config_Route_V3_ScopedRouteConfiguration()
        scope.name = host.domains[0]
        var fragment = Envoy_Config_Route_V3_ScopedRouteConfiguration.Key.Fragment()
        fragment.stringKey = host.domains[0]
        scope.key.fragments = [fragment]
        var configuration = routeConfiguration(named: host.name)
        configuration.virtualHosts = [virtualHost(host, keeping: kept)]
        scope.routeConfiguration = configuration
        return scope
    }

    private func routeConfiguration(_ table: RouteTablePlan) -> Envoy_Config_Route_V3_RouteConfiguration {
        routeConfiguration(named: table.name, hosts: table.virtualHosts)
    }

    /// A route configuration's settings, without its virtual hosts.
    private func routeConfiguration(named name: String) -> Envoy_Config_Route_V3_RouteConfiguration {
        var configuration = Envoy_Config_Route_V3_RouteConfiguration()
        configuration.name = name
        configuration.validateClusters = Google_Protobuf_BoolValue(false)
        // `foo.com:8080` is matched as `foo.com`, and forwarded unchanged.
        configuration.ignorePortInHostMatching = true
        return configuration
    }

    private func routeConfiguration(named name: String, hosts: [VirtualHostPlan]) -> Envoy_Config_Route_V3_RouteConfiguration {
        var configuration = routeConfiguration(named: name)
        configuration.virtualHosts = hosts.map { host in
            guard let cache else { return virtualHost(host, keeping: [:]) }
            return cache.hosts.value(host.name, host) {
                // The host changed: its routes whose plans did not keep their messages.
                var kept: [String: (plan: RoutePlan, message: Envoy_Config_Route_V3_Route)] = [:]
                for (plan, message) in cache.hosts.previous(host.name) {
                    for (index, route) in plan.routes.enumerated() { kept[route.name] = (route, message.routes[index]) }
                }
                return virtualHost(host, keeping: kept)
            }
        }
        return configuration
    }

    private func virtualHost(
        _ plan: VirtualHostPlan, keeping kept: [String: (plan: RoutePlan, message: Envoy_Config_Route_V3_Route)]
    ) -> Envoy_Config_Route_V3_VirtualHost {
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.name = plan.name
        host.domains = plan.domains
        host.routes = plan.routes.map { route in
            if let old = kept[route.name], old.plan == route { return old.message }
            return Routes.route(route, filters: filters)
        }
        return host
    }

    /// The cluster `clusters[index]` plans, read where it is: a closure that captured
    /// the plan itself copied it whole first (every cluster's plan copied per change, a
    /// tenth of the second stage at 10,000 routes), as did an argument read out of the
    /// plan's array.
    private func memoCluster(_ clusters: UnsafeBufferPointer<ClusterPlan>, _ index: Int) -> Envoy_Config_Cluster_V3_Cluster {
        guard let cache, case .service = clusters[index].kind else { return Clusters.cluster(clusters[index]) }
        return cache.clusters.value(clusters[index].name, clusters[index].settings) { Clusters.cluster(clusters[index]) }
    }

    private func memoEndpoints(
        _ clusters: UnsafeBufferPointer<ClusterPlan>, _ index: Int
    ) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment? {
        guard let cache, clusters[index].kind.hasDiscoveredEndpoints else { return Clusters.loadAssignment(clusters[index]) }
        return cache.endpoints.value(clusters[index].name, clusters[index].kind) { Clusters.loadAssignment(clusters[index])! }
    }
}

extension Google_Protobuf_Any {
    /// Packs `message` with deterministic bytes (map entries in key order). Use this
    /// rather than `Any(message:)` for anything that ends up in an xDS resource: a nested
    /// map serialised in hash order would change the resource's version on every start.
    public static func packing(_ message: some SwiftProtobuf.Message) throws -> Google_Protobuf_Any {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        var any = Google_Protobuf_Any()
        any.typeURL = "type.googleapis.com/" + type(of: message).protoMessageName
        any.value = try message.serializedBytes(options: options)
        return any
    }
}
