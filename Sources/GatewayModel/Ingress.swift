/// `networking.k8s.io/v1` Ingress: HTTP(S) routing by host and path to Services.
public struct Ingress: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var ingressClassName: String?
        public var defaultBackend: Backend?
        public var tls: [TLS]?
        public var rules: [Rule]?

        public init(ingressClassName: String? = nil, defaultBackend: Backend? = nil, tls: [TLS]? = nil, rules: [Rule]? = nil) {
            self.ingressClassName = ingressClassName
            self.defaultBackend = defaultBackend
            self.tls = tls
            self.rules = rules
        }
    }

    public struct TLS: Codable, Sendable, Hashable {
        public var hosts: [String]?
        public var secretName: String?
    }

    public struct Rule: Codable, Sendable, Hashable {
        /// Exact (`foo.example.com`) or a wildcard of one label (`*.example.com`); none: every host.
        public var host: String?
        public var http: HTTP?
    }

    public struct HTTP: Codable, Sendable, Hashable {
        public var paths: [Path]
    }

    public struct Path: Codable, Sendable, Hashable {
        public var path: String?
        public var pathType: IngressPathType
        public var backend: Backend
    }

    /// A Service port, or (refused by Chancery, with a condition) a resource.
    public struct Backend: Codable, Sendable, Hashable {
        public var service: ServiceBackend?
        public var resource: TypedLocalReference?
    }

    public struct ServiceBackend: Codable, Sendable, Hashable {
        public var name: String
        public var port: ServicePort
    }

    /// By number or by the Service port's name, never both.
    public struct ServicePort: Codable, Sendable, Hashable {
        public var name: String?
        public var number: Int?
    }

    public struct TypedLocalReference: Codable, Sendable, Hashable {
        public var apiGroup: String?
        public var kind: String
        public var name: String
    }
}

/// `networking.k8s.io/v1` IngressClass: which controller serves Ingresses of the class.
public struct IngressClass: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Hashable {
        public var controller: String?
        public var parameters: Parameters?
    }

    public struct Parameters: Codable, Sendable, Hashable {
        public var apiGroup: String?
        public var kind: String
        public var name: String
        public var scope: String?
        public var namespace: String?
    }

    /// The annotation that makes a class the one for Ingresses that name none.
    public static let defaultAnnotation = "ingressclass.kubernetes.io/is-default-class"

    public var isDefault: Bool { metadata.annotations?[Self.defaultAnnotation] == "true" }
}

/// How an Ingress path is matched.
public enum IngressPathType: String, Codable, Sendable, Hashable, CaseIterable {
    case exact = "Exact"
    case prefix = "Prefix"
    case implementationSpecific = "ImplementationSpecific"
}
