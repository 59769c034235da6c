import Testing

@testable import ConfigSources

/// The quiet window a source waits for: fixed, or following what a change costs.
@Suite struct DebounceTests {
    @Test func aFixedWindowIsItsQuiet() {
        #expect(Debounce.adaptive.window == .milliseconds(5))
        #expect(Debounce(quiet: .milliseconds(20)).window == .milliseconds(20))
        #expect(Debounce(quiet: .milliseconds(20), limit: .milliseconds(5)).limit == .milliseconds(20))
    }

    @Test func withoutACostYetTheWindowIsTheLongest() {
        let debounce = Debounce.following(ChangeCost())
        #expect(debounce.window == .milliseconds(5))
    }

    @Test func theWindowIsTwoFifthsOfTheCostBetweenItsBounds() {
        let cost = ChangeCost()
        let debounce = Debounce.following(cost)
        cost.record(.milliseconds(5))
        #expect(debounce.window == .milliseconds(2))
        // A costly change: a split would cost more than the longest wait.
        let costly = ChangeCost()
        costly.record(.milliseconds(60))
        #expect(Debounce.following(costly).window == .milliseconds(5))
        // A cheap one: never under the shortest window.
        let cheap = ChangeCost()
        cheap.record(.microseconds(500))
        #expect(Debounce.following(cheap).window == .milliseconds(1))
        // Other bounds.
        #expect(Debounce.following(costly, shortest: .milliseconds(2), longest: .milliseconds(10)).window == .milliseconds(10))
        #expect(Debounce.following(cheap, shortest: .milliseconds(2), longest: .milliseconds(10)).window == .milliseconds(2))
    }

    @Test func theCostIsTheMedianOfTheLastFive() {
        let cost = ChangeCost()
        #expect(cost.typical == nil)
        cost.record(.milliseconds(400))
        #expect(cost.typical == .milliseconds(400))
        // One slow change among quick ones does not move it.
        for _ in 0..<2 { cost.record(.milliseconds(4)) }
        #expect(cost.typical == .milliseconds(4))
        #expect(Debounce.following(cost).window == .microseconds(1600))
        // Only the last five count: the slow one is forgotten, and a new level takes over.
        for _ in 0..<3 { cost.record(.milliseconds(30)) }
        #expect(cost.typical == .milliseconds(30))
        for _ in 0..<3 { cost.record(.milliseconds(2)) }
        #expect(cost.typical == .milliseconds(2))
    }

    @Test func aSourceKeepsTheDebounceItIsGiven() {
        let cost = ChangeCost()
        let source = FileSource(directories: [], debounce: .following(cost))
        #expect(source.debounce == .following(cost))
        #expect(source.debounce != .following(ChangeCost()))
        #expect(FileSource(directories: []).debounce == .adaptive)
    }
}
