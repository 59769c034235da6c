/// One object Chancery read, of any kind it understands.
///
/// Every case is boxed (`indirect`): a copy of an object — and sets, sources and
/// translation copy them often — is then one reference, not one per field of its spec,
/// and an object is no larger than a reference whatever its kind.
public indirect enum KubeObject: Sendable, Hashable {
    case gatewayClass(GatewayClass)
    case gateway(Gateway)
    case listenerSet(ListenerSet)
    case httpRoute(HTTPRoute)
    case referenceGrant(ReferenceGrant)
    case service(Service)
    case endpointSlice(EndpointSlice)
    case secret(Secret)
    case namespace(Namespace)
    case grpcRoute(GRPCRoute)
    case tlsRoute(TLSRoute)
    case tcpRoute(TCPRoute)
    case udpRoute(UDPRoute)
    case backendTLSPolicy(BackendTLSPolicy)
    case configMap(ConfigMap)
    case ingress(Ingress)
    case ingressClass(IngressClass)
    case pod(Pod)
    case ciliumNetworkPolicy(CiliumNetworkPolicy)
    case authorizationPolicy(AuthorizationPolicy)
    case securityPolicy(SecurityPolicy)
    case backendTrafficPolicy(BackendTrafficPolicy)
    case clientTrafficPolicy(ClientTrafficPolicy)

    public var kind: Kind {
        switch self {
        case .gatewayClass: .gatewayClass
        case .gateway: .gateway
        case .listenerSet: .listenerSet
        case .httpRoute: .httpRoute
        case .referenceGrant: .referenceGrant
        case .service: .service
        case .endpointSlice: .endpointSlice
        case .secret: .secret
        case .namespace: .namespace
        case .grpcRoute: .grpcRoute
        case .tlsRoute: .tlsRoute
        case .tcpRoute: .tcpRoute
        case .udpRoute: .udpRoute
        case .backendTLSPolicy: .backendTLSPolicy
        case .configMap: .configMap
        case .ingress: .ingress
        case .ingressClass: .ingressClass
        case .pod: .pod
        case .ciliumNetworkPolicy: .ciliumNetworkPolicy
        case .authorizationPolicy: .authorizationPolicy
        case .securityPolicy: .securityPolicy
        case .backendTrafficPolicy: .backendTrafficPolicy
        case .clientTrafficPolicy: .clientTrafficPolicy
        }
    }

    public var metadata: ObjectMeta {
        switch self {
        case .gatewayClass(let o): o.metadata
        case .gateway(let o): o.metadata
        case .listenerSet(let o): o.metadata
        case .httpRoute(let o): o.metadata
        case .referenceGrant(let o): o.metadata
        case .service(let o): o.metadata
        case .endpointSlice(let o): o.metadata
        case .secret(let o): o.metadata
        case .namespace(let o): o.metadata
        case .grpcRoute(let o): o.metadata
        case .tlsRoute(let o): o.metadata
        case .tcpRoute(let o): o.metadata
        case .udpRoute(let o): o.metadata
        case .backendTLSPolicy(let o): o.metadata
        case .configMap(let o): o.metadata
        case .ingress(let o): o.metadata
        case .ingressClass(let o): o.metadata
        case .pod(let o): o.metadata
        case .ciliumNetworkPolicy(let o): o.metadata
        case .authorizationPolicy(let o): o.metadata
        case .securityPolicy(let o): o.metadata
        case .backendTrafficPolicy(let o): o.metadata
        case .clientTrafficPolicy(let o): o.metadata
        }
    }

    public var key: ObjectKey {
        ObjectKey(kind, namespace: kind.isNamespaced ? (metadata.namespace ?? "default") : "", name: metadata.name)
    }
}

/// Where an object came from: a file and the line its document starts on.
public struct Origin: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// An object with its origin.
public struct Manifest: Sendable, Hashable {
    public var object: KubeObject
    public var origin: Origin

    public init(object: KubeObject, origin: Origin) {
        self.object = object
        self.origin = origin
    }
}

/// Why a file or an object in it could not be read: the file, the line, the object (if
/// known), the field path (`spec.rules[2].matches[0].path.type`) and what is wrong.
public struct ManifestError: Error, Sendable, Hashable, CustomStringConvertible, Codable {
    public var file: String
    public var line: Int
    public var object: ObjectKey?
    public var field: String?
    public var message: String

    public init(file: String, line: Int, object: ObjectKey? = nil, field: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.object = object
        self.field = field
        self.message = message
    }

    public var description: String {
        var text = "\(file):\(line): "
        if let object { text += "\(object): " }
        if let field, !field.isEmpty { text += "\(field): " }
        return text + message
    }
}
