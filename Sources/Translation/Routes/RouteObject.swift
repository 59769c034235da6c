import GatewayModel
import IR

/// A route of any kind, reduced to what attachment and building need. GRPCRoutes become
/// HTTP rules (a gRPC method is an HTTP/2 path); TLSRoutes, TCPRoutes and UDPRoutes keep
/// only their backends.
struct RouteObject: Sendable {
    let kind: Kind
    let key: ObjectKey
    let metadata: ObjectMeta
    let parentRefs: [ParentReference]
    /// Hostnames the route asks for (HTTP: Host header, TLS: SNI); empty means any.
    let hostnames: [String]
    let body: Body

    enum Body: Sendable {
        /// HTTPRoute, or a GRPCRoute rewritten as HTTP matches.
        case http(HTTPRoute)
        /// TLSRoute, TCPRoute, UDPRoute: every rule's backends.
        case stream([StreamRule])
    }

    /// The kinds of route, in the order they are read.
    static let kinds: [Kind] = [.httpRoute, .grpcRoute, .tlsRoute, .tcpRoute, .udpRoute]

    /// Where a route stands among all routes: oldest first (the spec's precedence among
    /// routes), then by kind. No two routes share a place (a kind's routes differ in
    /// namespace or name).
    struct Place: Comparable, Sendable {
        let age: Ordering.Age
        let kind: Kind

        init(_ route: RouteObject) {
            age = Ordering.Age(route.metadata)
            kind = route.kind
        }

        static func < (a: Place, b: Place) -> Bool {
            if a.age < b.age { return true }
            if b.age < a.age { return false }
            return a.kind < b.kind
        }
    }

    /// A route object, or nil for an object that is not a route.
    static func of(_ object: KubeObject) -> RouteObject? {
        switch object {
        case .httpRoute(let route):
            RouteObject(
                kind: .httpRoute, key: Translation.key(.httpRoute, route.metadata), metadata: route.metadata,
                parentRefs: route.spec.parentRefs ?? [], hostnames: route.spec.hostnames ?? [], body: .http(route))
        case .grpcRoute(let route):
            RouteObject(
                kind: .grpcRoute, key: Translation.key(.grpcRoute, route.metadata), metadata: route.metadata,
                parentRefs: route.spec.parentRefs ?? [], hostnames: route.spec.hostnames ?? [],
                body: .http(GRPCRules.asHTTPRoute(route)))
        case .tlsRoute(let route):
            RouteObject(
                kind: .tlsRoute, key: Translation.key(.tlsRoute, route.metadata), metadata: route.metadata,
                parentRefs: route.spec.parentRefs ?? [], hostnames: route.spec.hostnames ?? [],
                body: .stream(route.spec.rules ?? []))
        case .tcpRoute(let route):
            RouteObject(
                kind: .tcpRoute, key: Translation.key(.tcpRoute, route.metadata), metadata: route.metadata,
                parentRefs: route.spec.parentRefs ?? [], hostnames: [], body: .stream(route.spec.rules ?? []))
        case .udpRoute(let route):
            RouteObject(
                kind: .udpRoute, key: Translation.key(.udpRoute, route.metadata), metadata: route.metadata,
                parentRefs: route.spec.parentRefs ?? [], hostnames: [], body: .stream(route.spec.rules ?? []))
        default: nil
        }
    }

    /// Every route of the set, oldest first (the spec's precedence among routes), each
    /// with its place.
    static func all(in set: ResourceSet) -> (places: [Place], routes: [RouteObject]) {
        var routes: [RouteObject] = []
        for kind in kinds {
            for manifest in set.manifests(of: kind) { if let route = of(manifest.object) { routes.append(route) } }
        }
        let sorted = routes.map { (Place($0), $0) }.sorted { $0.0 < $1.0 }
        return (sorted.map(\.0), sorted.map(\.1))
    }

    /// Every route of the set, oldest first: with a cache, the last translation's routes
    /// with those that changed since put in their places.
    static func all(in set: ResourceSet, cache: PlanCache?) -> [RouteObject] {
        guard let cache else { return all(in: set).routes }
        return cache.routeObjects.withLock { kept in
            // Taken out, so that the arrays change in place.
            // A few changed routes are put in place one by one; many, sorted with the rest.
            if var routes = kept.take(), case let changed = set.differingObjects(from: routes.set, ofKinds: kinds),
                RouteAttachment.fewChanged(changed.count, of: routes.objects.count),
                routes.replace(changed, with: set)
            {
                kept = routes
                return routes.objects
            }
            let (places, objects) = all(in: set)
            kept = Kept(set: set, places: places, objects: objects)
            return objects
        }
    }

    /// Every route of a set, oldest first, with its place (``Place``).
    struct Kept: Sendable {
        var set: ResourceSet
        var places: [Place]
        var objects: [RouteObject]

        /// Puts `changed`'s routes as `next` has them in their places; false if a route
        /// was not where its place says.
        mutating func replace(_ changed: Set<ObjectKey>, with next: ResourceSet) -> Bool {
            for key in changed {
                if let old = set[key].flatMap({ RouteObject.of($0.object) }) {
                    let place = Place(old)
                    let index = places.sortedPosition(of: place)
                    guard index < places.count, places[index] == place, objects[index].key == key else { return false }
                    places.remove(at: index)
                    objects.remove(at: index)
                }
                if let new = next[key].flatMap({ RouteObject.of($0.object) }) {
                    let place = Place(new)
                    let index = places.sortedPosition(of: place)
                    places.insert(place, at: index)
                    objects.insert(new, at: index)
                }
            }
            set = next
            return true
        }
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

