import EnvoyAPI

/// The six xDS resource types Chancery serves, in the order an ADS stream pushes them.
///
/// Envoy's xds_protocol doc asks for CDS → EDS → LDS → RDS so that clusters and their
/// endpoints exist before the listeners and routes that name them. Secrets are pushed
/// after endpoints: Envoy asks for them only once a listener or cluster names them, and
/// a certificate rotation should not wait behind listener changes. Scoped route
/// configurations (SRDS, only in the scoped route layout, docs/xds.md) go between
/// listeners and route configurations: a scoped connection manager subscribes to them,
/// and they carry their routes.
public enum ResourceType: Int, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    case cluster
    case endpoint
    case secret
    case listener
    case scopedRoute
    case route

    public static func < (lhs: ResourceType, rhs: ResourceType) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The `type_url` Envoy uses for this type in discovery requests and responses.
    public var typeURL: String {
        switch self {
        case .cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster"
        case .endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
        case .secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
        case .listener: "type.googleapis.com/envoy.config.listener.v3.Listener"
        case .scopedRoute: "type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration"
        case .route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
        }
    }

    public init?(typeURL: String) {
        guard let type = ResourceType.allCases.first(where: { $0.typeURL == typeURL }) else { return nil }
        self = type
    }

    /// Short name as Envoy's docs and stats use it (CDS, EDS, …).
    public var shortName: String {
        switch self {
        case .cluster: "CDS"
        case .endpoint: "EDS"
        case .secret: "SDS"
        case .listener: "LDS"
        case .scopedRoute: "SRDS"
        case .route: "RDS"
        }
    }

    public var description: String { shortName }

    /// Whether an empty subscription on a state-of-the-world stream means "everything".
    /// LDS and CDS are wildcard types in Envoy's legacy semantics, and so is SRDS: a
    /// connection manager's scoped routes subscribe to every scope of the stream.
    public var isWildcardType: Bool { self == .cluster || self == .listener || self == .scopedRoute }
}
