import IR
import Testing

/// ``Reuse`` keeps what a round used, stamped with the round: an equal input gets the
/// kept value, another input a new one, a shared key keeps a value per input, a round
/// drops what it did not use, and a patching round drops only what it reopened and did
/// not use. A round that asks in another order than the last one, or with values put
/// in and taken out, gets the same values as one asking in the same order.
@Suite struct ReuseTests {
    /// A value that tells which build made it.
    final class Made: Sendable {
        let input: Int
        init(_ input: Int) { self.input = input }
    }

    let reuse = Reuse<String, Int, Made>()
    let builds = Counter()

    final class Counter: @unchecked Sendable {
        var count = 0
    }

    func value(_ key: String, _ input: Int) -> Made {
        reuse.value(key, input) {
            builds.count += 1
            return Made(input)
        }
    }

    @Test func anEqualInputGetsTheKeptValueAndAnotherANewOne() {
        reuse.begin()
        let a = value("a", 1)
        #expect(value("a", 1) === a, "asked twice in one round")
        reuse.finish()
        #expect(reuse.lastRound == (1, 1))
        reuse.begin()
        #expect(value("a", 1) === a)
        let changed = value("a", 2)
        #expect(changed !== a && changed.input == 2)
        reuse.finish()
        #expect(reuse.lastRound == (1, 1))
        // The round used both inputs under "a": both are kept; then only the one used.
        reuse.begin()
        #expect(value("a", 2) === changed)
        #expect(value("a", 1) === a)
        reuse.finish()
        reuse.begin()
        #expect(value("a", 2) === changed)
        reuse.finish()
        reuse.begin()
        #expect(reuse.previous("a").map(\.input) == [2])
        #expect(value("a", 1) !== a, "a value the last round did not use is dropped")
        reuse.finish()
        #expect(builds.count == 3)
    }

    @Test func aRoundDropsWhatItDidNotUse() {
        reuse.begin()
        let a = value("a", 1)
        let b = value("b", 1)
        reuse.finish()
        reuse.begin()
        #expect(reuse.previous("b").map(\.input) == [1], "not used yet this round")
        #expect(value("b", 1) === b)
        #expect(reuse.previous("b").isEmpty, "used this round")
        reuse.finish()
        reuse.begin()
        #expect(value("a", 1) !== a)
        #expect(value("b", 1) === b)
        reuse.finish()
    }

    @Test func aPatchingRoundKeepsAllButWhatItReopenedAndDidNotUse() {
        reuse.begin()
        let a = value("a", 1)
        let b = value("b", 1)
        let c = value("c", 1)
        reuse.finish()
        reuse.beginPatch()
        reuse.reopen("b")
        reuse.reopen("c")
        #expect(value("c", 1) === c, "reopened, asked with an equal input")
        let b2 = value("b", 2)
        reuse.finish()
        #expect(reuse.lastRound == (2, 1), "a carried, c reused; b built")
        reuse.begin()
        #expect(value("a", 1) === a, "carried by the patching round")
        #expect(value("b", 2) === b2)
        #expect(value("b", 1) !== b, "reopened and not used: dropped")
        #expect(value("c", 1) === c)
        reuse.finish()
    }

    @Test func theOrderOfAskingChangesNoValue() {
        let keys = (0..<40).map { "k\($0)" }
        var made: [String: Made] = [:]
        reuse.begin()
        for key in keys { made[key] = value(key, 1) }
        reuse.finish()
        // The same order; then one taken out, one put in and one changed; then reversed
        // with a key asked twice; then every other key: each kept value is the one made
        // first, and only the new inputs are built.
        reuse.begin()
        for key in keys { #expect(value(key, 1) === made[key]) }
        reuse.finish()
        #expect(reuse.lastRound == (40, 0))
        var next = keys
        next.remove(at: 7)
        next.insert("new", at: 20)
        reuse.begin()
        for key in next {
            if key == "k30" {
                #expect(value(key, 2) !== made[key])
            } else if key == "new" {
                made[key] = value(key, 1)
            } else {
                #expect(value(key, 1) === made[key], "\(key)")
            }
        }
        reuse.finish()
        #expect(reuse.lastRound == (38, 2))
        reuse.begin()
        for key in next.reversed() + ["k3"] where key != "k30" { #expect(value(key, 1) === made[key], "\(key)") }
        #expect(value("k7", 1) !== made["k7"], "taken out two rounds ago")
        reuse.finish()
        #expect(reuse.lastRound == (40, 1), "k3 asked twice")
        reuse.begin()
        for key in next.enumerated().filter({ $0.offset % 2 == 0 }).map(\.element) where key != "k30" {
            #expect(value(key, 1) === made[key], "\(key)")
        }
        reuse.finish()
        reuse.begin()
        // What the last round did not ask for is gone; what it did is kept.
        #expect(reuse.previous(next[1]).isEmpty)
        #expect(reuse.previous(next[2]).map(\.input) == [1])
        reuse.finish()
        #expect(builds.count == 43)
    }
}
