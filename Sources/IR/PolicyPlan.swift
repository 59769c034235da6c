import GatewayModel

/// What the policies in effect on a route ask of its requests (SecurityPolicy and
/// BackendTrafficPolicy features that Envoy carries out per route). A class, so that
/// the many routes without policies stay small.
public final class RoutePolicyPlan: Hashable, Sendable, Encodable {
    public struct Body: Hashable, Sendable, Encodable {
        /// Who may make the request; the others get 403.
        public var authorization: AuthorizationPlan?
        /// Users and passwords (401 without a valid pair).
        public var basicAuth: BasicAuthPlan?
        /// JSON Web Tokens (401 without a valid one, unless optional).
        public var jwt: JWTPlan?
        /// API keys (401 without a valid key).
        public var apiKeyAuth: APIKeyAuthPlan?
        /// How many requests are served in a time; the others get 429.
        public var rateLimit: LocalRateLimitPlan?
        /// Delays and aborts injected into a share of requests.
        public var fault: FaultPlan?
        /// The policies in effect, for inspection.
        public var origins: [ObjectKey]

        public init(
            authorization: AuthorizationPlan? = nil, basicAuth: BasicAuthPlan? = nil, apiKeyAuth: APIKeyAuthPlan? = nil,
            rateLimit: LocalRateLimitPlan? = nil, fault: FaultPlan? = nil, jwt: JWTPlan? = nil, origins: [ObjectKey] = []
        ) {
            self.jwt = jwt
            self.authorization = authorization
            self.basicAuth = basicAuth
            self.apiKeyAuth = apiKeyAuth
            self.rateLimit = rateLimit
            self.fault = fault
            self.origins = origins
        }

        enum CodingKeys: String, CodingKey { case authorization, basicAuth, apiKeyAuth, jwt, rateLimit, fault, origins }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(authorization, forKey: .authorization)
            try container.encodeIfPresent(basicAuth, forKey: .basicAuth)
            try container.encodeIfPresent(apiKeyAuth, forKey: .apiKeyAuth)
            try container.encodeIfPresent(jwt, forKey: .jwt)
            try container.encodeIfPresent(rateLimit, forKey: .rateLimit)
            try container.encodeIfPresent(fault, forKey: .fault)
            try container.encode(origins.map(\.description), forKey: .origins)
        }
    }

    public let body: Body

    public init(_ body: Body) { self.body = body }

    public var authorization: AuthorizationPlan? { body.authorization }
    public var basicAuth: BasicAuthPlan? { body.basicAuth }
    public var apiKeyAuth: APIKeyAuthPlan? { body.apiKeyAuth }
    public var rateLimit: LocalRateLimitPlan? { body.rateLimit }
    public var fault: FaultPlan? { body.fault }
    public var jwt: JWTPlan? { body.jwt }

    public static func == (a: RoutePolicyPlan, b: RoutePolicyPlan) -> Bool { a === b || a.body == b.body }
    public func hash(into hasher: inout Hasher) { hasher.combine(body) }
    public func encode(to encoder: any Encoder) throws { try body.encode(to: encoder) }
}

/// Ordered rules: the first whose conditions all hold decides (allow or deny); when
/// none does, `defaultAllow` decides. A denied request gets 403.
public struct AuthorizationPlan: Hashable, Sendable, Encodable {
    public var rules: [AuthorizationRulePlan]
    public var defaultAllow: Bool

    public init(rules: [AuthorizationRulePlan], defaultAllow: Bool) {
        self.rules = rules
        self.defaultAllow = defaultAllow
    }
}

/// One rule: every condition given must hold (within one, any of its values may).
public struct AuthorizationRulePlan: Hashable, Sendable, Encodable {
    public var name: String
    public var allow: Bool
    /// Any of these methods (none: any method).
    public var methods: [String]
    /// The request path (without its query).
    public var path: PathCondition?
    /// The client's address (as the listener determines it) in any of these.
    public var clientAddresses: [AddressRange]
    /// Each header present with one of its values.
    public var headers: [HeaderValuesPlan]
    /// The request's token's claims and scopes.
    public var jwt: JWTConditionPlan?

    public init(
        name: String, allow: Bool, methods: [String] = [], path: PathCondition? = nil, clientAddresses: [AddressRange] = [],
        headers: [HeaderValuesPlan] = [], jwt: JWTConditionPlan? = nil
    ) {
        self.jwt = jwt
        self.name = name
        self.allow = allow
        self.methods = methods
        self.path = path
        self.clientAddresses = clientAddresses
        self.headers = headers
    }

    enum CodingKeys: String, CodingKey { case name, allow, methods, path, clientAddresses, headers, jwt }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(allow, forKey: .allow)
        if !methods.isEmpty { try container.encode(methods, forKey: .methods) }
        try container.encodeIfPresent(path, forKey: .path)
        if !clientAddresses.isEmpty { try container.encode(clientAddresses.map(\.description), forKey: .clientAddresses) }
        if !headers.isEmpty { try container.encode(headers, forKey: .headers) }
        try container.encodeIfPresent(jwt, forKey: .jwt)
    }
}

/// What a request's JSON Web Token (verified by `provider`) must say: each claim one of
/// its values (a list claim: containing one), and every scope in `scope` or `scp`.
public struct JWTConditionPlan: Hashable, Sendable, Encodable {
    public struct Claim: Hashable, Sendable, Encodable {
        /// Nested names (`org.role` is `["org", "role"]`).
        public var path: [String]
        public var values: [String]
        /// The claim is a list of strings.
        public var isList: Bool

        public init(path: [String], values: [String], isList: Bool) {
            self.path = path
            self.values = values
            self.isList = isList
        }
    }

    /// The provider's name in the proxy (its payload's key in the request's metadata).
    public var provider: String
    public var claims: [Claim]
    public var scopes: [String]

    public init(provider: String, claims: [Claim], scopes: [String]) {
        self.provider = provider
        self.claims = claims
        self.scopes = scopes
    }
}

/// JSON Web Token verification for a route: a token from any of `providers` must be
/// valid (401 otherwise), or may be missing when `optional`.
public struct JWTPlan: Hashable, Sendable, Encodable {
    /// The SecurityPolicy; its `namespace/name` names the requirement in the proxy.
    public var policy: ObjectKey
    public var providers: [JWTProviderPlan]
    public var optional: Bool

    public init(policy: ObjectKey, providers: [JWTProviderPlan], optional: Bool) {
        self.policy = policy
        self.providers = providers
        self.optional = optional
    }

    public var requirement: String { "\(policy.namespace)/\(policy.name)" }

    enum CodingKeys: String, CodingKey { case policy, providers, optional }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(policy.description, forKey: .policy)
        try container.encode(providers, forKey: .providers)
        if optional { try container.encode(true, forKey: .optional) }
    }
}

public struct JWTProviderPlan: Hashable, Sendable, Encodable {
    public enum Keys: Hashable, Sendable, Encodable {
        /// A JWKS document.
        case local(String)
        /// Fetched from `uri` through `cluster`, kept `cacheSeconds`.
        case remote(uri: String, cluster: String, cacheSeconds: Int64?)

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .local: try encoder.encodeCase("local", "(inline JWKS)")
            case .remote(let uri, let cluster, let cache):
                var fields = ["uri": uri, "cluster": cluster]
                if let cache { fields["cacheSeconds"] = String(cache) }
                try encoder.encodeCase("remote", fields)
            }
        }
    }

    public struct HeaderSource: Hashable, Sendable, Encodable {
        public var name: String
        public var valuePrefix: String?

        public init(name: String, valuePrefix: String?) {
            self.name = name
            self.valuePrefix = valuePrefix
        }
    }

    /// `namespace/policy/provider`: unique in the proxy.
    public var name: String
    public var issuer: String?
    public var audiences: [String]
    public var keys: Keys
    /// Claim → header, set on the request sent on.
    public var claimToHeaders: [HeaderValue]
    /// Where the token is looked for (none: `Authorization: Bearer` and `access_token`).
    public var headers: [HeaderSource]
    public var cookies: [String]
    public var params: [String]
    /// The route is chosen again after the claims became headers.
    public var recomputeRoute: Bool

    public init(
        name: String, issuer: String?, audiences: [String], keys: Keys, claimToHeaders: [HeaderValue], headers: [HeaderSource],
        cookies: [String], params: [String], recomputeRoute: Bool
    ) {
        self.name = name
        self.issuer = issuer
        self.audiences = audiences
        self.keys = keys
        self.claimToHeaders = claimToHeaders
        self.headers = headers
        self.cookies = cookies
        self.params = params
        self.recomputeRoute = recomputeRoute
    }
}

/// A path match, or its opposite.
public struct PathCondition: Hashable, Sendable, Encodable {
    public var match: PathMatch
    public var invert: Bool

    public init(match: PathMatch, invert: Bool) {
        self.match = match
        self.invert = invert
    }
}

/// A header (lower-case name) present with one of `values`.
public struct HeaderValuesPlan: Hashable, Sendable, Encodable {
    public var name: String
    public var values: [String]

    public init(name: String, values: [String]) {
        self.name = name
        self.values = values
    }
}

/// Users and their SHA-1 password hashes, as htpasswd lines (`user:{SHA}base64`).
public struct BasicAuthPlan: Hashable, Sendable, Encodable {
    /// The policy the users come from (each policy is its own filter configuration).
    public var policy: ObjectKey
    public var htpasswd: String

    public init(policy: ObjectKey, htpasswd: String) {
        self.policy = policy
        self.htpasswd = htpasswd
    }

    enum CodingKeys: String, CodingKey { case policy, users }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(policy.description, forKey: .policy)
        // The names only: password hashes are secrets.
        try container.encode(
            htpasswd.split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) }, forKey: .users)
    }
}

/// API keys by client, and where requests carry them.
public struct APIKeyAuthPlan: Hashable, Sendable, Encodable {
    public struct Credential: Hashable, Sendable {
        public var client: String
        public var key: String

        public init(client: String, key: String) {
            self.client = client
            self.key = key
        }
    }

    public enum Source: Hashable, Sendable, Encodable {
        case header(String)
        case query(String)
        case cookie(String)

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .header(let name): try encoder.encodeCase("header", name)
            case .query(let name): try encoder.encodeCase("query", name)
            case .cookie(let name): try encoder.encodeCase("cookie", name)
            }
        }
    }

    public var credentials: [Credential]
    /// Looked at in order; the first the request carries is the key.
    public var sources: [Source]
    /// A header that carries the client's ID to the backend.
    public var forwardClientIDHeader: String?
    /// The key is removed before the request goes on.
    public var sanitize: Bool

    public init(credentials: [Credential], sources: [Source], forwardClientIDHeader: String?, sanitize: Bool) {
        self.credentials = credentials
        self.sources = sources
        self.forwardClientIDHeader = forwardClientIDHeader
        self.sanitize = sanitize
    }

    enum CodingKeys: String, CodingKey { case clients, sources, forwardClientIDHeader, sanitize }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        // The client IDs only: keys are secrets.
        try container.encode(credentials.map(\.client), forKey: .clients)
        try container.encode(sources, forKey: .sources)
        try container.encodeIfPresent(forwardClientIDHeader, forKey: .forwardClientIDHeader)
        if sanitize { try container.encode(true, forKey: .sanitize) }
    }
}

/// Token buckets for one route: `defaultLimit` for every request no rule selects, and a
/// bucket per rule (per distinct value, for `distinct` selectors) for those it selects.
/// Over the limit: 429, and the responses carry `x-ratelimit-*` headers.
public struct LocalRateLimitPlan: Hashable, Sendable, Encodable {
    public var defaultLimit: RateLimitValue?
    public var rules: [RateLimitRulePlan]

    public init(defaultLimit: RateLimitValue?, rules: [RateLimitRulePlan]) {
        self.defaultLimit = defaultLimit
        self.rules = rules
    }
}

public struct RateLimitValue: Hashable, Sendable, Encodable {
    public var requests: Int
    public var seconds: Int

    public init(requests: Int, seconds: Int) {
        self.requests = requests
        self.seconds = seconds
    }
}

/// Requests for which every condition holds share a bucket — one per distinct value of
/// a `distinct` header or client address.
public struct RateLimitRulePlan: Hashable, Sendable, Encodable {
    public enum Condition: Hashable, Sendable, Encodable {
        /// A header (`:method` and `:path` included) matches, or (inverted) does not.
        case header(name: String, value: StringMatch, invert: Bool)
        /// The path matches, or does not.
        case path(PathMatch, invert: Bool)
        /// One of the methods, or (inverted) none of them.
        case methods([String], invert: Bool)
        /// The client's address is in the range.
        case clientAddress(AddressRange)
        /// A bucket per value of the header (requests without it are not selected).
        case distinctHeader(String)
        /// A bucket per client address within the range.
        case distinctClientAddress(AddressRange)

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .header(let name, let value, let invert):
                var fields: [String: String] = ["name": name]
                switch value {
                case .exact(let text): fields["exact"] = text
                case .regex(let pattern): fields["regex"] = pattern
                }
                if invert { fields["invert"] = "true" }
                try encoder.encodeCase("header", fields)
            case .path(let match, let invert):
                try encoder.encodeCase(invert ? "notPath" : "path", match)
            case .methods(let methods, let invert): try encoder.encodeCase(invert ? "notMethods" : "methods", methods)
            case .clientAddress(let range): try encoder.encodeCase("clientAddress", range.description)
            case .distinctHeader(let name): try encoder.encodeCase("distinctHeader", name)
            case .distinctClientAddress(let range): try encoder.encodeCase("distinctClientAddress", range.description)
            }
        }
    }

    public var conditions: [Condition]
    public var limit: RateLimitValue

    public init(conditions: [Condition], limit: RateLimitValue) {
        self.conditions = conditions
        self.limit = limit
    }

    /// A path match as an RE2 expression over `:path`, which carries the query: the
    /// match covers the path, then any query.
    public static func pathPattern(_ match: PathMatch) -> String {
        let query = #"(\?.*)?"#
        switch match {
        case .exact(let path): return RE2.escape(path) + query
        case .regex(let pattern): return "(?:\(pattern))" + query
        case .segmentPrefix(let prefix):
            return prefix == "/" ? ".*" : RE2.escape(prefix) + #"([/?].*)?"#
        }
    }
}

/// Faults injected into a share of requests (each share in parts per million).
public struct FaultPlan: Hashable, Sendable, Encodable {
    public var delayMilliseconds: Int64?
    public var delayShare: Int
    public var abortHTTPStatus: Int?
    public var abortGRPCStatus: Int?
    public var abortShare: Int

    public init(delayMilliseconds: Int64?, delayShare: Int, abortHTTPStatus: Int?, abortGRPCStatus: Int?, abortShare: Int) {
        self.delayMilliseconds = delayMilliseconds
        self.delayShare = delayShare
        self.abortHTTPStatus = abortHTTPStatus
        self.abortGRPCStatus = abortGRPCStatus
        self.abortShare = abortShare
    }
}

/// How a listener treats its clients (ClientTrafficPolicy): where their address comes
/// from, timeouts, connection limits, HTTP/1 options and request headers. Nil fields
/// keep Chancery's defaults.
public struct ClientSettingsPlan: Hashable, Sendable, Encodable {
    public enum AddressSource: Hashable, Sendable, Encodable {
        /// X-Forwarded-For, trusting the last `trustedHops` proxies (the client is the
        /// entry that many from the right).
        case forwardedFor(trustedHops: Int)
        /// X-Forwarded-For, trusting the proxies in these ranges.
        case forwardedForFrom([AddressRange])
        /// A header of its own; without one, 403 when `failClosed`.
        case header(name: String, failClosed: Bool)

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .forwardedFor(let hops): try encoder.encodeCase("forwardedFor", ["trustedHops": hops])
            case .forwardedForFrom(let ranges): try encoder.encodeCase("forwardedForFrom", ranges.map(\.description))
            case .header(let name, let failClosed):
                try encoder.encodeCase("header", ["name": name, "failClosed": failClosed ? "true" : "false"])
            }
        }
    }

    public enum RequestID: String, Hashable, Sendable, Encodable {
        case preserveOrGenerate, preserve, generate, disable
    }

    public enum Underscores: String, Hashable, Sendable, Encodable {
        case allow, reject, drop
    }

    public struct ForwardClientCert: Hashable, Sendable, Encodable {
        /// sanitize, forwardOnly, appendForward, sanitizeSet, alwaysForwardOnly.
        public var mode: String
        /// Subject, Cert, Chain, DNS, URI.
        public var details: [String]

        public init(mode: String, details: [String]) {
            self.mode = mode
            self.details = details
        }
    }

    public var clientAddress: AddressSource?
    public var requestReceivedTimeoutMilliseconds: Int64?
    public var idleTimeoutMilliseconds: Int64?
    public var connectionLimit: Int?
    public var connectionLimitDelayMilliseconds: Int64?
    public var bufferLimitBytes: Int?
    public var enableTrailers = false
    public var preserveHeaderCase = false
    /// HTTP/1.0 requests are accepted, with this Host when they carry none.
    public var http10DefaultHost: String?
    public var requestID: RequestID?
    public var underscores: Underscores?
    public var forwardClientCert: ForwardClientCert?
    /// The policies it comes from.
    public var origins: [ObjectKey] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case clientAddress, requestReceivedTimeoutMilliseconds, idleTimeoutMilliseconds, connectionLimit,
            connectionLimitDelayMilliseconds, bufferLimitBytes, enableTrailers, preserveHeaderCase, http10DefaultHost,
            requestID, underscores, forwardClientCert, origins
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(clientAddress, forKey: .clientAddress)
        try container.encodeIfPresent(requestReceivedTimeoutMilliseconds, forKey: .requestReceivedTimeoutMilliseconds)
        try container.encodeIfPresent(idleTimeoutMilliseconds, forKey: .idleTimeoutMilliseconds)
        try container.encodeIfPresent(connectionLimit, forKey: .connectionLimit)
        try container.encodeIfPresent(connectionLimitDelayMilliseconds, forKey: .connectionLimitDelayMilliseconds)
        try container.encodeIfPresent(bufferLimitBytes, forKey: .bufferLimitBytes)
        if enableTrailers { try container.encode(true, forKey: .enableTrailers) }
        if preserveHeaderCase { try container.encode(true, forKey: .preserveHeaderCase) }
        try container.encodeIfPresent(http10DefaultHost, forKey: .http10DefaultHost)
        try container.encodeIfPresent(requestID, forKey: .requestID)
        try container.encodeIfPresent(underscores, forKey: .underscores)
        try container.encodeIfPresent(forwardClientCert, forKey: .forwardClientCert)
        try container.encode(origins.map(\.description), forKey: .origins)
    }
}

/// TLS parameters of an HTTPS chain (ClientTrafficPolicy `tls`); nil fields keep
/// Envoy's defaults.
public struct DownstreamTLSPlan: Hashable, Sendable, Encodable {
    /// `1.0` … `1.3`.
    public var minVersion: String?
    public var maxVersion: String?
    public var ciphers: [String]
    public var ecdhCurves: [String]
    public var signatureAlgorithms: [String]
    /// Nil: h2 and http/1.1; empty: no ALPN.
    public var alpnProtocols: [String]?

    public init(
        minVersion: String?, maxVersion: String?, ciphers: [String], ecdhCurves: [String], signatureAlgorithms: [String],
        alpnProtocols: [String]?
    ) {
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.ciphers = ciphers
        self.ecdhCurves = ecdhCurves
        self.signatureAlgorithms = signatureAlgorithms
        self.alpnProtocols = alpnProtocols
    }
}

/// What a BackendTrafficPolicy asks of the clusters a route sends to (each Service port
/// gets a cluster of its own for the routes it governs). Nil fields keep the defaults.
public struct BackendTrafficPlan: Hashable, Sendable, Encodable {
    public enum LoadBalancer: Hashable, Sendable, Encodable {
        case roundRobin, leastRequest, random
        /// Maglev: requests with the same hash (the route's ``HashPolicyPlan``) go to the
        /// same endpoint.
        case consistentHash(tableSize: Int?)

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .roundRobin: try encoder.encodeCase("roundRobin", [String: Int]())
            case .leastRequest: try encoder.encodeCase("leastRequest", [String: Int]())
            case .random: try encoder.encodeCase("random", [String: Int]())
            case .consistentHash(let size): try encoder.encodeCase("consistentHash", size.map { ["tableSize": $0] } ?? [:])
            }
        }
    }

    public struct CircuitBreaker: Hashable, Sendable, Encodable {
        public var maxConnections: Int?
        public var maxPendingRequests: Int?
        public var maxRequests: Int?
        public var maxRetries: Int?

        public init(maxConnections: Int?, maxPendingRequests: Int?, maxRequests: Int?, maxRetries: Int?) {
            self.maxConnections = maxConnections
            self.maxPendingRequests = maxPendingRequests
            self.maxRequests = maxRequests
            self.maxRetries = maxRetries
        }
    }

    /// Passive health checks: an endpoint failing this often is ejected for a while.
    public struct OutlierDetection: Hashable, Sendable, Encodable {
        public var consecutive5xx: Int?
        public var consecutiveGatewayErrors: Int?
        public var consecutiveLocalOriginFailures: Int?
        public var splitExternalLocalOriginErrors: Bool
        public var intervalMilliseconds: Int64?
        public var baseEjectionMilliseconds: Int64?
        public var maxEjectionPercent: Int?

        public init(
            consecutive5xx: Int?, consecutiveGatewayErrors: Int?, consecutiveLocalOriginFailures: Int?,
            splitExternalLocalOriginErrors: Bool, intervalMilliseconds: Int64?, baseEjectionMilliseconds: Int64?,
            maxEjectionPercent: Int?
        ) {
            self.consecutive5xx = consecutive5xx
            self.consecutiveGatewayErrors = consecutiveGatewayErrors
            self.consecutiveLocalOriginFailures = consecutiveLocalOriginFailures
            self.splitExternalLocalOriginErrors = splitExternalLocalOriginErrors
            self.intervalMilliseconds = intervalMilliseconds
            self.baseEjectionMilliseconds = baseEjectionMilliseconds
            self.maxEjectionPercent = maxEjectionPercent
        }
    }

    /// Active health checks: the proxy asks each endpoint (an HTTP request, or a TCP
    /// connection) and sends traffic only to those that answer.
    public struct HealthCheck: Hashable, Sendable, Encodable {
        public var timeoutMilliseconds: Int64
        public var intervalMilliseconds: Int64
        public var unhealthyThreshold: Int
        public var healthyThreshold: Int
        /// Nil: a TCP connection is the check.
        public var http: HTTPCheck?
        /// The Host of HTTP checks (the Service's name unless a policy gives one).
        public var host: String?
        /// For a TCP check: bytes sent once connected, and bytes expected back (hex).
        public var tcpSend: String?
        public var tcpReceive: String?

        public struct HTTPCheck: Hashable, Sendable, Encodable {
            public var path: String
            public var method: String?
            public var expectedStatuses: [Int]

            public init(path: String, method: String?, expectedStatuses: [Int]) {
                self.path = path
                self.method = method
                self.expectedStatuses = expectedStatuses
            }
        }

        public init(timeoutMilliseconds: Int64, intervalMilliseconds: Int64, unhealthyThreshold: Int, healthyThreshold: Int, http: HTTPCheck?) {
            self.timeoutMilliseconds = timeoutMilliseconds
            self.intervalMilliseconds = intervalMilliseconds
            self.unhealthyThreshold = unhealthyThreshold
            self.healthyThreshold = healthyThreshold
            self.http = http
        }
    }

    public var loadBalancer: LoadBalancer?
    public var circuitBreaker: CircuitBreaker?
    public var outlierDetection: OutlierDetection?
    public var healthCheck: HealthCheck?
    /// An idle connection to an endpoint is closed after this long.
    public var idleTimeoutMilliseconds: Int64?
    public var connectTimeoutMilliseconds: Int64?

    public init() {}

    public var isEmpty: Bool { self == BackendTrafficPlan() }
}

/// What the consistent hash of a request is made from.
public enum HashPolicyPlan: Hashable, Sendable, Encodable {
    case sourceIP
    case header(String)
    /// A cookie; the proxy sets it (with this lifetime) when the request has none.
    case cookie(name: String, ttlSeconds: Int64?)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .sourceIP: try encoder.encodeCase("sourceIP", [String: String]())
        case .header(let name): try encoder.encodeCase("header", name)
        case .cookie(let name, let ttl):
            try encoder.encodeCase("cookie", ttl.map { ["name": name, "ttlSeconds": String($0)] } ?? ["name": name])
        }
    }
}
