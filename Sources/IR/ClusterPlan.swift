import GatewayModel

/// One Envoy cluster with its endpoints: a Service port, several Service ports mixed by
/// weight (UDP), or the cluster that stands for invalid backends.
public struct ClusterPlan: Hashable, Sendable, Encodable {
    /// `namespace/service:port`, `namespace/route/weighted` or ``ClusterPlan/rejectName``.
    public var name: String
    public var kind: Kind
    public var settings: UpstreamSettings
    /// The route, Service and policy objects the cluster was made from.
    public var origins: Origins
    /// Those its endpoints were made from (the routes and Services).
    public var endpointOrigins: Origins

    public init(
        name: String, kind: Kind, settings: UpstreamSettings = UpstreamSettings(), origins: Origins,
        endpointOrigins: Origins
    ) {
        self.name = name
        self.kind = kind
        self.settings = settings
        self.origins = origins
        self.endpointOrigins = endpointOrigins
    }

    /// The cluster that stands for invalid backends of TCP and TLS routes: it has no
    /// endpoints, so the share of connections sent to it is closed at once.
    public static let rejectName = "chancery/reject"

    public enum Kind: Hashable, Sendable, Encodable {
        /// A Service port's ready endpoints, discovered over EDS.
        case service(endpoints: [Endpoint])
        /// Several Service ports' endpoints, a locality each, weighted (over EDS).
        case weighted(localities: [WeightedLocality])
        /// No endpoints: every connection is refused.
        case reject
        /// A host name the proxy resolves itself (a remote JWKS server).
        case dns(host: String, port: Int)
        /// Wherever each connection was going before a mesh proxy captured it.
        case originalDestination

        /// Whether the cluster's endpoints are sent as their own resource (EDS).
        public var hasDiscoveredEndpoints: Bool {
            switch self {
            case .reject, .dns, .originalDestination: false
            case .service, .weighted: true
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .service(let endpoints): try encoder.encodeCase("service", ["endpoints": endpoints])
            case .weighted(let localities): try encoder.encodeCase("weighted", ["localities": localities])
            case .reject: try encoder.encodeCase("reject", [String: String]())
            case .dns(let host, let port): try encoder.encodeCase("dns", ["host": host, "port": String(port)])
            case .originalDestination: try encoder.encodeCase("originalDestination", [String: String]())
            }
        }
    }

    enum CodingKeys: String, CodingKey { case name, kind, settings, origins, endpointOrigins }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(kind, forKey: .kind)
        if settings != UpstreamSettings() { try container.encode(settings, forKey: .settings) }
        try container.encode(origins, forKey: .origins)
        if kind.hasDiscoveredEndpoints {
            try container.encode(endpointOrigins, forKey: .endpointOrigins)
        }
    }
}

/// How Envoy talks to a cluster's endpoints.
public struct UpstreamSettings: Hashable, Sendable, Encodable {
    public var http2: Bool
    public var tls: UpstreamTLSPlan?
    /// How long a connection to an endpoint may take to open (Envoy's 10 s otherwise).
    public var connectTimeoutMilliseconds: Int64?
    /// TLS to the endpoints without checking their certificates (ingress-nginx's
    /// `backend-protocol: HTTPS`, whose `proxy_ssl_verify` is off); `tls`, when set, wins.
    public var unverifiedTLS: Bool
    /// BackendTrafficPolicy: how endpoints are chosen, limits, health checks, and how
    /// long an idle connection to an endpoint is kept.
    public var traffic: BackendTrafficPlan?

    public init(
        http2: Bool = false, tls: UpstreamTLSPlan? = nil, connectTimeoutMilliseconds: Int64? = nil, unverifiedTLS: Bool = false
    ) {
        self.http2 = http2
        self.tls = tls
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.unverifiedTLS = unverifiedTLS
    }

    enum CodingKeys: String, CodingKey { case http2, tls, connectTimeoutMilliseconds, unverifiedTLS, traffic }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(http2, forKey: .http2)
        try container.encodeIfPresent(tls, forKey: .tls)
        try container.encodeIfPresent(connectTimeoutMilliseconds, forKey: .connectTimeoutMilliseconds)
        if unverifiedTLS { try container.encode(true, forKey: .unverifiedTLS) }
        try container.encodeIfPresent(traffic, forKey: .traffic)
    }
}

/// TLS from Envoy to the backend: the SNI sent, the names the backend's certificate
/// must carry, and the SDS secret holding the CAs it must chain to.
public struct UpstreamTLSPlan: Hashable, Sendable, Encodable {
    public var sni: String
    public var subjectAltNames: [SubjectAltNamePlan]
    public var caSecret: String
    /// The certificate Envoy presents to the backend (an SDS name): the Gateway's
    /// `tls.backend.clientCertificateRef`.
    public var clientCertificate: String?

    public init(sni: String, subjectAltNames: [SubjectAltNamePlan], caSecret: String, clientCertificate: String? = nil) {
        self.sni = sni
        self.subjectAltNames = subjectAltNames
        self.caSecret = caSecret
        self.clientCertificate = clientCertificate
    }
}

public struct SubjectAltNamePlan: Hashable, Sendable, Encodable {
    public enum Kind: String, Hashable, Sendable, Encodable {
        case dns, uri
    }

    public var kind: Kind
    public var value: String

    public init(kind: Kind, value: String) {
        self.kind = kind
        self.value = value
    }
}

/// An endpoint address and port.
public struct Endpoint: Hashable, Sendable, Comparable, Encodable {
    public var address: String
    public var port: Int

    public init(address: String, port: Int) {
        self.address = address
        self.port = port
    }

    public static func < (a: Self, b: Self) -> Bool { (a.address, a.port) < (b.address, b.port) }
}

/// One backend's endpoints in a weighted cluster.
public struct WeightedLocality: Hashable, Sendable, Encodable {
    /// The backend's cluster name.
    public var name: String
    public var weight: Int
    public var endpoints: [Endpoint]

    public init(name: String, weight: Int, endpoints: [Endpoint]) {
        self.name = name
        self.weight = weight
        self.endpoints = endpoints
    }
}
