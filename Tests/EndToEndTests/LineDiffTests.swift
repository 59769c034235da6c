import Admin
import Foundation
import Testing

/// The unified diffs `chancery diff` and `chancery plan` print.
struct LineDiffTests {
    @Test func aChangeInTheMiddleIsOneHunkWithThreeLinesOfContext() {
        let old = (1...10).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let new = old.replacingOccurrences(of: "line 5\n", with: "line five\nline 5½\n")
        // What GNU `diff -u` prints for these two files.
        #expect(
            LineDiff.unified(old, new, from: "a", to: "b") == """
                --- a
                +++ b
                @@ -2,7 +2,8 @@
                 line 2
                 line 3
                 line 4
                -line 5
                +line five
                +line 5½
                 line 6
                 line 7
                 line 8

                """)
    }

    @Test func equalTextsHaveNoDiffAndOneSidedTextsAreWhollyAddedOrRemoved() {
        #expect(LineDiff.unified("a\nb\n", "a\nb\n", from: "x", to: "y").isEmpty)
        #expect(LineDiff.unified("", "a\nb\n", from: "x", to: "y") == "--- x\n+++ y\n@@ -0,0 +1,2 @@\n+a\n+b\n")
        #expect(LineDiff.unified("a\n", "", from: "x", to: "y") == "--- x\n+++ y\n@@ -1 +0,0 @@\n-a\n")
    }

    /// Changes far apart are separate hunks; near ones share one. Either way, applying the
    /// hunks to the old text gives the new one, for many random edits.
    @Test func hunksApplyBackToTheNewText() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<300 {
            let count = Int.random(in: 0...40, using: &generator)
            let old = (0..<count).map { _ in "l\(Int.random(in: 0...6, using: &generator))" }
            var new = old
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                switch Int.random(in: 0...2, using: &generator) {
                case 0 where !new.isEmpty: new.remove(at: Int.random(in: 0..<new.count, using: &generator))
                case 1: new.insert("n\(round)", at: Int.random(in: 0...new.count, using: &generator))
                default: if !new.isEmpty { new[Int.random(in: 0..<new.count, using: &generator)] = "c\(round)" }
                }
            }
            let a = old.map { $0 + "\n" }.joined()
            let b = new.map { $0 + "\n" }.joined()
            let diff = LineDiff.unified(a, b, from: "a", to: "b")
            #expect(try apply(diff, to: old) == new, "\(old) → \(new):\n\(diff)")
            #expect(diff.isEmpty == (old == new))
        }
    }

    /// Applies a unified diff, checking every context and removed line against `lines`.
    private func apply(_ diff: String, to lines: [String]) throws -> [String] {
        guard !diff.isEmpty else { return lines }
        var output: [String] = []
        var next = 0
        for line in diff.split(separator: "\n").dropFirst(2) {
            if line.hasPrefix("@@") {
                let old = line.split(separator: " ")[1].dropFirst().split(separator: ",")
                let start = Int(old[0])!
                let count = old.count > 1 ? Int(old[1])! : 1
                let index = count == 0 ? start : start - 1
                try #require(index >= next)
                output += lines[next..<index]
                next = index
            } else if line.hasPrefix("+") {
                output.append(String(line.dropFirst()))
            } else {
                try #require(next < lines.count && lines[next] == String(line.dropFirst()), "\(line) at \(next)")
                if line.hasPrefix(" ") { output.append(lines[next]) }
                next += 1
            }
        }
        return output + lines[next...]
    }
}
