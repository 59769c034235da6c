/// Core and discovery objects Chancery reads for backends and certificates.

public struct Service: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var ports: [Port]?
        public var type: String?
        public var clusterIP: String?
        /// The Pods behind the Service (their labels); nil for a Service without one.
        public var selector: [String: String]?
    }

    public struct Port: Codable, Sendable, Hashable {
        public var name: String?
        public var port: Int
        public var `protocol`: String?
        public var appProtocol: String?
        /// The Pods' port: a number, or the name of a container port.
        public var targetPort: PortNumberOrName?
    }
}

/// A port given by number or by the name of a container port (Kubernetes' IntOrString).
public enum PortNumberOrName: Codable, Sendable, Hashable {
    case number(Int)
    case name(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            self = .number(number)
        } else {
            let text = try container.decode(String.self)
            self = Int(text).map(PortNumberOrName.number) ?? .name(text)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let number): try container.encode(number)
        case .name(let name): try container.encode(name)
        }
    }
}

public struct EndpointSlice: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    /// IPv4, IPv6 or FQDN.
    public var addressType: EndpointAddressType
    public var endpoints: [Endpoint]?
    public var ports: [Port]?

    public struct Endpoint: Codable, Sendable, Hashable {
        public var addresses: [String]
        public var conditions: Conditions?
        /// The Pod behind the endpoint, when there is one.
        public var targetRef: TargetReference?
        /// The node the endpoint runs on.
        public var nodeName: String?

        public init(addresses: [String], conditions: Conditions? = nil, targetRef: TargetReference? = nil, nodeName: String? = nil) {
            self.addresses = addresses
            self.conditions = conditions
            self.targetRef = targetRef
            self.nodeName = nodeName
        }
    }

    public struct TargetReference: Codable, Sendable, Hashable {
        public var kind: String?
        public var namespace: String?
        public var name: String?

        public init(kind: String? = nil, namespace: String? = nil, name: String? = nil) {
            self.kind = kind
            self.namespace = namespace
            self.name = name
        }
    }

    public struct Conditions: Codable, Sendable, Hashable {
        public var ready: Bool?
        public var serving: Bool?
        public var terminating: Bool?

        public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
            self.ready = ready
            self.serving = serving
            self.terminating = terminating
        }
    }

    public struct Port: Codable, Sendable, Hashable {
        public var name: String?
        public var port: Int?
        public var `protocol`: String?
        public var appProtocol: String?

        public init(name: String? = nil, port: Int? = nil, protocol: String? = nil, appProtocol: String? = nil) {
            self.name = name
            self.port = port
            self.protocol = `protocol`
            self.appProtocol = appProtocol
        }
    }

    public init(metadata: ObjectMeta, addressType: EndpointAddressType, endpoints: [Endpoint]?, ports: [Port]?) {
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }

    /// The Service this slice belongs to (label `kubernetes.io/service-name`).
    public var serviceName: String? { metadata.labels?["kubernetes.io/service-name"] }
}

public struct Secret: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var type: String?
    /// Base64-encoded values, as Kubernetes stores them.
    public var data: [String: String]?
    /// Plain values (`stringData`), merged over `data` as the API server does.
    public var stringData: [String: String]?
}

public struct Namespace: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
}
