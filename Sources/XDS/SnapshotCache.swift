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

    private struct State {
        var snapshots: [String: Snapshot] = [:]
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
    public func setSnapshot(_ snapshot: Snapshot, for group: String) {
        // Yielding under the lock keeps every watcher's sequence in the order snapshots were set.
        state.withLock { state in
            if state.snapshots[group]?.version == snapshot.version { return }
            state.snapshots[group] = snapshot
            for watcher in state.watchers.values where watcher.group == group {
                watcher.continuation.yield(snapshot)
            }
        }
    }

    /// Drops a group: its streams are sent an empty snapshot.
    public func removeSnapshot(for group: String) {
        setSnapshot(.empty, for: group)
        state.withLock { _ = $0.snapshots.removeValue(forKey: group) }
    }

    /// The group's snapshot, or an empty one if the group is unknown.
    public func snapshot(for group: String) -> Snapshot {
        state.withLock { $0.snapshots[group] } ?? .empty
    }

    public var groups: [String] { state.withLock { $0.snapshots.keys.sorted() } }

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
