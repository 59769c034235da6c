import Foundation
import Logging
import Synchronization

/// The current snapshot of every proxy group, and the streams waiting for changes.
///
/// The cache knows nothing of Gateway API or of gRPC: something sets snapshots, streams
/// watch them. An Envoy whose `node.cluster` names a group that has no snapshot gets
/// an empty one (and a warning in the log), never an error.
public final class SnapshotCache: Sendable {
    private struct Watcher {
        let group: String
        let continuation: AsyncStream<Snapshot>.Continuation
    }

    /// One snapshot version of a group, with when it was made.
    public struct Record: Sendable {
        public let snapshot: Snapshot
        /// When the source change that led to it was seen, when translation finished,
        /// and when it was set here.
        public let seenAt: Date
        public let translatedAt: Date
        public let setAt: Date
        public var version: String { snapshot.version }
    }

    /// How many versions per group are kept for inspection and diffs.
    public static let historyLength = 10

    private struct State {
        var snapshots: [String: Snapshot] = [:]
        var history: [String: [Record]] = [:]
        var watchers: [UUID: Watcher] = [:]
        var warnedGroups: Set<String> = []
    }

    private let state = Mutex(State())
    private let logger: Logger

    public init(logger: Logger = Logger(label: "chancery.xds.cache")) {
        self.logger = logger
    }

    /// Replaces a group's snapshot. Streams of that group are woken only when the
    /// content differs; each stream then sends only what its subscriptions see change.
    public func setSnapshot(_ snapshot: Snapshot, for group: String, seenAt: Date? = nil, translatedAt: Date? = nil) {
        let now = Date()
        // Yielding under the lock keeps every watcher's sequence in the order snapshots were set.
        state.withLock { state in
            if state.snapshots[group]?.version == snapshot.version { return }
            state.snapshots.updateValue(snapshot, forKey: group)?.retire()
            var history = state.history[group] ?? []
            history.append(
                Record(snapshot: snapshot, seenAt: seenAt ?? now, translatedAt: translatedAt ?? now, setAt: now))
            if history.count > Self.historyLength { history.removeFirst(history.count - Self.historyLength) }
            state.history[group] = history
            for watcher in state.watchers.values where watcher.group == group {
                watcher.continuation.yield(snapshot)
            }
        }
    }

    /// Drops a group: its streams are sent an empty snapshot.
    public func removeSnapshot(for group: String) {
        setSnapshot(.empty, for: group)
        state.withLock { state in
            state.snapshots.removeValue(forKey: group)
            state.history.removeValue(forKey: group)
        }
    }

    /// The group's snapshot, or an empty one if the group is unknown.
    public func snapshot(for group: String) -> Snapshot {
        state.withLock { $0.snapshots[group] } ?? .empty
    }

    public var groups: [String] { state.withLock { $0.snapshots.keys.sorted() } }

    /// The group's recent versions, oldest first (the last is current).
    public func history(for group: String) -> [Record] {
        state.withLock { $0.history[group] ?? [] }
    }

    /// One recent version of a group.
    public func record(for group: String, version: String) -> Record? {
        history(for: group).last { $0.version == version }
    }

    /// The group's current snapshot, then every later one. Only the newest pending
    /// snapshot is kept for a slow reader: intermediate versions are skipped.
    public func updates(for group: String) -> AsyncStream<Snapshot> {
        let (stream, continuation) = AsyncStream<Snapshot>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        let warn: Bool = state.withLock { state in
            state.watchers[id] = Watcher(group: group, continuation: continuation)
            let current = state.snapshots[group]
            continuation.yield(current ?? .empty)
            return current == nil && state.warnedGroups.insert(group).inserted
        }
        if warn {
            logger.warning(
                "proxy group has no snapshot yet; serving an empty configuration",
                metadata: ["group": "\(group)", "known_groups": "\(groups)"])
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }
}
