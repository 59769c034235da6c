import EnvoyAPI
import GatewayModel
import SwiftProtobuf

/// One Envoy route made from one match of one HTTPRoute rule, with the key the spec
/// orders matches by.
struct RouteEntry: Sendable {
    let precedence: Precedence
    let route: Envoy_Config_Route_V3_Route
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
        return (a.rule, a.match) < (b.rule, b.match)
    }
}

/// Name of the cluster that stands for invalid backends: it never exists, and routes
/// naming it answer 500 (`cluster_not_found_response_code`), as the spec requires for
/// the share of requests that would have gone to an invalid backend.
let invalidBackendCluster = "chancery/invalid-backend"

enum EnvoyRoutes {
    /// The route's entries, reused from `cache` when the route and what it resolved to
    /// are unchanged.
    static func entries(for attached: AttachedRoute, cache: TranslationCache?) -> [RouteEntry] {
        guard let cache else { return entries(for: attached) }
        return cache.entries(for: attached) { entries(for: attached) }
    }

    static func entries(for attached: AttachedRoute) -> [RouteEntry] {
        var entries: [RouteEntry] = []
        for resolved in attached.rules {
            let matches = resolved.rule.matches ?? []
            let effective = matches.isEmpty ? [HTTPRoute.Match(path: HTTPRoute.PathMatch(type: "PathPrefix", value: "/"))] : matches
            for (m, match) in effective.enumerated() {
                let pathType = match.path?.type ?? "PathPrefix"
                let pathValue = match.path?.value ?? "/"
                let precedence = Precedence(
                    pathRank: pathType == "Exact" ? 0 : pathType == "RegularExpression" ? 1 : 2,
                    pathLength: pathValue.count, hasMethod: match.method != nil, headers: match.headers?.count ?? 0,
                    queries: match.queryParams?.count ?? 0, created: attached.object.metadata.creationTimestamp ?? "",
                    namespace: attached.key.namespace, name: attached.key.name, rule: resolved.index, match: m)
                var route = Envoy_Config_Route_V3_Route()
                route.name = "\(attached.key.namespace)/\(attached.key.name)/rule/\(resolved.index)/match/\(m)"
                route.match = routeMatch(match)
                apply(resolved, match: match, listener: (attached.listenerPort, attached.listenerScheme), to: &route)
                entries.append(RouteEntry(precedence: precedence, route: route))
            }
        }
        return entries
    }

    static func routeMatch(_ match: HTTPRoute.Match) -> Envoy_Config_Route_V3_RouteMatch {
        var result = Envoy_Config_Route_V3_RouteMatch()
        let value = match.path?.value ?? "/"
        switch match.path?.type ?? "PathPrefix" {
        case "Exact": result.path = value
        case "RegularExpression": result.safeRegex = regex(value)
        default:
            // Gateway API prefixes match whole path segments: /foo matches /foo and
            // /foo/bar, not /foobar.
            let trimmed = value.count > 1 && value.hasSuffix("/") ? String(value.dropLast()) : value
            if trimmed == "/" { result.prefix = "/" } else { result.pathSeparatedPrefix = trimmed }
        }
        for header in match.headers ?? [] {
            var matcher = Envoy_Config_Route_V3_HeaderMatcher()
            matcher.name = header.name.lowercased()
            matcher.stringMatch = stringMatcher(type: header.type, value: header.value)
            result.headers.append(matcher)
        }
        if let method = match.method {
            var matcher = Envoy_Config_Route_V3_HeaderMatcher()
            matcher.name = ":method"
            matcher.stringMatch = stringMatcher(type: "Exact", value: method)
            result.headers.append(matcher)
        }
        for query in match.queryParams ?? [] {
            var matcher = Envoy_Config_Route_V3_QueryParameterMatcher()
            matcher.name = query.name
            matcher.stringMatch = stringMatcher(type: query.type, value: query.value)
            result.queryParameters.append(matcher)
        }
        return result
    }

    static func stringMatcher(type: String?, value: String) -> Envoy_Type_Matcher_V3_StringMatcher {
        var matcher = Envoy_Type_Matcher_V3_StringMatcher()
        if type == "RegularExpression" { matcher.safeRegex = regex(value) } else { matcher.exact = value }
        return matcher
    }

    /// `literal` as an RE2 pattern that matches exactly it.
    static func escapeRegex(_ literal: String) -> String {
        literal.map { "\\^$.|?*+()[]{}".contains($0) ? "\\\($0)" : String($0) }.joined()
    }

    static func regex(_ pattern: String) -> Envoy_Type_Matcher_V3_RegexMatcher {
        var matcher = Envoy_Type_Matcher_V3_RegexMatcher()
        matcher.regex = pattern
        return matcher
    }

    /// Filters and backends of a rule onto an Envoy route.
    static func apply(
        _ resolved: ResolvedRule, match: HTTPRoute.Match, listener: (port: Int, scheme: String),
        to route: inout Envoy_Config_Route_V3_Route
    ) {
        let rule = resolved.rule
        var redirect: HTTPRoute.RequestRedirect?
        var rewrite: HTTPRoute.URLRewrite?
        var mirrorIndex = 0
        var mirrors: [Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy] = []
        for filter in rule.filters ?? [] {
            switch filter.type {
            case "RequestHeaderModifier":
                if let modifier = filter.requestHeaderModifier {
                    route.requestHeadersToAdd += headerOptions(modifier)
                    route.requestHeadersToRemove += (modifier.remove ?? []).map { $0.lowercased() }
                }
            case "ResponseHeaderModifier":
                if let modifier = filter.responseHeaderModifier {
                    route.responseHeadersToAdd += headerOptions(modifier)
                    route.responseHeadersToRemove += (modifier.remove ?? []).map { $0.lowercased() }
                }
            case "RequestRedirect": redirect = filter.requestRedirect
            case "URLRewrite": rewrite = filter.urlRewrite
            case "RequestMirror":
                if let mirror = filter.requestMirror {
                    if mirrorIndex < resolved.mirrors.count, let cluster = resolved.mirrors[mirrorIndex] {
                        mirrors.append(mirrorPolicy(mirror, cluster: cluster))
                    }
                    mirrorIndex += 1
                }
            default: break
            }
        }
        if let failure = resolved.failure {
            route.directResponse = directResponse(500, failure)
            return
        }
        if let redirect {
            route.redirect = redirectAction(redirect, match: match, listener: listener)
            return
        }
        let valid = resolved.backends.filter { $0.cluster != nil && $0.weight > 0 }
        let invalidWeight = resolved.backends.filter { $0.cluster == nil }.reduce(0) { $0 + $1.weight }
        guard !valid.isEmpty else {
            route.directResponse = directResponse(500, "no valid backend for this route")
            return
        }
        var action = Envoy_Config_Route_V3_RouteAction()
        if valid.count == 1, invalidWeight == 0, valid[0].filters.isEmpty {
            action.cluster = valid[0].cluster!.name
        } else {
            var weighted = Envoy_Config_Route_V3_WeightedCluster()
            for backend in valid {
                var entry = Envoy_Config_Route_V3_WeightedCluster.ClusterWeight()
                entry.name = backend.cluster!.name
                entry.weight = Google_Protobuf_UInt32Value(UInt32(backend.weight))
                for filter in backend.filters {
                    if filter.type == "RequestHeaderModifier", let modifier = filter.requestHeaderModifier {
                        entry.requestHeadersToAdd += headerOptions(modifier)
                        entry.requestHeadersToRemove += (modifier.remove ?? []).map { $0.lowercased() }
                    }
                    if filter.type == "ResponseHeaderModifier", let modifier = filter.responseHeaderModifier {
                        entry.responseHeadersToAdd += headerOptions(modifier)
                        entry.responseHeadersToRemove += (modifier.remove ?? []).map { $0.lowercased() }
                    }
                }
                weighted.clusters.append(entry)
            }
            if invalidWeight > 0 {
                var entry = Envoy_Config_Route_V3_WeightedCluster.ClusterWeight()
                entry.name = invalidBackendCluster
                entry.weight = Google_Protobuf_UInt32Value(UInt32(invalidWeight))
                weighted.clusters.append(entry)
                action.clusterNotFoundResponseCode = .internalServerError
            }
            action.weightedClusters = weighted
        }
        if let rewrite { applyRewrite(rewrite, match: match, to: &action) }
        action.requestMirrorPolicies = mirrors
        if let timeouts = rule.timeouts {
            if let request = timeouts.request.flatMap(Durations.parse) { action.timeout = request }
            if let backend = timeouts.backendRequest.flatMap(Durations.parse) {
                var retry = Envoy_Config_Route_V3_RetryPolicy()
                retry.numRetries = Google_Protobuf_UInt32Value(0)
                retry.perTryTimeout = backend
                action.retryPolicy = retry
            }
        }
        route.route = action
    }

    static func headerOptions(_ modifier: HTTPRoute.HeaderModifier) -> [Envoy_Config_Core_V3_HeaderValueOption] {
        func option(_ header: HTTPRoute.Header, _ action: Envoy_Config_Core_V3_HeaderValueOption.HeaderAppendAction)
            -> Envoy_Config_Core_V3_HeaderValueOption
        {
            var value = Envoy_Config_Core_V3_HeaderValue()
            value.key = header.name.lowercased()
            value.value = header.value
            var result = Envoy_Config_Core_V3_HeaderValueOption()
            result.header = value
            result.appendAction = action
            return result
        }
        return (modifier.set ?? []).map { option($0, .overwriteIfExistsOrAdd) }
            + (modifier.add ?? []).map { option($0, .appendIfExistsOrAdd) }
    }

    static func directResponse(_ status: UInt32, _ body: String) -> Envoy_Config_Route_V3_DirectResponseAction {
        var response = Envoy_Config_Route_V3_DirectResponseAction()
        response.status = status
        var source = Envoy_Config_Core_V3_DataSource()
        source.inlineString = body + "\n"
        response.body = source
        return response
    }

    /// The spec's port rules: an explicit port is used; else a new scheme's well-known
    /// port; else the listener's port. A port that is the scheme's well-known one is
    /// left out of `Location`. (Host ports are stripped before routing, so Envoy adds a
    /// port only when told to.)
    static func redirectAction(
        _ redirect: HTTPRoute.RequestRedirect, match: HTTPRoute.Match, listener: (port: Int, scheme: String)
    ) -> Envoy_Config_Route_V3_RedirectAction {
        var action = Envoy_Config_Route_V3_RedirectAction()
        if let scheme = redirect.scheme { action.schemeRedirect = scheme }
        if let hostname = redirect.hostname { action.hostRedirect = hostname }
        let scheme = redirect.scheme ?? listener.scheme
        let port = redirect.port ?? (redirect.scheme != nil ? nil : listener.port)
        if let port, port != (scheme == "https" ? 443 : 80) { action.portRedirect = UInt32(port) }
        switch redirect.statusCode ?? 302 {
        case 301: action.responseCode = .movedPermanently
        case 303: action.responseCode = .seeOther
        case 307: action.responseCode = .temporaryRedirect
        case 308: action.responseCode = .permanentRedirect
        default: action.responseCode = .found
        }
        if let path = redirect.path {
            switch path.type {
            case "ReplaceFullPath": action.pathRedirect = path.replaceFullPath ?? "/"
            default:
                switch prefixRewrite(path, match: match) {
                case .literal(let replacement): action.prefixRewrite = replacement
                case .regex(let regex): action.regexRewrite = regex
                }
            }
        }
        return action
    }

    static func applyRewrite(
        _ rewrite: HTTPRoute.URLRewrite, match: HTTPRoute.Match, to action: inout Envoy_Config_Route_V3_RouteAction
    ) {
        if let hostname = rewrite.hostname { action.hostRewriteLiteral = hostname }
        guard let path = rewrite.path else { return }
        switch path.type {
        case "ReplaceFullPath":
            var regex = Envoy_Type_Matcher_V3_RegexMatchAndSubstitute()
            regex.pattern = EnvoyRoutes.regex("^/.*$")
            regex.substitution = path.replaceFullPath ?? "/"
            action.regexRewrite = regex
        default:
            switch prefixRewrite(path, match: match) {
            case .literal(let replacement): action.prefixRewrite = replacement
            case .regex(let regex): action.regexRewrite = regex
            }
        }
    }

    enum PrefixRewrite {
        case literal(String)
        case regex(Envoy_Type_Matcher_V3_RegexMatchAndSubstitute)
    }

    /// `ReplacePrefixMatch` for redirects and rewrites alike: Envoy's plain prefix
    /// rewrite where it is exact, a regex where a `/` would be doubled or lost.
    static func prefixRewrite(_ path: HTTPRoute.PathModifier, match: HTTPRoute.Match) -> PrefixRewrite {
        let prefix = match.path?.value ?? "/"
        let replacement = path.replacePrefixMatch ?? "/"
        if replacement == "/" || prefix == "/" {
            return .regex(prefixRegex(prefix: prefix, replacement: replacement))
        }
        return .literal(replacement)
    }

    /// Replaces a matched path prefix without doubling or losing the `/` between the
    /// replacement and the rest of the path (`/foo/bar` with `/foo` → `/` gives `/bar`).
    static func prefixRegex(prefix: String, replacement: String) -> Envoy_Type_Matcher_V3_RegexMatchAndSubstitute {
        let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        var regex = Envoy_Type_Matcher_V3_RegexMatchAndSubstitute()
        regex.pattern = EnvoyRoutes.regex("^" + escapeRegex(trimmed) + "(/|$)(.*)")
        let base = replacement.hasSuffix("/") ? String(replacement.dropLast()) : replacement
        regex.substitution = base + "/\\2"
        return regex
    }

    static func mirrorPolicy(_ mirror: HTTPRoute.RequestMirror, cluster: BackendCluster)
        -> Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy
    {
        var policy = Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy()
        policy.cluster = cluster.name
        var fraction = Envoy_Type_V3_FractionalPercent()
        if let percent = mirror.percent {
            fraction.numerator = UInt32(percent)
            fraction.denominator = .hundred
        } else if let part = mirror.fraction {
            // Scale to a million so any denominator is represented exactly enough.
            let denominator = max(part.denominator ?? 100, 1)
            fraction.numerator = UInt32(part.numerator * 1_000_000 / denominator)
            fraction.denominator = .million
        } else {
            fraction.numerator = 100
            fraction.denominator = .hundred
        }
        var runtime = Envoy_Config_Core_V3_RuntimeFractionalPercent()
        runtime.defaultValue = fraction
        policy.runtimeFraction = runtime
        return policy
    }
}

/// Gateway API durations as protobuf Durations.
enum Durations {
    static func parse(_ text: String) -> Google_Protobuf_Duration? {
        guard let millis = GatewayDuration.milliseconds(in: text) else { return nil }
        return Google_Protobuf_Duration(seconds: millis / 1000, nanos: Int32(millis % 1000) * 1_000_000)
    }
}
