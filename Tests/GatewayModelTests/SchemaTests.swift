import Foundation
import Testing

@testable import GatewayModel

/// The Gateway API v1.6.1 CRD schemas (`GatewayModel/Schema/`): every constraint of
/// every kind Chancery reads is broken by a row and reported with its field path and
/// the API server's message; every valid manifest of the repository still reads; the
/// counts in docs/gateway-api.md are the schemas'.
@Suite struct SchemaTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    // MARK: one row per constraint

    /// Each row: a minimal valid object, one field set to break one constraint (at that
    /// field path), and the problem the schema must report there.
    @Test(arguments: SchemaRows.all())
    func everyConstraintIsReportedAtItsPath(_ row: SchemaRow) {
        #expect(SchemaRows.check(row) == nil, "\(row.object)")
    }

    /// Every constraint of every schema has a row, but the ones no object can break.
    @Test func everyConstraintHasARow() {
        let rows = SchemaRows.all()
        var covered: Set<String> = []
        for row in rows { covered.insert("\(row.kind) \(row.apiVersion) \(row.schemaPath) \(row.constraint) \(row.detail)") }
        for entry in SchemaRows.schemas {
            let apiVersion = SchemaRows.apiVersion(entry.kind, entry.versions)
            for constraint in entry.schema.constraints() {
                let key = "\(entry.kind) \(apiVersion) \(constraint.path) \(constraint.constraint) \(constraint.detail)"
                if covered.contains(key) { continue }
                var node = entry.schema
                for step in SchemaRows.steps(constraint.path) {
                    switch step {
                    case .key(let name): node = node.property(name)!
                    case .item: node = node.items!
                    case .value: node = node.values!
                    }
                }
                #expect(
                    SchemaRows.unbreakable(node, constraint.constraint, constraint.detail, path: constraint.path),
                    "no row for \(key)")
            }
        }
        // Each hand-written CEL violation is used.
        let messages = Set(SchemaRows.schemas.flatMap { $0.schema.constraints() }.filter { $0.constraint == .cel }.map(\.detail))
        for message in SchemaRows.celViolations.keys { #expect(messages.contains(message), "no rule says \(message)") }
    }

    /// The objects the rows start from are valid.
    @Test func minimalObjectsAreValid() throws {
        for base in SchemaRows.bases() {
            let problems = try #require(try KindSchemas.problems(in: base.object))
            #expect(problems.isEmpty, "\(base.kind) \(base.apiVersion): \(problems)")
        }
    }

    // MARK: through the decoder

    @Test(arguments: DecoderRow.all)
    func decoderReportsFileLineObjectPathAndMessage(_ row: DecoderRow) {
        #expect(row.firstError() == row.error)
    }

    /// Each pattern's hand-written matcher accepts exactly what the regex does (as Go
    /// matches it: a search, `$` only at the end of the text), on a corpus of strings.
    @Test func patternMatchersAgreeWithTheirRegexes() throws {
        let patterns: [Pattern] = [
            .dnsLabel, .dnsSubdomain, .hostname, .group, .kind, .controllerName, .listenerProtocol, .addressType, .headerName,
            .headerValue, .duration, .path, .corsOrigin, .grpcService, .grpcMethod, .labelValue, .labelKey,
            .wellKnownCACertificates, .uri,
        ]
        let alphabet = [
            "a", "z", "Q", "0", "9", "-", ".", "*", "/", ":", "%", "_", " ", "\t", "\n", "é", "\u{212A}", "\u{017F}", "#", "?", "@",
            "!", "h", "m", "s", "f", "F", "2", "~", "`", "|", "'",
        ]
        var corpus = [
            "", "a", "a.b", "*.a.b", "http://x", "https://*.a.b:443", "*", "1h", "10ms", "1m30s", "123456s", "System", "a/b",
            "example.com/x", "IPAddress", "Hostname", "xNamedAddressy", "HTTP", "example.com/Foo", "x y", "x  y", " x", "x\t",
            "/a/b%2F", "%2", "%zz", "s.Echo", ".s.Echo", "Get", "_a", "spiffe://x/y", "a:b", "://x", "KUBE", "ſ.k", "a\n",
            "ab.c/d", "1.2.3.4",
        ]
        // A fixed sequence (a linear congruential generator), so failures repeat.
        var state: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        for _ in 0..<20_000 {
            corpus.append((0..<next(11)).map { _ in alphabet[next(alphabet.count)] }.joined())
        }
        for pattern in patterns {
            // ICU's `$` also matches before a final newline; Go's does not.
            var icu = pattern.regex.replacingOccurrences(of: "$)", with: #"\z)"#).replacingOccurrences(of: "$|", with: #"\z|"#)
            if icu.hasSuffix("$") { icu = String(icu.dropLast()) + #"\z"# }
            let regex = try NSRegularExpression(pattern: icu)
            var mismatches: [String] = []
            for text in corpus {
                let expected = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
                if pattern.matches(text) != expected { mismatches.append(text.debugDescription) }
            }
            #expect(mismatches.isEmpty, "\(pattern.regex): \(mismatches.prefix(10))")
        }
    }

    // MARK: the repository's manifests

    /// Every manifest of the repository reads without a schema problem — goldens,
    /// end-to-end scenarios (configs and edits) and examples — except the objects that
    /// are there to be refused.
    @Test func repositoryManifestsAreValid() throws {
        var errors: [String] = []
        func decode(_ text: String, _ file: String) {
            let result = ManifestDecoder.decode(file: file, contents: text)
            errors += result.errors.map { "\(file): \($0.object.map(\.description) ?? "")" }
            if result.fileError != nil { errors.append("\(file): not valid YAML") }
        }
        let files = FileManager.default.enumerator(atPath: Self.root.path)?.compactMap { $0 as? String } ?? []
        for file in files.sorted() where file.hasSuffix(".yaml") {
            let text = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
            if file.hasPrefix("testdata/translation/"), file.hasSuffix("/input.yaml") {
                decode(text, file)
            } else if file.hasPrefix("examples/") {
                decode(text, file)
            } else if file.hasPrefix("testdata/e2e/") {
                for (i, block) in Self.blocks(text, named: ["config", "edit"]).enumerated() {
                    decode(Self.fillPorts(block), "\(file)#\(i)")
                }
            }
        }
        let intended: Set<String> = [
            "testdata/translation/invalid-input/input.yaml: HTTPRoute app/bad-enum",
            "testdata/translation/invalid-input/input.yaml: HTTPRoute app/bad-type",
            "testdata/translation/invalid-input/input.yaml: HTTPRoute app/bad-timeout",
            "testdata/translation/invalid-input/input.yaml: HTTPRoute app/bad-prefix-rewrite",
            "testdata/translation/invalid-input/input.yaml: HTTPRoute app/bad-cors-origin",
            "testdata/translation/invalid-input/input.yaml: HTTPRoute app/bad-cors-methods",
            "testdata/translation/invalid-input/input.yaml: HTTPRoute app/cors-without-cors",
            "testdata/translation/invalid-input/input.yaml: HTTPRoute app/repeated-filter",
            "testdata/translation/invalid-input/input.yaml: HTTPRoute app/bad-retry",
            "testdata/translation/invalid-input/input.yaml: HTTPRoute app/permanent-without-timeout",
            // a ClientTrafficPolicy naming an HTTPRoute, which it cannot target
            "testdata/translation/client-traffic-policies/input.yaml: ClientTrafficPolicy infra/on-a-route",
            // live-edit saves a broken file, then an invalid route
            "testdata/e2e/live-edit.yaml#2: not valid YAML",
            "testdata/e2e/live-edit.yaml#3: HTTPRoute app/invalid",
        ]
        #expect(Set(errors) == intended)
    }

    /// The block scalars (`key: |`) named `keys` of a scenario file, dedented.
    static func blocks(_ text: String, named keys: [String]) -> [String] {
        let lines = text.components(separatedBy: "\n")
        var blocks: [String] = []
        var i = 0
        while i < lines.count {
            let trimmed = lines[i].trimmingCharacters(in: .whitespaces)
            let indent = lines[i].prefix { $0 == " " || $0 == "-" }.count
            guard keys.contains(where: { trimmed.hasPrefix("\($0): |") || trimmed.hasPrefix("- \($0): |") }) else {
                i += 1
                continue
            }
            var body: [String] = []
            i += 1
            func inBlock(_ line: String) -> Bool {
                line.trimmingCharacters(in: .whitespaces).isEmpty || line.prefix(while: { $0 == " " }).count > indent
            }
            while i < lines.count, inBlock(lines[i]) {
                body.append(lines[i])
                i += 1
            }
            let margin = body.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
            blocks.append(body.map { String($0.dropFirst(min(margin, $0.count))) }.joined(separator: "\n"))
        }
        return blocks
    }

    /// A scenario's `{{port}}` and `{{backend}}` placeholders, as ports.
    static func fillPorts(_ text: String) -> String {
        text.replacingOccurrences(of: #"\{\{[A-Za-z0-9_-]+\}\}"#, with: "8080", options: .regularExpression)
    }

    // MARK: the docs

    /// docs/gateway-api.md's table of constraints per kind is the schemas' count.
    @Test func docsCountTheConstraintsOfEachKind() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/gateway-api.md"), encoding: .utf8)
        let header = "| kind | versions | " + Schema.Constraint.allCases.map(\.rawValue).joined(separator: " | ") + " | total |"
        #expect(text.contains(header), "the table's columns are Schema.Constraint's")
        var documented: [String] = []
        for line in text.split(separator: "\n") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == Schema.Constraint.allCases.count + 3, Kind(rawValue: cells[0]) != nil else { continue }
            documented.append(cells.joined(separator: " | "))
        }
        let counted = KindSchemas.all.map { entry in
            let constraints = entry.schema.constraints()
            let counts = Schema.Constraint.allCases.map { kind in constraints.count { $0.constraint == kind } }
            return ([entry.kind.rawValue, entry.versions] + counts.map(String.init) + [String(constraints.count)])
                .joined(separator: " | ")
        }
        #expect(documented == counted)
    }
}
