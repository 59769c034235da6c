/// Gateway API objects (gateway.networking.k8s.io/v1), the fields Chancery reads.
/// Field names and optionality follow the spec; defaults are applied by the translator.

public struct GatewayClass: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var controllerName: String
        public var description: String?
        public var parametersRef: ParametersReference?
    }

    public struct ParametersReference: Codable, Sendable, Hashable {
        public var group: String
        public var kind: String
        public var name: String
        public var namespace: String?
    }
}

public struct Gateway: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var gatewayClassName: String
        public var listeners: [Listener]
        public var addresses: [Address]?
        public var infrastructure: Infrastructure?
        public var allowedListeners: AllowedListeners?
        public var tls: GatewayTLS?
    }

    /// TLS for the whole Gateway: what it asks of clients (`frontend`) and what it
    /// presents to backends (`backend`).
    public struct GatewayTLS: Codable, Sendable, Hashable {
        public var frontend: FrontendTLS?
        public var backend: BackendTLS?
    }

    public struct BackendTLS: Codable, Sendable, Hashable {
        public var clientCertificateRef: SecretObjectReference?
    }

    /// Client certificate validation on HTTPS listeners: `default`, or per port.
    public struct FrontendTLS: Codable, Sendable, Hashable {
        public var `default`: FrontendTLSConfig
        public var perPort: [PortTLSConfig]?
    }

    public struct PortTLSConfig: Codable, Sendable, Hashable {
        public var port: Int
        public var tls: FrontendTLSConfig
    }

    public struct FrontendTLSConfig: Codable, Sendable, Hashable {
        public var validation: FrontendValidation?
    }

    public struct FrontendValidation: Codable, Sendable, Hashable {
        public var caCertificateRefs: [ObjectReference]
        /// AllowValidOnly (default) or AllowInsecureFallback.
        public var mode: FrontendValidationMode?
    }

    public struct Address: Codable, Sendable, Hashable {
        public var type: AddressType?
        /// Empty or absent: the implementation is asked to assign one.
        public var value: String?

        public init(type: AddressType?, value: String?) {
            self.type = type
            self.value = value
        }
    }

    /// What an implementation that creates resources for a Gateway puts on them.
    public struct Infrastructure: Codable, Sendable, Hashable {
        public var labels: [String: String]?
        public var annotations: [String: String]?
        public var parametersRef: LocalParametersReference?
    }

    public struct LocalParametersReference: Codable, Sendable, Hashable {
        public var group: String
        public var kind: String
        public var name: String
    }

    /// Which ListenerSets may attach to the Gateway.
    public struct AllowedListeners: Codable, Sendable, Hashable {
        public var namespaces: Namespaces?

        public struct Namespaces: Codable, Sendable, Hashable {
            /// All, Same, Selector or None (default).
            public var from: FromNamespaces?
            public var selector: LabelSelector?
        }
    }

    public struct Listener: Codable, Sendable, Hashable {
        public var name: String
        public var hostname: String?
        public var port: Int
        /// HTTP, HTTPS, TLS, TCP, UDP.
        public var `protocol`: ProtocolType
        public var tls: TLSConfig?
        public var allowedRoutes: AllowedRoutes?
    }

    public struct TLSConfig: Codable, Sendable, Hashable {
        /// Terminate (default) or Passthrough.
        public var mode: TLSModeType?
        public var certificateRefs: [SecretObjectReference]?
        public var options: [String: String]?
    }

    public struct AllowedRoutes: Codable, Sendable, Hashable {
        public var namespaces: RouteNamespaces?
        public var kinds: [RouteGroupKind]?
    }

    public struct RouteNamespaces: Codable, Sendable, Hashable {
        /// All, Same (default) or Selector.
        public var from: FromNamespaces?
        public var selector: LabelSelector?
    }

    public struct RouteGroupKind: Codable, Sendable, Hashable {
        public var group: String?
        public var kind: String

        public init(group: String?, kind: String) {
            self.group = group
            self.kind = kind
        }
    }
}

/// A set of listeners kept apart from the Gateway they attach to (GEP-1713), so that
/// teams can add listeners without editing the Gateway. Its entries have the fields of a
/// Gateway listener.
public struct ListenerSet: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var parentRef: ParentGatewayReference
        public var listeners: [Gateway.Listener]
    }

    /// The Gateway a ListenerSet attaches to: group and kind default to the Gateway
    /// API's Gateway, the namespace to the ListenerSet's.
    public struct ParentGatewayReference: Codable, Sendable, Hashable {
        public var group: String?
        public var kind: String?
        public var name: String
        public var namespace: String?
    }
}

/// A reference whose group and kind must be given (`""` is the core group).
public struct ObjectReference: Codable, Sendable, Hashable {
    public var group: String
    public var kind: String
    public var name: String
    public var namespace: String?
}

public struct SecretObjectReference: Codable, Sendable, Hashable {
    public var group: String?
    public var kind: String?
    public var name: String
    public var namespace: String?
}

public struct ParentReference: Codable, Sendable, Hashable {
    public var group: String?
    public var kind: String?
    public var namespace: String?
    public var name: String
    public var sectionName: String?
    public var port: Int?

    public init(name: String, namespace: String? = nil, sectionName: String? = nil, port: Int? = nil) {
        self.name = name
        self.namespace = namespace
        self.sectionName = sectionName
        self.port = port
    }
}

public struct HTTPRoute: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var parentRefs: [ParentReference]?
        public var hostnames: [String]?
        public var rules: [Rule]?

        /// The rules as the CRD defaults them: a route without `rules` has one rule that
        /// matches every path and has no backends (answered 500).
        public var effectiveRules: [Rule] {
            rules ?? [Rule(name: nil, matches: nil, filters: nil, backendRefs: nil, timeouts: nil)]
        }

        public init(parentRefs: [ParentReference]?, hostnames: [String]?, rules: [Rule]?) {
            self.parentRefs = parentRefs
            self.hostnames = hostnames
            self.rules = rules
        }
    }

    public struct Rule: Codable, Sendable, Hashable {
        public var name: String?
        public var matches: [Match]?
        public var filters: [Filter]?
        public var backendRefs: [BackendRef]?
        public var timeouts: Timeouts?
        public var retry: Retry?
        public var sessionPersistence: SessionPersistence?

        public init(
            name: String?, matches: [Match]?, filters: [Filter]?, backendRefs: [BackendRef]?, timeouts: Timeouts?,
            retry: Retry? = nil, sessionPersistence: SessionPersistence? = nil
        ) {
            self.name = name
            self.matches = matches
            self.filters = filters
            self.backendRefs = backendRefs
            self.timeouts = timeouts
            self.retry = retry
            self.sessionPersistence = sessionPersistence
        }
    }

    public struct Match: Codable, Sendable, Hashable {
        public var path: PathMatch?
        public var headers: [HeaderMatch]?
        public var queryParams: [HeaderMatch]?
        public var method: HTTPMethod?

        public init(
            path: PathMatch? = nil, headers: [HeaderMatch]? = nil, queryParams: [HeaderMatch]? = nil, method: HTTPMethod? = nil
        ) {
            self.path = path
            self.headers = headers
            self.queryParams = queryParams
            self.method = method
        }
    }

    public struct PathMatch: Codable, Sendable, Hashable {
        /// Exact, PathPrefix (default) or RegularExpression.
        public var type: PathMatchType?
        public var value: String?

        public init(type: PathMatchType?, value: String?) {
            self.type = type
            self.value = value
        }
    }

    /// A header or query parameter match.
    public struct HeaderMatch: Codable, Sendable, Hashable {
        /// Exact (default) or RegularExpression.
        public var type: StringMatchType?
        public var name: String
        public var value: String

        public init(type: StringMatchType?, name: String, value: String) {
            self.type = type
            self.name = name
            self.value = value
        }
    }

    public struct Filter: Codable, Sendable, Hashable {
        /// RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite,
        /// RequestMirror, ExtensionRef, CORS.
        public var type: HTTPRouteFilterType
        public var requestHeaderModifier: HeaderModifier?
        public var responseHeaderModifier: HeaderModifier?
        public var requestRedirect: RequestRedirect?
        public var urlRewrite: URLRewrite?
        public var requestMirror: RequestMirror?
        public var extensionRef: LocalObjectReference?
        public var cors: CORS?
    }

    /// GEP-1767: the cross-origin requests a route allows, answered by the gateway.
    public struct CORS: Codable, Sendable, Hashable {
        /// `*`, or `http(s)://host[:port]` where the host may start with `*.` (any
        /// number of labels) or be `*`.
        public var allowOrigins: [String]?
        public var allowCredentials: Bool?
        /// Method names, or `*` alone.
        public var allowMethods: [String]?
        /// Header names, or `*` alone.
        public var allowHeaders: [String]?
        public var exposeHeaders: [String]?
        /// Seconds a browser may cache a preflight's answer (default 5).
        public var maxAge: Int?
    }

    public struct HeaderModifier: Codable, Sendable, Hashable {
        public var set: [Header]?
        public var add: [Header]?
        public var remove: [String]?
    }

    public struct Header: Codable, Sendable, Hashable {
        public var name: String
        public var value: String
    }

    public struct RequestRedirect: Codable, Sendable, Hashable {
        public var scheme: String?
        public var hostname: String?
        public var path: PathModifier?
        public var port: Int?
        public var statusCode: Int?
    }

    public struct URLRewrite: Codable, Sendable, Hashable {
        public var hostname: String?
        public var path: PathModifier?
    }

    public struct PathModifier: Codable, Sendable, Hashable {
        /// ReplaceFullPath or ReplacePrefixMatch.
        public var type: HTTPPathModifierType
        public var replaceFullPath: String?
        public var replacePrefixMatch: String?
    }

    public struct RequestMirror: Codable, Sendable, Hashable {
        public var backendRef: BackendObjectReference
        public var percent: Int?
        public var fraction: Fraction?
    }

    public struct Fraction: Codable, Sendable, Hashable {
        public var numerator: Int
        public var denominator: Int?
    }

    public struct BackendRef: Codable, Sendable, Hashable {
        public var group: String?
        public var kind: String?
        public var name: String
        public var namespace: String?
        public var port: Int?
        public var weight: Int?
        public var filters: [Filter]?
    }

    public struct Timeouts: Codable, Sendable, Hashable {
        public var request: String?
        public var backendRequest: String?
    }

    /// GEP-1619: requests of one session go to the backend endpoint the first one went
    /// to, the session carried by a cookie (default) or a header.
    public struct SessionPersistence: Codable, Sendable, Hashable {
        public var sessionName: String?
        public var absoluteTimeout: String?
        public var type: SessionPersistenceType?
        public var cookieConfig: CookieConfig?

        public init(
            sessionName: String? = nil, absoluteTimeout: String? = nil, type: SessionPersistenceType? = nil,
            cookieConfig: CookieConfig? = nil
        ) {
            self.sessionName = sessionName
            self.absoluteTimeout = absoluteTimeout
            self.type = type
            self.cookieConfig = cookieConfig
        }
    }

    public struct CookieConfig: Codable, Sendable, Hashable {
        /// Session (default: the cookie lasts as long as the browser session) or
        /// Permanent (it expires after `absoluteTimeout`).
        public var lifetimeType: CookieLifetimeType?
    }

    /// GEP-1731: retry a request to a backend that answered one of `codes` or could
    /// not be reached, up to `attempts` more times, waiting at least `backoff`.
    public struct Retry: Codable, Sendable, Hashable {
        public var codes: [Int]?
        public var attempts: Int?
        public var backoff: String?

        public init(codes: [Int]? = nil, attempts: Int? = nil, backoff: String? = nil) {
            self.codes = codes
            self.attempts = attempts
            self.backoff = backoff
        }
    }
}

public struct BackendObjectReference: Codable, Sendable, Hashable {
    public var group: String?
    public var kind: String?
    public var name: String
    public var namespace: String?
    public var port: Int?
}

public struct LocalObjectReference: Codable, Sendable, Hashable {
    public var group: String
    public var kind: String
    public var name: String
}

public struct ReferenceGrant: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var from: [From]
        public var to: [To]
    }

    public struct From: Codable, Sendable, Hashable {
        public var group: String
        public var kind: String
        public var namespace: String
    }

    public struct To: Codable, Sendable, Hashable {
        public var group: String
        public var kind: String
        public var name: String?
    }
}
