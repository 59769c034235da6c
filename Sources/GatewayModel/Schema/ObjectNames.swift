import Yams

/// Kubernetes' rules for object metadata (`ValidateObjectMeta`), with the API server's
/// messages: the name (an RFC 1123 subdomain for most kinds, an RFC 1123 label for a
/// Namespace, an RFC 1035 label for a Service), the namespace (an RFC 1123 label), and
/// label keys and values.
enum ObjectNames {
    /// The name rule each kind's name follows.
    enum NameRule: String, Sendable {
        case subdomain, label, dns1035Label

        var maxLength: Int { self == .subdomain ? 253 : 63 }

        /// The API server's explanation, after `Invalid value: "<name>": `.
        var explanation: String {
            switch self {
            case .subdomain:
                #"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
            case .label:
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            case .dns1035Label:
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            }
        }

        func matches(_ text: String) -> Bool {
            switch self {
            case .subdomain: return Bytes.isSubdomain(text.utf8[...])
            case .label: return Bytes.isLabel(text.utf8[...])
            case .dns1035Label:
                guard let first = text.utf8.first, Bytes.isLower(first) else { return false }
                return Bytes.isLabel(text.utf8[...])
            }
        }
    }

    static func nameRule(of kind: Kind) -> NameRule {
        switch kind {
        case .namespace: .label
        case .service: .dns1035Label
        default: .subdomain
        }
    }

    /// The rules each kind's metadata is checked by, for the docs' count: the name's
    /// length and form, the namespace's length and form (namespaced kinds), label keys
    /// and values.
    static func ruleCount(of kind: Kind) -> Int { 2 + (kind.isNamespaced ? 2 : 0) + 2 }

    /// The first problem of an object's metadata; `name` is known to be non-empty.
    static func firstProblem(of metadata: Node?, kind: Kind, name: String) -> SchemaProblem? {
        let rule = nameRule(of: kind)
        let namePath: [PathComponent] = [.key("metadata"), .key("name")]
        if name.utf8.count > rule.maxLength, name.unicodeScalars.count > rule.maxLength {
            return problem(namePath, "Invalid value: \(quoted(name)): must be no more than \(rule.maxLength) characters")
        }
        if !rule.matches(name) {
            return problem(namePath, "Invalid value: \(quoted(name)): \(rule.explanation)")
        }
        guard case .mapping(let mapping) = metadata else { return nil }
        if kind.isNamespaced, let node = JSONType.value(of: "namespace", in: mapping), let namespace = node.scalar?.string,
            !namespace.isEmpty
        {
            let path: [PathComponent] = [.key("metadata"), .key("namespace")]
            if namespace.utf8.count > 63, namespace.unicodeScalars.count > 63 {
                return problem(path, "Invalid value: \(quoted(namespace)): must be no more than 63 characters")
            }
            if !NameRule.label.matches(namespace) {
                return problem(path, "Invalid value: \(quoted(namespace)): \(NameRule.label.explanation)")
            }
        }
        if case .mapping(let labels)? = JSONType.value(of: "labels", in: mapping) {
            for index in labels.startIndex..<labels.endIndex {
                let pair = labels[index]
                guard let key = pair.key.scalar?.string else { continue }
                let path: [PathComponent] = [.key("metadata"), .key("labels")]
                if let message = labelKeyProblem(key) {
                    return problem(path, "Invalid value: \(quoted(key)): \(message)", locate: path + [.key(key)])
                }
                let value = pair.value.scalar?.string ?? ""
                if JSONType.isNull(pair.value) { continue }
                if value.utf8.count > 63, value.unicodeScalars.count > 63 {
                    return problem(
                        path + [.key(key)], "Invalid value: \(quoted(value)): must be no more than 63 characters")
                }
                if !Pattern.labelValue.matches(value) {
                    return problem(
                        path + [.key(key)],
                        "Invalid value: \(quoted(value)): a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
                    )
                }
            }
        }
        return nil
    }

    /// A label key: a qualified name (`prefix/name`), as `IsQualifiedName` says.
    static func labelKeyProblem(_ key: String) -> String? {
        var name = Substring(key)
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: break
        case 2:
            let prefix = parts[0]
            if prefix.isEmpty { return "prefix part must be non-empty" }
            if prefix.utf8.count > 253 { return "prefix part must be no more than 253 characters" }
            if !Bytes.isSubdomain(prefix.utf8) { return "prefix part \(NameRule.subdomain.explanation)" }
            name = parts[1]
        default:
            return
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
        if name.isEmpty { return "name part must be non-empty" }
        if name.utf8.count > 63 { return "name part must be no more than 63 characters" }
        if !Bytes.isQualifiedNamePart(name.utf8, maxLength: nil) {
            return
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        }
        return nil
    }

    private static func problem(_ path: [PathComponent], _ message: String, locate: [PathComponent]? = nil)
        -> SchemaProblem
    {
        SchemaProblem(path: path, message: message, locate: locate ?? path)
    }
}
