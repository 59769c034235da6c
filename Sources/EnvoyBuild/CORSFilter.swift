import EnvoyAPI
import IR
import SwiftProtobuf

/// CORS (GEP-1767): Envoy's cors filter on listeners with a route that has a policy,
/// and the policy per route. The proxy answers every preflight itself — also one from
/// an origin the route does not allow (200 without CORS headers) — and adds the CORS
/// headers to the backend's answers to allowed origins. With `*` methods or headers,
/// Envoy echoes what the preflight asked for, which is what the spec requires when
/// credentials are allowed.
struct CORSFilter: HTTPFilter {
    let name = "envoy.filters.http.cors"

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        guard listener.hasRoute(where: { $0.cors != nil }) else { return nil }
        return try! .packing(Envoy_Extensions_Filters_Http_Cors_V3_Cors())
    }

    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
        guard let plan = route.cors else { return nil }
        var policy = Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy()
        policy.allowOriginStringMatch = plan.allowOrigins.map(Routes.stringMatcher)
        policy.allowMethods = plan.allowMethods.joined(separator: ", ")
        policy.allowHeaders = plan.allowHeaders.joined(separator: ", ")
        policy.exposeHeaders = plan.exposeHeaders.joined(separator: ", ")
        policy.maxAge = String(plan.maxAgeSeconds)
        if plan.allowCredentials { policy.allowCredentials = Google_Protobuf_BoolValue(true) }
        policy.forwardNotMatchingPreflights = Google_Protobuf_BoolValue(false)
        return try! .packing(policy)
    }
}
