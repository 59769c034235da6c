import GatewayModel

/// The routes of one hostname on one HTTP port. Its routes are in their final order:
/// the first stage has applied the Gateway API's precedence.
public struct VirtualHostPlan: Hashable, Sendable, Encodable {
    /// `address:port/hostname`.
    public var name: String
    /// The Host header values it answers (a hostname, a `*.` wildcard, or `*`).
    public var domains: [String]
    public var routes: [RoutePlan]

    public init(name: String, domains: [String], routes: [RoutePlan]) {
        self.name = name
        self.domains = domains
        self.routes = routes
    }
}

/// One match of one route rule and what happens to the requests it matches.
public struct RoutePlan: Hashable, Sendable, Encodable {
    /// `namespace/route/rule/R/match/M`.
    public var name: String
    /// The HTTPRoute or GRPCRoute it comes from; the Gateway for a route the proxy
    /// adds itself (421 for hosts of another HTTPS listener).
    public var origin: ObjectKey
    public var match: RouteMatchPlan
    public var requestHeaders: HeaderMutation
    public var responseHeaders: HeaderMutation
    public var action: RouteAction
    /// Cross-origin requests this route allows (its preflights are answered by the proxy).
    public var cors: CORSPlan?
    /// Requests of one session go to the endpoint the session started on.
    public var session: SessionPlan?
    /// Only clients whose address this allows are served; the others get 403.
    public var clientAddresses: ClientAddressPlan?
    /// Request bodies over this many bytes are answered 413 (the request is buffered
    /// whole before it is sent on, as ingress-nginx does).
    public var maxRequestBytes: Int?
    /// What the SecurityPolicies and BackendTrafficPolicies in effect ask of requests.
    public var policies: RoutePolicyPlan?

    public init(
        name: String, origin: ObjectKey, match: RouteMatchPlan, requestHeaders: HeaderMutation = HeaderMutation(),
        responseHeaders: HeaderMutation = HeaderMutation(), action: RouteAction, cors: CORSPlan? = nil
    ) {
        self.name = name
        self.origin = origin
        self.match = match
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
        self.action = action
        self.cors = cors
    }

    enum CodingKeys: String, CodingKey {
        case name, origin, match, requestHeaders, responseHeaders, action, cors, session, clientAddresses, maxRequestBytes, policies
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(origin.description, forKey: .origin)
        try container.encode(match, forKey: .match)
        if !requestHeaders.isEmpty { try container.encode(requestHeaders, forKey: .requestHeaders) }
        if !responseHeaders.isEmpty { try container.encode(responseHeaders, forKey: .responseHeaders) }
        try container.encode(action, forKey: .action)
        try container.encodeIfPresent(cors, forKey: .cors)
        try container.encodeIfPresent(session, forKey: .session)
        try container.encodeIfPresent(clientAddresses, forKey: .clientAddresses)
        try container.encodeIfPresent(maxRequestBytes, forKey: .maxRequestBytes)
        try container.encodeIfPresent(policies, forKey: .policies)
    }
}

/// Which client addresses a route serves (ingress-nginx's `whitelist-source-range` and
/// `denylist-source-range`): those in `allow` (any, when empty) and not in `deny`.
public struct ClientAddressPlan: Hashable, Sendable, Encodable {
    public var allow: [AddressRange]
    public var deny: [AddressRange]

    public init(allow: [AddressRange], deny: [AddressRange]) {
        self.allow = allow
        self.deny = deny
    }

    /// A range as Envoy's CIDR fields take it: the network's address and its length.
    public typealias Block = (address: String, prefixLength: Int)
    public var allowBlocks: [Block] { allow.map(Self.block) }
    public var denyBlocks: [Block] { deny.map(Self.block) }

    static func block(_ range: AddressRange) -> Block {
        (String(range.description.split(separator: "/").first ?? ""), range.prefixLength)
    }

    enum CodingKeys: String, CodingKey { case allow, deny }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(allow.map(\.description), forKey: .allow)
        try container.encode(deny.map(\.description), forKey: .deny)
    }
}

/// Session persistence (GEP-1619): the endpoint a session started on is named in a
/// cookie the proxy sets (with `path`, and a Max-Age when `ttlSeconds` is set) or in a
/// header the backend's answers carry and clients send back.
public indirect enum SessionPlan: Hashable, Sendable, Encodable {
    case cookie(name: String, path: String, ttlSeconds: Int64?)
    case header(name: String)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .cookie(let name, let path, let ttl):
            var fields = ["name": name, "path": path]
            if let ttl { fields["ttlSeconds"] = String(ttl) }
            try encoder.encodeCase("cookie", fields)
        case .header(let name): try encoder.encodeCase("header", ["name": name])
        }
    }
}

/// A route's CORS policy (GEP-1767), with the origins already as patterns. A class,
/// so that the few routes with one do not make every planned route larger.
public final class CORSPlan: Hashable, Sendable, Encodable {
    public let allowOrigins: [StringMatch]
    /// Method names; `["*"]` allows whatever the preflight asks for.
    public let allowMethods: [String]
    /// Header names; `["*"]` allows whatever the preflight asks for.
    public let allowHeaders: [String]
    public let exposeHeaders: [String]
    public let maxAgeSeconds: Int
    public let allowCredentials: Bool

    public init(
        allowOrigins: [StringMatch], allowMethods: [String], allowHeaders: [String], exposeHeaders: [String],
        maxAgeSeconds: Int, allowCredentials: Bool
    ) {
        self.allowOrigins = allowOrigins
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.maxAgeSeconds = maxAgeSeconds
        self.allowCredentials = allowCredentials
    }

    public static func == (a: CORSPlan, b: CORSPlan) -> Bool {
        a === b
            || (a.allowOrigins == b.allowOrigins && a.allowMethods == b.allowMethods && a.allowHeaders == b.allowHeaders
                && a.exposeHeaders == b.exposeHeaders && a.maxAgeSeconds == b.maxAgeSeconds
                && a.allowCredentials == b.allowCredentials)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(allowOrigins)
        hasher.combine(allowMethods)
        hasher.combine(allowHeaders)
        hasher.combine(exposeHeaders)
        hasher.combine(maxAgeSeconds)
        hasher.combine(allowCredentials)
    }
}

/// What a request must look like: all of it must hold.
public struct RouteMatchPlan: Hashable, Sendable, Encodable {
    public var path: PathMatch
    /// Header names are lower case.
    public var headers: [HeaderMatchPlan]
    public var queryParameters: [HeaderMatchPlan]
    public var method: HTTPMethod?

    public init(
        path: PathMatch, headers: [HeaderMatchPlan] = [], queryParameters: [HeaderMatchPlan] = [], method: HTTPMethod? = nil
    ) {
        self.path = path
        self.headers = headers
        self.queryParameters = queryParameters
        self.method = method
    }
}

public enum PathMatch: Hashable, Sendable, Encodable {
    case exact(String)
    /// Whole path segments: `/foo` matches `/foo` and `/foo/bar`, not `/foobar`. `/`
    /// matches every path. Never ends in `/` otherwise.
    case segmentPrefix(String)

    /// A segment prefix from a path as written: its trailing `/` changes nothing it
    /// matches (`/foo/` matches `/foo`), so it is left out (`/` stays).
    public static func segmentPrefix(normalizing value: String) -> PathMatch { .segmentPrefix(normalizedPrefix(value)) }

    public static func normalizedPrefix(_ value: String) -> String {
        value.count > 1 && value.hasSuffix("/") ? String(value.dropLast()) : value
    }
    /// An RE2 expression over the whole path.
    case regex(String)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .exact(let path): try encoder.encodeCase("exact", path)
        case .segmentPrefix(let prefix): try encoder.encodeCase("segmentPrefix", prefix)
        case .regex(let pattern): try encoder.encodeCase("regex", pattern)
        }
    }
}

/// A header or query parameter that must be present with a matching value.
public struct HeaderMatchPlan: Hashable, Sendable, Encodable {
    public var name: String
    public var value: StringMatch

    public init(name: String, value: StringMatch) {
        self.name = name
        self.value = value
    }
}

public enum StringMatch: Hashable, Sendable, Encodable {
    case exact(String)
    /// An RE2 expression over the whole value.
    case regex(String)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .exact(let value): try encoder.encodeCase("exact", value)
        case .regex(let pattern): try encoder.encodeCase("regex", pattern)
        }
    }
}

/// Headers to set, append and remove, in the order the filters gave them.
public struct HeaderMutation: Hashable, Sendable, Encodable {
    public var values: [HeaderValue]
    /// Lower-case names.
    public var remove: [String]

    public init(values: [HeaderValue] = [], remove: [String] = []) {
        self.values = values
        self.remove = remove
    }

    public var isEmpty: Bool { values.isEmpty && remove.isEmpty }
}

public struct HeaderValue: Hashable, Sendable, Encodable {
    /// Lower case.
    public var name: String
    public var value: String
    /// Add another value (`add`), rather than replace any present (`set`).
    public var append: Bool

    public init(name: String, value: String, append: Bool) {
        self.name = name
        self.value = value
        self.append = append
    }
}

/// What a matched request gets.
public enum RouteAction: Hashable, Sendable, Encodable {
    /// Sent to backends.
    case forward(ForwardPlan)
    /// Answered with a redirect.
    case redirect(RedirectPlan)
    /// Answered by the proxy itself (invalid backends, unsupported filters: 500).
    case respond(DirectResponsePlan)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .forward(let plan): try encoder.encodeCase("forward", plan)
        case .redirect(let plan): try encoder.encodeCase("redirect", plan)
        case .respond(let plan): try encoder.encodeCase("respond", plan)
        }
    }
}

public struct ForwardPlan: Hashable, Sendable, Encodable {
    /// Valid backends with weight above zero, in the route's order.
    public var destinations: [DestinationPlan]
    /// The combined weight of backends that cannot be used: that share of requests is
    /// answered with 500.
    public var invalidShare: Int
    public var hostRewrite: String?
    public var pathRewrite: PathRewrite?
    public var mirrors: [MirrorPlan]
    /// The whole request, from the first byte to the last of the response (0: none).
    public var timeoutMilliseconds: Int64?
    /// Each attempt to a backend.
    public var backendTimeoutMilliseconds: Int64?
    /// Requests tried again when a backend fails them.
    public var retry: RetryPlan?
    /// A request (upstream or downstream) silent this long is ended (Envoy's route
    /// `idle_timeout`; ingress-nginx's read and send timeouts).
    public var idleTimeoutMilliseconds: Int64?
    /// What requests are hashed by, for clusters that balance by consistent hash.
    public var hashPolicy: HashPolicyPlan?

    public init(
        destinations: [DestinationPlan], invalidShare: Int = 0, hostRewrite: String? = nil, pathRewrite: PathRewrite? = nil,
        mirrors: [MirrorPlan] = [], timeoutMilliseconds: Int64? = nil, backendTimeoutMilliseconds: Int64? = nil,
        retry: RetryPlan? = nil, idleTimeoutMilliseconds: Int64? = nil
    ) {
        self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
        self.destinations = destinations
        self.invalidShare = invalidShare
        self.hostRewrite = hostRewrite
        self.pathRewrite = pathRewrite
        self.mirrors = mirrors
        self.timeoutMilliseconds = timeoutMilliseconds
        self.backendTimeoutMilliseconds = backendTimeoutMilliseconds
        self.retry = retry
    }
}

/// A request is tried again, up to `attempts` more times, when the backend cannot be
/// reached, resets the stream, or takes longer than the backend timeout, or answers
/// with one of `codes`; `backoff` is the least wait between attempts.
public struct RetryPlan: Hashable, Sendable, Encodable {
    public var codes: [Int]
    public var attempts: Int
    public var backoffMilliseconds: Int64?
    /// The longest wait between attempts (ten times `backoff` when not given).
    public var maxBackoffMilliseconds: Int64?
    /// Envoy's retry conditions (`5xx`, `reset`, …) when a policy names them; nil: a
    /// connection failure, a refused stream or a reset.
    public var triggers: [String]?

    public init(
        codes: [Int], attempts: Int, backoffMilliseconds: Int64?, maxBackoffMilliseconds: Int64? = nil, triggers: [String]? = nil
    ) {
        self.codes = codes
        self.attempts = attempts
        self.backoffMilliseconds = backoffMilliseconds
        self.maxBackoffMilliseconds = maxBackoffMilliseconds
        self.triggers = triggers
    }
}

/// A backend cluster with its weight and the header changes of its own filters.
public struct DestinationPlan: Hashable, Sendable, Encodable {
    public var cluster: String
    public var weight: Int
    public var requestHeaders: HeaderMutation
    public var responseHeaders: HeaderMutation

    public init(
        cluster: String, weight: Int, requestHeaders: HeaderMutation = HeaderMutation(),
        responseHeaders: HeaderMutation = HeaderMutation()
    ) {
        self.cluster = cluster
        self.weight = weight
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
    }

    enum CodingKeys: String, CodingKey { case cluster, weight, requestHeaders, responseHeaders }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(cluster, forKey: .cluster)
        try container.encode(weight, forKey: .weight)
        if !requestHeaders.isEmpty { try container.encode(requestHeaders, forKey: .requestHeaders) }
        if !responseHeaders.isEmpty { try container.encode(responseHeaders, forKey: .responseHeaders) }
    }
}

/// A new path for a request or a redirect.
public enum PathRewrite: Hashable, Sendable, Encodable {
    case replaceFull(String)
    /// Replaces `prefix` (the path match's value) with `replacement`, keeping one `/`
    /// between the replacement and the rest of the path.
    case replacePrefix(prefix: String, replacement: String)
    /// Replaces what the RE2 `pattern` matches with `substitution` (`\1` names a capture
    /// group), as ingress-nginx's `rewrite-target` does.
    case regex(pattern: String, substitution: String)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .replaceFull(let path): try encoder.encodeCase("replaceFull", path)
        case .replacePrefix(let prefix, let replacement):
            try encoder.encodeCase("replacePrefix", ["prefix": prefix, "replacement": replacement])
        case .regex(let pattern, let substitution):
            try encoder.encodeCase("regex", ["pattern": pattern, "substitution": substitution])
        }
    }
}

/// A copy of each (or some) of the requests, sent to another cluster; its answers are
/// dropped.
public struct MirrorPlan: Hashable, Sendable, Encodable {
    public var cluster: String
    /// The share mirrored: `numerator` out of `denominator` (100 or 1,000,000).
    public var numerator: Int
    public var denominator: Int

    public init(cluster: String, numerator: Int, denominator: Int) {
        self.cluster = cluster
        self.numerator = numerator
        self.denominator = denominator
    }
}

/// A redirect with every part decided: the scheme, host and port of the Location, and
/// the status code.
public struct RedirectPlan: Hashable, Sendable, Encodable {
    public var scheme: String?
    public var hostname: String?
    /// Set only when the Location must carry it (it is not the scheme's well-known port).
    public var port: Int?
    public var path: PathRewrite?
    /// 301, 302, 303, 307 or 308.
    public var statusCode: Int
    /// The request's query is dropped (a redirect to a whole URL, as nginx's `return`).
    public var stripQuery = false

    enum CodingKeys: String, CodingKey { case scheme, hostname, port, path, statusCode, stripQuery }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(scheme, forKey: .scheme)
        try container.encodeIfPresent(hostname, forKey: .hostname)
        try container.encodeIfPresent(port, forKey: .port)
        try container.encodeIfPresent(path, forKey: .path)
        try container.encode(statusCode, forKey: .statusCode)
        if stripQuery { try container.encode(true, forKey: .stripQuery) }
    }

    public init(scheme: String?, hostname: String?, port: Int?, path: PathRewrite?, statusCode: Int) {
        self.scheme = scheme
        self.hostname = hostname
        self.port = port
        self.path = path
        self.statusCode = statusCode
    }
}

public struct DirectResponsePlan: Hashable, Sendable, Encodable {
    public var status: Int
    /// Sent as the response body, followed by a newline.
    public var body: String

    public init(status: Int, body: String) {
        self.status = status
        self.body = body
    }
}
