import EnvoyAPI
import IR
import SwiftProtobuf

/// Session persistence (GEP-1619): Envoy's stateful_session filter on listeners with a
/// route that keeps sessions, doing nothing by itself, and per route the session's
/// cookie or header. A request that names a live endpoint of the route's cluster goes
/// to it; otherwise the load balancer picks one and the answer names it.
struct SessionFilter: HTTPFilter {
    let name = "envoy.filters.http.stateful_session"

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        guard listener.hasRoute(where: { $0.session != nil }) else { return nil }
        return try! .packing(Envoy_Extensions_Filters_Http_StatefulSession_V3_StatefulSession())
    }

    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
        guard let plan = route.session else { return nil }
        var state = Envoy_Config_Core_V3_TypedExtensionConfig()
        switch plan {
        case .cookie(let name, let path, let ttl):
            var cookie = Envoy_Type_Http_V3_Cookie()
            cookie.name = name
            cookie.path = path
            if let ttl { cookie.ttl = Google_Protobuf_Duration(seconds: ttl) }
            var session = Envoy_Extensions_Http_StatefulSession_Cookie_V3_CookieBasedSessionState()
            session.cookie = cookie
            state.name = "envoy.http.stateful_session.cookie"
            state.typedConfig = try! .packing(session)
        case .header(let name):
            var session = Envoy_Extensions_Http_StatefulSession_Header_V3_HeaderBasedSessionState()
            session.name = name
            state.name = "envoy.http.stateful_session.header"
            state.typedConfig = try! .packing(session)
        }
        var stateful = Envoy_Extensions_Filters_Http_StatefulSession_V3_StatefulSession()
        stateful.sessionState = state
        var perRoute = Envoy_Extensions_Filters_Http_StatefulSession_V3_StatefulSessionPerRoute()
        perRoute.statefulSession = stateful
        return try! .packing(perRoute)
    }
}
