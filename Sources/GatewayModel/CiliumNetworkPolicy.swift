/// The group of Cilium's policy kinds.
public let ciliumGroup = "cilium.io"

/// Cilium's `cilium.io/v2` CiliumNetworkPolicy: the ingress part with L7 HTTP rules that
/// Chancery enforces in a mesh workload's inbound listener (docs/mesh-security.md).
/// The spec as written is kept (``writtenRules``) so that every field Chancery does not
/// carry out is named in the policy's status, never dropped silently.
public struct CiliumNetworkPolicy: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    /// `spec`, then each of `specs`.
    public var rules: [Rule]
    /// The same, as written, with their paths (`spec`, `specs[1]`).
    public var writtenRules: [(path: String, value: JSONValue)] { zip(rulePaths, writtenValues).map { ($0, $1) } }
    private var rulePaths: [String]
    private var writtenValues: [JSONValue]

    public init(metadata: ObjectMeta, rules: [Rule], written: [(path: String, value: JSONValue)]) {
        self.metadata = metadata
        self.rules = rules
        self.rulePaths = written.map(\.path)
        self.writtenValues = written.map(\.value)
    }

    /// One rule: the endpoints it applies to and what they accept.
    public struct Rule: Codable, Sendable, Hashable {
        public var endpointSelector: LabelSelector?
        public var ingress: [IngressRule]?
        public var ingressDeny: [IngressRule]?
        public var description: String?
    }

    /// Callers (`fromEndpoints`; none: any) allowed (or, in `ingressDeny`, refused) on
    /// ports (`toPorts`; none: every port), with mutual authentication if asked.
    public struct IngressRule: Codable, Sendable, Hashable {
        public var fromEndpoints: [LabelSelector]?
        public var toPorts: [PortRule]?
        public var authentication: Authentication?
    }

    public struct Authentication: Codable, Sendable, Hashable {
        /// `required` or `disabled`.
        public var mode: String
    }

    public struct PortRule: Codable, Sendable, Hashable {
        public var ports: [PortProtocol]?
        public var rules: L7Rules?
    }

    public struct PortProtocol: Codable, Sendable, Hashable {
        /// A port number, written as a string (`"80"`) or a number.
        public var port: String
        /// `TCP` (default), `UDP`, `SCTP` or `ANY`.
        public var `protocol`: String?

        enum CodingKeys: String, CodingKey { case port, `protocol` }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let number = try? container.decode(Int.self, forKey: .port) {
                port = String(number)
            } else {
                port = try container.decode(String.self, forKey: .port)
            }
            self.protocol = try container.decodeIfPresent(String.self, forKey: .protocol)
        }
    }

    public struct L7Rules: Codable, Sendable, Hashable {
        public var http: [HTTPRule]?
    }

    /// An HTTP request the rule allows: `method`, `path` and `host` are extended regular
    /// expressions over the whole value; each of `headers` is `Name` (present) or
    /// `Name: value` (equal).
    public struct HTTPRule: Codable, Sendable, Hashable {
        public var method: String?
        public var path: String?
        public var host: String?
        public var headers: [String]?
    }

    enum CodingKeys: String, CodingKey { case metadata, spec, specs }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try container.decode(ObjectMeta.self, forKey: .metadata)
        var rules: [Rule] = []
        var written: [(String, JSONValue)] = []
        if let spec = try container.decodeIfPresent(Rule.self, forKey: .spec) {
            rules.append(spec)
            written.append(("spec", try container.decode(JSONValue.self, forKey: .spec)))
        }
        if let specs = try container.decodeIfPresent([Rule].self, forKey: .specs) {
            rules += specs
            let values = try container.decode([JSONValue].self, forKey: .specs)
            written += values.enumerated().map { ("specs[\($0.offset)]", $0.element) }
        }
        self.rules = rules
        rulePaths = written.map(\.0)
        writtenValues = written.map(\.1)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(metadata, forKey: .metadata)
        var specs: [JSONValue] = []
        for (path, value) in zip(rulePaths, writtenValues) {
            if path == "spec" { try container.encode(value, forKey: .spec) } else { specs.append(value) }
        }
        if !specs.isEmpty { try container.encode(specs, forKey: .specs) }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.metadata == b.metadata && a.rulePaths == b.rulePaths && a.writtenValues == b.writtenValues
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(metadata)
        hasher.combine(writtenValues)
    }
}
