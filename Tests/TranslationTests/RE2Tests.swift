import IR
import Testing

/// RE2 itself decides which regexes Chancery sends: what it refuses, and programs over
/// Envoy's size limit, never reach Envoy.
@Suite struct RE2Tests {
    @Test func thisBuildLinksRE2() {
        #expect(RE2.isAvailable, "built without RE2: install libre2-dev (scripts/test does, as root) and build again")
    }

    @Test func refusedPatternsSayWhy() throws {
        #expect(RE2.problem("/fine/[a-z]+") == nil)
        #expect(RE2.problem("(?P<svc>shop)\\.v1") == nil, "RE2's own named groups")
        let lookAhead = try #require(RE2.problem("/re/(?!admin).*"))
        #expect(lookAhead.hasPrefix("RE2 refuses it: invalid perl operator: (?!"), "\(lookAhead)")
        let unclosed = try #require(RE2.problem("/a(b"))
        #expect(unclosed.contains("missing )"), "\(unclosed)")
        #expect(RE2.problem("(?<svc>shop)") != nil, "(?<name>…) is not RE2's syntax in the version Debian ships")
    }

    @Test func programsOverEnvoysLimitAreRefused() throws {
        // Envoy's default limit is 100: a long literal fits up to about that many bytes.
        #expect(RE2.problem(String(repeating: "a", count: 80)) == nil)
        let repeated = try #require(RE2.problem("(abc|def|ghi){40}"))
        #expect(repeated.contains("over Envoy's limit of 100"), "\(repeated)")
    }

    @Test func patternsWithNULAndNonASCIIAreCheckedWhole() {
        #expect(RE2.problem("caf\u{e9}/[0-9]+") == nil)
        // Everything after a NUL is still RE2's to judge (a C string would stop there).
        #expect(RE2.problem("a\u{0}(") != nil)
    }
}
