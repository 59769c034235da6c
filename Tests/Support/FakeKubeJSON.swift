import Foundation
import GatewayModel

extension JSONValue {
    /// `metadata.<key>` as a string, "" when absent.
    func meta(_ key: String) -> String { self["metadata"]?[key]?.stringValue ?? "" }

    /// Sets `metadata.<key>`, creating `metadata` when missing.
    mutating func setMeta(_ key: String, _ value: JSONValue?) {
        var metadata = self["metadata"]?.objectValue ?? [:]
        metadata[key] = value
        self["metadata"] = .object(metadata)
    }

    /// The labels, string values only.
    var labels: [String: String] {
        (self["metadata"]?["labels"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    /// RFC 7386 JSON merge patch of `patch` onto `target`.
    static func mergePatch(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let members) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (key, value) in members {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = mergePatch(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }
}

