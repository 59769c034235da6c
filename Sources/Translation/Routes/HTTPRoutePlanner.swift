import GatewayModel
import IR

/// One planned route (one match of one HTTPRoute or GRPCRoute rule) with the key the
/// spec orders matches by.
struct RouteEntry: Sendable, Equatable {
    let precedence: Precedence
    let plan: RoutePlan
}

/// The spec's precedence among matches on one hostname: exact path, then regular
/// expressions (longest first; their place is implementation-specific, and after
/// prefixes a `/` catch-all would shadow them), then the longest prefix; then a method,
/// more header matches, more query matches; then the older route, then namespace/name,
/// then rule and match order.
struct Precedence: Comparable, Sendable {
    var pathRank: Int
    var pathLength: Int
    var hasMethod: Bool
    var headers: Int
    var queries: Int
    var created: String
    var namespace: String
    var name: String
    var rule: Int
    var match: Int
    /// A route the planner adds after a match's own (a CORS preflight's).
    var companion = false

    static func < (a: Precedence, b: Precedence) -> Bool {
        if a.pathRank != b.pathRank { return a.pathRank < b.pathRank }
        if a.pathLength != b.pathLength { return a.pathLength > b.pathLength }
        if a.hasMethod != b.hasMethod { return a.hasMethod }
        if a.headers != b.headers { return a.headers > b.headers }
        if a.queries != b.queries { return a.queries > b.queries }
        if a.created != b.created {
            if a.created.isEmpty { return false }
            if b.created.isEmpty { return true }
            return a.created < b.created
        }
        if (a.namespace, a.name) != (b.namespace, b.name) { return (a.namespace, a.name) < (b.namespace, b.name) }
        if (a.rule, a.match) != (b.rule, b.match) { return (a.rule, a.match) < (b.rule, b.match) }
        return !a.companion && b.companion
    }
}

/// HTTPRoute and GRPCRoute rules → planned routes: every match of every rule, with its
/// filters and backends decided (what a redirect's Location carries, which share of
/// requests answers 500, how a prefix is replaced).
enum HTTPRoutePlanner {
    /// The share of requests sent to invalid backends is answered 500, as the spec
    /// requires; a rule with no valid backend answers 500 with this message.
    static let noValidBackend = "no valid backend for this route"
    /// Retries when `retry.attempts` is not given (the spec leaves it to the
    /// implementation).
    static let defaultRetryAttempts = 2

    /// Everything the planned routes of a route on a listener are made from: the whole
    /// input of ``entries(_:)`` (and of its reuse, ``PlanCache``).
    struct Input: Hashable, Sendable {
        // Cheap fields first: equality compares in this order, and the rules (compared
        // element by element) are the dearest.
        /// The listener's port and scheme (redirects without a port go back to it).
        let listenerPort: Int
        let listenerScheme: String
        let key: ObjectKey
        /// `creationTimestamp`: precedence among routes.
        let created: String
        let rules: [ResolvedRule]
        /// What policies do to each rule (empty: nothing).
        let policyEffects: [RuleEffects]

        init(listenerPort: Int, listenerScheme: String, key: ObjectKey, created: String, rules: [ResolvedRule]) {
            self.listenerPort = listenerPort
            self.listenerScheme = listenerScheme
            self.key = key
            self.created = created
            self.rules = rules
            self.policyEffects = []
        }

        init(_ attached: AttachedRoute) {
            listenerPort = attached.listenerPort
            listenerScheme = attached.listenerScheme
            key = attached.key
            created = attached.object.metadata.creationTimestamp ?? ""
            rules = attached.rules
            policyEffects = attached.policyEffects
        }
    }

    /// The route's planned routes, reused from `cache` when it was planned from an equal
    /// input last time.
    static func entries(for attached: AttachedRoute, cache: PlanCache?) -> [RouteEntry] {
        let input = Input(attached)
        guard let cache else { return entries(input) }
        // Found by route: the same route on two listeners of one port plans the same.
        return cache.routeEntries.value(attached.key, input) { entries(input) }
    }

    static func entries(_ input: Input) -> [RouteEntry] {
        var entries: [RouteEntry] = []
        let key = input.key
        let created = input.created
        for (position, resolved) in input.rules.enumerated() where resolved.dropped == nil {
            let effects = position < input.policyEffects.count ? input.policyEffects[position] : nil
            let matches = resolved.rule.matches ?? []
            let effective = matches.isEmpty ? [HTTPRoute.Match(path: HTTPRoute.PathMatch(type: .pathPrefix, value: "/"))] : matches
            for (m, match) in effective.enumerated() {
                let pathType = match.path?.type ?? .pathPrefix
                let pathValue = match.path?.value ?? "/"
                let precedence = Precedence(
                    pathRank: pathType == .exact ? 0 : pathType == .regularExpression ? 1 : 2,
                    pathLength: pathValue.count, hasMethod: match.method != nil, headers: match.headers?.count ?? 0,
                    queries: match.queryParams?.count ?? 0, created: created,
                    namespace: key.namespace, name: key.name, rule: resolved.index, match: m)
                var plan = RoutePlan(
                    name: key.kind == .grpcRoute
                        ? "grpc:\(key.namespace)/\(key.name)/rule/\(resolved.index)/match/\(m)"
                        : "\(key.namespace)/\(key.name)/rule/\(resolved.index)/match/\(m)",
                    origin: key,
                    match: routeMatch(match), action: .respond(DirectResponsePlan(status: 500, body: noValidBackend)))
                apply(resolved, match: match, listener: (input.listenerPort, input.listenerScheme), to: &plan)
                if let effects {
                    RoutePolicies.apply(effects, to: &plan)
                    if let variant = effects.cluster { RoutePolicies.send(to: variant, backends: resolved.backends, plan: &plan) }
                }
                entries.append(RouteEntry(precedence: precedence, plan: plan))
                if let preflight = preflight(for: plan) {
                    var after = precedence
                    after.companion = true
                    entries.append(RouteEntry(precedence: after, plan: preflight))
                }
            }
        }
        return entries
    }

    /// A route with CORS whose match names a method other than OPTIONS, or headers,
    /// would never see its preflights (OPTIONS requests without the route's headers): a
    /// companion route takes them, matching the same path and query with method OPTIONS
    /// and the two headers every preflight carries.
    static func preflight(for plan: RoutePlan) -> RoutePlan? {
        guard plan.cors != nil, plan.match.method.map({ $0 != .options }) ?? !plan.match.headers.isEmpty else { return nil }
        var preflight = plan
        preflight.name += "/preflight"
        preflight.match = RouteMatchPlan(
            path: plan.match.path,
            headers: [
                HeaderMatchPlan(name: "origin", value: .regex(".+")),
                HeaderMatchPlan(name: "access-control-request-method", value: .regex(".+")),
            ],
            queryParameters: plan.match.queryParameters, method: .options)
        return preflight
    }

    /// How clusters of a route are named: `namespace/name`, with `grpc:` in front for a
    /// GRPCRoute (an HTTPRoute may have the same name); its planned routes likewise.
    static func routeName(_ key: ObjectKey) -> String {
        key.kind == .grpcRoute ? "grpc:\(key.namespace)/\(key.name)" : "\(key.namespace)/\(key.name)"
    }

    static func routeMatch(_ match: HTTPRoute.Match) -> RouteMatchPlan {
        let value = match.path?.value ?? "/"
        let path: PathMatch
        switch match.path?.type ?? .pathPrefix {
        case .exact: path = .exact(value)
        case .regularExpression: path = .regex(value)
        default:
            // Gateway API prefixes match whole path segments; a trailing `/` does not
            // change that.
            path = .segmentPrefix(normalizing: value)
        }
        return RouteMatchPlan(
            path: path,
            headers: (match.headers ?? []).map {
                HeaderMatchPlan(name: $0.name.lowercased(), value: stringMatch($0.type, $0.value))
            },
            queryParameters: (match.queryParams ?? []).map { HeaderMatchPlan(name: $0.name, value: stringMatch($0.type, $0.value)) },
            method: match.method)
    }

    static func stringMatch(_ type: StringMatchType?, _ value: String) -> StringMatch {
        type == .regularExpression ? .regex(value) : .exact(value)
    }

    /// Filters and backends of a rule onto a planned route.
    static func apply(
        _ resolved: ResolvedRule, match: HTTPRoute.Match, listener: (port: Int, scheme: String), to plan: inout RoutePlan
    ) {
        let rule = resolved.rule
        var redirect: HTTPRoute.RequestRedirect?
        var rewrite: HTTPRoute.URLRewrite?
        var mirrorIndex = 0
        var mirrors: [MirrorPlan] = []
        for filter in rule.filters ?? [] {
            switch filter.type {
            case .requestHeaderModifier:
                if let modifier = filter.requestHeaderModifier { plan.requestHeaders.apply(modifier) }
            case .responseHeaderModifier:
                if let modifier = filter.responseHeaderModifier { plan.responseHeaders.apply(modifier) }
            case .requestRedirect: redirect = filter.requestRedirect
            case .urlRewrite: rewrite = filter.urlRewrite
            case .cors: plan.cors = filter.cors.map(corsPlan)
            case .requestMirror:
                if let mirror = filter.requestMirror {
                    if mirrorIndex < resolved.mirrors.count, let target = resolved.mirrors[mirrorIndex] {
                        mirrors.append(mirrorPlan(mirror, cluster: target.name))
                    }
                    mirrorIndex += 1
                }
            default: break
            }
        }
        if let failure = resolved.failure {
            plan.action = .respond(DirectResponsePlan(status: 500, body: failure))
            return
        }
        if let redirect {
            plan.action = .redirect(redirectPlan(redirect, match: match, listener: listener))
            return
        }
        let valid = resolved.backends.filter { $0.target != nil && $0.weight > 0 }
        let invalidShare = resolved.backends.filter { $0.target == nil }.reduce(0) { $0 + $1.weight }
        guard !valid.isEmpty else {
            plan.action = .respond(DirectResponsePlan(status: 500, body: noValidBackend))
            return
        }
        var forward = ForwardPlan(
            destinations: valid.map { backend in
                var destination = DestinationPlan(cluster: backend.target!.name, weight: backend.weight)
                for filter in backend.filters {
                    if filter.type == .requestHeaderModifier, let modifier = filter.requestHeaderModifier {
                        destination.requestHeaders.apply(modifier)
                    }
                    if filter.type == .responseHeaderModifier, let modifier = filter.responseHeaderModifier {
                        destination.responseHeaders.apply(modifier)
                    }
                }
                return destination
            },
            invalidShare: invalidShare, mirrors: mirrors)
        if let rewrite {
            forward.hostRewrite = rewrite.hostname
            forward.pathRewrite = rewrite.path.map { pathRewrite($0, match: match) }
        }
        if let timeouts = rule.timeouts {
            forward.timeoutMilliseconds = timeouts.request.flatMap(GatewayDuration.milliseconds(in:))
            forward.backendTimeoutMilliseconds = timeouts.backendRequest.flatMap(GatewayDuration.milliseconds(in:))
        }
        if let session = rule.sessionPersistence {
            plan.session = sessionPlan(session, match: match, route: plan.origin, rule: resolved.index)
            if let shared = resolved.sessionCluster {
                // The valid backends' whole weight, so that invalid ones keep their share.
                forward.destinations = [
                    DestinationPlan(cluster: shared.name, weight: forward.destinations.reduce(0) { $0 + $1.weight })
                ]
            }
        }
        if let retry = rule.retry {
            forward.retry = RetryPlan(
                codes: (retry.codes ?? []).sorted(), attempts: retry.attempts ?? defaultRetryAttempts,
                backoffMilliseconds: retry.backoff.flatMap(GatewayDuration.milliseconds(in:)))
        }
        plan.action = .forward(forward)
    }

    /// A cookie named by `sessionName` (else after the route and rule: rules never share
    /// sessions), for the paths the match covers, expiring after `absoluteTimeout` when
    /// Permanent; or a header of that name.
    static func sessionPlan(_ session: HTTPRoute.SessionPersistence, match: HTTPRoute.Match, route: ObjectKey, rule: Int)
        -> SessionPlan
    {
        let name = session.sessionName ?? "session-\(route.kind == .grpcRoute ? "grpc-" : "")\(route.namespace)-\(route.name)-\(rule)"
        if session.type == .header { return .header(name: name) }
        let path: String
        switch match.path?.type ?? .pathPrefix {
        case .regularExpression: path = "/"
        default: path = match.path?.value ?? "/"
        }
        var ttl: Int64?
        if session.cookieConfig?.lifetimeType == .permanent, let timeout = session.absoluteTimeout,
            let milliseconds = GatewayDuration.milliseconds(in: timeout)
        {
            ttl = max(1, (milliseconds + 999) / 1000)
        }
        return .cookie(name: name, path: path, ttlSeconds: ttl)
    }

    /// Origins as patterns: `*` any; a `*` in the host any run of DNS labels (one or
    /// more, `*.bar.com` covers `a.b.bar.com` but not `bar.com`); a scheme's well-known
    /// port left out, as browsers send it. Methods and headers as listed (`*` alone lets
    /// the proxy echo what the preflight asks for); `maxAge` 5 s unless given.
    static func corsPlan(_ cors: HTTPRoute.CORS) -> CORSPlan {
        CORSPlan(
            allowOrigins: (cors.allowOrigins ?? []).map(originMatch),
            allowMethods: cors.allowMethods ?? [], allowHeaders: cors.allowHeaders ?? [],
            exposeHeaders: (cors.allowCredentials ?? false) && cors.exposeHeaders == ["*"] ? [] : cors.exposeHeaders ?? [],
            maxAgeSeconds: cors.maxAge ?? 5,
            allowCredentials: cors.allowCredentials ?? false)
    }

    static func originMatch(_ origin: String) -> StringMatch {
        if origin == "*" { return .regex(".*") }
        var text = origin
        for (scheme, port) in [("https://", ":443"), ("http://", ":80")] where text.hasPrefix(scheme) && text.hasSuffix(port) {
            text.removeLast(port.count)
        }
        guard text.contains("*") else { return .exact(text) }
        return .regex(
            text.split(separator: "*", omittingEmptySubsequences: false).map { RE2.escape(String($0)) }
                .joined(separator: "[A-Za-z0-9.-]+"))
    }

    /// The spec's port rules: an explicit port is used; else a new scheme's well-known
    /// port; else the listener's port. A port that is the scheme's well-known one is
    /// left out of `Location`.
    static func redirectPlan(
        _ redirect: HTTPRoute.RequestRedirect, match: HTTPRoute.Match, listener: (port: Int, scheme: String)
    ) -> RedirectPlan {
        let scheme = redirect.scheme ?? listener.scheme
        let port = redirect.port ?? (redirect.scheme != nil ? nil : listener.port)
        return RedirectPlan(
            scheme: redirect.scheme, hostname: redirect.hostname,
            port: port.flatMap { $0 == (scheme == "https" ? 443 : 80) ? nil : $0 },
            path: redirect.path.map { pathRewrite($0, match: match) }, statusCode: redirect.statusCode ?? 302)
    }

    static func pathRewrite(_ modifier: HTTPRoute.PathModifier, match: HTTPRoute.Match) -> PathRewrite {
        switch modifier.type {
        case .replaceFullPath: .replaceFull(modifier.replaceFullPath ?? "/")
        default: .replacePrefix(prefix: match.path?.value ?? "/", replacement: modifier.replacePrefixMatch ?? "/")
        }
    }

    /// `percent` out of 100; a `fraction` scaled to a million, so any denominator is
    /// represented exactly enough; all requests when neither is given.
    static func mirrorPlan(_ mirror: HTTPRoute.RequestMirror, cluster: String) -> MirrorPlan {
        if let percent = mirror.percent { return MirrorPlan(cluster: cluster, numerator: percent, denominator: 100) }
        if let part = mirror.fraction {
            let denominator = max(part.denominator ?? 100, 1)
            return MirrorPlan(cluster: cluster, numerator: part.numerator * 1_000_000 / denominator, denominator: 1_000_000)
        }
        return MirrorPlan(cluster: cluster, numerator: 100, denominator: 100)
    }
}

extension HeaderMutation {
    /// A header modifier's `set`, then `add`, then `remove` (names in lower case).
    mutating func apply(_ modifier: HTTPRoute.HeaderModifier) {
        values += (modifier.set ?? []).map { HeaderValue(name: $0.name.lowercased(), value: $0.value, append: false) }
        values += (modifier.add ?? []).map { HeaderValue(name: $0.name.lowercased(), value: $0.value, append: true) }
        remove += (modifier.remove ?? []).map { $0.lowercased() }
    }
}
