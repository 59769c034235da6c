import EnvoyAPI
import IR
import SwiftProtobuf

/// Planned routes as Envoy routes: matches, header changes, and the action — forward
/// (weighted clusters, rewrites, mirrors, timeouts), redirect or a direct response.
enum Routes {
    /// Name of the cluster that stands for invalid backends: it never exists, and routes
    /// naming it answer 500 (`cluster_not_found_response_code`).
    static let invalidBackendCluster = "chancery/invalid-backend"

    static func route(_ plan: RoutePlan, filters: [any HTTPFilter]) -> Envoy_Config_Route_V3_Route {
        var route = Envoy_Config_Route_V3_Route()
        route.name = plan.name
        route.match = match(plan.match)
        route.requestHeadersToAdd = headerOptions(plan.requestHeaders)
        route.requestHeadersToRemove = plan.requestHeaders.remove
        route.responseHeadersToAdd = headerOptions(plan.responseHeaders)
        route.responseHeadersToRemove = plan.responseHeaders.remove
        switch plan.action {
        case .forward(let forward): route.route = action(forward)
        case .redirect(let redirect): route.redirect = self.redirect(redirect)
        case .respond(let response): route.directResponse = directResponse(response)
        }
        for filter in filters {
            if let config = filter.routeConfig(for: plan) { route.typedPerFilterConfig[filter.name] = config }
        }
        return route
    }

    static func match(_ plan: RouteMatchPlan) -> Envoy_Config_Route_V3_RouteMatch {
        var result = Envoy_Config_Route_V3_RouteMatch()
        switch plan.path {
        case .exact(let path): result.path = path
        case .regex(let pattern): result.safeRegex = regex(pattern)
        case .segmentPrefix(let prefix):
            if prefix == "/" { result.prefix = "/" } else { result.pathSeparatedPrefix = prefix }
        }
        for header in plan.headers {
            var matcher = Envoy_Config_Route_V3_HeaderMatcher()
            matcher.name = header.name
            matcher.stringMatch = stringMatcher(header.value)
            result.headers.append(matcher)
        }
        if let method = plan.method {
            var matcher = Envoy_Config_Route_V3_HeaderMatcher()
            matcher.name = ":method"
            matcher.stringMatch = stringMatcher(.exact(method.rawValue))
            result.headers.append(matcher)
        }
        for query in plan.queryParameters {
            var matcher = Envoy_Config_Route_V3_QueryParameterMatcher()
            matcher.name = query.name
            matcher.stringMatch = stringMatcher(query.value)
            result.queryParameters.append(matcher)
        }
        return result
    }

    static func stringMatcher(_ match: StringMatch) -> Envoy_Type_Matcher_V3_StringMatcher {
        var matcher = Envoy_Type_Matcher_V3_StringMatcher()
        switch match {
        case .exact(let value): matcher.exact = value
        case .regex(let pattern): matcher.safeRegex = regex(pattern)
        }
        return matcher
    }

    static func regexSubstitution(_ pattern: String, _ substitution: String) -> Envoy_Type_Matcher_V3_RegexMatchAndSubstitute {
        var rewrite = Envoy_Type_Matcher_V3_RegexMatchAndSubstitute()
        rewrite.pattern = regex(pattern)
        rewrite.substitution = substitution
        return rewrite
    }

    static func regex(_ pattern: String) -> Envoy_Type_Matcher_V3_RegexMatcher {
        var matcher = Envoy_Type_Matcher_V3_RegexMatcher()
        matcher.regex = pattern
        return matcher
    }

    /// One cluster when there is one destination and nothing per backend; else weighted
    /// clusters, with the invalid share on a cluster that does not exist (500).
    static func action(_ plan: ForwardPlan) -> Envoy_Config_Route_V3_RouteAction {
        var action = Envoy_Config_Route_V3_RouteAction()
        if plan.destinations.count == 1, plan.invalidShare == 0, plan.destinations[0].requestHeaders.isEmpty,
            plan.destinations[0].responseHeaders.isEmpty
        {
            action.cluster = plan.destinations[0].cluster
        } else {
            var weighted = Envoy_Config_Route_V3_WeightedCluster()
            for destination in plan.destinations {
                var entry = Envoy_Config_Route_V3_WeightedCluster.ClusterWeight()
                entry.name = destination.cluster
                entry.weight = Google_Protobuf_UInt32Value(UInt32(destination.weight))
                entry.requestHeadersToAdd = headerOptions(destination.requestHeaders)
                entry.requestHeadersToRemove = destination.requestHeaders.remove
                entry.responseHeadersToAdd = headerOptions(destination.responseHeaders)
                entry.responseHeadersToRemove = destination.responseHeaders.remove
                weighted.clusters.append(entry)
            }
            if plan.invalidShare > 0 {
                var entry = Envoy_Config_Route_V3_WeightedCluster.ClusterWeight()
                entry.name = invalidBackendCluster
                entry.weight = Google_Protobuf_UInt32Value(UInt32(plan.invalidShare))
                weighted.clusters.append(entry)
                action.clusterNotFoundResponseCode = .internalServerError
            }
            action.weightedClusters = weighted
        }
        if let host = plan.hostRewrite { action.hostRewriteLiteral = host }
        switch plan.pathRewrite {
        case .replaceFull(let path)?:
            action.regexRewrite = regexSubstitution("^/.*$", path)
        case .replacePrefix(let prefix, let replacement)?:
            switch prefixRewrite(prefix: prefix, replacement: replacement) {
            case .literal(let literal): action.prefixRewrite = literal
            case .regex(let regex): action.regexRewrite = regex
            }
        case .regex(let pattern, let substitution)?:
            action.regexRewrite = regexSubstitution(pattern, substitution)
        case nil: break
        }
        action.requestMirrorPolicies = plan.mirrors.map(mirrorPolicy)
        if let timeout = plan.timeoutMilliseconds { action.timeout = duration(timeout) }
        if let hash = plan.hashPolicy { action.hashPolicy = [BackendTraffic.hashPolicy(hash)] }
        if let idle = plan.idleTimeoutMilliseconds { action.idleTimeout = duration(idle) }
        if plan.retry != nil || plan.backendTimeoutMilliseconds != nil {
            action.retryPolicy = retryPolicy(plan.retry, perTryMilliseconds: plan.backendTimeoutMilliseconds)
        }
        return action
    }

    /// Retries as planned; without them, a per-attempt timeout with no retries bounds
    /// each request to the backend. Connection failures, refused streams and resets
    /// (which include an attempt that ran out of time) are always retried, status codes
    /// when listed.
    static func retryPolicy(_ plan: RetryPlan?, perTryMilliseconds: Int64?) -> Envoy_Config_Route_V3_RetryPolicy {
        var retry = Envoy_Config_Route_V3_RetryPolicy()
        if let perTryMilliseconds { retry.perTryTimeout = duration(perTryMilliseconds) }
        guard let plan else {
            retry.numRetries = Google_Protobuf_UInt32Value(0)
            return retry
        }
        var conditions = plan.triggers ?? ["connect-failure", "refused-stream", "reset"]
        if !plan.codes.isEmpty, !conditions.contains("retriable-status-codes") {
            conditions.append("retriable-status-codes")
        }
        retry.retriableStatusCodes = plan.codes.map(UInt32.init)
        retry.retryOn = conditions.joined(separator: ",")
        retry.numRetries = Google_Protobuf_UInt32Value(UInt32(plan.attempts))
        if let backoff = plan.backoffMilliseconds, backoff > 0 {
            var policy = Envoy_Config_Route_V3_RetryPolicy.RetryBackOff()
            policy.baseInterval = duration(backoff)
            policy.maxInterval = duration(max(plan.maxBackoffMilliseconds ?? backoff * 10, backoff))
            retry.retryBackOff = policy
        }
        return retry
    }

    static func headerOptions(_ mutation: HeaderMutation) -> [Envoy_Config_Core_V3_HeaderValueOption] {
        mutation.values.map { header in
            var value = Envoy_Config_Core_V3_HeaderValue()
            value.key = header.name
            value.value = header.value
            var option = Envoy_Config_Core_V3_HeaderValueOption()
            option.header = value
            option.appendAction = header.append ? .appendIfExistsOrAdd : .overwriteIfExistsOrAdd
            return option
        }
    }

    static func directResponse(_ plan: DirectResponsePlan) -> Envoy_Config_Route_V3_DirectResponseAction {
        var response = Envoy_Config_Route_V3_DirectResponseAction()
        response.status = UInt32(plan.status)
        var source = Envoy_Config_Core_V3_DataSource()
        source.inlineString = plan.body + "\n"
        response.body = source
        return response
    }

    static func redirect(_ plan: RedirectPlan) -> Envoy_Config_Route_V3_RedirectAction {
        var action = Envoy_Config_Route_V3_RedirectAction()
        if let scheme = plan.scheme { action.schemeRedirect = scheme }
        if let hostname = plan.hostname { action.hostRedirect = hostname }
        action.stripQuery = plan.stripQuery
        if let port = plan.port {
            action.portRedirect = UInt32(port)
        } else if let scheme = plan.scheme, plan.hostname == nil {
            // The new scheme's well-known port replaces any port the Host carried (Envoy
            // then writes it out, `https://host:443/`, which the spec allows). A new
            // hostname replaces the whole authority, port included.
            action.portRedirect = scheme == "https" ? 443 : 80
        }
        switch plan.statusCode {
        case 301: action.responseCode = .movedPermanently
        case 303: action.responseCode = .seeOther
        case 307: action.responseCode = .temporaryRedirect
        case 308: action.responseCode = .permanentRedirect
        default: action.responseCode = .found
        }
        switch plan.path {
        case .replaceFull(let path)?: action.pathRedirect = path
        case .replacePrefix(let prefix, let replacement)?:
            switch prefixRewrite(prefix: prefix, replacement: replacement) {
            case .literal(let literal): action.prefixRewrite = literal
            case .regex(let regex): action.regexRewrite = regex
            }
        case .regex(let pattern, let substitution)?:
            action.regexRewrite = regexSubstitution(pattern, substitution)
        case nil: break
        }
        return action
    }

    enum PrefixRewrite {
        case literal(String)
        case regex(Envoy_Type_Matcher_V3_RegexMatchAndSubstitute)
    }

    /// Envoy's plain prefix rewrite where it is exact; a regex where it would double or
    /// lose the `/` between the replacement and the rest of the path (`/foo/bar` with
    /// `/foo` → `/` gives `/bar`).
    static func prefixRewrite(prefix: String, replacement: String) -> PrefixRewrite {
        guard let rewrite = RE2.prefixRewrite(prefix: prefix, replacement: replacement) else { return .literal(replacement) }
        return .regex(regexSubstitution(rewrite.pattern, rewrite.substitution))
    }

    static func mirrorPolicy(_ plan: MirrorPlan) -> Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy {
        var policy = Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy()
        policy.cluster = plan.cluster
        var fraction = Envoy_Type_V3_FractionalPercent()
        fraction.numerator = UInt32(plan.numerator)
        fraction.denominator = plan.denominator == 100 ? .hundred : .million
        var runtime = Envoy_Config_Core_V3_RuntimeFractionalPercent()
        runtime.defaultValue = fraction
        policy.runtimeFraction = runtime
        return policy
    }

    static func duration(_ milliseconds: Int64) -> Google_Protobuf_Duration {
        Google_Protobuf_Duration(seconds: milliseconds / 1000, nanos: Int32(milliseconds % 1000) * 1_000_000)
    }
}
