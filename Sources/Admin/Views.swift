import Foundation
import GatewayModel
import IR
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
        var types: [String: TypeState]
    }

    static func client(_ c: ClientRegistry.Client) -> Client {
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
            syncedAt: c.syncedAt, inSync: c.inSync, types: types)
    }
}

extension ResourceType {
    /// The IR's name for resources of this type (origins are looked up by it).
    public var resourceKind: ResourceKind {
        switch self {
        case .listener: .listener
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
        case .route: "routes"
        case .cluster: "clusters"
        case .endpoint: "endpoints"
        case .secret: "secrets"
        }
    }
}
