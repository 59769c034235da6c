import Foundation

extension ProxyPlan {
    /// The plan as JSON (keys sorted, private keys redacted): what `chancery translate
    /// --ir`, the admin endpoint and the IR goldens show.
    public func json() throws -> String {
        String(decoding: try Self.encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// Several groups' plans, keyed by group.
    public static func json(_ plans: [String: ProxyPlan]) throws -> String {
        String(decoding: try encoder.encode(plans), as: UTF8.self) + "\n"
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
