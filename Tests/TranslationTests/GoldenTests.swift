import EnvoyBuild
import Foundation
import MeshIdentity
import GatewayModel
import IR
import Testing
import Translation
import XDS
import Yams

/// Golden translation tests: each directory of `testdata/translation/` holds an
/// `input.yaml` and three expectations — `ir.json`, every proxy group's plan (the
/// intermediate representation the first stage produces); `status.yaml`, every object's
/// status; and `expected.json`, the xDS resources the second stage builds from the
/// plans. Run with `CHANCERY_UPDATE_GOLDEN=1` to rewrite the expectations after a
/// deliberate change, then review the diff.
@Suite struct GoldenTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("testdata/translation")

    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }()

    static let updating = ProcessInfo.processInfo.environment["CHANCERY_UPDATE_GOLDEN"] == "1"
    /// 2026-01-01T00:00:00Z: the day testdata/certs/generate.py plans its certificates around.
    static let goldenNow = Date(timeIntervalSince1970: 1_767_225_600)

    @Test func thereAreCases() {
        #expect(Self.cases.count >= 8, "testdata/translation has \(Self.cases.count) cases")
    }

    @Test(arguments: cases)
    func golden(_ name: String) throws {
        let dir = Self.root.appendingPathComponent(name)
        let input = try String(contentsOf: dir.appendingPathComponent("input.yaml"), encoding: .utf8)
        let result = translate(input)
        let configs = EnvoyBuilder().build(result.plans, identical: result.identical)
        let json = try ProxyConfig.json(configs)
        let ir = try ProxyPlan.json(result.plans)
        let status = try Self.statusYAML(result)

        // Whatever the translator gives a proxy group must be a snapshot the xDS
        // server accepts: nothing names a resource that is not there. (The golden output
        // has no mesh workload certificates: they are issued when `serve` builds them.)
        let served = EnvoyBuilder(meshCertificates: try MeshCA.generate(trustDomain: Translator.defaultTrustDomain))
            .build(result.plans, identical: result.identical)
        for (group, proxy) in served {
            #expect(throws: Never.self, "group \(group)") {
                try Snapshot(
                    listeners: proxy.listeners, scopedRoutes: proxy.scopedRoutes, routes: proxy.routes, clusters: proxy.clusters,
                    endpoints: proxy.endpoints, secrets: proxy.secrets)
            }
        }
        // Deterministic: the same input gives byte-identical output.
        let again = translate(input)
        #expect(again == result)
        #expect(try ProxyConfig.json(EnvoyBuilder().build(again.plans, identical: again.identical)) == json)
        // A group that equals another has the same plan.
        for (group, same) in result.identical { #expect(result.plans[group] == result.plans[same], "group \(group)") }

        try compare(ir, dir.appendingPathComponent("ir.json"))
        try compare(status, dir.appendingPathComponent("status.yaml"))
        try compare(json, dir.appendingPathComponent("expected.json"))
    }

    func translate(_ input: String) -> TranslationResult {
        let decoded = ManifestDecoder.decode(file: "input.yaml", contents: input)
        // Certificates are checked as of a fixed day, so the golden output never ages.
        return Translator(now: Self.goldenNow).translate(
            ResourceSet(manifests: decoded.manifests, errors: decoded.errors + [decoded.fileError].compactMap { $0 }))
    }

    func compare(_ actual: String, _ file: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        if Self.updating {
            try actual.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let expected = try? String(contentsOf: file, encoding: .utf8)
        guard let expected else {
            Issue.record("missing \(file.path); run with CHANCERY_UPDATE_GOLDEN=1", sourceLocation: sourceLocation)
            return
        }
        if expected != actual {
            let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let b = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let line = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
            let want = line < a.count ? String(a[line]) : "<end>"
            let got = line < b.count ? String(b[line]) : "<end>"
            Issue.record(
                "\(file.lastPathComponent) differs at line \(line + 1):\n  expected: \(want)\n  actual:   \(got)",
                sourceLocation: sourceLocation)
        }
    }

    struct StatusFile: Encodable {
        var objects: [String: ObjectStatus]
        var readErrors: [String]
        /// Per route, the policies in effect (as `validate` prints them); absent when none.
        var policies: [String: [String]]?
    }

    static func statusYAML(_ result: TranslationResult) throws -> String {
        let encoder = YAMLEncoder()
        encoder.options.sortKeys = true
        let file = StatusFile(
            objects: Dictionary(uniqueKeysWithValues: result.statuses.map { ($0.key.description, $0.value) }),
            readErrors: result.readErrors.map(\.description),
            policies: result.effectivePolicies.isEmpty
                ? nil : Dictionary(uniqueKeysWithValues: result.effectivePolicies.map { ($0.key.description, $0.value.map(\.description)) }))
        return try encoder.encode(file)
    }
}
