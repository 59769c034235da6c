import Foundation
import GatewayModel
import Testing

/// docs/conformance.md and `Features` say the same: a row for every v1.6 feature, "yes"
/// exactly for the features GatewayClass status publishes, and a named proof for each.
@Suite struct ConformanceDocTests {
    struct Row {
        let feature: FeatureName
        let supported: Bool
        let proof: String
    }

    static func rows() throws -> [Row] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/conformance.md"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> Row? in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count >= 5, cells[1].hasPrefix("`"), cells[1].hasSuffix("`") else { return nil }
            return Row(
                feature: FeatureName(rawValue: String(cells[1].dropFirst().dropLast())), supported: cells[2] == "yes",
                proof: cells[3])
        }
    }

    @Test func everyFeatureHasOneRow() throws {
        let rows = try Self.rows()
        #expect(rows.map(\.feature).sorted() == Features.all.sorted())
        #expect(Set(rows.map(\.feature)).count == rows.count, "a feature listed twice")
    }

    @Test func supportedRowsAreThePublishedFeaturesAndNameTheirProof() throws {
        let rows = try Self.rows()
        #expect(rows.filter(\.supported).map(\.feature).sorted() == Features.supported)
        for row in rows where row.supported {
            #expect(!row.proof.isEmpty, "\(row.feature) is supported without a test named")
        }
        #expect(Features.supported == Features.supported.sorted(), "published sorted, as the spec asks")
    }
}
