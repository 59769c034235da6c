/// Kubernetes object metadata: the parts Chancery reads.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String
    /// Empty for cluster-scoped objects; a namespaced object without one is placed in
    /// `default`, as `kubectl apply` does.
    public var namespace: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var generation: Int?
    public var creationTimestamp: String?
    public var resourceVersion: String?
    public var uid: String?

    public init(name: String, namespace: String? = nil, labels: [String: String]? = nil, generation: Int? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.generation = generation
    }
}

/// Which object: kind, namespace (empty when cluster-scoped) and name.
public struct ObjectKey: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public var kind: Kind
    public var namespace: String
    public var name: String

    public init(_ kind: Kind, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public var description: String {
        namespace.isEmpty ? "\(kind.rawValue)/\(name)" : "\(kind.rawValue) \(namespace)/\(name)"
    }

    public static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        // Field by field: sorting thousands of keys is on translation's path.
        if lhs.kind != rhs.kind { return lhs.kind.rawValue < rhs.kind.rawValue }
        if lhs.namespace != rhs.namespace { return lhs.namespace < rhs.namespace }
        return lhs.name < rhs.name
    }
}

/// A label selector (`matchLabels` and `matchExpressions`) as Kubernetes evaluates it.
public struct LabelSelector: Codable, Sendable, Hashable {
    public struct Requirement: Codable, Sendable, Hashable {
        public var key: String
        /// In, NotIn, Exists, DoesNotExist.
        public var `operator`: String
        public var values: [String]?
    }

    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    public init(matchLabels: [String: String]? = nil, matchExpressions: [Requirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    /// Whether `labels` satisfy every requirement. An empty selector matches everything.
    public func matches(_ labels: [String: String]) -> Bool {
        for (key, value) in matchLabels ?? [:] where labels[key] != value { return false }
        for requirement in matchExpressions ?? [] {
            let values = requirement.values ?? []
            switch requirement.operator {
            case "In": guard let value = labels[requirement.key], values.contains(value) else { return false }
            case "NotIn": if let value = labels[requirement.key], values.contains(value) { return false }
            case "Exists": if labels[requirement.key] == nil { return false }
            case "DoesNotExist": if labels[requirement.key] != nil { return false }
            default: return false
            }
        }
        return true
    }
}
