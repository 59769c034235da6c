/// A unified diff of two texts by line, as `diff -u` prints it: `---`/`+++` headers, then
/// hunks of changed lines with three lines of context.
public enum LineDiff {
    enum Edit: Equatable {
        case same(String)
        case removed(String)
        case added(String)
    }

    /// The middle of two texts (after their common first and last lines) is aligned by
    /// longest common subsequence while it has at most this many cells; beyond, it is
    /// shown as removed then added, which is still a correct diff.
    static let alignmentCells = 4_000_000

    /// Empty when the texts are equal.
    public static func unified(_ old: String, _ new: String, from: String, to: String, context: Int = 3) -> String {
        guard old != new else { return "" }
        let edits = self.edits(lines(old), lines(new))
        var out = "--- \(from)\n+++ \(to)\n"
        // Where each edit starts, counted in old and new lines.
        var oldAt: [Int] = []
        var newAt: [Int] = []
        var o = 0
        var n = 0
        for edit in edits {
            oldAt.append(o)
            newAt.append(n)
            switch edit {
            case .same: o += 1; n += 1
            case .removed: o += 1
            case .added: n += 1
            }
        }
        let changed = edits.indices.filter { if case .same = edits[$0] { false } else { true } }
        var index = 0
        while index < changed.count {
            // A hunk takes every change whose gap to the previous is at most 2 × context.
            var last = index
            while last + 1 < changed.count, changed[last + 1] - changed[last] <= 2 * context + 1 { last += 1 }
            let start = max(0, changed[index] - context)
            let end = min(edits.count, changed[last] + context + 1)
            var oldCount = 0
            var newCount = 0
            var body = ""
            for edit in edits[start..<end] {
                switch edit {
                case .same(let line): body += " \(line)\n"; oldCount += 1; newCount += 1
                case .removed(let line): body += "-\(line)\n"; oldCount += 1
                case .added(let line): body += "+\(line)\n"; newCount += 1
                }
            }
            // diff -u numbers lines from 1; an empty side names the line before it.
            let oldStart = oldCount == 0 ? oldAt[start] : oldAt[start] + 1
            let newStart = newCount == 0 ? newAt[start] : newAt[start] + 1
            // …and leaves out a count of one.
            func range(_ start: Int, _ count: Int) -> String { count == 1 ? "\(start)" : "\(start),\(count)" }
            out += "@@ -\(range(oldStart, oldCount)) +\(range(newStart, newCount)) @@\n" + body
            index = last + 1
        }
        return out
    }

    static func lines(_ text: String) -> [Substring] {
        guard !text.isEmpty else { return [] }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if text.hasSuffix("\n") { lines.removeLast() }
        return lines
    }

    static func edits(_ a: [Substring], _ b: [Substring]) -> [Edit] {
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] {
            suffix += 1
        }
        let x = a[prefix..<(a.count - suffix)]
        let y = b[prefix..<(b.count - suffix)]
        var edits = a[..<prefix].map { Edit.same(String($0)) }
        if x.count * y.count <= alignmentCells {
            edits += aligned(Array(x), Array(y))
        } else {
            edits += x.map { .removed(String($0)) } + y.map { .added(String($0)) }
        }
        edits += a[(a.count - suffix)...].map { .same(String($0)) }
        return edits
    }

    /// Longest common subsequence by dynamic programming, removals before additions.
    private static func aligned(_ x: [Substring], _ y: [Substring]) -> [Edit] {
        let width = y.count + 1
        // lengths[i * width + j]: the LCS of x[i...] and y[j...].
        var lengths = [Int32](repeating: 0, count: (x.count + 1) * width)
        for i in stride(from: x.count - 1, through: 0, by: -1) {
            for j in stride(from: y.count - 1, through: 0, by: -1) {
                lengths[i * width + j] =
                    x[i] == y[j] ? lengths[(i + 1) * width + j + 1] + 1 : max(lengths[(i + 1) * width + j], lengths[i * width + j + 1])
            }
        }
        var edits: [Edit] = []
        var i = 0
        var j = 0
        while i < x.count || j < y.count {
            if i < x.count, j < y.count, x[i] == y[j] {
                edits.append(.same(String(x[i])))
                i += 1
                j += 1
            } else if i < x.count, j == y.count || lengths[(i + 1) * width + j] >= lengths[i * width + j + 1] {
                edits.append(.removed(String(x[i])))
                i += 1
            } else {
                edits.append(.added(String(y[j])))
                j += 1
            }
        }
        return edits
    }
}
