import Foundation
import GatewayModel

/// Where objects come from: a watched directory, a cluster's API. A source yields its
/// complete current set after every change; ``SourceMerger`` combines the sources of a
/// `serve` into one stream. A new kind of source is one type conforming to this and
/// one entry in `serve`'s list of sources.
public protocol ConfigSource: Sendable {
    /// A short name for logs and metrics (`files`, `kubernetes`).
    var name: String { get }
    /// Everything the source holds, read now, when it can be read at once (files); nil
    /// when it needs to sync first (a cluster). `serve` builds its first snapshots from
    /// this before any proxy can connect.
    func readNow() -> ResourceSet?
    /// The source's complete set after each change, with when the change was noticed.
    /// The first value comes once the source has read everything.
    func changes() -> AsyncStream<SourceUpdate>
    /// Why the source has not delivered a complete set yet, for readiness; nil when it
    /// has.
    var notReadyReason: String? { get }
}

/// One source's set after a change.
public struct SourceUpdate: Sendable {
    public var set: ResourceSet
    /// When the change was first noticed (propagation is measured from here).
    public var seenAt: Date

    public init(set: ResourceSet, seenAt: Date) {
        self.set = set
        self.seenAt = seenAt
    }
}

/// Every source's set merged, after a change in one of them.
public struct MergedUpdate: Sendable {
    public var set: ResourceSet
    public var seenAt: Date
    /// The source that changed.
    public var source: String
}

/// Several sources as one. Where two sources define the same object, the earlier
/// source's definition is kept and the other is reported as a read error (files come
/// before the cluster, so a local file overrides what the cluster has). Nothing is
/// yielded until every source has delivered its first set, so a restart never serves
/// half a world. A consumer slower than the changes gets the newest merged set (a burst
/// is translated once); which objects changed is what differs from the set it handled
/// last (`ResourceSet.changedKeys(since:)`).
///
/// A source whose stream ends (it stopped) keeps its last set in the merge; the others
/// go on.
public struct SourceMerger: Sendable {
    public let sources: [any ConfigSource]

    public init(_ sources: [any ConfigSource]) {
        self.sources = sources
    }

    /// Every source's current set merged, when every source can be read at once.
    public func readNow() -> ResourceSet? {
        var sets: [ResourceSet] = []
        for source in sources {
            guard let set = source.readNow() else { return nil }
            sets.append(set)
        }
        return Self.merge(sets)
    }

    /// What is still missing before the first merged set, or nil.
    public var notReadyReason: String? {
        let reasons = sources.compactMap(\.notReadyReason)
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    /// The merged set after every change of any source (once all have delivered).
    public func changes() -> AsyncStream<MergedUpdate> {
        let (stream, continuation) = AsyncStream<MergedUpdate>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let sources = sources
        let task = Task {
            let (updates, sink) = AsyncStream<(Int, SourceUpdate)>.makeStream()
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Every source feeds the merge until it ends; the merge ends after all.
                    await withTaskGroup(of: Void.self) { feeders in
                        for (index, source) in sources.enumerated() {
                            feeders.addTask {
                                for await update in source.changes() { sink.yield((index, update)) }
                            }
                        }
                    }
                    sink.finish()
                }
                group.addTask {
                    var latest = [ResourceSet?](repeating: nil, count: sources.count)
                    for await (index, update) in updates {
                        latest[index] = update.set
                        guard latest.allSatisfy({ $0 != nil }) else { continue }
                        continuation.yield(
                            MergedUpdate(set: Self.merge(latest.map { $0! }), seenAt: update.seenAt, source: sources[index].name))
                    }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    static func merge(_ sets: [ResourceSet]) -> ResourceSet {
        guard var merged = sets.first else { return ResourceSet() }
        for set in sets.dropFirst() { merged = merged.merging(set) }
        return merged
    }
}

extension FileSource: ConfigSource {
    public var name: String { "files" }

    public func readNow() -> ResourceSet? { load() }

    public func changes() -> AsyncStream<SourceUpdate> {
        let (stream, continuation) = AsyncStream<SourceUpdate>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let task = Task {
            for await update in timedUpdates() { continuation.yield(SourceUpdate(set: update.set, seenAt: update.seenAt)) }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    public var notReadyReason: String? { nil }
}

extension KubernetesSource: ConfigSource {
    public var name: String { "kubernetes" }

    public func readNow() -> ResourceSet? { nil }

    public func changes() -> AsyncStream<SourceUpdate> {
        let (stream, continuation) = AsyncStream<SourceUpdate>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let task = Task {
            for await set in updates() { continuation.yield(SourceUpdate(set: set, seenAt: Date())) }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    public var notReadyReason: String? {
        isSynced ? nil : "waiting for the Kubernetes API: " + problems.joined(separator: "; ")
    }
}
