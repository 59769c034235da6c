/// Envoy Gateway's policy kinds (`gateway.envoyproxy.io/v1alpha1`), with its field names,
/// so that manifests written for it are read unchanged. Each keeps its spec as written
/// (``writtenSpec``) beside the typed fields Chancery carries out: a field it does not
/// carry out is found there by name and reported on the policy, never dropped silently.

/// The group of Envoy Gateway's policy kinds.
public let envoyGatewayGroup = "gateway.envoyproxy.io"

/// A policy's `targetRefs` entry (and the deprecated single `targetRef`): an object in
/// the policy's namespace, optionally one section of it (a Gateway listener, a route rule).
public struct PolicyTargetReference: Codable, Sendable, Hashable {
    public var group: String
    public var kind: String
    public var name: String
    public var sectionName: String?

    public init(group: String, kind: String, name: String, sectionName: String? = nil) {
        self.group = group
        self.kind = kind
        self.name = name
        self.sectionName = sectionName
    }
}

/// A policy's `targetSelectors` entry: every object of `kind` in the policy's namespace
/// whose labels match.
public struct PolicyTargetSelector: Codable, Sendable, Hashable {
    public var group: String?
    public var kind: String
    public var matchLabels: [String: String]?
    public var matchExpressions: [LabelSelector.Requirement]?

    public var selector: LabelSelector { LabelSelector(matchLabels: matchLabels, matchExpressions: matchExpressions) }
}

/// What every policy kind's spec starts with.
public protocol AttachedPolicySpec: Sendable {
    var targetRef: PolicyTargetReference? { get }
    var targetRefs: [PolicyTargetReference]? { get }
    var targetSelectors: [PolicyTargetSelector]? { get }
}

/// A policy object: metadata, the typed spec, and the spec as written.
public protocol AttachedPolicy: Codable, Sendable, Hashable {
    associatedtype Spec: AttachedPolicySpec & Codable & Hashable
    var metadata: ObjectMeta { get }
    var spec: Spec { get }
    /// The spec as written, to find the fields Chancery does not carry out.
    var writtenSpec: JSONValue { get }
    /// Why the policy could not be read (it stands in for the routes it governs, which
    /// answer 500); nil for a policy read whole.
    var readProblem: String? { get }
    init(metadata: ObjectMeta, spec: Spec, writtenSpec: JSONValue, readProblem: String?)
}

/// A policy's targets alone: what a policy that cannot be read still names.
struct PolicyTargets: Codable {
    var targetRef: PolicyTargetReference?
    var targetRefs: [PolicyTargetReference]?
    var targetSelectors: [PolicyTargetSelector]?
}

private enum PolicyCodingKeys: String, CodingKey { case metadata, spec }

extension AttachedPolicy {
    /// Decodes the typed spec and keeps the spec as written.
    static func decoded(from decoder: any Decoder) throws -> Self {
        let container = try decoder.container(keyedBy: PolicyCodingKeys.self)
        return Self(
            metadata: try container.decode(ObjectMeta.self, forKey: .metadata),
            spec: try container.decode(Spec.self, forKey: .spec),
            writtenSpec: try container.decode(JSONValue.self, forKey: .spec), readProblem: nil)
    }

    /// The metadata and the spec as written.
    func encodePolicy(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: PolicyCodingKeys.self)
        try container.encode(metadata, forKey: .metadata)
        try container.encode(writtenSpec, forKey: .spec)
    }
}

/// A Go duration as Envoy Gateway's fields take it (`300ms`, `10s`, `1m30s`, `1h`).
public enum PolicyDuration {
    /// The duration in milliseconds, or nil if `text` is not one.
    public static func milliseconds(in text: String) -> Int64? {
        var total: Double = 0
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        if rest == "0" { return 0 }
        let units: [(String, Double)] = [("ms", 1), ("us", 0.001), ("µs", 0.001), ("ns", 0.000_001), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        guard total < 1e15 else { return nil }
        return Int64(total.rounded())
    }
}

// MARK: SecurityPolicy

/// Who may make a request, and how they prove it.
public struct SecurityPolicy: AttachedPolicy {
    public var metadata: ObjectMeta
    public var spec: Spec
    public var writtenSpec: JSONValue
    public var readProblem: String?

    public init(metadata: ObjectMeta, spec: Spec, writtenSpec: JSONValue, readProblem: String? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.writtenSpec = writtenSpec
        self.readProblem = readProblem
    }

    public init(from decoder: any Decoder) throws { self = try Self.decoded(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePolicy(to: encoder) }

    public struct Spec: AttachedPolicySpec, Codable, Hashable {
        public var targetRef: PolicyTargetReference?
        public var targetRefs: [PolicyTargetReference]?
        public var targetSelectors: [PolicyTargetSelector]?
        public var authorization: Authorization?
        public var cors: CORS?
        public var basicAuth: BasicAuth?
        public var apiKeyAuth: APIKeyAuth?
        public var jwt: JWT?
    }

    /// JSON Web Tokens: a request must carry one that a provider accepts (unless
    /// `optional`, when only a present but invalid token is refused).
    public struct JWT: Codable, Sendable, Hashable {
        public var optional: Bool?
        public var providers: [JWTProvider]
    }

    public struct JWTProvider: Codable, Sendable, Hashable {
        public var name: String
        public var issuer: String?
        public var audiences: [String]?
        public var remoteJWKS: RemoteJWKS?
        public var localJWKS: LocalJWKS?
        public var claimToHeaders: [ClaimToHeader]?
        public var recomputeRoute: Bool?
        public var extractFrom: JWTExtractor?
    }

    public struct RemoteJWKS: Codable, Sendable, Hashable {
        public var uri: String
        public var cacheDuration: String?
    }

    /// Keys given inline, or in a ConfigMap (its `jwks` key, else its only key).
    public struct LocalJWKS: Codable, Sendable, Hashable {
        /// Inline (default) or ValueRef.
        public var type: String?
        public var inline: String?
        public var valueRef: LocalObjectReference?
    }

    public struct ClaimToHeader: Codable, Sendable, Hashable {
        public var header: String
        public var claim: String
    }

    public struct JWTExtractor: Codable, Sendable, Hashable {
        public var headers: [JWTHeaderExtractor]?
        public var cookies: [String]?
        public var params: [String]?
    }

    public struct JWTHeaderExtractor: Codable, Sendable, Hashable {
        public var name: String
        public var valuePrefix: String?
    }

    /// A token's claims and scopes (from the named provider of this policy's `jwt`).
    public struct JWTPrincipal: Codable, Sendable, Hashable {
        public var provider: String
        public var claims: [JWTClaim]?
        public var scopes: [String]?
    }

    public struct JWTClaim: Codable, Sendable, Hashable {
        /// A dot separates nested claims (`org.role`).
        public var name: String
        /// String (default) or StringArray.
        public var valueType: String?
        public var values: [String]
    }

    public enum Action: String, Codable, Sendable, Hashable {
        case allow = "Allow"
        case deny = "Deny"
    }

    /// Ordered rules, the first that matches decides; `defaultAction` (Deny unless
    /// given) when none does.
    public struct Authorization: Codable, Sendable, Hashable {
        public var defaultAction: Action?
        public var rules: [Rule]?
    }

    public struct Rule: Codable, Sendable, Hashable {
        public var name: String?
        public var action: Action
        public var operation: Operation?
        public var principal: Principal?
    }

    /// The request: any of `methods`, and the `path`.
    public struct Operation: Codable, Sendable, Hashable {
        public var methods: [String]?
        public var path: PathMatch?
    }

    public struct PathMatch: Codable, Sendable, Hashable {
        /// PathPrefix (default), Exact or RegularExpression.
        public var type: String?
        public var value: String?
        public var invert: Bool?
    }

    /// The client: its address in any of `clientCIDRs`, and every header listed with
    /// one of its values.
    public struct Principal: Codable, Sendable, Hashable {
        public var clientCIDRs: [String]?
        public var headers: [HeaderMatch]?
        public var jwt: JWTPrincipal?
    }

    public struct HeaderMatch: Codable, Sendable, Hashable {
        public var name: String
        public var values: [String]
    }

    public struct CORS: Codable, Sendable, Hashable {
        public var allowOrigins: [String]?
        public var allowMethods: [String]?
        public var allowHeaders: [String]?
        public var exposeHeaders: [String]?
        /// A duration (`10s`, `1h`).
        public var maxAge: String?
        public var allowCredentials: Bool?
    }

    /// Users and their password hashes, an htpasswd file in a Secret's `.htpasswd` key.
    public struct BasicAuth: Codable, Sendable, Hashable {
        public var users: SecretObjectReference
    }

    /// Client IDs and their keys, from Secrets (each key of the Secret a client ID, its
    /// value the API key), taken from the first of `extractFrom` that a request carries.
    public struct APIKeyAuth: Codable, Sendable, Hashable {
        public var credentialRefs: [SecretObjectReference]
        public var extractFrom: [KeySource]
        public var forwardClientIDHeader: String?
        public var sanitize: Bool?
    }

    public struct KeySource: Codable, Sendable, Hashable {
        public var headers: [String]?
        public var params: [String]?
        public var cookies: [String]?
    }
}

// MARK: BackendTrafficPolicy

/// How the proxy treats requests on their way to backends.
public struct BackendTrafficPolicy: AttachedPolicy {
    public var metadata: ObjectMeta
    public var spec: Spec
    public var writtenSpec: JSONValue
    public var readProblem: String?

    public init(metadata: ObjectMeta, spec: Spec, writtenSpec: JSONValue, readProblem: String? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.writtenSpec = writtenSpec
        self.readProblem = readProblem
    }

    public init(from decoder: any Decoder) throws { self = try Self.decoded(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePolicy(to: encoder) }

    public struct Spec: AttachedPolicySpec, Codable, Hashable {
        public var targetRef: PolicyTargetReference?
        public var targetRefs: [PolicyTargetReference]?
        public var targetSelectors: [PolicyTargetSelector]?
        public var rateLimit: RateLimit?
        public var retry: Retry?
        public var timeout: Timeout?
        public var faultInjection: FaultInjection?
        public var loadBalancer: LoadBalancer?
        public var circuitBreaker: CircuitBreaker?
        public var healthCheck: HealthCheck?
    }

    public struct LoadBalancer: Codable, Sendable, Hashable {
        /// RoundRobin, LeastRequest, Random or ConsistentHash.
        public var type: String
        public var consistentHash: ConsistentHash?
    }

    public struct ConsistentHash: Codable, Sendable, Hashable {
        /// SourceIP, Header or Cookie.
        public var type: String
        public var header: HashHeader?
        public var cookie: HashCookie?
        public var tableSize: Int?
    }

    public struct HashHeader: Codable, Sendable, Hashable {
        public var name: String
    }

    public struct HashCookie: Codable, Sendable, Hashable {
        public var name: String
        public var ttl: String?
    }

    public struct CircuitBreaker: Codable, Sendable, Hashable {
        public var maxConnections: Int?
        public var maxPendingRequests: Int?
        public var maxParallelRequests: Int?
        public var maxParallelRetries: Int?
    }

    public struct HealthCheck: Codable, Sendable, Hashable {
        public var passive: PassiveHealthCheck?
        public var active: ActiveHealthCheck?
    }

    public struct PassiveHealthCheck: Codable, Sendable, Hashable {
        public var splitExternalLocalOriginErrors: Bool?
        public var interval: String?
        public var consecutiveLocalOriginFailures: Int?
        public var consecutiveGatewayErrors: Int?
        public var consecutive5XxErrors: Int?
        public var baseEjectionTime: String?
        public var maxEjectionPercent: Int?
    }

    public struct ActiveHealthCheck: Codable, Sendable, Hashable {
        /// HTTP or TCP.
        public var type: String
        public var timeout: String?
        public var interval: String?
        public var unhealthyThreshold: Int?
        public var healthyThreshold: Int?
        public var http: HTTPHealthCheck?
        public var tcp: TCPHealthCheck?
    }

    /// A TCP check: connect, optionally send `send` and expect `receive` back.
    public struct TCPHealthCheck: Codable, Sendable, Hashable {
        public var send: HealthCheckPayload?
        public var receive: HealthCheckPayload?
    }

    public struct HealthCheckPayload: Codable, Sendable, Hashable {
        /// Text or Binary.
        public var type: String
        public var text: String?
        /// Base64.
        public var binary: String?
    }

    public struct HTTPHealthCheck: Codable, Sendable, Hashable {
        /// The Host of the checks (the Service's name unless given).
        public var hostname: String?
        public var path: String
        public var method: String?
        public var expectedStatuses: [Int]?
    }

    public struct RateLimit: Codable, Sendable, Hashable {
        /// Local (or Global, which needs a rate limit service).
        public var type: String?
        public var local: LocalRateLimit?
    }

    public struct LocalRateLimit: Codable, Sendable, Hashable {
        public var rules: [RateLimitRule]?
    }

    /// Requests that match every selector share a bucket of `limit`.
    public struct RateLimitRule: Codable, Sendable, Hashable {
        public var clientSelectors: [ClientSelector]?
        public var limit: Limit
    }

    public struct Limit: Codable, Sendable, Hashable {
        public var requests: Int
        /// Second, Minute, Hour, Day, Week, Month or Year.
        public var unit: String
    }

    public struct ClientSelector: Codable, Sendable, Hashable {
        public var headers: [HeaderSelector]?
        public var methods: [MethodSelector]?
        public var path: PathSelector?
        public var sourceCIDR: SourceCIDR?
    }

    public struct HeaderSelector: Codable, Sendable, Hashable {
        public var name: String
        /// Exact (default), RegularExpression or Distinct.
        public var type: String?
        public var value: String?
        public var invert: Bool?
    }

    public struct MethodSelector: Codable, Sendable, Hashable {
        public var value: String
        public var invert: Bool?
    }

    public struct PathSelector: Codable, Sendable, Hashable {
        /// PathPrefix (default), Exact or RegularExpression.
        public var type: String?
        public var value: String?
        public var invert: Bool?
    }

    public struct SourceCIDR: Codable, Sendable, Hashable {
        /// Exact (default) or Distinct.
        public var type: String?
        public var value: String
    }

    public struct Retry: Codable, Sendable, Hashable {
        public var numRetries: Int?
        public var retryOn: RetryOn?
        public var perRetry: PerRetry?
    }

    public struct RetryOn: Codable, Sendable, Hashable {
        public var triggers: [String]?
        public var httpStatusCodes: [Int]?
    }

    public struct PerRetry: Codable, Sendable, Hashable {
        public var timeout: String?
        public var backOff: BackOff?
    }

    public struct BackOff: Codable, Sendable, Hashable {
        public var baseInterval: String?
        public var maxInterval: String?
    }

    public struct Timeout: Codable, Sendable, Hashable {
        public var http: HTTPTimeout?
        public var tcp: TCPTimeout?
    }

    public struct HTTPTimeout: Codable, Sendable, Hashable {
        public var requestTimeout: String?
        public var connectionIdleTimeout: String?
    }

    public struct TCPTimeout: Codable, Sendable, Hashable {
        public var connectTimeout: String?
    }

    public struct FaultInjection: Codable, Sendable, Hashable {
        public var delay: Delay?
        public var abort: Abort?
    }

    public struct Delay: Codable, Sendable, Hashable {
        public var fixedDelay: String
        public var percentage: Double?
    }

    public struct Abort: Codable, Sendable, Hashable {
        public var httpStatus: Int?
        public var grpcStatus: Int?
        public var percentage: Double?
    }
}

// MARK: ClientTrafficPolicy

/// How the proxy treats clients' connections and requests on a Gateway's listeners.
public struct ClientTrafficPolicy: AttachedPolicy {
    public var metadata: ObjectMeta
    public var spec: Spec
    public var writtenSpec: JSONValue
    public var readProblem: String?

    public init(metadata: ObjectMeta, spec: Spec, writtenSpec: JSONValue, readProblem: String? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.writtenSpec = writtenSpec
        self.readProblem = readProblem
    }

    public init(from decoder: any Decoder) throws { self = try Self.decoded(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodePolicy(to: encoder) }

    public struct Spec: AttachedPolicySpec, Codable, Hashable {
        public var targetRef: PolicyTargetReference?
        public var targetRefs: [PolicyTargetReference]?
        public var targetSelectors: [PolicyTargetSelector]?
        public var clientIPDetection: ClientIPDetection?
        public var timeout: Timeout?
        public var connection: Connection?
        public var http1: HTTP1?
        public var headers: Headers?
        public var tls: TLS?
    }

    /// Where the client's address comes from: X-Forwarded-For (trusting the last
    /// `numTrustedHops` proxies, or those in `trustedCIDRs`) or a header of its own.
    public struct ClientIPDetection: Codable, Sendable, Hashable {
        public var xForwardedFor: XForwardedFor?
        public var customHeader: CustomHeader?
    }

    public struct XForwardedFor: Codable, Sendable, Hashable {
        public var numTrustedHops: Int?
        public var trustedCIDRs: [String]?
    }

    public struct CustomHeader: Codable, Sendable, Hashable {
        public var name: String
        public var failClosed: Bool?
    }

    public struct Timeout: Codable, Sendable, Hashable {
        public var http: HTTPTimeout?
    }

    public struct HTTPTimeout: Codable, Sendable, Hashable {
        public var requestReceivedTimeout: String?
        public var idleTimeout: String?
    }

    public struct Connection: Codable, Sendable, Hashable {
        public var connectionLimit: ConnectionLimit?
        /// A Kubernetes quantity (`32768`, `32Ki`, `1Mi`).
        public var bufferLimit: JSONValue?
    }

    public struct ConnectionLimit: Codable, Sendable, Hashable {
        public var value: Int
        public var closeDelay: String?
    }

    public struct HTTP1: Codable, Sendable, Hashable {
        public var enableTrailers: Bool?
        public var preserveHeaderCase: Bool?
        public var http10: HTTP10?
    }

    public struct HTTP10: Codable, Sendable, Hashable {
        public var useDefaultHost: Bool?
    }

    public struct Headers: Codable, Sendable, Hashable {
        /// PreserveOrGenerate, Preserve, Generate (default) or Disable.
        public var requestID: String?
        /// Deprecated: `requestID: PreserveOrGenerate`.
        public var preserveXRequestID: Bool?
        /// Allow, RejectRequest (default) or DropHeader.
        public var withUnderscoresAction: String?
        public var xForwardedClientCert: XForwardedClientCert?
    }

    public struct XForwardedClientCert: Codable, Sendable, Hashable {
        /// Sanitize (default), ForwardOnly, AppendForward, SanitizeSet or AlwaysForwardOnly.
        public var mode: String?
        /// Subject, Cert, Chain, DNS, URI.
        public var certDetailsToAdd: [String]?
    }

    public struct TLS: Codable, Sendable, Hashable {
        /// Auto, 1.0, 1.1, 1.2, 1.3.
        public var minVersion: String?
        public var maxVersion: String?
        public var ciphers: [String]?
        public var ecdhCurves: [String]?
        public var signatureAlgorithms: [String]?
        public var alpnProtocols: [String]?
        public var clientValidation: ClientValidation?
    }

    /// Client certificates: asked for and checked against the CA certificates of
    /// ConfigMaps or Secrets (key `ca.crt`); with `optional`, a client without one is let in.
    public struct ClientValidation: Codable, Sendable, Hashable {
        public var optional: Bool?
        public var caCertificateRefs: [SecretObjectReference]?
    }
}

/// A Kubernetes quantity of bytes: a number, or one with a suffix (`32Ki`, `1Mi`, `2G`).
public enum ByteQuantity {
    static let suffixes: [(String, Int)] = [
        ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("k", 1000), ("M", 1_000_000), ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ]

    /// The bytes, or nil when `value` is not a whole, non-negative quantity.
    public static func bytes(in value: JSONValue) -> Int? {
        switch value {
        case .int(let number): return number >= 0 ? number : nil
        case .string(let text):
            for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
                guard let number = Int(text.dropLast(suffix.count)), number >= 0 else { return nil }
                let (bytes, overflow) = number.multipliedReportingOverflow(by: factor)
                return overflow ? nil : bytes
            }
            return Int(text).flatMap { $0 >= 0 ? $0 : nil }
        default: return nil
        }
    }
}
