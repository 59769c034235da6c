import GatewayModel

/// One Envoy listener: an address and port, and what is served there. Every Gateway
/// listener of the group on the same address and port lands here; the first stage has
/// already refused those that could not share it.
public struct ListenerPlan: Hashable, Sendable, Encodable {
    /// `address:port`.
    public var name: String
    public var address: String
    public var port: Int
    public var traffic: Traffic
    /// The Gateways (and TLS, TCP and UDP routes) the listener was made from.
    public var origins: Origins
    /// How clients are treated (ClientTrafficPolicy): the cleartext HTTP connection
    /// manager's settings, and the listener's connection and buffer limits.
    public var client: ClientSettingsPlan?

    public init(
        name: String, address: String, port: Int, traffic: Traffic, origins: Origins, client: ClientSettingsPlan? = nil
    ) {
        self.name = name
        self.address = address
        self.port = port
        self.traffic = traffic
        self.origins = origins
        self.client = client
    }

    /// What the listener carries.
    public enum Traffic: Hashable, Sendable, Encodable {
        /// HTTP in cleartext, or HTTPS: HTTP behind TLS chosen by SNI.
        case http(HTTPListenerPlan)
        /// TLS connections routed by SNI, passed through or terminated.
        case tls([TLSChainPlan])
        /// One TCP connection proxy.
        case tcp(StreamChainPlan)
        /// One UDP datagram proxy.
        case udp(UDPPlan)
        /// A mesh proxy's capture listener (outbound or inbound).
        case mesh(MeshListenerPlan)

        /// Every route table the listener's traffic is routed by.
        public var routeTables: [RouteTablePlan] {
            switch self {
            case .http(let http): http.routeTables
            case .mesh(let mesh): mesh.routeTables
            case .tls, .tcp, .udp: []
            }
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .http(let plan): try encoder.encodeCase("http", plan)
            case .tls(let chains): try encoder.encodeCase("tls", chains)
            case .tcp(let chain): try encoder.encodeCase("tcp", chain)
            case .udp(let plan): try encoder.encodeCase("udp", plan)
            case .mesh(let plan): try encoder.encodeCase("mesh", plan)
            }
        }
    }

    enum CodingKeys: String, CodingKey { case name, address, port, traffic, origins, client }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(address, forKey: .address)
        try container.encode(port, forKey: .port)
        try container.encode(traffic, forKey: .traffic)
        try container.encode(origins, forKey: .origins)
        try container.encodeIfPresent(client, forKey: .client)
    }
}

/// HTTP on one port. Cleartext HTTP has one route table; HTTPS has a filter chain per
/// SNI, each with its certificates and a route table of its own, so that a request for a
/// host another chain serves is answered 421 rather than routed across certificates.
/// (The HTTP filters requests pass are worked out from the routes by the second stage:
/// `EnvoyBuild/HTTPFilters.swift`.)
public enum HTTPListenerPlan: Hashable, Sendable, Encodable {
    case plain(RouteTablePlan)
    /// In the order Envoy should consider them.
    case secure([SecureChainPlan])

    public var isSecure: Bool { if case .secure = self { true } else { false } }

    /// Every route table of the port: the one of cleartext HTTP, or one per chain.
    public var routeTables: [RouteTablePlan] {
        switch self {
        case .plain(let table): [table]
        case .secure(let chains): chains.map(\.routeTable)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .plain(let table): try encoder.encodeCase("plain", table)
        case .secure(let chains): try encoder.encodeCase("secure", chains)
        }
    }
}

/// One HTTPS filter chain: the SNI names it answers (none: any), the certificates (SDS
/// secret names) it serves, and the routes of requests on its connections.
public struct SecureChainPlan: Hashable, Sendable, Encodable {
    /// `namespace/gateway/listener`.
    public var name: String
    public var serverNames: [String]
    public var certificates: [String]
    public var routeTable: RouteTablePlan
    /// Client certificates asked for and validated (the Gateway's `tls.frontend`, or a
    /// ClientTrafficPolicy's `tls.clientValidation`).
    public var clientValidation: ClientValidationPlan?
    /// The chain's connection manager settings (ClientTrafficPolicy).
    public var client: ClientSettingsPlan?
    /// TLS versions, ciphers and ALPN (ClientTrafficPolicy).
    public var tls: DownstreamTLSPlan?

    public init(
        name: String, serverNames: [String], certificates: [String], routeTable: RouteTablePlan,
        clientValidation: ClientValidationPlan? = nil, client: ClientSettingsPlan? = nil, tls: DownstreamTLSPlan? = nil
    ) {
        self.name = name
        self.serverNames = serverNames
        self.certificates = certificates
        self.routeTable = routeTable
        self.clientValidation = clientValidation
        self.client = client
        self.tls = tls
    }
}

/// Mutual TLS on an HTTPS chain: the proxy asks every client for a certificate and
/// validates it against the CA bundle of `caSecret` (an SDS name). When not
/// `required` (AllowInsecureFallback), a client without a valid certificate is let in.
public struct ClientValidationPlan: Hashable, Sendable, Encodable {
    public var caSecret: String
    public var required: Bool

    public init(caSecret: String, required: Bool) {
        self.caSecret = caSecret
        self.required = required
    }
}

/// The routes of one HTTP port, or of one HTTPS chain (an Envoy route configuration).
public struct RouteTablePlan: Hashable, Sendable, Encodable {
    /// `address:port`, as the listener.
    public var name: String
    /// Sorted by name.
    public var virtualHosts: [VirtualHostPlan]
    /// The Gateways and the routes it was made from.
    public var origins: Origins

    public init(name: String, virtualHosts: [VirtualHostPlan], origins: Origins) {
        self.name = name
        self.virtualHosts = virtualHosts
        self.origins = origins
    }

    enum CodingKeys: String, CodingKey { case name, virtualHosts, origins }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(virtualHosts, forKey: .virtualHosts)
        try container.encode(origins, forKey: .origins)
    }
}

/// A TLS filter chain: connections whose SNI is one of `serverNames` (none: any) go to
/// `destination`, terminated first with `certificates` when there are any.
public struct TLSChainPlan: Hashable, Sendable, Encodable {
    /// `namespace/gateway/listener/namespace/route`.
    public var name: String
    public var serverNames: [String]
    /// SDS names; empty for passthrough.
    public var certificates: [String]
    public var destination: StreamDestination

    public init(name: String, serverNames: [String], certificates: [String], destination: StreamDestination) {
        self.name = name
        self.serverNames = serverNames
        self.certificates = certificates
        self.destination = destination
    }
}

/// A TCP listener's one chain (its one route).
public struct StreamChainPlan: Hashable, Sendable, Encodable {
    public var name: String
    public var destination: StreamDestination
    /// Which clients may connect (a SecurityPolicy's authorization by client address);
    /// the others' connections are closed.
    public var authorization: AuthorizationPlan?

    public init(name: String, destination: StreamDestination, authorization: AuthorizationPlan? = nil) {
        self.name = name
        self.destination = destination
        self.authorization = authorization
    }
}

/// A UDP listener's one route: datagrams go to one cluster (several weighted backends
/// are one cluster with a locality each, see ``ClusterPlan/Kind/weighted``).
public struct UDPPlan: Hashable, Sendable, Encodable {
    public var cluster: String

    public init(cluster: String) { self.cluster = cluster }
}

/// Where a TCP or TLS connection goes: one cluster, or several by weight. Invalid
/// backends' share goes to the rejecting cluster, whose connections close at once.
public struct StreamDestination: Hashable, Sendable, Encodable {
    public var backends: [WeightedCluster]

    public init(backends: [WeightedCluster]) { self.backends = backends }
}

/// A cluster and its share of traffic.
public struct WeightedCluster: Hashable, Sendable, Encodable {
    public var cluster: String
    public var weight: Int

    public init(cluster: String, weight: Int) {
        self.cluster = cluster
        self.weight = weight
    }
}
