import IR
import Testing

/// ``Reuse`` keeps what a round used, stamped with the round: an equal input gets the
/// kept value, another input a new one, a shared key keeps a value per input, a round
/// drops what it did not use, and a patching round drops only what it reopened and did
/// not use.
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
}
