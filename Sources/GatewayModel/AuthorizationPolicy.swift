/// The group of Istio's security kinds.
public let istioSecurityGroup = "security.istio.io"

/// Istio's `security.istio.io/v1` AuthorizationPolicy: who may call the mesh workloads it
/// selects, and what they may ask, enforced in their inbound listener
/// (docs/mesh-security.md). The spec as written is kept (``writtenSpec``) so that every
/// field Chancery does not carry out is named in its status, never dropped silently.
public struct AuthorizationPolicy: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec
    public var writtenSpec: JSONValue

    public struct Spec: Codable, Sendable, Hashable {
        /// The workloads of the policy's namespace it applies to; none: all of them.
        public var selector: Selector?
        /// `ALLOW` (default), `DENY`, `AUDIT` or `CUSTOM`.
        public var action: String?
        /// None (or an empty list) in an ALLOW policy: nothing is allowed.
        public var rules: [Rule]?
    }

    public struct Selector: Codable, Sendable, Hashable {
        public var matchLabels: [String: String]?
    }

    /// A call matches a rule when it matches one of `from` (or there is none) and one of
    /// `to` (or there is none).
    public struct Rule: Codable, Sendable, Hashable {
        public var from: [From]?
        public var to: [To]?
    }

    public struct From: Codable, Sendable, Hashable {
        public var source: Source
    }

    /// Every field given must match; within a field, any value.
    public struct Source: Codable, Sendable, Hashable {
        /// `<trust domain>/ns/<namespace>/sa/<account>`, `*`, `prefix*`.
        public var principals: [String]?
        public var namespaces: [String]?
        /// Addresses or CIDR blocks of the caller.
        public var ipBlocks: [String]?
    }

    public struct To: Codable, Sendable, Hashable {
        public var operation: Operation
    }

    /// Every field given must match; within a field, any value.
    public struct Operation: Codable, Sendable, Hashable {
        public var methods: [String]?
        /// Exact, `prefix*`, `*suffix` or `*`.
        public var paths: [String]?
        /// The workload's ports, as strings.
        public var ports: [String]?
    }

    enum CodingKeys: String, CodingKey { case metadata, spec }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try container.decode(ObjectMeta.self, forKey: .metadata)
        spec = try container.decodeIfPresent(Spec.self, forKey: .spec) ?? Spec()
        writtenSpec = try container.decodeIfPresent(JSONValue.self, forKey: .spec) ?? .object([:])
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(metadata, forKey: .metadata)
        try container.encode(writtenSpec, forKey: .spec)
    }
}
