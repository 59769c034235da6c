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
/// on `port`, from `sources` (CIDRs; none: any).
public struct MeshChainPlan: Hashable, Sendable, Encodable {
    /// `outbound|namespace/service:port|consumer namespace`, `inbound|namespace/pod:port`.
    public var name: String
    public var port: Int
    public var destinations: [String]
    public var sources: [String]
    public var traffic: Traffic

    public init(name: String, port: Int, destinations: [String], sources: [String] = [], traffic: Traffic) {
        self.name = name
        self.port = port
        self.destinations = destinations
        self.sources = sources
        self.traffic = traffic
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
