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
    @usableFromInline
    typealias Entry = (input: Input, value: Value)

    /// One round's values: the first under each key in one dictionary (a key has one
    /// value but for the odd shared name), any further ones in another, so that keeping
    /// a value costs no allocation of its own.
    @usableFromInline
    struct Round: Sendable {
        @usableFromInline
        var first: [Key: Entry] = [:]
        @usableFromInline
        var more: [Key: [Entry]] = [:]

        @usableFromInline
        init() {}

        @usableFromInline
        init(capacity: Int) { first.reserveCapacity(capacity) }

        @inlinable
        func find(_ key: Key, _ input: Input) -> Value? {
            guard let head = first[key] else { return nil }
            if head.input == input { return head.value }
            return more.isEmpty ? nil : more[key]?.first { $0.input == input }?.value
        }

        @inlinable
        mutating func add(_ entry: Entry, for key: Key) {
            if let head = first.updateValue(entry, forKey: key) {
                first[key] = head
                more[key, default: []].append(entry)
            }
        }

        /// Takes out the value under `key` whose input equals `input`.
        @inlinable
        mutating func take(_ key: Key, _ input: Input) -> Entry? {
            guard let head = first.removeValue(forKey: key) else { return nil }
            if head.input == input {
                if !more.isEmpty, var rest = more.removeValue(forKey: key) {
                    first[key] = rest.removeFirst()
                    if !rest.isEmpty { more[key] = rest }
                }
                return head
            }
            first[key] = head
            guard !more.isEmpty, var rest = more[key], let index = rest.firstIndex(where: { $0.input == input }) else {
                return nil
            }
            let hit = rest.remove(at: index)
            more[key] = rest.isEmpty ? nil : rest
            return hit
        }

        /// Takes out every value under `key`.
        @inlinable
        mutating func takeAll(_ key: Key) -> [Entry] {
            guard let head = first.removeValue(forKey: key) else { return [] }
            return [head] + (more.isEmpty ? [] : more.removeValue(forKey: key) ?? [])
        }

        @inlinable
        var count: Int { first.count + (more.isEmpty ? 0 : more.values.reduce(0) { $0 + $1.count }) }

        @inlinable
        func all(_ key: Key) -> [Entry] {
            guard let head = first[key] else { return [] }
            return [head] + (more.isEmpty ? [] : more[key] ?? [])
        }
    }

    @usableFromInline
    struct State: Sendable {
        @usableFromInline var previous = Round()
        @usableFromInline var current = Round()
        @usableFromInline var hits = 0
        @usableFromInline var misses = 0
        @usableFromInline var last = (reused: 0, built: 0)
        /// In a round begun with ``beginPatch()``: the values carried over from the last
        /// round and not reopened.
        @usableFromInline var carried = 0

        @usableFromInline
        init() {}
    }

    @usableFromInline
    let state = Mutex(State())

    public init() {}

    /// Values reused and built in the last finished round.
    public var lastRound: (reused: Int, built: Int) { state.withLock { $0.last } }

    /// Starts a round: values it does not use are dropped when it finishes.
    public func begin() {
        state.withLock { state in
            // As many as the last round kept, so that the round does not grow step by step.
            state.current = Round(capacity: state.previous.first.count)
            state.hits = 0
            state.misses = 0
        }
    }

    /// Starts a round that keeps every value of the last one, but for the keys
    /// ``reopen(_:)`` names: for a caller that knows which keys' inputs may have changed
    /// and does not ask for the others' values at all.
    public func beginPatch() {
        state.withLock { state in
            swap(&state.current, &state.previous)
            state.previous = Round()
            state.hits = 0
            state.misses = 0
            state.carried = state.current.count
        }
    }

    /// In a round begun with ``beginPatch()``: the values kept under `key` are reused
    /// only if asked for with an equal input, and dropped otherwise, as in a round begun
    /// with ``begin()``.
    public func reopen(_ key: Key) {
        state.withLock { state in
            let entries = state.current.takeAll(key)
            state.carried -= entries.count
            for entry in entries { state.previous.add(entry, for: key) }
        }
    }

    public func finish() {
        state.withLock { state in
            state.previous = state.current
            state.current = Round()
            state.last = (state.hits + state.carried, state.misses)
            state.carried = 0
        }
    }

    /// The values the previous round kept under `key` that this round has not used yet,
    /// with their inputs: for building a value from parts of an older one (a virtual
    /// host one of whose routes changed keeps the others' messages).
    @inlinable
    public func previous(_ key: Key) -> [(input: Input, value: Value)] {
        state.withLock { $0.previous.all(key) }
    }

    /// The value kept under `key` for an input equal to `input`, else `build()`'s; either
    /// way it is kept for the next round.
    ///
    /// Inlinable, so that each use is specialised for its key, input and value: the
    /// generic form spent most of a one-route change's reuse in witness-table calls.
    @inlinable
    public func value(_ key: Key, _ input: Input, build: () -> Value) -> Value {
        let kept: Value? = state.withLock { state in
            // Values move from the previous round to this one as they are used: one
            // lookup in each, and the previous round ends holding only what is dropped.
            if let hit = state.previous.take(key, input) {
                state.current.add(hit, for: key)
                state.hits += 1
                return hit.value
            }
            if let hit = state.current.find(key, input) {
                state.hits += 1
                return hit
            }
            return nil
        }
        if let kept { return kept }
        let value = build()
        state.withLock { state in
            // An equal input may have been built meanwhile (groups built at once): either
            // value is right.
            if state.current.find(key, input) == nil { state.current.add((input, value), for: key) }
            state.misses += 1
        }
        return value
    }
}
