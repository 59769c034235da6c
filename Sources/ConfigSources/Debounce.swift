import Synchronization

/// How a source waits before reading what changed: until no further change has come for
/// a quiet window, but never longer than `limit` after the first one.
///
/// A change that comes alone is read after the quiet window; a burst — an editor's save,
/// a ConfigMap swap, a `git checkout`, a script writing several files, a `kubectl apply`
/// of a directory — is read once, when it pauses, and a burst that never pauses is still
/// read every `limit`.
///
/// The window trades a wait paid by every change against what reading a burst in two
/// parts costs: a second translation and push. With a ``ChangeCost`` (what handling a
/// set took lately), the window is two fifths of that cost, between `shortest` (1 ms)
/// and `quiet` (5 ms): where a change is handled in 5 ms (1,000 routes) it is 2 ms, where
/// it takes 50 ms (10,000 routes) it stays 5 ms. Measured with `chancery-propagation
/// --quiet-ms` (docs/performance.md): a script's three writes, on this busy two-core
/// machine, were read in two parts in 40 % of rounds with 1 ms, 5–8 % with 2 ms and
/// none with 5 ms. Without a cost the window is `quiet`.
public struct Debounce: Sendable, Equatable {
    /// The longest quiet window (and the window when no cost is known).
    public var quiet: Duration
    /// The shortest quiet window.
    public var shortest: Duration
    public var limit: Duration
    /// What handling a set costs the consumer, when it reports it.
    public var cost: ChangeCost?

    /// A fixed quiet window.
    public init(quiet: Duration = .milliseconds(5), limit: Duration = .milliseconds(100)) {
        self.quiet = quiet
        shortest = quiet
        self.limit = max(limit, quiet)
        cost = nil
    }

    /// A quiet window that follows what handling a set costs (see the type's note).
    public static func following(
        _ cost: ChangeCost, shortest: Duration = .milliseconds(1), longest: Duration = .milliseconds(5),
        limit: Duration = .milliseconds(100)
    ) -> Debounce {
        var debounce = Debounce(quiet: longest, limit: limit)
        debounce.shortest = min(shortest, longest)
        debounce.cost = cost
        return debounce
    }

    /// The default without a cost: 5 ms of quiet, at most 100 ms.
    public static let adaptive = Debounce()

    /// The quiet window to wait for now.
    public var window: Duration {
        guard let typical = cost?.typical else { return quiet }
        return min(quiet, max(shortest, typical * 2 / 5))
    }

    public static func == (a: Debounce, b: Debounce) -> Bool {
        a.quiet == b.quiet && a.shortest == b.shortest && a.limit == b.limit && a.cost === b.cost
    }
}

/// How long the consumer of a source's sets took to handle each of the last few (for
/// `serve`: translation, building and encoding), so that a ``Debounce`` can weigh a wait
/// against a second translation. The typical cost is the median of the last five, so
/// one slow set (a full walk, the machine busy) does not move it.
public final class ChangeCost: Sendable {
    private let recent = Mutex<[Duration]>([])
    static let kept = 5

    public init() {}

    /// Records that handling one set took `duration`.
    public func record(_ duration: Duration) {
        recent.withLock {
            $0.append(duration)
            if $0.count > Self.kept { $0.removeFirst($0.count - Self.kept) }
        }
    }

    /// The median of the last few costs recorded; nil before the first.
    public var typical: Duration? {
        recent.withLock { costs in
            guard !costs.isEmpty else { return nil }
            let sorted = costs.sorted()
            return sorted[sorted.count / 2]
        }
    }
}

/// When the last change arrived; a consumer waits on it for the quiet of a ``Debounce``.
final class ChangeClock: Sendable {
    private let last = Mutex(ContinuousClock.now)

    /// Records a change now.
    func note() {
        let now = ContinuousClock.now
        last.withLock { $0 = now }
    }

    /// Returns once no change has been noted for the debounce's quiet window (as it
    /// stands at the call), or `debounce.limit` after the call.
    func settle(_ debounce: Debounce) async {
        let start = ContinuousClock.now
        let quiet = debounce.window
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let quietFor = now - last.withLock { $0 }
            let waited = now - start
            if quietFor >= quiet || waited >= debounce.limit { return }
            try? await Task.sleep(for: min(quiet - quietFor, debounce.limit - waited))
        }
    }
}
