import EnvoyAPI
import GatewayModel

enum Backends {
    /// Resolves a reference from a route in namespace `from` to a Service port.
    static func resolve(
        kind: String?, group: String?, name: String, namespace: String?, port: Int?, from: String, context: Context
    ) -> ResolvedBackend {
        var backend = ResolvedBackend(cluster: nil, weight: 1, filters: [], problem: nil)
        let targetNamespace = namespace ?? from
        guard (group ?? "") == "", (kind ?? "Service") == "Service" else {
            backend.problem = ("InvalidKind", "backend \(group ?? "")/\(kind ?? "") \(name): only Services are supported")
            return backend
        }
        if targetNamespace != from, !referenceGranted(toService: name, in: targetNamespace, from: from, context: context) {
            backend.problem = (
                "RefNotPermitted",
                "Service \(targetNamespace)/\(name) is in another namespace and no ReferenceGrant there allows HTTPRoutes from \(from)"
            )
            return backend
        }
        guard case .service(let service)? = context.set[ObjectKey(.service, namespace: targetNamespace, name: name)]?.object
        else {
            backend.problem = ("BackendNotFound", "Service \(targetNamespace)/\(name) does not exist")
            return backend
        }
        guard let port else {
            backend.problem = ("UnsupportedValue", "backend Service \(targetNamespace)/\(name) needs a port")
            return backend
        }
        guard (service.spec.ports ?? []).contains(where: { $0.port == port }) else {
            backend.problem = ("BackendNotFound", "Service \(targetNamespace)/\(name) has no port \(port)")
            return backend
        }
        backend.cluster = BackendCluster(namespace: targetNamespace, service: name, port: port)
        return backend
    }

    /// A ReferenceGrant in `namespace` lets HTTPRoutes from `from` reference the Service.
    static func referenceGranted(toService name: String, in namespace: String, from: String, context: Context) -> Bool {
        (context.grants[namespace] ?? []).contains { grant in
            grant.spec.from.contains { $0.group == gatewayGroup && $0.kind == "HTTPRoute" && $0.namespace == from }
                && grant.spec.to.contains { $0.group == "" && $0.kind == "Service" && ($0.name == nil || $0.name == name) }
        }
    }

    static func cluster(_ backend: BackendCluster) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = backend.name
        cluster.type = .eds
        cluster.connectTimeout = .init(seconds: 10)
        var source = Envoy_Config_Core_V3_ConfigSource()
        source.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        source.resourceApiVersion = .v3
        var eds = Envoy_Config_Cluster_V3_Cluster.EdsClusterConfig()
        eds.edsConfig = source
        cluster.edsClusterConfig = eds
        return cluster
    }

    /// The Service port's ready endpoints, following Kubernetes' port rules: the
    /// Service port's name picks the EndpointSlice port of the same name.
    static func endpoints(_ backend: BackendCluster, context: Context) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        assignment.clusterName = backend.name
        guard case .service(let service)? = context.set[ObjectKey(.service, namespace: backend.namespace, name: backend.service)]?.object,
            let servicePort = service.spec.ports?.first(where: { $0.port == backend.port })
        else { return assignment }
        var addresses: Set<AddressPort> = []
        for slice in context.slices[Context.ServiceKey(namespace: backend.namespace, name: backend.service)] ?? [] {
            guard slice.addressType == "IPv4" || slice.addressType == "IPv6" else { continue }
            guard let port = slice.ports?.first(where: { ($0.name ?? "") == (servicePort.name ?? "") })?.port else { continue }
            for endpoint in slice.endpoints ?? [] where endpoint.conditions?.ready ?? true {
                for address in endpoint.addresses { addresses.insert(AddressPort(address: address, port: port)) }
            }
        }
        var locality = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
        locality.lbEndpoints = addresses.sorted().map { entry in
            var endpoint = Envoy_Config_Endpoint_V3_Endpoint()
            endpoint.address = socketAddress(entry.address, entry.port)
            var lb = Envoy_Config_Endpoint_V3_LbEndpoint()
            lb.endpoint = endpoint
            return lb
        }
        if !locality.lbEndpoints.isEmpty { assignment.endpoints = [locality] }
        return assignment
    }
}

private struct AddressPort: Hashable, Comparable {
    let address: String
    let port: Int
    static func < (a: AddressPort, b: AddressPort) -> Bool { (a.address, a.port) < (b.address, b.port) }
}

func socketAddress(_ host: String, _ port: Int) -> Envoy_Config_Core_V3_Address {
    var socket = Envoy_Config_Core_V3_SocketAddress()
    socket.address = host
    socket.portValue = UInt32(port)
    var address = Envoy_Config_Core_V3_Address()
    address.socketAddress = socket
    return address
}
