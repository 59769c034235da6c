import GatewayModel
import IR

/// A route of any kind, reduced to what attachment and building need. GRPCRoutes become
/// HTTP rules (a gRPC method is an HTTP/2 path); TLSRoutes, TCPRoutes and UDPRoutes keep
/// only their backends.
struct RouteObject {
    let kind: Kind
    let key: ObjectKey
    let metadata: ObjectMeta
    let parentRefs: [ParentReference]
    /// Hostnames the route asks for (HTTP: Host header, TLS: SNI); empty means any.
    let hostnames: [String]
    let body: Body

    enum Body {
        /// HTTPRoute, or a GRPCRoute rewritten as HTTP matches.
        case http(HTTPRoute)
        /// TLSRoute, TCPRoute, UDPRoute: every rule's backends.
        case stream([StreamRule])
    }

    /// Every route of the set, oldest first (the spec's precedence among routes).
    static func all(in set: ResourceSet) -> [RouteObject] {
        var routes: [RouteObject] = []
        for route in set.httpRoutes {
            routes.append(
                RouteObject(
                    kind: .httpRoute, key: Translation.key(.httpRoute, route.metadata), metadata: route.metadata,
                    parentRefs: route.spec.parentRefs ?? [], hostnames: route.spec.hostnames ?? [], body: .http(route)))
        }
        for route in set.grpcRoutes {
            routes.append(
                RouteObject(
                    kind: .grpcRoute, key: Translation.key(.grpcRoute, route.metadata), metadata: route.metadata,
                    parentRefs: route.spec.parentRefs ?? [], hostnames: route.spec.hostnames ?? [],
                    body: .http(GRPCRules.asHTTPRoute(route))))
        }
        for route in set.tlsRoutes {
            routes.append(
                RouteObject(
                    kind: .tlsRoute, key: Translation.key(.tlsRoute, route.metadata), metadata: route.metadata,
                    parentRefs: route.spec.parentRefs ?? [], hostnames: route.spec.hostnames ?? [],
                    body: .stream(route.spec.rules ?? [])))
        }
        for route in set.tcpRoutes {
            routes.append(
                RouteObject(
                    kind: .tcpRoute, key: Translation.key(.tcpRoute, route.metadata), metadata: route.metadata,
                    parentRefs: route.spec.parentRefs ?? [], hostnames: [], body: .stream(route.spec.rules ?? [])))
        }
        for route in set.udpRoutes {
            routes.append(
                RouteObject(
                    kind: .udpRoute, key: Translation.key(.udpRoute, route.metadata), metadata: route.metadata,
                    parentRefs: route.spec.parentRefs ?? [], hostnames: [], body: .stream(route.spec.rules ?? [])))
        }
        return routes.map { (Ordering.Age($0.metadata), $0) }.sorted { a, b in
            if a.0 < b.0 { return true }
            if b.0 < a.0 { return false }
            return a.1.kind < b.1.kind
        }.map(\.1)
    }
}

/// GRPCRoute matches as HTTP/2 request matches: gRPC calls `POST /service/method`.
enum GRPCRules {
    static func asHTTPRoute(_ route: GRPCRoute) -> HTTPRoute {
        let rules = (route.spec.rules ?? []).map { rule in
            HTTPRoute.Rule(
                name: rule.name,
                matches: rule.matches.map { $0.map(match) },
                filters: rule.filters, backendRefs: rule.backendRefs, timeouts: nil,
                sessionPersistence: rule.sessionPersistence)
        }
        return HTTPRoute(
            metadata: route.metadata,
            spec: HTTPRoute.Spec(parentRefs: route.spec.parentRefs, hostnames: route.spec.hostnames, rules: rules))
    }

    static func match(_ match: GRPCRoute.Match) -> HTTPRoute.Match {
        HTTPRoute.Match(path: path(match.method), headers: match.headers)
    }

    /// The path match for a method match: exact service and method → exact path; a
    /// service alone → its prefix; anything else → a regular expression over
    /// `/service/method`.
    static func path(_ method: GRPCRoute.MethodMatch?) -> HTTPRoute.PathMatch {
        guard let method, method.service != nil || method.method != nil else {
            return HTTPRoute.PathMatch(type: .pathPrefix, value: "/")
        }
        let exact = (method.type ?? .exact) == .exact
        if exact, let service = method.service, let name = method.method {
            return HTTPRoute.PathMatch(type: .exact, value: "/\(service)/\(name)")
        }
        if exact, let service = method.service {
            return HTTPRoute.PathMatch(type: .pathPrefix, value: "/\(service)")
        }
        // Grouped, so an alternation in one part cannot swallow the rest of the path.
        let any = "[^/]+"
        let service = method.service.map { exact ? RE2.escape($0) : "(?:\($0))" } ?? any
        let name = method.method.map { exact ? RE2.escape($0) : "(?:\($0))" } ?? any
        return HTTPRoute.PathMatch(type: .regularExpression, value: "/\(service)/\(name)")
    }
}

