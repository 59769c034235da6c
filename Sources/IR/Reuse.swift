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
///
/// A round usually asks for values in the order the last one did (a plan's hosts and
/// clusters, sorted by name, with a few put in or taken out), so each value is first
/// looked for where the last round's next one is: when its key and input are equal
/// there, no key is hashed. Only a value found elsewhere (or not at all) is looked up,
/// and the walk goes on after it.
public final class Reuse<Key: Hashable & Sendable, Input: Equatable & Sendable, Value: Sendable>: Sendable {
    /// A value with its key, the input it was built from, the last round that used it
    /// and where that round asked for it. A class: the tables and the rounds' orders
    /// share it, a copy of it is one retain (a copy of an input and a value is one per
    /// field), and a round stamps it where it is, with no lookup. Its stamp and place
    /// change only under the lock of the ``Reuse`` that holds it.
    @usableFromInline
    final class Built: @unchecked Sendable {
        @usableFromInline let key: Key
        @usableFromInline let input: Input
        @usableFromInline let value: Value
        /// The last round that used it.
        @usableFromInline var round: UInt64
        /// Where the round that last used it asked for it (an index of its ``State/asked``).
        @usableFromInline var position = -1

        @inlinable
        init(key: Key, input: Input, value: Value, round: UInt64) {
            self.key = key
            self.input = input
            self.value = value
            self.round = round
        }
    }

    /// Every value kept, stamped with the round that last used it: one table across
    /// rounds, so that reusing a value costs no move from one round's table to the
    /// next's, and what a round did not use is found by its stamp.
    @usableFromInline
    struct State: Sendable {
        /// The first value under each key.
        @usableFromInline var first: [Key: Built] = [:]
        /// Any further ones (a key has one value but for the odd shared name, each with
        /// its own input).
        @usableFromInline var more: [Key: [Built]] = [:]
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
        /// The values the last round asked for, in the order it asked for them: this
        /// round looks at `order[cursor]` first. Empty after a patching round (which asks
        /// for a few values only), so that when it is not, it holds every value kept and
        /// the values this round did not use are among them.
        @usableFromInline var order: [Built] = []
        @usableFromInline var cursor = 0
        /// The values this round asked for so far, in order (not kept by a patching round).
        @usableFromInline var asked: [Built] = []
        /// How many of the values kept this round has used or built.
        @usableFromInline var used = 0

        @usableFromInline
        init() {}

        @inlinable
        var count: Int { first.count + (more.isEmpty ? 0 : more.values.reduce(0) { $0 + $1.count }) }

        /// Stamps a kept value as used by this round, and notes where it was asked for.
        @inlinable
        mutating func use(_ built: Built) {
            if built.round != round {
                built.round = round
                used += 1
            }
            note(built)
        }

        @inlinable
        mutating func note(_ built: Built) {
            guard !patching else { return }
            built.position = asked.count
            asked.append(built)
        }

        /// Drops the values under `key` this round did not use.
        @inlinable
        mutating func sweep(_ key: Key) {
            var live: [Built] = []
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
            state.cursor = 0
            state.used = 0
            state.asked = []
            state.asked.reserveCapacity(state.order.count)
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

    /// Inlinable, like ``value(_:_:build:)``: unspecialised, reading each value's stamp
    /// went through generic code (3 % of a one-route change at 10,000 routes).
    @inlinable
    public func finish() {
        state.withLock { state in
            if state.patching {
                for key in state.reopened { state.sweep(key) }
                state.last = (state.hits + state.carried, state.misses)
                state.order = []
            } else {
                // The keys of values this round did not use: none when it used as many
                // as are kept; else found by their stamps among those the last round
                // used (every value kept, when that round was not a patching one).
                var stale: [Key] = []
                if state.used != state.count {
                    if !state.order.isEmpty {
                        for built in state.order where built.round != state.round { stale.append(built.key) }
                    } else {
                        for built in state.first.values where built.round != state.round { stale.append(built.key) }
                        if !state.more.isEmpty {
                            for (key, rest) in state.more where rest.contains(where: { $0.round != state.round }) {
                                stale.append(key)
                            }
                        }
                    }
                }
                for key in stale { state.sweep(key) }
                state.last = (state.hits, state.misses)
                state.order = state.asked
            }
            state.asked = []
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
                for built in rest where built.round != state.round { result.append((built.input, built.value)) }
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
            // A patching round counts the values it carried once, as carried.
            let counted = !state.patching || state.reopened.contains(key)
            // Where the last round went on: no key hashed when this round asks for the
            // same value next.
            if state.cursor < state.order.count {
                let next = state.order[state.cursor]
                if next.key == key, next.input == input {
                    state.cursor += 1
                    state.use(next)
                    if counted { state.hits += 1 }
                    return next.value
                }
            }
            guard let head = state.first[key] else { return nil }
            let found: Built
            if head.input == input {
                found = head
            } else if !state.more.isEmpty, let rest = state.more[key], let match = rest.first(where: { $0.input == input }) {
                found = match
            } else {
                return nil
            }
            // The walk goes on after it, when the last round asked for it.
            let position = found.position
            if position >= 0, position < state.order.count, state.order[position] === found { state.cursor = position + 1 }
            state.use(found)
            if counted { state.hits += 1 }
            return found.value
        }
        if let kept { return kept }
        let value = build()
        state.withLock { state in
            state.misses += 1
            let built = Built(key: key, input: input, value: value, round: state.round)
            if let head = state.first[key] {
                // An equal input may have been built meanwhile (groups built at once):
                // either value is right. Otherwise the value joins the others under its
                // key (those this round does not use are dropped when it finishes).
                if head.input == input { return }
                if !state.more.isEmpty, state.more[key]?.contains(where: { $0.input == input }) == true { return }
                state.more[key, default: []].append(built)
            } else {
                state.first[key] = built
            }
            state.used += 1
            state.note(built)
        }
        return value
    }
}
