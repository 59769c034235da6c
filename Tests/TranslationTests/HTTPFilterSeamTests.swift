import EnvoyAPI
import GatewayModel
import IR
import SwiftProtobuf
import Testing

@testable import EnvoyBuild

/// The HTTP filter seam: feature filters a listener's routes need come before the router,
/// in their order, with per-route configuration where a filter gives one; a filter no
/// route needs is left out.
@Suite struct HTTPFilterSeamTests {
    /// A local rate limit on routes whose name says so: configured per route.
    struct RateLimitByName: HTTPFilter {
        let name = "envoy.filters.http.local_ratelimit"

        func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
            let used = listener.routeTables.flatMap(\.virtualHosts).contains { $0.routes.contains { $0.name.contains("limited") } }
            guard used else { return nil }
            var config = Envoy_Extensions_Filters_Http_LocalRatelimit_V3_LocalRateLimit()
            config.statPrefix = "limits"
            return try! .packing(config)
        }

        func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
            guard route.name.contains("limited") else { return nil }
            var config = Envoy_Extensions_Filters_Http_LocalRatelimit_V3_LocalRateLimit()
            config.statPrefix = route.name
            return try! .packing(config)
        }
    }

    /// A filter that is always on and has no per-route configuration.
    struct AlwaysOn: HTTPFilter {
        let name = "envoy.filters.http.rbac"

        func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
            try! .packing(Envoy_Extensions_Filters_Http_Rbac_V3_RBAC())
        }
    }

    static func plan(routes: [String]) -> ProxyPlan {
        let origin = ObjectKey(.httpRoute, namespace: "app", name: "web")
        let planned = routes.map { name in
            RoutePlan(
                name: name, origin: origin, match: RouteMatchPlan(path: .segmentPrefix("/" + name)),
                action: .forward(ForwardPlan(destinations: [DestinationPlan(cluster: "app/a:80", weight: 1)])))
        }
        let table = RouteTablePlan(
            name: "0.0.0.0:80", virtualHosts: [VirtualHostPlan(name: "0.0.0.0:80/*", domains: ["*"], routes: planned)],
            origins: [origin])
        return ProxyPlan(listeners: [
            ListenerPlan(
                name: "0.0.0.0:80", address: "0.0.0.0", port: 80,
                traffic: .http(.plain(table)), origins: [origin])
        ])
    }

    static func filterNames(_ config: ProxyConfig) throws -> [String] {
        let any = try #require(config.listeners.first?.filterChains.first?.filters.first?.typedConfig)
        let manager = try Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
            serializedBytes: any.value)
        return manager.httpFilters.map(\.name)
    }

    @Test func featureFiltersComeBeforeTheRouterWithPerRouteConfig() throws {
        let builder = EnvoyBuilder(cache: nil, filters: [AlwaysOn(), RateLimitByName()])
        let config = builder.build(Self.plan(routes: ["open", "limited"]))
        #expect(
            try Self.filterNames(config) == [
                "envoy.filters.http.rbac", "envoy.filters.http.local_ratelimit", "envoy.filters.http.router",
            ])
        let routes = try #require(config.routes.first?.virtualHosts.first?.routes)
        let limited = try #require(routes.first { $0.name == "limited" })
        let open = try #require(routes.first { $0.name == "open" })
        let perRoute = try #require(limited.typedPerFilterConfig["envoy.filters.http.local_ratelimit"])
        let decoded = try Envoy_Extensions_Filters_Http_LocalRatelimit_V3_LocalRateLimit(serializedBytes: perRoute.value)
        #expect(decoded.statPrefix == "limited")
        #expect(open.typedPerFilterConfig.isEmpty)
        #expect(limited.typedPerFilterConfig["envoy.filters.http.rbac"] == nil)
    }

    @Test func aFilterNoRouteNeedsIsLeftOut() throws {
        let builder = EnvoyBuilder(cache: nil, filters: [RateLimitByName()])
        let config = builder.build(Self.plan(routes: ["open"]))
        #expect(try Self.filterNames(config) == ["envoy.filters.http.router"])
    }

    @Test func todaysChainIsTheRouterAlone() throws {
        #expect(try Self.filterNames(EnvoyBuilder().build(Self.plan(routes: ["open"]))) == ["envoy.filters.http.router"])
    }
}
