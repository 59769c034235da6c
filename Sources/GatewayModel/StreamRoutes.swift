/// The Gateway API's other route kinds and the policy for TLS to backends: GRPCRoute
/// (v1), TLSRoute, TCPRoute and UDPRoute (v1alpha2, TLSRoute also v1alpha3 and v1) and
/// BackendTLSPolicy (v1alpha3 and v1), plus the ConfigMaps that hold its CA bundles.

public struct GRPCRoute: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var parentRefs: [ParentReference]?
        public var hostnames: [String]?
        public var rules: [Rule]?
    }

    public struct Rule: Codable, Sendable, Hashable {
        public var name: String?
        public var matches: [Match]?
        public var filters: [HTTPRoute.Filter]?
        public var backendRefs: [HTTPRoute.BackendRef]?
        public var sessionPersistence: HTTPRoute.SessionPersistence?
    }

    public struct Match: Codable, Sendable, Hashable {
        public var method: MethodMatch?
        public var headers: [HTTPRoute.HeaderMatch]?
    }

    public struct MethodMatch: Codable, Sendable, Hashable {
        /// Exact (default) or RegularExpression.
        public var type: StringMatchType?
        public var service: String?
        public var method: String?
    }
}

/// A TLSRoute, TCPRoute or UDPRoute rule: backends only (no matches).
public struct StreamRule: Codable, Sendable, Hashable {
    public var name: String?
    public var backendRefs: [HTTPRoute.BackendRef]?
}

public struct TLSRoute: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var parentRefs: [ParentReference]?
        /// SNI names this route serves.
        public var hostnames: [String]?
        public var rules: [StreamRule]?
    }
}

public struct TCPRoute: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var parentRefs: [ParentReference]?
        public var rules: [StreamRule]?
    }
}

public struct UDPRoute: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var parentRefs: [ParentReference]?
        public var rules: [StreamRule]?
    }
}

public struct BackendTLSPolicy: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var targetRefs: [TargetReference]
        public var validation: Validation
        public var options: [String: String]?
    }

    /// A Service in the policy's namespace, optionally one named port of it.
    public struct TargetReference: Codable, Sendable, Hashable {
        public var group: String
        public var kind: String
        public var name: String
        public var sectionName: String?
    }

    public struct Validation: Codable, Sendable, Hashable {
        public var caCertificateRefs: [LocalObjectReference]?
        /// "System": the well-known CAs of the proxy's operating system.
        public var wellKnownCACertificates: WellKnownCACertificatesType?
        /// The SNI sent to the backend, and the name its certificate must carry unless
        /// `subjectAltNames` says otherwise.
        public var hostname: String
        public var subjectAltNames: [SubjectAltName]?
    }

    public struct SubjectAltName: Codable, Sendable, Hashable {
        /// Hostname or URI.
        public var type: SubjectAltNameType
        public var hostname: String?
        public var uri: String?

        public init(type: SubjectAltNameType, hostname: String?, uri: String?) {
            self.type = type
            self.hostname = hostname
            self.uri = uri
        }
    }
}

public struct ConfigMap: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var data: [String: String]?
}
