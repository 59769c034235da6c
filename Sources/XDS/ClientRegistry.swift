import Foundation
import Metrics
import Synchronization

/// Every proxy connected to this Chancery and where each of its subscriptions stands.
///
/// The xDS streams write to it; the admin endpoint and tests read it. It answers
/// "did my change reach every proxy, and if not, why?".
public final class ClientRegistry: Sendable {
    public enum Transport: String, Sendable, Codable {
        case stateOfTheWorld = "sotw"
        case delta
    }

    /// One proxy's stream.
    public struct Client: Sendable, Identifiable {
        public let id: UInt64
        public let nodeID: String
        public let group: String
        public let peer: String
        public let transport: Transport
        /// `ADS`, or the per-type service (`CDS`, `LDS`, …) the stream was opened on.
        public let service: String
        public let connectedAt: Date
        public internal(set) var types: [ResourceType: TypeStatus] = [:]
        /// The snapshot version this stream is working towards.
        public internal(set) var snapshotVersion: String?
        /// The last snapshot version the proxy held completely (every type pushed and
        /// ACKed, nothing rejected), and since when.
        public internal(set) var syncedVersion: String?
        public internal(set) var syncedAt: Date?
        /// When the first push for each recent snapshot version went out.
        public internal(set) var firstSentAt: [String: Date] = [:]
        /// When each recent snapshot version became fully ACKed.
        public internal(set) var ackedAt: [String: Date] = [:]

        /// Whether the proxy holds the group's current content.
        public var inSync: Bool { syncedVersion != nil && syncedVersion == snapshotVersion }
    }

    /// Where one type stands on one stream.
    public struct TypeStatus: Sendable, Equatable {
        public var sentVersion: String?
        public var sentNonce: String?
        public var sentAt: Date?
        /// Names in the last push (delta: only the changed ones) and names removed by it.
        public var lastPushResources: [String] { lastPush.map(\.name) }
        public var lastPushRemoved: [String] = []
        /// The last push's resources: the push's own array, shared, so that recording a
        /// push does not copy a thousand names per stream.
        var lastPush: [Resource] = []
        public var pushes = 0
        public var ackedVersion: String?
        public var ackedAt: Date?
        public var lastNack: Nack?
        /// Names the proxy subscribes to, or nil for a wildcard subscription.
        public var subscribed: [String]? {
            guard let subscription, !subscription.wildcard else { return nil }
            return subscription.names.sorted()
        }
        /// The subscription as the stream holds it (its set is shared, not copied).
        var subscription: Subscription?
    }

    public struct Nack: Sendable, Equatable {
        public var version: String
        public var nonce: String
        public var message: String
        public var at: Date
        /// Names in the rejected push.
        public var resources: [String]
    }

    private let clients = Mutex<[UInt64: Client]>([:])
    private let nextID = Atomic<UInt64>(1)

    public init() {}

    func register(nodeID: String, group: String, peer: String, transport: Transport, service: String) -> UInt64 {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let client = Client(
            id: id, nodeID: nodeID, group: group, peer: peer, transport: transport, service: service,
            connectedAt: Date())
        clients.withLock { $0[id] = client }
        return id
    }

    func remove(_ id: UInt64) {
        _ = clients.withLock { $0.removeValue(forKey: id) }
    }

    func recordPush(_ id: UInt64, _ push: Push, snapshotVersion: String) {
        let now = Date()
        update(id, push.type) { status in
            status.sentVersion = push.version
            status.sentNonce = push.nonce
            status.sentAt = now
            status.lastPush = push.resources
            status.lastPushRemoved = push.removed
            status.pushes += 1
        }
        clients.withLock { clients in
            guard clients[id] != nil else { return }
            clients[id]!.snapshotVersion = snapshotVersion
            if clients[id]!.firstSentAt[snapshotVersion] == nil {
                clients[id]!.firstSentAt[snapshotVersion] = now
                Self.trim(&clients[id]!.firstSentAt)
            }
        }
        Counter(label: "chancery_xds_pushes_total", dimensions: [("type", push.type.shortName)]).increment()
    }

    /// Records where a stream stands after an event: the snapshot version it works from
    /// and whether the proxy holds all of it. Returns true when it just became in sync.
    @discardableResult
    func recordProgress(_ id: UInt64, snapshotVersion: String, inSync: Bool) -> Bool {
        let now = Date()
        return clients.withLock { clients in
            guard var client = clients[id] else { return false }
            client.snapshotVersion = snapshotVersion
            var became = false
            if inSync, client.syncedVersion != snapshotVersion {
                client.syncedVersion = snapshotVersion
                client.syncedAt = now
                client.ackedAt[snapshotVersion] = now
                Self.trim(&client.ackedAt)
                became = true
            }
            clients[id] = client
            return became
        }
    }

    private static func trim(_ times: inout [String: Date]) {
        guard times.count > SnapshotCache.historyLength else { return }
        for (version, _) in times.sorted(by: { $0.value < $1.value }).prefix(times.count - SnapshotCache.historyLength) {
            times.removeValue(forKey: version)
        }
    }

    func recordOutcome(_ id: UInt64, _ type: ResourceType, _ outcome: RequestOutcome) {
        let now = Date()
        switch outcome {
        case .ack(_, let version):
            update(id, type) { status in
                status.ackedVersion = version
                status.ackedAt = now
            }
        case .nack(let nonce, let version, let message):
            update(id, type) { status in
                let resources = status.sentNonce == nonce ? status.lastPushResources : []
                status.lastNack = Nack(version: version, nonce: nonce, message: message, at: now, resources: resources)
            }
            Counter(label: "chancery_xds_nacks_total", dimensions: [("type", type.shortName)]).increment()
        case .subscribed, .stale, .subscriptionChanged, .unsupportedType:
            break
        }
    }

    func recordSubscription(_ id: UInt64, _ type: ResourceType, _ subscription: Subscription) {
        update(id, type) { status in
            status.subscription = subscription
        }
    }

    private func update(_ id: UInt64, _ type: ResourceType, _ body: (inout TypeStatus) -> Void) {
        clients.withLock { clients in
            guard clients[id] != nil else { return }
            body(&clients[id]!.types[type, default: TypeStatus()])
        }
    }

    /// Connected clients, oldest first.
    public var all: [Client] {
        clients.withLock { Array($0.values) }.sorted { $0.id < $1.id }
    }

    public func clients(inGroup group: String) -> [Client] { all.filter { $0.group == group } }

    public func client(nodeID: String) -> [Client] { all.filter { $0.nodeID == nodeID } }
}
