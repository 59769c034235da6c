import Synchronization

/// Values built in the previous round (translation or build), reused when what they were
/// built from is equal: both stages keep one per kind of value between changes, so a
/// one-route change rebuilds about one route's worth.
///
/// A value is found by key and reused only when its input — the whole argument of the
/// pure function that built it — equals the new one, so reuse never changes a result.
/// A key may have several values in a round (a class's merged virtual host and one
/// Gateway's share a name), each with its own input. Each round keeps what it used and
/// drops the rest (``finish()``), so deleted objects are forgotten with the next round.
/// Values reused keep their storage, so equality checks on them later cost a pointer
/// comparison.
public final class Reuse<Key: Hashable & Sendable, Input: Equatable & Sendable, Value: Sendable>: Sendable {
    /// A value with the input it was built from, boxed: an entry is copied out of its
    /// table whenever it is read (finding a round's stale values reads every one), and a
    /// copy of the box is one retain where a copy of an input and a value is one per
    /// field (a route's status, a cluster's message: such copies were 5 % of a
    /// 10,000-route benchmark's samples).
    @usableFromInline
    final class Built: Sendable {
        @usableFromInline let input: Input
        @usableFromInline let value: Value

        @inlinable
        init(input: Input, value: Value) {
            self.input = input
            self.value = value
        }
    }

    /// A value with the input it was built from and the last round that used it.
    @usableFromInline
    struct Entry: Sendable {
        @usableFromInline var built: Built
        @usableFromInline var round: UInt64

        @inlinable var input: Input { built.input }
        @inlinable var value: Value { built.value }

        @inlinable
        init(input: Input, value: Value, round: UInt64) {
            built = Built(input: input, value: value)
            self.round = round
        }
    }

    /// Every value kept, stamped with the round that last used it: one table across
    /// rounds, so that reusing a value costs one lookup (not a move from one round's
    /// table to the next's), and what a round did not use is found by its stamp.
    @usableFromInline
    struct State: Sendable {
        /// The first value under each key.
        @usableFromInline var first: [Key: Entry] = [:]
        /// Any further ones (a key has one value but for the odd shared name, each with
        /// its own input).
        @usableFromInline var more: [Key: [Entry]] = [:]
        @usableFromInline var round: UInt64 = 0
        @usableFromInline var hits = 0
        @usableFromInline var misses = 0
        @usableFromInline var last = (reused: 0, built: 0)
        /// Whether this round began with ``beginPatch()``: it drops only what it reopened
        /// and did not use.
        @usableFromInline var patching = false
        @usableFromInline var reopened: Set<Key> = []
        /// In a patching round: the values carried over and not reopened.
        @usableFromInline var carried = 0

        @usableFromInline
        init() {}

        @inlinable
        var count: Int { first.count + (more.isEmpty ? 0 : more.values.reduce(0) { $0 + $1.count }) }

        /// Drops the values under `key` this round did not use.
        @inlinable
        mutating func sweep(_ key: Key) {
            var live: [Entry] = []
            if let head = first[key], head.round == round { live.append(head) }
            if !more.isEmpty, let rest = more[key] { live += rest.filter { $0.round == round } }
            first[key] = live.first
            more[key] = live.count > 1 ? Array(live.dropFirst()) : nil
        }
    }

    @usableFromInline
    let state = Mutex(State())

    public init() {}

    /// Values reused and built in the last finished round.
    public var lastRound: (reused: Int, built: Int) { state.withLock { $0.last } }

    /// Starts a round: values it does not use are dropped when it finishes.
    @inlinable
    public func begin() {
        state.withLock { state in
            state.round += 1
            state.hits = 0
            state.misses = 0
            state.patching = false
            state.reopened = []
        }
    }

    /// Starts a round that keeps every value of the last one, but for the keys
    /// ``reopen(_:)`` names: for a caller that knows which keys' inputs may have changed
    /// and does not ask for the others' values at all.
    @inlinable
    public func beginPatch() {
        begin()
        state.withLock { state in
            state.patching = true
            state.carried = state.count
        }
    }

    /// In a round begun with ``beginPatch()``: the values kept under `key` are reused
    /// only if asked for with an equal input, and dropped otherwise, as in a round begun
    /// with ``begin()``.
    @inlinable
    public func reopen(_ key: Key) {
        state.withLock { state in
            guard state.reopened.insert(key).inserted else { return }
            state.carried -= (state.first[key] == nil ? 0 : 1) + (state.more.isEmpty ? 0 : state.more[key]?.count ?? 0)
        }
    }

    /// Inlinable, like ``value(_:_:build:)``: unspecialised, reading each entry's stamp
    /// copied the entry through generic code (3 % of a one-route change at 10,000 routes).
    @inlinable
    public func finish() {
        state.withLock { state in
            if state.patching {
                for key in state.reopened { state.sweep(key) }
                state.last = (state.hits + state.carried, state.misses)
            } else {
                // The keys of values this round did not use: found by their stamps,
                // without hashing the rest.
                var stale: [Key] = []
                var index = state.first.startIndex
                while index != state.first.endIndex {
                    if state.first.values[index].round != state.round { stale.append(state.first.keys[index]) }
                    state.first.formIndex(after: &index)
                }
                if !state.more.isEmpty {
                    for (key, rest) in state.more where rest.contains(where: { $0.round != state.round }) { stale.append(key) }
                }
                for key in stale { state.sweep(key) }
                state.last = (state.hits, state.misses)
            }
            state.patching = false
            state.reopened = []
            state.carried = 0
        }
    }

    /// The values kept under `key` that this round has not used yet, with their inputs:
    /// for building a value from parts of an older one (a virtual host one of whose
    /// routes changed keeps the others' messages).
    @inlinable
    public func previous(_ key: Key) -> [(input: Input, value: Value)] {
        state.withLock { state in
            var result: [(input: Input, value: Value)] = []
            if let head = state.first[key], head.round != state.round { result.append((head.input, head.value)) }
            if !state.more.isEmpty, let rest = state.more[key] {
                for entry in rest where entry.round != state.round { result.append((entry.input, entry.value)) }
            }
            return result
        }
    }

    /// The value kept under `key` for an input equal to `input`, else `build()`'s; either
    /// way it is kept for the next round.
    ///
    /// Inlinable, so that each use is specialised for its key, input and value: the
    /// generic form spent most of a one-route change's reuse in witness-table calls.
    @inlinable
    public func value(_ key: Key, _ input: Input, build: () -> Value) -> Value {
        let kept: Value? = state.withLock { state in
            // One lookup: the value is stamped where it is.
            guard let index = state.first.index(forKey: key) else { return nil }
            // A patching round counts the values it carried once, as carried.
            let counted = !state.patching || state.reopened.contains(key)
            if state.first.values[index].input == input {
                state.first.values[index].round = state.round
                if counted { state.hits += 1 }
                return state.first.values[index].value
            }
            guard !state.more.isEmpty, let others = state.more.index(forKey: key),
                let position = state.more.values[others].firstIndex(where: { $0.input == input })
            else { return nil }
            state.more.values[others][position].round = state.round
            if counted { state.hits += 1 }
            return state.more.values[others][position].value
        }
        if let kept { return kept }
        let value = build()
        state.withLock { state in
            state.misses += 1
            let entry = Entry(input: input, value: value, round: state.round)
            guard let index = state.first.index(forKey: key) else {
                state.first[key] = entry
                return
            }
            // An equal input may have been built meanwhile (groups built at once): either
            // value is right. Otherwise the value joins the others under its key (those
            // this round does not use are dropped when it finishes).
            if state.first.values[index].input == input { return }
            if !state.more.isEmpty, state.more[key]?.contains(where: { $0.input == input }) == true { return }
            state.more[key, default: []].append(entry)
        }
        return value
    }
}
