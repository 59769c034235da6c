import EnvoyAPI
import GatewayModel
import IR
import SwiftProtobuf

// The HTTP filters of SecurityPolicy and BackendTrafficPolicy features. Each is in a
// listener's chain only when one of its routes needs it, configured there to do
// nothing (or disabled), and configured per route.

/// Fault injection: delays and aborts for a share of a route's requests.
struct FaultFilter: HTTPFilter {
    let name = "envoy.filters.http.fault"

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        guard listener.hasRoute(where: { $0.policies?.fault != nil }) else { return nil }
        return try! .packing(Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault())
    }

    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
        guard let plan = route.policies?.fault else { return nil }
        var fault = Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault()
        if let delay = plan.delayMilliseconds {
            var config = Envoy_Extensions_Filters_Common_Fault_V3_FaultDelay()
            config.fixedDelay = Routes.duration(delay)
            config.percentage = Self.share(plan.delayShare)
            fault.delay = config
        }
        if plan.abortHTTPStatus != nil || plan.abortGRPCStatus != nil {
            var abort = Envoy_Extensions_Filters_Http_Fault_V3_FaultAbort()
            if let status = plan.abortHTTPStatus { abort.httpStatus = UInt32(status) }
            if let status = plan.abortGRPCStatus { abort.grpcStatus = UInt32(status) }
            abort.percentage = Self.share(plan.abortShare)
            fault.abort = abort
        }
        return try! .packing(fault)
    }

    static func share(_ partsPerMillion: Int) -> Envoy_Type_V3_FractionalPercent {
        var percent = Envoy_Type_V3_FractionalPercent()
        percent.numerator = UInt32(max(0, partsPerMillion))
        percent.denominator = .million
        return percent
    }
}

/// API keys: Envoy's api_key_auth filter, disabled on the listener and enabled with the
/// route's clients and key sources. A request without a known key gets 401.
struct APIKeyAuthFilter: HTTPFilter {
    let name = "envoy.filters.http.api_key_auth"
    let disabledByDefault = true

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        guard listener.hasRoute(where: { $0.policies?.apiKeyAuth != nil }) else { return nil }
        return try! .packing(Envoy_Extensions_Filters_Http_ApiKeyAuth_V3_ApiKeyAuth())
    }

    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
        guard let plan = route.policies?.apiKeyAuth else { return nil }
        var config = Envoy_Extensions_Filters_Http_ApiKeyAuth_V3_ApiKeyAuthPerRoute()
        config.credentials = plan.credentials.map { credential in
            var entry = Envoy_Extensions_Filters_Http_ApiKeyAuth_V3_Credential()
            entry.key = credential.key
            entry.client = credential.client
            return entry
        }
        config.keySources = plan.sources.map { source in
            var entry = Envoy_Extensions_Filters_Http_ApiKeyAuth_V3_KeySource()
            switch source {
            case .header(let name): entry.header = name
            case .query(let name): entry.query = name
            case .cookie(let name): entry.cookie = name
            }
            return entry
        }
        if plan.forwardClientIDHeader != nil || plan.sanitize {
            var forwarding = Envoy_Extensions_Filters_Http_ApiKeyAuth_V3_Forwarding()
            forwarding.header = plan.forwardClientIDHeader ?? ""
            forwarding.hideCredentials = plan.sanitize
            config.forwarding = forwarding
        }
        return try! .packing(config)
    }
}

/// Basic auth: Envoy's basic_auth filter, disabled on the listener and enabled with the
/// route's users. A request without a listed user and password gets 401.
struct BasicAuthFilter: HTTPFilter {
    let name = "envoy.filters.http.basic_auth"
    let disabledByDefault = true

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        var first: BasicAuthPlan?
        _ = listener.hasRoute { route in
            first = route.policies?.basicAuth
            return first != nil
        }
        guard let first else { return nil }
        var config = Envoy_Extensions_Filters_Http_BasicAuth_V3_BasicAuth()
        config.users = Self.users(first)
        return try! .packing(config)
    }

    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
        guard let plan = route.policies?.basicAuth else { return nil }
        var config = Envoy_Extensions_Filters_Http_BasicAuth_V3_BasicAuthPerRoute()
        config.users = Self.users(plan)
        return try! .packing(config)
    }

    static func users(_ plan: BasicAuthPlan) -> Envoy_Config_Core_V3_DataSource {
        var source = Envoy_Config_Core_V3_DataSource()
        source.inlineString = plan.htpasswd
        return source
    }
}

/// Authorization: Envoy's RBAC filter, doing nothing on the listener, and per route one
/// RBAC decision equivalent to the ordered rules (first match wins). With a default of
/// deny, it allows what some Allow rule matches before any Deny rule does; with a
/// default of allow, it denies what some Deny rule matches before any Allow rule does.
/// Denied requests get 403. The client address is the one the listener determines
/// (`remote_ip`: the connection's peer, or what trusted forwarding headers say).
struct AuthorizationFilter: HTTPFilter {
    /// Not Envoy's default name: the filter of ingress-nginx source ranges has that.
    let name = "envoy.filters.http.rbac/authorization"

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        guard listener.hasRoute(where: { $0.policies?.authorization != nil }) else { return nil }
        return try! .packing(Envoy_Extensions_Filters_Http_Rbac_V3_RBAC())
    }

    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
        guard let plan = route.policies?.authorization else { return nil }
        var rbac = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC()
        rbac.rules = Self.rules(plan)
        var perRoute = Envoy_Extensions_Filters_Http_Rbac_V3_RBACPerRoute()
        perRoute.rbac = rbac
        return try! .packing(perRoute)
    }

    /// The RBAC decision equivalent to the ordered rules.
    static func rules(_ plan: AuthorizationPlan) -> Envoy_Config_Rbac_V3_RBAC {
        var rules = Envoy_Config_Rbac_V3_RBAC()
        rules.action = plan.defaultAllow ? .deny : .allow
        // The rules that decide against the default, each unless an earlier rule of the
        // other action matched first.
        var earlier: [Envoy_Config_Rbac_V3_Principal] = []
        var deciding: [Envoy_Config_Rbac_V3_Principal] = []
        for rule in plan.rules {
            let condition = Self.principal(rule)
            if rule.allow == plan.defaultAllow {
                earlier.append(condition)
            } else {
                deciding.append(earlier.isEmpty ? condition : Self.all([condition, Self.not(Self.any(earlier))]))
            }
        }
        if !deciding.isEmpty {
            var permission = Envoy_Config_Rbac_V3_Permission()
            permission.any = true
            var policy = Envoy_Config_Rbac_V3_Policy()
            policy.permissions = [permission]
            policy.principals = [Self.any(deciding)]
            rules.policies = [plan.defaultAllow ? "deny" : "allow": policy]
        }
        return rules
    }

    /// The network RBAC filter of a TCP chain: connections the rules deny are closed.
    static func network(_ plan: AuthorizationPlan, statPrefix: String) -> Envoy_Config_Listener_V3_Filter {
        var rbac = Envoy_Extensions_Filters_Network_Rbac_V3_RBAC()
        rbac.statPrefix = statPrefix
        rbac.rules = rules(plan)
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.rbac"
        filter.typedConfig = try! .packing(rbac)
        return filter
    }

    /// Every condition of a rule (a rule with none matches every request).
    static func principal(_ rule: AuthorizationRulePlan) -> Envoy_Config_Rbac_V3_Principal {
        var parts: [Envoy_Config_Rbac_V3_Principal] = []
        if !rule.methods.isEmpty {
            parts.append(any(rule.methods.map { header(":method", exact: $0) }))
        }
        if let path = rule.path {
            let match = self.path(path.match)
            parts.append(path.invert ? not(match) : match)
        }
        if !rule.clientAddresses.isEmpty {
            parts.append(
                any(
                    rule.clientAddresses.map { range in
                        var cidr = Envoy_Config_Core_V3_CidrRange()
                        cidr.addressPrefix = range.maskedAddress
                        cidr.prefixLen = Google_Protobuf_UInt32Value(UInt32(range.prefixLength))
                        var principal = Envoy_Config_Rbac_V3_Principal()
                        principal.remoteIp = cidr
                        return principal
                    }))
        }
        for header in rule.headers {
            parts.append(any(header.values.map { self.header(header.name, exact: $0) }))
        }
        if let condition = rule.jwt { parts.append(jwt(condition)) }
        if parts.isEmpty {
            var principal = Envoy_Config_Rbac_V3_Principal()
            principal.any = true
            return principal
        }
        return all(parts)
    }

    /// The path without its query: whole segments for a prefix, as routes match.
    static func path(_ match: PathMatch) -> Envoy_Config_Rbac_V3_Principal {
        func principal(_ string: Envoy_Type_Matcher_V3_StringMatcher) -> Envoy_Config_Rbac_V3_Principal {
            var matcher = Envoy_Type_Matcher_V3_PathMatcher()
            matcher.path = string
            var principal = Envoy_Config_Rbac_V3_Principal()
            principal.urlPath = matcher
            return principal
        }
        var string = Envoy_Type_Matcher_V3_StringMatcher()
        switch match {
        case .exact(let path):
            string.exact = path
            return principal(string)
        case .regex(let pattern):
            string.safeRegex = Routes.regex(pattern)
            return principal(string)
        case .segmentPrefix(let prefix):
            if prefix == "/" {
                var principal = Envoy_Config_Rbac_V3_Principal()
                principal.any = true
                return principal
            }
            string.exact = prefix
            var below = Envoy_Type_Matcher_V3_StringMatcher()
            below.prefix = prefix + "/"
            return any([principal(string), principal(below)])
        }
    }

    static func header(_ name: String, exact value: String) -> Envoy_Config_Rbac_V3_Principal {
        var matcher = Envoy_Config_Route_V3_HeaderMatcher()
        matcher.name = name
        matcher.stringMatch = Routes.stringMatcher(.exact(value))
        var principal = Envoy_Config_Rbac_V3_Principal()
        principal.header = matcher
        return principal
    }

    static func any(_ principals: [Envoy_Config_Rbac_V3_Principal]) -> Envoy_Config_Rbac_V3_Principal {
        if principals.count == 1 { return principals[0] }
        var set = Envoy_Config_Rbac_V3_Principal.Set()
        set.ids = principals
        var principal = Envoy_Config_Rbac_V3_Principal()
        principal.orIds = set
        return principal
    }

    static func all(_ principals: [Envoy_Config_Rbac_V3_Principal]) -> Envoy_Config_Rbac_V3_Principal {
        if principals.count == 1 { return principals[0] }
        var set = Envoy_Config_Rbac_V3_Principal.Set()
        set.ids = principals
        var principal = Envoy_Config_Rbac_V3_Principal()
        principal.andIds = set
        return principal
    }

    static func not(_ inner: Envoy_Config_Rbac_V3_Principal) -> Envoy_Config_Rbac_V3_Principal {
        var principal = Envoy_Config_Rbac_V3_Principal()
        principal.notID = inner
        return principal
    }
}

/// Local rate limits: Envoy's local_ratelimit filter, limiting nothing on the listener,
/// and per route its token buckets — the route's default and one per rule (per distinct
/// value for distinct selectors), each rule's descriptor made by the route's own
/// rate-limit actions. Over a limit: 429; answers carry `x-ratelimit-*` headers.
struct LocalRateLimitFilter: HTTPFilter {
    let name = "envoy.filters.http.local_ratelimit"
    static let statPrefix = "http_local_rate_limiter"
    /// Buckets kept per distinct value (per client address, per header value).
    static let maxDynamicDescriptors: UInt32 = 10_000

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        guard listener.hasRoute(where: { $0.policies?.rateLimit != nil }) else { return nil }
        var config = Envoy_Extensions_Filters_Http_LocalRatelimit_V3_LocalRateLimit()
        config.statPrefix = Self.statPrefix
        return try! .packing(config)
    }

    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
        guard let plan = route.policies?.rateLimit else { return nil }
        var config = Envoy_Extensions_Filters_Http_LocalRatelimit_V3_LocalRateLimit()
        config.statPrefix = Self.statPrefix
        config.tokenBucket = Self.bucket(plan.defaultLimit ?? RateLimitValue(requests: Int(UInt32.max), seconds: 1))
        config.filterEnabled = Self.always
        config.filterEnforced = Self.always
        config.enableXRatelimitHeaders = .draftVersion03
        config.alwaysConsumeDefaultTokenBucket = Google_Protobuf_BoolValue(false)
        if plan.rules.contains(where: { rule in rule.conditions.contains { $0.isDistinct } }) {
            config.maxDynamicDescriptors = Google_Protobuf_UInt32Value(Self.maxDynamicDescriptors)
        }
        for (index, rule) in plan.rules.enumerated() {
            let (actions, entries) = Self.descriptor(rule, index: index)
            var limit = Envoy_Config_Route_V3_RateLimit()
            limit.actions = actions
            config.rateLimits.append(limit)
            var descriptor = Envoy_Extensions_Common_Ratelimit_V3_LocalRateLimitDescriptor()
            descriptor.entries = entries
            descriptor.tokenBucket = Self.bucket(rule.limit)
            config.descriptors.append(descriptor)
        }
        return try! .packing(config)
    }

    static var always: Envoy_Config_Core_V3_RuntimeFractionalPercent {
        var percent = Envoy_Type_V3_FractionalPercent()
        percent.numerator = 100
        percent.denominator = .hundred
        var runtime = Envoy_Config_Core_V3_RuntimeFractionalPercent()
        runtime.defaultValue = percent
        runtime.runtimeKey = "\(statPrefix)_enabled"
        return runtime
    }

    static func bucket(_ limit: RateLimitValue) -> Envoy_Type_V3_TokenBucket {
        var bucket = Envoy_Type_V3_TokenBucket()
        bucket.maxTokens = UInt32(clamping: limit.requests)
        bucket.tokensPerFill = Google_Protobuf_UInt32Value(UInt32(clamping: limit.requests))
        bucket.fillInterval = Routes.duration(Int64(limit.seconds) * 1000)
        return bucket
    }

    typealias Action = Envoy_Config_Route_V3_RateLimit.Action
    typealias Entry = Envoy_Extensions_Common_Ratelimit_V3_RateLimitDescriptor.Entry

    /// A rule's actions (what Envoy makes a request's descriptor from) and the
    /// descriptor entries its bucket matches, in the same order: one entry for all the
    /// rule's header, method and path conditions, one per client range, one per
    /// distinct header or address (an empty value: a bucket per value).
    static func descriptor(_ rule: RateLimitRulePlan, index: Int) -> ([Action], [Entry]) {
        var actions: [Action] = []
        var entries: [Entry] = []
        func entry(_ key: String, _ value: String) {
            var entry = Entry()
            entry.key = key
            entry.value = value
            entries.append(entry)
        }
        var headers: [Envoy_Config_Route_V3_HeaderMatcher] = []
        for condition in rule.conditions {
            switch condition {
            case .header(let name, let value, let invert):
                var matcher = Envoy_Config_Route_V3_HeaderMatcher()
                matcher.name = name
                matcher.stringMatch = Routes.stringMatcher(value)
                matcher.invertMatch = invert
                headers.append(matcher)
            case .methods(let methods, let invert):
                var matcher = Envoy_Config_Route_V3_HeaderMatcher()
                matcher.name = ":method"
                matcher.stringMatch = Routes.stringMatcher(
                    methods.count == 1 ? .exact(methods[0]) : .regex(methods.map(RE2.escape).joined(separator: "|")))
                matcher.invertMatch = invert
                headers.append(matcher)
            case .path(let match, let invert):
                var matcher = Envoy_Config_Route_V3_HeaderMatcher()
                matcher.name = ":path"
                matcher.stringMatch = Routes.stringMatcher(.regex(RateLimitRulePlan.pathPattern(match)))
                matcher.invertMatch = invert
                headers.append(matcher)
            case .clientAddress, .distinctHeader, .distinctClientAddress:
                break
            }
        }
        let key = "rule-\(index)"
        // Every rule's descriptor starts with its own entry: two rules with the same
        // conditions (the same client range) would otherwise have the same descriptor,
        // which Envoy refuses.
        var generic = Action.GenericKey()
        generic.descriptorKey = "rule"
        generic.descriptorValue = key
        var first = Action()
        first.genericKey = generic
        actions.append(first)
        entry("rule", key)
        if !headers.isEmpty {
            var match = Action.HeaderValueMatch()
            match.descriptorKey = key
            match.descriptorValue = "matched"
            match.expectMatch = Google_Protobuf_BoolValue(true)
            match.headers = headers
            var action = Action()
            action.headerValueMatch = match
            actions.append(action)
            entry(key, "matched")
        }
        for condition in rule.conditions {
            switch condition {
            case .clientAddress(let range), .distinctClientAddress(let range):
                var masked = Action.MaskedRemoteAddress()
                if range.network.count == 4 {
                    masked.v4PrefixMaskLen = Google_Protobuf_UInt32Value(UInt32(range.prefixLength))
                } else {
                    masked.v6PrefixMaskLen = Google_Protobuf_UInt32Value(UInt32(range.prefixLength))
                }
                var action = Action()
                action.maskedRemoteAddress = masked
                actions.append(action)
                entry("masked_remote_address", range.cidr)
                if case .distinctClientAddress = condition {
                    var each = Action()
                    each.remoteAddress = Action.RemoteAddress()
                    actions.append(each)
                    entry("remote_address", "")
                }
            case .distinctHeader(let name):
                var headersAction = Action.RequestHeaders()
                headersAction.headerName = name
                headersAction.descriptorKey = "\(key)-\(name)"
                var action = Action()
                action.requestHeaders = headersAction
                actions.append(action)
                entry("\(key)-\(name)", "")
            case .header, .methods, .path:
                break
            }
        }
        return (actions, entries)
    }
}

extension RateLimitRulePlan.Condition {
    var isDistinct: Bool {
        switch self {
        case .distinctHeader, .distinctClientAddress: true
        default: false
        }
    }
}

/// JSON Web Tokens: Envoy's jwt_authn filter with every provider of the listener's
/// routes and a requirement per policy; each route names its requirement. A token's
/// payload is kept in the request's metadata under its provider's name, for
/// authorization by claims and scopes (`scope` and `scp` split into lists). A request
/// without a valid token gets 401.
struct JWTFilter: HTTPFilter {
    let name = "envoy.filters.http.jwt_authn"
    static let fetchTimeoutMilliseconds: Int64 = 10_000

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        var plans: [String: JWTPlan] = [:]
        _ = listener.hasRoute { route in
            if let jwt = route.policies?.jwt { plans[jwt.requirement] = jwt }
            return false
        }
        guard !plans.isEmpty else { return nil }
        var config = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication()
        for (requirement, plan) in plans {
            for provider in plan.providers { config.providers[provider.name] = Self.provider(provider) }
            var names = plan.providers.map(\.name).map { name in
                var single = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement()
                single.providerName = name
                return single
            }
            if plan.optional {
                var missing = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement()
                missing.allowMissing = Google_Protobuf_Empty()
                names.append(missing)
            }
            var required = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirement()
            if names.count == 1 {
                required = names[0]
            } else {
                var any = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtRequirementOrList()
                any.requirements = names
                required.requiresAny = any
            }
            config.requirementMap[requirement] = required
        }
        return try! .packing(config)
    }

    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
        guard let plan = route.policies?.jwt else { return nil }
        var perRoute = Envoy_Extensions_Filters_Http_JwtAuthn_V3_PerRouteConfig()
        perRoute.requirementName = plan.requirement
        return try! .packing(perRoute)
    }

    static func provider(_ plan: JWTProviderPlan) -> Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtProvider {
        var provider = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtProvider()
        if let issuer = plan.issuer { provider.issuer = issuer }
        provider.audiences = plan.audiences
        switch plan.keys {
        case .local(let document):
            var source = Envoy_Config_Core_V3_DataSource()
            source.inlineString = document
            provider.localJwks = source
        case .remote(let uri, let cluster, let cacheSeconds):
            var http = Envoy_Config_Core_V3_HttpUri()
            http.uri = uri
            http.cluster = cluster
            http.timeout = Routes.duration(fetchTimeoutMilliseconds)
            var remote = Envoy_Extensions_Filters_Http_JwtAuthn_V3_RemoteJwks()
            remote.httpUri = http
            if let cacheSeconds { remote.cacheDuration = Routes.duration(cacheSeconds * 1000) }
            remote.asyncFetch = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwksAsyncFetch()
            provider.remoteJwks = remote
        }
        provider.forward = true
        provider.payloadInMetadata = plan.name
        var normalize = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtProvider.NormalizePayload()
        normalize.spaceDelimitedClaims = ["scope", "scp"]
        provider.normalizePayloadInMetadata = normalize
        provider.claimToHeaders = plan.claimToHeaders.map { mapping in
            var header = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtClaimToHeader()
            header.headerName = mapping.name
            header.claimName = mapping.value
            return header
        }
        provider.fromHeaders = plan.headers.map { source in
            var header = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtHeader()
            header.name = source.name
            header.valuePrefix = source.valuePrefix ?? ""
            return header
        }
        provider.fromCookies = plan.cookies
        provider.fromParams = plan.params
        provider.clearRouteCache_p = plan.recomputeRoute
        return provider
    }
}

extension AuthorizationFilter {
    /// A token's claims and scopes, from the payload its provider keeps in the request's
    /// metadata: every claim one of its values, every scope in `scope` or `scp`.
    static func jwt(_ condition: JWTConditionPlan) -> Envoy_Config_Rbac_V3_Principal {
        func metadata(_ path: [String], _ value: String, list: Bool) -> Envoy_Config_Rbac_V3_Principal {
            var string = Envoy_Type_Matcher_V3_StringMatcher()
            string.exact = value
            var matcher = Envoy_Type_Matcher_V3_ValueMatcher()
            matcher.stringMatch = string
            if list {
                var contains = Envoy_Type_Matcher_V3_ListMatcher()
                contains.oneOf = matcher
                matcher = Envoy_Type_Matcher_V3_ValueMatcher()
                matcher.listMatch = contains
            }
            var metadata = Envoy_Type_Matcher_V3_MetadataMatcher()
            metadata.filter = "envoy.filters.http.jwt_authn"
            metadata.path = ([condition.provider] + path).map { key in
                var segment = Envoy_Type_Matcher_V3_MetadataMatcher.PathSegment()
                segment.key = key
                return segment
            }
            metadata.value = matcher
            var principal = Envoy_Config_Rbac_V3_Principal()
            principal.metadata = metadata
            return principal
        }
        var parts: [Envoy_Config_Rbac_V3_Principal] = []
        for claim in condition.claims {
            parts.append(any(claim.values.map { metadata(claim.path, $0, list: claim.isList) }))
        }
        for scope in condition.scopes {
            parts.append(any([metadata(["scope"], scope, list: true), metadata(["scp"], scope, list: true)]))
        }
        return all(parts)
    }
}
