/// The kinds of Kubernetes object Chancery reads, with the API versions it accepts.
public enum Kind: String, Sendable, Codable, CaseIterable, Comparable {
    case gatewayClass = "GatewayClass"
    case gateway = "Gateway"
    case listenerSet = "ListenerSet"
    case httpRoute = "HTTPRoute"
    case grpcRoute = "GRPCRoute"
    case tlsRoute = "TLSRoute"
    case tcpRoute = "TCPRoute"
    case udpRoute = "UDPRoute"
    case backendTLSPolicy = "BackendTLSPolicy"
    case referenceGrant = "ReferenceGrant"
    case service = "Service"
    case endpointSlice = "EndpointSlice"
    case secret = "Secret"
    case namespace = "Namespace"
    case configMap = "ConfigMap"
    case ingress = "Ingress"
    case ingressClass = "IngressClass"
    case securityPolicy = "SecurityPolicy"
    case backendTrafficPolicy = "BackendTrafficPolicy"
    case clientTrafficPolicy = "ClientTrafficPolicy"
    case pod = "Pod"
    case ciliumNetworkPolicy = "CiliumNetworkPolicy"
    case authorizationPolicy = "AuthorizationPolicy"

    public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `apiVersion`s served for this kind (Gateway API v1, and v1beta1 where the spec
    /// still serves it).
    public var apiVersions: [String] {
        switch self {
        case .gatewayClass, .gateway, .httpRoute:
            ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"]
        case .listenerSet: ["gateway.networking.k8s.io/v1"]
        case .referenceGrant: ["gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1"]
        case .grpcRoute: ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha2"]
        case .tlsRoute:
            ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha3", "gateway.networking.k8s.io/v1alpha2"]
        case .tcpRoute, .udpRoute: ["gateway.networking.k8s.io/v1alpha2"]
        case .backendTLSPolicy: ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha3"]
        case .service, .secret, .namespace, .configMap, .pod: ["v1"]
        case .endpointSlice: ["discovery.k8s.io/v1"]
        case .ingress, .ingressClass: ["networking.k8s.io/v1"]
        case .securityPolicy, .backendTrafficPolicy, .clientTrafficPolicy: ["gateway.envoyproxy.io/v1alpha1"]
        case .ciliumNetworkPolicy: ["cilium.io/v2"]
        case .authorizationPolicy: ["security.istio.io/v1", "security.istio.io/v1beta1"]
        }
    }

    /// The API group (empty for core), as Gateway API references name it.
    public var group: String {
        switch self {
        case .gatewayClass, .gateway, .listenerSet, .httpRoute, .referenceGrant, .grpcRoute, .tlsRoute, .tcpRoute, .udpRoute,
            .backendTLSPolicy:
            gatewayGroup
        case .service, .secret, .namespace, .configMap, .pod: ""
        case .endpointSlice: "discovery.k8s.io"
        case .ingress, .ingressClass: "networking.k8s.io"
        case .securityPolicy, .backendTrafficPolicy, .clientTrafficPolicy: envoyGatewayGroup
        case .ciliumNetworkPolicy: ciliumGroup
        case .authorizationPolicy: istioSecurityGroup
        }
    }

    public var isNamespaced: Bool { self != .gatewayClass && self != .namespace && self != .ingressClass }

    /// The kind a reference names by `group` and `kind`, where either may be left out for
    /// `implied` (a backendRef's default is a core Service, a parentRef's a Gateway); nil
    /// for a kind Chancery does not read.
    public static func referenced(group: String?, kind: String?, implied: Kind) -> Kind? {
        guard let known = kind.map({ Kind(rawValue: $0) }) ?? implied else { return nil }
        return (group ?? implied.group) == known.group ? known : nil
    }

    /// The route kinds, whose status lists parents.
    public var isRoute: Bool { [.httpRoute, .grpcRoute, .tlsRoute, .tcpRoute, .udpRoute].contains(self) }
}

/// The Gateway API's group name.
public let gatewayGroup = "gateway.networking.k8s.io"
