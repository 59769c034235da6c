import GatewayModel
import IR

struct ResolvedRule: Hashable, Sendable {
    let index: Int
    let rule: HTTPRoute.Rule
    var backends: [ResolvedBackend]
    /// Mirror targets by filter position (nil when unresolvable).
    var mirrors: [ServicePort?]
    /// Why the whole rule must answer 500 (an unsupported filter).
    var failure: String?
    /// Why the rule is not served at all: a regular expression Envoy would refuse
    /// (RE2's verdict). A dropped rule is not planned, so the rest of the route, and
    /// every other route on the listener, still reach Envoy.
    var dropped: String? = nil
    /// Session persistence across several backends: the one cluster they share.
    var sessionCluster: SessionCluster? = nil
    /// What the rule asks for that is served only in part, for the route's status.
    var notes: [String] = []
}

/// The backends of a rule with session persistence, as one cluster with a weighted
/// locality each: Envoy keeps a session on an endpoint of the cluster a request was
/// sent to, so sessions across backends need them in one cluster.
struct SessionCluster: Hashable, Sendable {
    let name: String
    let backends: [WeightedTarget]
    let http2: Bool
}

struct WeightedTarget: Hashable, Sendable {
    let target: ServicePort
    let weight: Int
}

/// A route attached to one listener of one Gateway.
struct AttachedRoute {
    let object: RouteObject
    let gateway: ObjectKey
    let listener: String
    /// The listener's port and scheme (redirects without a port go back to it).
    let listenerPort: Int
    let listenerScheme: String
    /// Effective hostnames on this listener (`*` for any).
    let hostnames: [String]
    /// HTTPRoute and GRPCRoute rules.
    let rules: [ResolvedRule]
    /// TLSRoute, TCPRoute and UDPRoute backends (every rule's, in order).
    let backends: [ResolvedBackend]
    /// What the SecurityPolicies and BackendTrafficPolicies in effect here do to each
    /// rule (by position); empty when none does.
    var policyEffects: [RuleEffects] = []
    /// HTTPRoutes and GRPCRoutes: the planned route of every rule's matches.
    var entries: [RouteEntry] = []

    var key: ObjectKey { object.key }

    /// Service ports whose BackendTLSPolicy applies: those sent to and those refused.
    var policyTargets: [ServicePort] {
        allTargets + (rules.flatMap(\.backends) + backends).compactMap(\.refusedByPolicy)
    }

    /// Every Service port the route sends to (backends and mirrors).
    var allTargets: [ServicePort] {
        rules.flatMap { $0.backends.compactMap(\.target) + $0.mirrors.compactMap { $0 } } + backends.compactMap(\.target)
    }
}

/// How a route stands towards one of its parentRefs that names a Gateway of ours.
struct ParentAttachment: Equatable, Sendable {
    let parentRef: ParentReference
    /// The Gateway (or, for a mesh route, the Service) the parentRef names.
    let gateway: ObjectKey
    var accepted: Verdict
    /// The listeners it attached to.
    var listeners: [String] = []
}

/// What attaching found for one route: its standing towards each parent, and the
/// references it could not resolve.
struct RouteRecord: Equatable, Sendable {
    let key: ObjectKey
    let generation: Int?
    var parents: [ParentAttachment]
    var refProblems: [Verdict]
    /// What is served only in part (for the `Accepted` message).
    var notes: [String] = []
    /// Rules left out while others are served (`PartiallyInvalid`), each saying why.
    var dropped: [String] = []
}

/// Routes attached to Gateways.
struct Attachments {
    /// Routes that name a Gateway of ours, by key.
    var records: [ObjectKey: RouteRecord] = [:]
    /// By Gateway key and listener name, oldest route first.
    var routes: [ObjectKey: [String: [AttachedRoute]]] = [:]
    /// GAMMA: HTTPRoutes and GRPCRoutes attached to Services, by Service, oldest first.
    var mesh: [ObjectKey: [MeshRoute]] = [:]
    /// Which attachment this is among those a plan cache kept, in order (0 without one).
    var generation = 0
    /// When this is the attachment `patch.base` with a few HTTPRoutes put in place
    /// again: which, and where they were and are, so that planning can take only those
    /// in and out of what it planned from that one.
    var patch: Patch?

    /// A few HTTPRoutes taken out of an attachment and attached again.
    struct Patch {
        /// The ``generation`` of the attachment they were taken out of.
        let base: Int
        /// The routes put in place again (those that changed since, deleted ones among
        /// them): every other route's record is the base's.
        let routes: Set<ObjectKey>
        /// Their attachments there and here, by Gateway key and listener name.
        var removed: [ObjectKey: [String: [AttachedRoute]]] = [:]
        var added: [ObjectKey: [String: [AttachedRoute]]] = [:]
    }

    func routes(for gateway: ObjectKey, listener: String) -> [AttachedRoute] {
        routes[gateway]?[listener] ?? []
    }
}

enum RouteAttachment {
    /// Attaches routes (oldest first) to the listeners that admit them. Two rules of the
    /// spec are settled here, in age order: an HTTPRoute and a GRPCRoute may not share a
    /// hostname on one listener (the newer loses it), and a TCP or UDP listener carries
    /// one route (the oldest). Which route serves a TLS hostname is settled per proxy
    /// group when listeners share a port (``GatewayPlanner``).
    static func attach(
        _ routes: [RouteObject], to gateways: inout [PreparedGateway], listenerSets: [ObjectKey: PreparedListenerSet],
        context: inout Context
    ) -> Attachments {
        var pass = Pass(gateways: gateways, listenerSets: listenerSets)
        for route in routes { pass.attach(route, context: &context) }
        MeshAttachment.settleKinds(&pass.result, context: context)
        count(pass.result, on: &gateways)
        return pass.result
    }

    /// Each listener's count of attached routes (its status's `attachedRoutes`): every
    /// route attached to it, served or not.
    static func count(_ attachments: Attachments, on gateways: inout [PreparedGateway]) {
        for g in gateways.indices {
            let routes = attachments.routes[gateways[g].key]
            for l in gateways[g].listeners.indices {
                gateways[g].listeners[l].attachedRoutes = routes?[gateways[g].listeners[l].name]?.count ?? 0
            }
        }
    }

    /// Attaching routes one at a time, oldest first: the Gateways and ListenerSets they
    /// attach to, what older routes hold, and what is attached so far.
    struct Pass {
        let gateways: [PreparedGateway]
        let byKey: [ObjectKey: Int]
        let listenerSets: [ObjectKey: PreparedListenerSet]
        /// Per Gateway and listener: which kind holds each hostname.
        var hostnameOwners: [ObjectKey: [String: [String: Kind]]] = [:]
        /// Per Gateway and listener: the route holding a TCP or UDP listener.
        var soleRoute: [ObjectKey: [String: ObjectKey]] = [:]
        var result = Attachments()

        init(gateways: [PreparedGateway], listenerSets: [ObjectKey: PreparedListenerSet]) {
            self.gateways = gateways
            self.listenerSets = listenerSets
            byKey = Dictionary(uniqueKeysWithValues: gateways.enumerated().map { ($1.key, $0) })
        }

        /// Attaches `route`, after every older one.
        mutating func attach(_ route: RouteObject, context: inout Context) {
            let routeKey = route.key
            let namespace = routeKey.namespace
            let rules: [ResolvedRule]
            let streamBackends: [ResolvedBackend]
            // Routes with Service parents are resolved as mesh routes too (no ReferenceGrant
            // needed); a route with only Service parents only as one.
            let parentKinds = route.parentRefs.map { Kind.referenced(group: $0.group, kind: $0.kind, implied: .gateway) }
            let meshParents = parentKinds.contains(.service)
            let onlyMesh = meshParents && parentKinds.allSatisfy { $0 == .service }
            var meshRules: [ResolvedRule] = []
            switch route.body {
            case .http(let http):
                rules = resolvedRules(http, key: routeKey, context: context, mesh: onlyMesh)
                if meshParents {
                    meshRules = onlyMesh ? rules : resolvedRules(http, key: routeKey, context: context, mesh: true)
                }
                streamBackends = []
                if route.kind == .grpcRoute {
                    context.grpcClusters.formUnion((rules + meshRules).flatMap { $0.backends.compactMap(\.target) })
                }
            case .stream(let streamRules):
                rules = []
                streamBackends = streamRules.flatMap { rule in
                    (rule.backendRefs ?? []).map { ref in
                        var resolved = Backends.resolve(
                            kind: ref.kind, group: ref.group, name: ref.name, namespace: ref.namespace, port: ref.port,
                            from: namespace, routeKind: route.kind, context: context)
                        resolved.weight = ref.weight ?? 1
                        return resolved
                    }
                }
            }
            let problems =
                rules.flatMap { rule in rule.backends.compactMap(\.problem) }
                + rules.compactMap { rule in rule.failure.map { Verdict(false, .unsupportedValue, $0) } }
                + streamBackends.compactMap(\.problem)
            // A route none of whose rules can be served attaches nowhere.
            let dropped = rules.compactMap(\.dropped)
            let allDropped = !rules.isEmpty && dropped.count == rules.count ? dropped.joined(separator: "; ") : nil
            var parents: [ParentAttachment] = []
            for parentRef in route.parentRefs {
                // A Gateway's own listeners, or those of one ListenerSet attached to it.
                let gatewayKey: ObjectKey
                let listenerSet: PreparedListenerSet?
                switch Kind.referenced(group: parentRef.group, kind: parentRef.kind, implied: .gateway) {
                case .gateway?:
                    gatewayKey = ObjectKey(.gateway, namespace: parentRef.namespace ?? namespace, name: parentRef.name)
                    listenerSet = nil
                case .listenerSet?:
                    let setKey = ObjectKey(.listenerSet, namespace: parentRef.namespace ?? namespace, name: parentRef.name)
                    guard let prepared = listenerSets[setKey] else { continue }  // not for a Gateway of ours
                    gatewayKey = prepared.gateway
                    listenerSet = prepared
                case .service?:
                    // GAMMA: the route governs calls to the Service inside the mesh.
                    parents.append(
                        MeshAttachment.attach(
                            route, rules: meshRules, parentRef: parentRef, allDropped: allDropped, into: &result.mesh,
                            context: context))
                    continue
                default: continue
                }
                guard let g = byKey[gatewayKey] else { continue }  // not a Gateway of ours
                if let dropped = allDropped {
                    parents.append(
                        ParentAttachment(parentRef: parentRef, gateway: gatewayKey, accepted: Verdict(false, .unsupportedValue, dropped)))
                    continue
                }
                let gatewayName = "\(gatewayKey.namespace)/\(gatewayKey.name)"
                let parentName = listenerSet.map { "\($0.label) (Gateway \(gatewayName))" } ?? "Gateway \(gatewayName)"
                guard gateways[g].isServed else {
                    parents.append(
                        ParentAttachment(
                            parentRef: parentRef, gateway: gatewayKey,
                            accepted: Verdict(
                                false, .noMatchingParent,
                                "Gateway \(gatewayName) is not served: \(gateways[g].refusal?.verdict.message ?? "it is not accepted")")))
                    continue
                }
                if let refusal = listenerSet?.refusal {
                    parents.append(
                        ParentAttachment(
                            parentRef: parentRef, gateway: gatewayKey,
                            accepted: Verdict(false, .noMatchingParent, "\(parentName) is not accepted: \(refusal.message)")))
                    continue
                }
                var parent = ParentAttachment(
                    parentRef: parentRef, gateway: gatewayKey,
                    accepted: Verdict(false, .noMatchingParent, "no listener of \(parentName) matches"))
                let gateway = gateways[g]
                var candidates = gateway.listeners.indices.filter {
                    gateway.listeners[$0].accepted.holds && gateway.listeners[$0].listenerSet == listenerSet?.key
                }
                if let section = parentRef.sectionName {
                    candidates = candidates.filter { gateway.listeners[$0].spec.name == section }
                    if candidates.isEmpty {
                        parent.accepted.message = "\(parentName) has no valid listener named \(section)"
                        if listenerSet == nil,
                            let other = gateway.listeners.first(where: { $0.listenerSet != nil && $0.spec.name == section })
                        {
                            parent.accepted.message +=
                                " (\(other.label) is reached with a parentRef of kind ListenerSet)"
                        }
                    }
                }
                if let port = parentRef.port {
                    candidates = candidates.filter { gateway.listeners[$0].spec.port == port }
                    if candidates.isEmpty {
                        parent.accepted.message = "\(parentName) has no valid listener on port \(port)"
                    }
                }
                var allowedSome = false
                var hostnameMismatch = false
                var lostTo: String?
                for index in candidates {
                    let listener = gateway.listeners[index]
                    guard allows(listener, kind: route.kind, routeNamespace: namespace, gateway: gateway, context: context)
                    else { continue }
                    allowedSome = true
                    let name = listener.name
                    var hostnames: [String]
                    if route.kind == .tcpRoute || route.kind == .udpRoute {
                        hostnames = ["*"]
                        if let holder = soleRoute[gatewayKey]?[name], holder != routeKey {
                            lostTo =
                                "\(listener.label) already carries \(holder.kind.rawValue) \(holder.namespace)/\(holder.name); a \(listener.spec.protocol) listener carries one route"
                            continue
                        }
                        soleRoute[gatewayKey, default: [:]][name] = routeKey
                    } else {
                        guard let matched = Hostnames.intersect(listener: listener.spec.hostname, route: route.hostnames) else {
                            hostnameMismatch = true
                            continue
                        }
                        hostnames = matched
                        if route.kind == .httpRoute || route.kind == .grpcRoute {
                            // An HTTPRoute and a GRPCRoute cannot share a hostname here.
                            let owners = hostnameOwners[gatewayKey]?[name] ?? [:]
                            let taken = hostnames.filter { owners[$0].map { $0 != route.kind } ?? false }
                            hostnames.removeAll { taken.contains($0) }
                            if hostnames.isEmpty {
                                let other = route.kind == .httpRoute ? "GRPCRoute" : "HTTPRoute"
                                lostTo =
                                    "an older \(other) already serves \(taken.joined(separator: ", ")) on \(listener.label); HTTPRoutes and GRPCRoutes cannot share a hostname"
                                continue
                            }
                            for hostname in hostnames {
                                hostnameOwners[gatewayKey, default: [:]][name, default: [:]][hostname] = route.kind
                            }
                        }
                    }
                    var attached = AttachedRoute(
                        object: route, gateway: gatewayKey, listener: name, listenerPort: listener.spec.port,
                        listenerScheme: listener.spec.protocol == .https ? "https" : "http",
                        hostnames: hostnames, rules: rules, backends: streamBackends)
                    // Planned only where they can be served (a listener without usable
                    // certificates or in conflict counts the route but serves nothing).
                    if case .http = route.body, listener.isProgrammed {
                        attached.policyEffects = RoutePolicies.effects(
                            route: routeKey, rules: rules, gateway: gatewayKey, listener: listener, context: context)
                        attached.entries = HTTPRoutePlanner.entries(for: attached, cache: context.cache)
                    }
                    result.routes[gatewayKey, default: [:]][name, default: []].append(attached)
                    parent.listeners.append(name)
                    parent.accepted = Verdict(true, .accepted, "attached to \(parentName)")
                }
                if !parent.accepted.holds, !candidates.isEmpty {
                    if !allowedSome {
                        parent.accepted = Verdict(
                            false, .notAllowedByListeners,
                            "the listeners' allowedRoutes (kinds and namespaces) do not admit \(route.kind == .httpRoute ? "an" : "a") \(route.kind.rawValue) from namespace \(namespace)"
                        )
                    } else if let lostTo {
                        parent.accepted = Verdict(false, .conflicted, lostTo)
                    } else if hostnameMismatch {
                        parent.accepted = Verdict(
                            false, .noMatchingListenerHostname, "none of the route's hostnames match a listener hostname")
                    }
                }
                parents.append(parent)
            }
            if !parents.isEmpty {
                result.records[routeKey] = RouteRecord(
                    key: routeKey, generation: route.metadata.generation, parents: parents, refProblems: problems,
                    notes: rules.flatMap(\.notes), dropped: allDropped == nil ? dropped : [])
            }
        }
    }

    /// allowedRoutes: kinds, and namespaces Same (default), All or Selector.
    static func allows(
        _ listener: PreparedListener, kind: Kind, routeNamespace: String, gateway: PreparedGateway, context: Context
    ) -> Bool {
        guard listener.supportedKinds.contains(where: { $0.kind == kind.rawValue }) else { return false }
        let namespaces = listener.spec.allowedRoutes?.namespaces
        return context.admits(
            namespaces?.from ?? .same, selector: namespaces?.selector, namespace: routeNamespace,
            home: listener.home(in: gateway.key))
    }

    /// Sessions across several backends share one cluster when the backends' clusters
    /// would be alike (no policy shapes them, one protocol, no per-backend filters);
    /// otherwise, and for what Envoy cannot enforce, the rule's notes say so.
    static func sessions(
        _ session: HTTPRoute.SessionPersistence, route: HTTPRoute, kind: Kind, namespace: String, context: Context,
        into rule: inout ResolvedRule
    ) {
        let index = rule.index
        if (session.type ?? .cookie) == .cookie, session.absoluteTimeout != nil,
            (session.cookieConfig?.lifetimeType ?? .session) == .session
        {
            rule.notes.append(
                "rule \(index): sessionPersistence.absoluteTimeout is not enforced for a Session cookie (Envoy expires only cookies it gives a Max-Age, which makes them Permanent)")
        }
        let valid = rule.backends.filter { $0.target != nil && $0.weight > 0 }
        guard valid.count > 1 else { return }
        let targets = valid.map { $0.target! }
        let protocols = Set(targets.map { kind == .grpcRoute || Backends.usesHTTP2($0, context: context) })
        if targets.contains(where: { PolicyKinds.shapeCluster(of: $0, context: context) }) || protocols.count > 1
            || valid.contains(where: { !$0.filters.isEmpty })
        {
            rule.notes.append(
                "rule \(index): a session stays with one backend only within the backend its weights pick (backends with BackendTLSPolicies, other protocols or filters of their own cannot share the cluster sessions need)")
            return
        }
        rule.sessionCluster = SessionCluster(
            name: "\(HTTPRoutePlanner.routeName(ObjectKey(kind, namespace: namespace, name: route.metadata.name)))/rule/\(index)/sessions",
            backends: valid.map { WeightedTarget(target: $0.target!, weight: $0.weight) }, http2: protocols.first!)
    }

    /// Every regular expression a rule would send to Envoy, with the field it comes from:
    /// path, header and query matches (a GRPCRoute's method match becomes a path regex),
    /// prefix rewrites Envoy does with a regex, and CORS origins with wildcards.
    static func regexes(of rule: HTTPRoute.Rule, index: Int, kind: Kind) -> [(field: String, pattern: String)] {
        var result: [(field: String, pattern: String)] = []
        func add(_ field: String, _ pattern: String) { result.append(("spec.rules[\(index)].\(field)", pattern)) }
        for (m, match) in (rule.matches ?? []).enumerated() {
            if match.path?.type == .regularExpression, let pattern = match.path?.value {
                add(kind == .grpcRoute ? "matches[\(m)].method" : "matches[\(m)].path.value", pattern)
            }
            for (h, header) in (match.headers ?? []).enumerated() where header.type == .regularExpression {
                add("matches[\(m)].headers[\(h)].value", header.value)
            }
            for (q, query) in (match.queryParams ?? []).enumerated() where query.type == .regularExpression {
                add("matches[\(m)].queryParams[\(q)].value", query.value)
            }
        }
        for (f, filter) in (rule.filters ?? []).enumerated() {
            func prefixRewrites(_ modifier: HTTPRoute.PathModifier?, _ name: String) {
                guard let modifier, modifier.type == .replacePrefixMatch else { return }
                let prefixes = (rule.matches ?? []).isEmpty ? ["/"] : (rule.matches ?? []).map { $0.path?.value ?? "/" }
                for prefix in prefixes {
                    if let rewrite = RE2.prefixRewrite(prefix: prefix, replacement: modifier.replacePrefixMatch ?? "/") {
                        add("filters[\(f)].\(name).path.replacePrefixMatch", rewrite.pattern)
                    }
                }
            }
            prefixRewrites(filter.urlRewrite?.path, "urlRewrite")
            prefixRewrites(filter.requestRedirect?.path, "requestRedirect")
            for (o, origin) in (filter.cors?.allowOrigins ?? []).enumerated() {
                if case .regex(let pattern) = HTTPRoutePlanner.originMatch(origin) { add("filters[\(f)].cors.allowOrigins[\(o)]", pattern) }
            }
        }
        return result
    }

    /// Everything a route's resolved rules are made from, besides the objects that are
    /// not routes (its environment).
    struct RulesInput: Equatable, Sendable {
        let environment: PlanCache.Environment
        let mesh: Bool
        let route: HTTPRoute
    }

    /// ``resolveRules(_:kind:namespace:context:mesh:)``, reused from the last translation
    /// for the same route in the same environment.
    static func resolvedRules(_ route: HTTPRoute, key: ObjectKey, context: Context, mesh: Bool) -> [ResolvedRule] {
        let resolve = { resolveRules(route, kind: key.kind, namespace: key.namespace, context: context, mesh: mesh) }
        // Sessions across backends also ask which backends GRPCRoutes older than this
        // route send to (they speak HTTP/2): such rules are resolved every time.
        guard let cache = context.cache, let environment = context.environment,
            !route.spec.effectiveRules.contains(where: { $0.sessionPersistence != nil })
        else { return resolve() }
        return cache.resolvedRules.value(key, RulesInput(environment: environment, mesh: mesh, route: route), build: resolve)
    }

    /// - Parameter mesh: for Service parents (GAMMA), whose routes may send to any
    ///   namespace without a ReferenceGrant (GEP-1294: they augment Services callers can
    ///   already reach, rather than expose them).
    static func resolveRules(_ route: HTTPRoute, kind: Kind, namespace: String, context: Context, mesh: Bool = false) -> [ResolvedRule] {
        route.spec.effectiveRules.enumerated().map { index, rule in
            var failure: String?
            var mirrors: [ServicePort?] = []
            for filter in rule.filters ?? [] {
                switch filter.type {
                case .extensionRef:
                    failure = "rule \(index): ExtensionRef filters are not supported; the rule answers 500"
                case .requestMirror:
                    if let ref = filter.requestMirror?.backendRef {
                        let resolved = Backends.resolve(
                            kind: ref.kind, group: ref.group, name: ref.name, namespace: ref.namespace, port: ref.port,
                            from: namespace, routeKind: kind, context: context, grantRequired: !mesh)
                        mirrors.append(resolved.target)
                    }
                default: break
                }
            }
            // Per backend, Envoy can change headers (weighted cluster entries); other
            // filters there are refused rather than dropped.
            for (b, ref) in (rule.backendRefs ?? []).enumerated() {
                for filter in ref.filters ?? [] where ![.requestHeaderModifier, .responseHeaderModifier].contains(filter.type) {
                    failure =
                        "rule \(index): backendRefs[\(b)]: \(filter.type) filters are not supported on a backend (only RequestHeaderModifier and ResponseHeaderModifier); the rule answers 500"
                }
            }
            let backends = (rule.backendRefs ?? []).map { ref in
                var resolved = Backends.resolve(
                    kind: ref.kind, group: ref.group, name: ref.name, namespace: ref.namespace, port: ref.port,
                    from: namespace, routeKind: kind, context: context, grantRequired: !mesh)
                resolved.weight = ref.weight ?? 1
                resolved.filters = ref.filters ?? []
                return resolved
            }
            var resolved = ResolvedRule(index: index, rule: rule, backends: backends, mirrors: mirrors, failure: failure)
            let refused = regexes(of: rule, index: index, kind: kind).compactMap { regex in
                RE2.problem(regex.pattern).map {
                    "\(regex.field): \(regex.pattern.count > 80 ? String(regex.pattern.prefix(80)) + "…" : regex.pattern): \($0)"
                }
            }
            if !refused.isEmpty {
                resolved.dropped = "Dropped Rule \(index): " + refused.joined(separator: "; ")
            }
            for filter in rule.filters ?? [] where filter.type == .cors {
                if filter.cors?.allowCredentials == true, filter.cors?.exposeHeaders == ["*"] {
                    resolved.notes.append(
                        "rule \(index): CORS exposeHeaders * is not sent: with allowCredentials a browser reads it as a header named *")
                }
            }
            if let session = rule.sessionPersistence {
                sessions(session, route: route, kind: kind, namespace: namespace, context: context, into: &resolved)
            }
            return resolved
        }
    }
}
