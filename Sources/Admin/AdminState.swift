import Foundation
import GatewayModel
import Synchronization
import Translation

/// What the admin endpoint reports about sources and translation: the latest objects,
/// their translation, and whether Chancery is ready to serve.
public final class AdminState: Sendable {
    public struct Current: Sendable {
        public var set: ResourceSet
        public var result: TranslationResult
        /// Objects set aside because a proxy rejected what they produced.
        public var quarantine: [Quarantine.Entry]
        /// The quarantine itself, for translating candidates as the pipeline does.
        public var quarantineState: Quarantine
        public var translatedAt: Date
        public var translationSeconds: Double
    }

    private struct Storage {
        var current: Current?
        var notReadyReason = "sources have not been read yet"
    }

    private let storage = Mutex(Storage())

    public init() {}

    /// Called by the pipeline after each translation.
    public func update(
        set: ResourceSet, result: TranslationResult, quarantine: Quarantine = Quarantine(), translatedAt: Date, seconds: Double
    ) {
        storage.withLock {
            $0.current = Current(
                set: set, result: result, quarantine: quarantine.entries.values.sorted { $0.key < $1.key },
                quarantineState: quarantine, translatedAt: translatedAt, translationSeconds: seconds)
        }
    }

    public var current: Current? { storage.withLock { $0.current } }

    /// What readiness reports until the first translation (e.g. kinds still syncing).
    public func setNotReadyReason(_ reason: String) {
        storage.withLock { $0.notReadyReason = reason }
    }

    /// Ready once every source has been read and the first snapshots are built.
    public var readiness: (ready: Bool, reason: String) {
        storage.withLock { ($0.current != nil, $0.current != nil ? "ready" : $0.notReadyReason) }
    }
}
