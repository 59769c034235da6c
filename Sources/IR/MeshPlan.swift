/// A mesh proxy's capture listener: connections that iptables redirected to it, sorted
/// into chains by where they were going (the original destination Envoy recovers) and,
/// on a node-level proxy, by which workload sent them.
///
/// The outbound listener has a chain per Service VIP and port a workload may call; the
/// inbound listener a chain per port a workload serves. Anything else takes the
/// `fallback`.
public struct MeshListenerPlan: Hashable, Sendable, Encodable {
    public enum Direction: String, Hashable, Sendable, Encodable {
        /// What the workloads send.
        case outbound
        /// What the workloads receive.
        case inbound
    }

    public var direction: Direction
    /// Most specific match first; no two chains match the same connections.
    public var chains: [MeshChainPlan]
    /// Where connections no chain matches go.
    public var fallback: MeshFallback

    public init(direction: Direction, chains: [MeshChainPlan], fallback: MeshFallback) {
        self.direction = direction
        self.chains = chains
        self.fallback = fallback
    }

    /// The chains' route tables, each once (a port taking both mutual TLS and plaintext
    /// has two chains and one table).
    public var routeTables: [RouteTablePlan] {
        var seen: Set<String> = []
        var tables: [RouteTablePlan] = []
        for chain in chains {
            if case .http(let table, _) = chain.traffic, seen.insert(table.name).inserted { tables.append(table) }
        }
        return tables
    }
}

/// What happens to a captured connection no chain matches.
public enum MeshFallback: Hashable, Sendable, Encodable {
    /// On to where it was going, unchanged (`cluster` connects to the original destination).
    case passthrough(cluster: String)
    /// Closed at once (proxied to ``ClusterPlan/rejectName``, which has no endpoints).
    case blocked

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .passthrough(let cluster): try encoder.encodeCase("passthrough", ["cluster": cluster])
        case .blocked: try encoder.encodeCase("blocked", [String: String]())
        }
    }
}

/// One chain of a capture listener: connections to `destinations` (CIDRs; none: any)
/// on `port` (0: any port no other chain takes), from `sources` (CIDRs; none: any).
public struct MeshChainPlan: Hashable, Sendable, Encodable {
    /// `outbound|namespace/service:port|consumer namespace`, `inbound|namespace/pod:port`
    /// (with `|mtls` or `|plaintext` when the port takes both).
    public var name: String
    public var port: Int
    public var destinations: [String]
    public var sources: [String]
    /// What the connection must be on the wire to take this chain.
    public var transport: Transport
    public var traffic: Traffic
    /// Who may call, and what they may ask (inbound); nil: anyone, anything.
    public var authorization: MeshAuthorizationPlan?

    public init(
        name: String, port: Int, destinations: [String], sources: [String] = [], transport: Transport = .any,
        traffic: Traffic, authorization: MeshAuthorizationPlan? = nil
    ) {
        self.name = name
        self.port = port
        self.destinations = destinations
        self.sources = sources
        self.transport = transport
        self.traffic = traffic
        self.authorization = authorization
    }

    public enum Transport: String, Hashable, Sendable, Encodable {
        /// Whatever arrives.
        case any
        /// Plaintext only (the caller has no mesh certificate).
        case plaintext
        /// Mutual TLS: the proxy presents the workload's certificate
        /// (``SecretPlan/workloadCertificateName``) and requires one from the caller that
        /// chains to the mesh CA (``SecretPlan/meshTrustBundleName``).
        case mutualTLS
    }

    enum CodingKeys: String, CodingKey { case name, port, destinations, sources, transport, traffic, authorization }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(port, forKey: .port)
        try container.encode(destinations, forKey: .destinations)
        try container.encode(sources, forKey: .sources)
        if transport != .any { try container.encode(transport, forKey: .transport) }
        try container.encode(traffic, forKey: .traffic)
        try container.encodeIfPresent(authorization, forKey: .authorization)
    }

    public enum Traffic: Hashable, Sendable, Encodable {
        /// HTTP, routed by the table (sent over RDS under its name).
        case http(RouteTablePlan, inbound: Bool)
        /// TCP, proxied to one cluster.
        case tcp(cluster: String)

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .http(let table, let inbound):
                try encoder.encodeCase(inbound ? "inboundHTTP" : "http", table)
            case .tcp(let cluster): try encoder.encodeCase("tcp", ["cluster": cluster])
            }
        }
    }
}

/// Who may call a workload's port and, over HTTP, what they may ask: the shape that
/// CiliumNetworkPolicy's L7 subset and Istio's AuthorizationPolicy both map onto.
///
/// A connection whose caller no rule (of `deny` or `allow`) could ever match is refused
/// before any byte reaches the workload; an HTTP request a rule's principals match but
/// its requests do not gets 403.
public struct MeshAuthorizationPlan: Hashable, Sendable, Encodable {
    /// Calls any of these match are refused, whatever `allow` says.
    public var deny: [MeshAuthorizationRule]
    /// Nil: every call no deny rule matches is allowed. Otherwise only the calls one of
    /// these matches; an empty list refuses every call.
    public var allow: [MeshAuthorizationRule]?

    public init(deny: [MeshAuthorizationRule] = [], allow: [MeshAuthorizationRule]?) {
        self.deny = deny
        self.allow = allow
    }

    /// Whether any rule looks into HTTP requests (the port must be served as HTTP).
    public var inspectsRequests: Bool {
        (deny + (allow ?? [])).contains { $0.requests != nil }
    }
}

/// One rule: calls from any of `principals` asking any of `requests` (nil: anything).
public struct MeshAuthorizationRule: Hashable, Sendable, Encodable {
    /// `namespace/policy` and the rule's place in it, for Envoy's stats and logs.
    public var name: String
    /// Any of them; an empty list matches no caller.
    public var principals: [MeshPrincipal]
    /// HTTP requests, any of them; nil: every request and every connection.
    public var requests: [MeshRequestMatch]?

    public init(name: String, principals: [MeshPrincipal], requests: [MeshRequestMatch]?) {
        self.name = name
        self.principals = principals
        self.requests = requests
    }
}

/// Who a caller is.
public enum MeshPrincipal: Hashable, Sendable, Encodable {
    /// Anyone, with or without a certificate.
    case any
    /// A caller whose mesh certificate carries this SPIFFE ID (mutual TLS only).
    case identity(String)
    /// A caller whose SPIFFE ID starts with this (a namespace: `spiffe://td/ns/NS/sa/`).
    case identityPrefix(String)
    /// A caller from this address block (CIDR), with or without a certificate.
    case address(String)
    /// A caller holding this SPIFFE ID's certificate and connecting from this address
    /// (CIDR): one Pod, proven by mutual TLS.
    case workload(identity: String, address: String)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .any: try encoder.encodeCase("any", [String: String]())
        case .identity(let id): try encoder.encodeCase("identity", id)
        case .identityPrefix(let prefix): try encoder.encodeCase("identityPrefix", prefix)
        case .address(let cidr): try encoder.encodeCase("address", cidr)
        case .workload(let identity, let address):
            try encoder.encodeCase("workload", ["identity": identity, "address": address])
        }
    }
}

/// An HTTP request: every field given must match (method and path over the whole value).
public struct MeshRequestMatch: Hashable, Sendable, Encodable {
    public var method: StringMatch?
    public var path: StringMatch?
    public var headers: [HeaderMatchPlan]

    public init(method: StringMatch? = nil, path: StringMatch? = nil, headers: [HeaderMatchPlan] = []) {
        self.method = method
        self.path = path
        self.headers = headers
    }
}
