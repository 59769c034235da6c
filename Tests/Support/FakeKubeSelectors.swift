import Foundation
import GatewayModel

/// Which objects a list or watch returns: a namespace (nil: all), a label selector and
/// a field selector, as the API server parses `labelSelector` and `fieldSelector`.
struct KubeFilter: Sendable {
    var namespace: String?
    var labels: [LabelRequirement] = []
    var fields: [FieldRequirement] = []

    func matches(_ object: JSONValue) -> Bool {
        if let namespace, object.meta("namespace") != namespace { return false }
        let labels = object.labels
        return self.labels.allSatisfy { $0.matches(labels) } && fields.allSatisfy { $0.matches(object) }
    }
}

/// One term of a label selector: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`,
/// `a`, `!a`.
struct LabelRequirement: Sendable {
    enum Operator: Sendable { case equals, notEquals, isIn, notIn, exists, doesNotExist }
    let key: String
    let op: Operator
    let values: Set<String>

    func matches(_ labels: [String: String]) -> Bool {
        let value = labels[key]
        switch op {
        case .equals, .isIn: return value.map(values.contains) ?? false
        case .notEquals, .notIn: return value.map { !values.contains($0) } ?? true
        case .exists: return value != nil
        case .doesNotExist: return value == nil
        }
    }

    /// Parses a whole selector; "" selects everything.
    static func parse(_ selector: String) throws(FakeKubeAPI.StatusError) -> [LabelRequirement] {
        try splitTopLevel(selector).map { term throws(FakeKubeAPI.StatusError) in
            let invalid = FakeKubeAPI.StatusError.badRequest("unable to parse requirement: \(term)")
            if let open = term.firstIndex(of: "(") {
                guard term.hasSuffix(")") else { throw invalid }
                let words = term[..<open].split(whereSeparator: \.isWhitespace)
                guard words.count == 2, words[1] == "in" || words[1] == "notin" else { throw invalid }
                let inner = term[term.index(after: open)..<term.index(before: term.endIndex)]
                let values = inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                return LabelRequirement(
                    key: String(words[0]), op: words[1] == "in" ? .isIn : .notIn, values: Set(values))
            }
            for (token, op) in [("!=", Operator.notEquals), ("==", .equals), ("=", .equals)] {
                if let range = term.range(of: token) {
                    let key = term[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                    let value = term[range.upperBound...].trimmingCharacters(in: .whitespaces)
                    guard !key.isEmpty else { throw invalid }
                    return LabelRequirement(key: key, op: op, values: [value])
                }
            }
            if term.hasPrefix("!") {
                let key = term.dropFirst().trimmingCharacters(in: .whitespaces)
                guard !key.isEmpty else { throw invalid }
                return LabelRequirement(key: key, op: .doesNotExist, values: [])
            }
            guard !term.contains(where: \.isWhitespace) else { throw invalid }
            return LabelRequirement(key: term, op: .exists, values: [])
        }
    }

    /// Splits on commas outside parentheses, trimming; drops empty terms.
    private static func splitTopLevel(_ selector: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in selector {
            switch character {
            case "(": depth += 1; current.append(character)
            case ")": depth -= 1; current.append(character)
            case "," where depth == 0: terms.append(current); current = ""
            default: current.append(character)
            }
        }
        terms.append(current)
        return terms.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// One term of a field selector: `field=value`, `field==value` or `field!=value`, on the
/// fields the real server indexes for the resource (metadata.name, metadata.namespace,
/// `type` for Secrets, `spec.nodeName` and `status.phase` for Pods).
struct FieldRequirement: Sendable {
    let path: [String]
    let value: String
    let negated: Bool

    func matches(_ object: JSONValue) -> Bool {
        var current: JSONValue? = object
        for key in path { current = current?[key] }
        let actual = current?.stringValue ?? ""
        return (actual == value) != negated
    }

    static func parse(_ selector: String, kind: String, group: String) throws(FakeKubeAPI.StatusError)
        -> [FieldRequirement]
    {
        var supported = ["metadata.name", "metadata.namespace"]
        if group.isEmpty && kind == "Secret" { supported.append("type") }
        if group.isEmpty && kind == "Pod" { supported += ["spec.nodeName", "status.phase"] }
        return try selector.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .map { term throws(FakeKubeAPI.StatusError) in
                for (token, negated) in [("!=", true), ("==", false), ("=", false)] {
                    if let range = term.range(of: token) {
                        let field = String(term[..<range.lowerBound])
                        guard supported.contains(field) else {
                            throw .badRequest("field label not supported: \(field)")
                        }
                        return FieldRequirement(
                            path: field.split(separator: ".").map(String.init),
                            value: String(term[range.upperBound...]), negated: negated)
                    }
                }
                throw .badRequest("invalid selector: '\(selector)'; can't understand '\(term)'")
            }
    }
}
