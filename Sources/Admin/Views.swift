import Foundation
import GatewayModel
import IR
import Translation
import XDS

/// JSON shapes of the admin API. Field names are the API: keep them stable.
enum Views {
    struct ErrorBody: Codable {
        struct Detail: Codable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    struct Object: Codable {
        var kind: String
        var namespace: String?
        var name: String
        /// `file:line` for objects read from files.
        var origin: String?
        var rejected: Bool
        /// A proxy rejected what this version produced: it is served without it (or as
        /// it was before) until it changes (``Quarantine``).
        var quarantined: Bool
        var conditions: [Condition]
        var listeners: [ListenerStatus]?
        /// Gateways: the addresses they are served on, and how many ListenerSets attached.
        var addresses: [Gateway.Address]?
        var attachedListenerSets: Int?
        var parents: [RouteParentStatus]?
        /// Policies: their status towards each Gateway they take effect for.
        var ancestors: [PolicyAncestorStatus]?
        /// Routes: the policies in effect on each rule, and what each decides there.
        var policies: [EffectivePolicy]?
    }

    /// One object in quarantine.
    struct Quarantined: Codable {
        var kind: String
        var namespace: String?
        var name: String
        /// Which proxy rejected what, in Envoy's words.
        var message: String
        var since: Date
        /// What is served meanwhile: `previous version` or `nothing (new object)`.
        var serving: String
    }

    struct Objects: Codable {
        var objects: [Object]
        /// Objects or files that could not be read at all.
        var readErrors: [String]
    }

    struct SnapshotSummary: Codable {
        var group: String
        var version: String
        var resources: [String: Int]
        var builtAt: Date
        var seenAt: Date
        var translatedAt: Date
        var proxies: Int
        var proxiesInSync: Int
        var versions: [String]
    }

    struct ProxyVersionState: Codable {
        var nodeID: String
        var firstSentAt: Date?
        var ackedAt: Date?
        var inSync: Bool
        var nack: String?
    }

    struct VersionTimeline: Codable {
        var group: String
        var version: String
        var current: Bool
        var seenAt: Date
        var translatedAt: Date
        var setAt: Date
        var firstSentAt: Date?
        /// When the last connected proxy of the group ACKed it, if all have.
        var allAckedAt: Date?
        var proxies: [ProxyVersionState]
        /// Objects a proxy of this group rejected, left out of this version (or served
        /// as they were before) until they change: `Kind ns/name: message`.
        var quarantined: [String]
    }

    struct Diff: Codable {
        var group: String
        var from: String
        var to: String
        var added: [String]
        var removed: [String]
        var changed: [String]
        /// Each added, removed or changed resource with a unified diff of its Envoy JSON.
        var changes: [ResourceChange]
    }

    /// One resource that differs between two versions (or between what is served and a plan).
    struct ResourceChange: Codable {
        /// `route/http-80`.
        var resource: String
        /// `added`, `removed` or `changed`.
        var change: String
        /// A unified diff of the resource's Envoy JSON (secrets redacted).
        var diff: String
    }

    /// What `chancery plan` sends: the candidate manifests, as files.
    struct PlanRequest: Codable {
        struct File: Codable {
            var path: String
            var content: String
        }
        var files: [File]
        /// The files are the whole configuration: what is served and not in them is deleted.
        /// Otherwise their objects are laid over what is served.
        var prune: Bool?
    }

    /// What serving the candidate manifests would change.
    struct Plan: Codable {
        /// The serving version each group is compared against is the group's current one.
        var groups: [PlanGroup]
        /// Objects added, changed or removed by the files, and any whose status would change.
        var objects: [PlanObject]
        /// Files or objects of the candidate that could not be read.
        var readErrors: [String]
        /// Whether anything of the candidate would be rejected: a read error, or an object
        /// the files change (or whose status changes) that would not be fully accepted.
        var wouldReject: Bool
        var prune: Bool
        var files: Int
        var objectsRead: Int
    }

    struct PlanGroup: Codable {
        var group: String
        /// The version served now; nil for a group that would be new.
        var serving: String?
        /// The version the plan would serve; nil for a group that would go.
        var planned: String?
        var changes: [ResourceChange]
        /// The candidate's resources do not form a consistent snapshot: the group would
        /// keep serving what it serves.
        var error: String?
    }

    struct PlanObject: Codable {
        var kind: String
        var namespace: String?
        var name: String
        /// `added`, `changed`, `removed`, or `unchanged` (only its status would change).
        var change: String
        var origin: String?
        /// Its conditions now and as planned, a line each.
        var before: [String]
        var after: [String]
        var rejected: Bool
    }

    /// `describe`: an object, and where it went.
    struct Described: Codable {
        var object: Object
        var carriedBy: [Carrier]
    }

    /// A proxy group whose configuration holds resources an object produced.
    struct Carrier: Codable {
        var group: String
        var version: String
        var resources: [String]
        var proxies: [CarrierProxy]
    }

    /// `/api/v1/clients`: the connected proxies, and the most recent streams refused
    /// because their credentials do not own the group they asked for.
    struct Clients: Encodable {
        var clients: [Client]
        var refused: [Refusal]
    }

    struct Refusal: Encodable {
        var nodeID: String
        var group: String
        var peer: String
        var identity: String?
        var reason: String
        var first: Date
        var last: Date
        var count: Int
    }

    static func refusal(_ r: ClientRegistry.Refusal) -> Refusal {
        Refusal(
            nodeID: r.nodeID, group: r.group, peer: r.peer, identity: r.identity, reason: r.reason, first: r.first, last: r.last,
            count: r.count)
    }

    struct CarrierProxy: Codable {
        var nodeID: String
        var inSync: Bool
    }

    struct TypeState: Codable {
        var sentVersion: String?
        var sentNonce: String?
        var sentAt: Date?
        var ackedVersion: String?
        var ackedAt: Date?
        var pushes: Int
        var subscribed: [String]?
        var lastNack: Nack?
    }

    struct Nack: Codable {
        var version: String
        var nonce: String
        var message: String
        var at: Date
        var resources: [String]
    }

    struct Client: Codable {
        var nodeID: String
        var group: String
        var peer: String
        var transport: String
        var service: String
        var connectedAt: Date
        var snapshotVersion: String?
        var syncedVersion: String?
        var syncedAt: Date?
        var inSync: Bool
        /// False when no proxy group has this name: the proxy is connected but sent nothing
        /// (a typo in its bootstrap's cluster, most often).
        var knownGroup: Bool
        var types: [String: TypeState]
    }

    struct Mesh: Encodable {
        var proxies: [MeshProxyView]
        /// Connected mesh proxies whose Pod or node no mesh group serves: they hold an
        /// empty configuration.
        var unknown: [UnknownMeshProxy]
    }

    struct MeshProxyView: Encodable {
        var group: String
        var kind: String
        var pod: String?
        var node: String?
        var workloads: [MeshProxy.Workload]
        var services: [String]
        var routeTables: Int
        var clusters: Int
        /// Node ids of the proxies connected for this group.
        var connected: [String]
    }

    struct UnknownMeshProxy: Encodable {
        var nodeID: String
        var group: String
        var warning: String
    }

    static func mesh(_ groups: [String: MeshProxy], clients: [ClientRegistry.Client]) -> Mesh {
        let byGroup = Dictionary(grouping: clients, by: \.group)
        let proxies = groups.keys.sorted().map { group in
            let proxy = groups[group]!
            return MeshProxyView(
                group: group, kind: proxy.kind.rawValue, pod: proxy.pod, node: proxy.node, workloads: proxy.workloads,
                services: proxy.services, routeTables: proxy.routeTables, clusters: proxy.clusters,
                connected: (byGroup[group] ?? []).map(\.nodeID).sorted())
        }
        let sidecar = MeshGrouping.sidecarPrefix
        let node = MeshGrouping.nodePrefix
        let unknown = clients.filter { ($0.group.hasPrefix(sidecar) || $0.group.hasPrefix(node)) && groups[$0.group] == nil }
            .sorted { $0.nodeID < $1.nodeID }
            .map { client in
                UnknownMeshProxy(
                    nodeID: client.nodeID, group: client.group,
                    warning: client.group.hasPrefix(sidecar)
                        ? "no mesh Pod \(client.group.dropFirst(sidecar.count)): it does not exist, has no IP, or is not in the mesh (its namespace needs label chancery.dev/mesh=enabled); the proxy holds an empty configuration"
                        : "no mesh Pod runs on node \(client.group.dropFirst(node.count)); the proxy holds an empty configuration")
            }
        return Mesh(proxies: proxies, unknown: unknown)
    }

    static func client(_ c: ClientRegistry.Client, knownGroups: Set<String>) -> Client {
        var types: [String: TypeState] = [:]
        for (type, status) in c.types {
            types[type.shortName] = TypeState(
                sentVersion: status.sentVersion, sentNonce: status.sentNonce, sentAt: status.sentAt,
                ackedVersion: status.ackedVersion, ackedAt: status.ackedAt, pushes: status.pushes,
                subscribed: status.subscribed,
                lastNack: status.lastNack.map {
                    Nack(version: $0.version, nonce: $0.nonce, message: $0.message, at: $0.at, resources: $0.resources)
                })
        }
        return Client(
            nodeID: c.nodeID, group: c.group, peer: c.peer, transport: c.transport.rawValue, service: c.service,
            connectedAt: c.connectedAt, snapshotVersion: c.snapshotVersion, syncedVersion: c.syncedVersion,
            syncedAt: c.syncedAt, inSync: c.inSync, knownGroup: knownGroups.contains(c.group), types: types)
    }
}

extension ResourceType {
    /// The IR's name for resources of this type (origins are looked up by it).
    public var resourceKind: ResourceKind {
        switch self {
        case .listener: .listener
        case .scopedRoute: .scopedRoute
        case .route: .route
        case .cluster: .cluster
        case .endpoint: .endpoint
        case .secret: .secret
        }
    }

    /// Plural used in the snapshot API.
    var plural: String {
        switch self {
        case .listener: "listeners"
        case .scopedRoute: "scoped_routes"
        case .route: "routes"
        case .cluster: "clusters"
        case .endpoint: "endpoints"
        case .secret: "secrets"
        }
    }
}
