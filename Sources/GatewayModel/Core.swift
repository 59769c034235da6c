/// Core and discovery objects Chancery reads for backends and certificates.

public struct Service: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var ports: [Port]?
        public var type: String?
        public var clusterIP: String?
    }

    public struct Port: Codable, Sendable, Hashable {
        public var name: String?
        public var port: Int
        public var `protocol`: String?
        public var appProtocol: String?
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
    }

    public struct Conditions: Codable, Sendable, Hashable {
        public var ready: Bool?
        public var serving: Bool?
        public var terminating: Bool?
    }

    public struct Port: Codable, Sendable, Hashable {
        public var name: String?
        public var port: Int?
        public var `protocol`: String?
        public var appProtocol: String?
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
