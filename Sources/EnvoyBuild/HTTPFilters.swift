import EnvoyAPI
import IR
import SwiftProtobuf

/// One kind of HTTP filter: whether a listener's requests pass it, its configuration for
/// the listener, and its configuration per route (`typed_per_filter_config`).
///
/// A feature that needs a filter (CORS, authorization, JWT, rate limits, …) is one file
/// conforming to this, reading the fields its policy or route filter fills in the IR,
/// and one entry in ``HTTPFilters/ordered``.
protocol HTTPFilter: Sendable {
    /// Envoy's name for the filter (`envoy.filters.http.router`); also the key of its
    /// per-route configuration.
    var name: String { get }
    /// The filter's configuration on this listener, or nil when no route needs it
    /// (the filter is then left out of the chain).
    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any?
    /// Configuration for one route, or nil when the listener's applies unchanged.
    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any?
    /// The filter acts only on routes that configure it (Envoy's `disabled`).
    var disabledByDefault: Bool { get }
}

extension HTTPFilter {
    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? { nil }
    var disabledByDefault: Bool { false }
}

enum HTTPFilters {
    /// Feature filters, in the order requests pass them. The router, which sends the
    /// request on, always comes after them.
    static let ordered: [any HTTPFilter] = [
        ClientAddressFilter(), FaultFilter(), CORSFilter(), APIKeyAuthFilter(), BasicAuthFilter(), JWTFilter(), AuthorizationFilter(),
        LocalRateLimitFilter(), BodySizeFilter(), SessionFilter(),
    ]

    /// The HTTP connection manager's filter list for a listener: the feature filters its
    /// routes need, in order, then the router.
    static func chain(for listener: HTTPListenerPlan, filters: [any HTTPFilter])
        -> [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter]
    {
        var chain: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter] = []
        for filter in filters + [Router()] {
            guard let config = filter.listenerConfig(for: listener) else { continue }
            var entry = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
            entry.name = filter.name
            entry.typedConfig = config
            entry.disabled = filter.disabledByDefault
            chain.append(entry)
        }
        return chain
    }
}

extension HTTPListenerPlan {
    /// Whether any route of the listener's route tables satisfies `test` (a filter is
    /// put in the chain only when a route needs it).
    func hasRoute(where test: (RoutePlan) -> Bool) -> Bool {
        // Through the arrays' buffers: each host and route is read where it is, not
        // copied out (every filter asks, of every route of the listener; an array's
        // subscript copied each route, a tenth of a one-route change's build at 10,000
        // routes).
        for table in routeTables {
            let found = table.virtualHosts.withUnsafeBufferPointer { hosts in
                for h in hosts.indices {
                    let found = hosts[h].routes.withUnsafeBufferPointer { routes in
                        for r in routes.indices where test(routes[r]) { return true }
                        return false
                    }
                    if found { return true }
                }
                return false
            }
            if found { return true }
        }
        return false
    }
}

/// The last filter: sends the request to the cluster its route chose.
struct Router: HTTPFilter {
    let name = "envoy.filters.http.router"

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        try! .packing(Envoy_Extensions_Filters_Http_Router_V3_Router())
    }
}
