import Synchronization

/// How a source waits before reading what changed: until no further change has come for
/// `quiet`, but never longer than `limit` after the first one.
///
/// A change that comes alone is read after `quiet`; a burst — an editor's save, a
/// ConfigMap swap, a `git checkout`, a script writing several files, a `kubectl apply` of
/// a directory — is read once, when it pauses, and a burst that never pauses is still read
/// every `limit`. The default quiet is 5 ms: with 2 ms, a script writing three files on a
/// busy two-core machine was read in two parts about one time in ten, and each part cost
/// a translation and a push (`chancery-propagation --quiet-ms`, docs/performance.md).
public struct Debounce: Sendable, Equatable {
    public var quiet: Duration
    public var limit: Duration

    public init(quiet: Duration = .milliseconds(5), limit: Duration = .milliseconds(100)) {
        self.quiet = quiet
        self.limit = max(limit, quiet)
    }

    /// The default: 5 ms of quiet, at most 100 ms.
    public static let adaptive = Debounce()
}

/// When the last change arrived; a consumer waits on it for the quiet of a ``Debounce``.
final class ChangeClock: Sendable {
    private let last = Mutex(ContinuousClock.now)

    /// Records a change now.
    func note() {
        let now = ContinuousClock.now
        last.withLock { $0 = now }
    }

    /// Returns once no change has been noted for `debounce.quiet`, or `debounce.limit`
    /// after the call.
    func settle(_ debounce: Debounce) async {
        let start = ContinuousClock.now
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let quietFor = now - last.withLock { $0 }
            let waited = now - start
            if quietFor >= debounce.quiet || waited >= debounce.limit { return }
            try? await Task.sleep(for: min(debounce.quiet - quietFor, debounce.limit - waited))
        }
    }
}
