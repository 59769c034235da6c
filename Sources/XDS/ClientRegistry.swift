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
        /// The resources of the last push the proxy ACKed (shared with that push).
        var acceptedPush: [Resource] = []
        public var ackedVersion: String?
        public var ackedAt: Date?
        public var lastNack: Nack?
        /// The NACK of the last push of this type, if the proxy rejected it (an older NACK
        /// of a push since replaced says nothing of now).
        public var currentNack: Nack? {
            guard let lastNack, lastNack.nonce == sentNonce else { return nil }
            return lastNack
        }
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

    /// What the registry tells its observer.
    public enum Event: Sendable {
        /// A proxy rejected a push.
        case rejected(Rejected)
        /// A proxy now holds all of its group's current snapshot.
        case synced(group: String)
    }

    /// A rejected push, with what the proxy had accepted of the type before.
    public struct Rejected: Sendable {
        public var nodeID: String
        public var group: String
        public var transport: Transport
        public var type: ResourceType
        public var message: String
        /// Name → version of the resources in the rejected push (delta: the changed ones).
        public var pushed: [String: String]
        /// Name → version of the last push the proxy ACKed (state of the world only).
        public var accepted: [String: String]
    }

    /// Streams refused because their credentials do not own the group they asked for:
    /// one entry per proxy, group and reason, however often it retried.
    public struct Refusal: Sendable {
        public let nodeID: String
        public let group: String
        public internal(set) var peer: String
        /// The identity it proved, if any.
        public let identity: String?
        public let reason: String
        public internal(set) var first: Date
        public internal(set) var last: Date
        /// How many streams were refused so.
        public internal(set) var count: Int

        init(nodeID: String, group: String, peer: String, identity: String?, reason: String, at: Date) {
            self.nodeID = nodeID
            self.group = group
            self.peer = peer
            self.identity = identity
            self.reason = reason
            first = at
            last = at
            count = 1
        }
    }

    private let clients = Mutex<[UInt64: Client]>([:])
    private let refusals = Mutex<[Refusal]>([])
    /// How many refusals are kept (the most recent).
    public static let refusalsKept = 100
    private let nextID = Atomic<UInt64>(1)

    /// Records a refusal; true when this proxy was not refused so before (say it once).
    func recordRefusal(_ refusal: Refusal) -> Bool {
        refusals.withLock { refusals in
            if let index = refusals.firstIndex(where: {
                $0.nodeID == refusal.nodeID && $0.group == refusal.group && $0.reason == refusal.reason
            }) {
                var known = refusals.remove(at: index)
                known.count += 1
                known.last = refusal.last
                known.peer = refusal.peer
                refusals.append(known)
                return false
            }
            refusals.append(refusal)
            if refusals.count > Self.refusalsKept { refusals.removeFirst(refusals.count - Self.refusalsKept) }
            return true
        }
    }

    /// The most recent refusals, the latest last.
    public var refused: [Refusal] { refusals.withLock { $0 } }
    private let observer = Mutex<(@Sendable (Event) -> Void)?>(nil)

    public init() {}

    /// Sets the one observer told of rejections and of proxies coming in sync (the
    /// pipeline, which quarantines what proxies reject). It is called on the stream's
    /// task, so it must return at once.
    public func observe(_ handler: @escaping @Sendable (Event) -> Void) {
        observer.withLock { $0 = handler }
    }

    private func notify(_ event: Event) {
        observer.withLock { $0 }?(event)
    }

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
        let group: String? = clients.withLock { clients in
            guard var client = clients[id] else { return nil }
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
            return became ? client.group : nil
        }
        if let group { notify(.synced(group: group)) }
        return group != nil
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
        case .ack(let nonce, let version):
            // The time from a push to its ACK: how long Envoy took to apply it.
            let applied: (group: String, seconds: Double)? = clients.withLock { clients in
                guard let group = clients[id]?.group else { return nil }
                // In place: an ACK of every stream of a large fleet copies nothing.
                return { (status: inout TypeStatus) -> (String, Double)? in
                    status.ackedVersion = version
                    status.ackedAt = now
                    guard status.sentNonce == nonce else { return nil }
                    status.acceptedPush = status.lastPush
                    return status.sentAt.map { (group, now.timeIntervalSince($0)) }
                }(&clients[id]!.types[type, default: TypeStatus()])
            }
            if let applied {
                Timer(label: "chancery_xds_ack_seconds", dimensions: [("group", applied.group), ("type", type.shortName)])
                    .recordNanoseconds(Int64(max(0, applied.seconds) * 1e9))
            }
        case .nack(let nonce, let version, let message):
            let rejected: Rejected? = clients.withLock { clients in
                guard let client = clients[id], var status = client.types[type] else { return nil }
                let current = status.sentNonce == nonce
                status.lastNack = Nack(
                    version: version, nonce: nonce, message: message, at: now,
                    resources: current ? status.lastPushResources : [])
                clients[id]!.types[type] = status
                guard current else { return nil }
                func versions(_ resources: [Resource]) -> [String: String] {
                    Dictionary(resources.map { ($0.name, $0.version) }, uniquingKeysWith: { first, _ in first })
                }
                return Rejected(
                    nodeID: client.nodeID, group: client.group, transport: client.transport, type: type,
                    message: message, pushed: versions(status.lastPush),
                    accepted: client.transport == .stateOfTheWorld ? versions(status.acceptedPush) : [:])
            }
            if let rejected { notify(.rejected(rejected)) }
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

    /// How many proxies of `group` are connected, and whether every one holds `version`
    /// (counted under the lock, without copying every client).
    public func holding(group: String, version: String) -> (proxies: Int, all: Bool) {
        clients.withLock { clients in
            var proxies = 0
            var all = true
            for client in clients.values where client.group == group {
                proxies += 1
                if !client.inSync || client.syncedVersion != version { all = false }
            }
            return (proxies, all)
        }
    }

    /// Connected clients, oldest first.
    public var all: [Client] {
        clients.withLock { Array($0.values) }.sorted { $0.id < $1.id }
    }

    public func clients(inGroup group: String) -> [Client] { all.filter { $0.group == group } }

    public func client(nodeID: String) -> [Client] { all.filter { $0.nodeID == nodeID } }
}
