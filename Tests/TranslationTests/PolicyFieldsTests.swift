import Foundation
import GatewayModel
import Testing

@testable import Translation

/// Which fields of a policy Chancery carries out: the support tree names every field
/// written that it does not (the policy is refused, its status names the field), and
/// docs/policies.md lists exactly the supported ones.
@Suite struct PolicyFieldsTests {
    static let docs = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/policies.md")

    @Test func unsupportedFieldsAreNamedWithTheirPaths() throws {
        let spec = try JSONValue.parse(
            #"""
            {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "a"}],
             "authorization": {"rules": [{"action": "Allow", "principal": {"clientCIDRs": ["10.0.0.0/8"], "clientIPGeoLocations": [{}]}},
                                          {"action": "Deny", "cel": "true", "principal": {"headers": [{"name": "a", "values": ["b"]}]}}]},
             "oidc": {"clientID": "x"}, "cors": {"allowOrigins": ["*"]}}
            """#)
        #expect(
            PolicyFields.securityPolicy.unsupported(in: spec, at: "spec") == [
                "spec.authorization.rules[0].principal.clientIPGeoLocations", "spec.authorization.rules[1].cel", "spec.oidc",
            ])
        #expect(PolicyFields.securityPolicy.unsupported(in: try JSONValue.parse(#"{"cors": {"maxAge": "1s"}}"#), at: "spec").isEmpty)
    }

    /// The rows of docs/policies.md marked `yes` under each kind's heading are exactly
    /// the tree's supported fields; every other row says `no`.
    @Test(arguments: ["SecurityPolicy", "BackendTrafficPolicy", "ClientTrafficPolicy"])
    func theDocsTableIsTheTree(_ kind: String) throws {
        let fields: PolicyFields =
            [
                "SecurityPolicy": .securityPolicy, "BackendTrafficPolicy": .backendTrafficPolicy,
                "ClientTrafficPolicy": .clientTrafficPolicy,
            ][kind]!
        let text = try String(contentsOf: Self.docs, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0 == "### \(kind) fields" }, "no heading for \(kind)")
        var supported: Set<String> = []
        var unsupported: Set<String> = []
        for line in lines[(start + 1)...] {
            if line.hasPrefix("#") { break }
            guard line.hasPrefix("| `") else { continue }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2 else { continue }
            let field = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            if cells[1].hasPrefix("yes") {
                supported.insert(field)
            } else {
                #expect(cells[1].hasPrefix("no"), "\(kind) \(field): \(cells[1])")
                unsupported.insert(field)
            }
        }
        let tree = Set(fields.paths().map { String($0.dropFirst("spec.".count)) })
        #expect(supported == tree, "marked yes but not supported: \(supported.subtracting(tree).sorted()); supported but not marked yes: \(tree.subtracting(supported).sorted())")
        #expect(unsupported.isDisjoint(with: tree))
    }

    /// Every YAML example of docs/policies.md reads without an error, and each policy in
    /// them can be used as written (nothing unsupported, nothing missing but its targets
    /// and what lives in other examples).
    @Test func theDocsExamplesAreValidPolicies() throws {
        let text = try String(contentsOf: Self.docs, encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```yaml" {
                current = []
            } else if current != nil, line == "```" {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        #expect(blocks.count >= 15, "\(blocks.count) examples")
        var manifests: [Manifest] = []
        for (index, block) in blocks.enumerated() {
            let decoded = ManifestDecoder.decode(file: "example-\(index)", contents: block)
            #expect(decoded.errors.isEmpty && decoded.fileError == nil, "example \(index): \(decoded.errors) \(String(describing: decoded.fileError))\n\(block)")
            manifests += decoded.manifests
        }
        // Examples may share names across kinds and sections: each is resolved on its own.
        var policies = 0
        for manifest in manifests {
            let indexes = RoutePolicyIndexes(ResourceSet(manifests: manifests.filter { $0.object.kind != manifest.object.kind || $0 == manifest }))
            for (_, index) in indexes.byKind {
                for entry in index.all where entry.key == manifest.object.key {
                    policies += 1
                    #expect(entry.policy.problem == nil, "\(entry.key): \(entry.policy.problem ?? "")")
                }
            }
        }
        #expect(policies >= 15)
    }
}
