import EnvoyAPI
import GatewayModel
import SwiftProtobuf

enum Backends {
    /// Resolves a reference from a route in namespace `from` to a Service port.
    static func resolve(
        kind: String?, group: String?, name: String, namespace: String?, port: Int?, from: String, routeKind: Kind,
        context: Context
    ) -> ResolvedBackend {
        var backend = ResolvedBackend(cluster: nil, weight: 1, filters: [], problem: nil)
        let targetNamespace = namespace ?? from
        guard (group ?? "") == "", (kind ?? "Service") == "Service" else {
            backend.problem = ("InvalidKind", "backend \(group ?? "")/\(kind ?? "") \(name): only Services are supported")
            return backend
        }
        if targetNamespace != from,
            !referenceGranted(
                from: routeKind.rawValue, namespace: from, toGroup: "", toKind: "Service", name: name, in: targetNamespace,
                context: context)
        {
            backend.problem = (
                "RefNotPermitted",
                "Service \(targetNamespace)/\(name) is in another namespace and no ReferenceGrant there allows \(routeKind.rawValue)s from \(from)"
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
        let cluster = BackendCluster(namespace: targetNamespace, service: name, port: port)
        if case .failure(let problem)? = BackendTLS.resolve(cluster, context: context) {
            // TLS to this backend cannot be verified: fail closed.
            backend.problem = ("InvalidBackendTLSPolicy", problem.message)
            backend.refusedByPolicy = cluster
            return backend
        }
        backend.cluster = cluster
        return backend
    }

    /// A ReferenceGrant in `namespace` lets objects of kind `from` (a Gateway API kind)
    /// in namespace `fromNamespace` reference the named object.
    static func referenceGranted(
        from kind: String, namespace fromNamespace: String, toGroup: String, toKind: String, name: String,
        in namespace: String, context: Context
    ) -> Bool {
        (context.grants[namespace] ?? []).contains { grant in
            grant.spec.from.contains { $0.group == gatewayGroup && $0.kind == kind && $0.namespace == fromNamespace }
                && grant.spec.to.contains { $0.group == toGroup && $0.kind == toKind && ($0.name == nil || $0.name == name) }
        }
    }

    /// - Parameter tls: the backend's resolved BackendTLSPolicy, if one applies.
    static func cluster(_ backend: BackendCluster, tls: UpstreamTLS?, context: Context) -> Envoy_Config_Cluster_V3_Cluster {
        let http2 = usesHTTP2(backend, context: context)
        guard let cache = context.cache else { return cluster(backend, tls: tls, http2: http2) }
        return cache.cluster(backend, tls: tls, http2: http2) { cluster(backend, tls: tls, http2: http2) }
    }

    private static func cluster(_ backend: BackendCluster, tls: UpstreamTLS?, http2: Bool) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = edsCluster(backend.name)
        if http2 {
            var options = Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions()
            var explicit = Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions.ExplicitHttpConfig()
            explicit.http2ProtocolOptions = Envoy_Config_Core_V3_Http2ProtocolOptions()
            options.explicitHTTPConfig = explicit
            cluster.typedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"] =
                try! .packing(options)
        }
        if let tls { cluster.transportSocket = BackendTLS.transportSocket(tls, http2: http2) }
        return cluster
    }

    static func edsCluster(_ name: String) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = name
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

    /// gRPC backends, and Service ports that say they speak HTTP/2 in cleartext.
    static func usesHTTP2(_ backend: BackendCluster, context: Context) -> Bool {
        if context.grpcClusters.contains(backend) { return true }
        guard case .service(let service)? = context.set[ObjectKey(.service, namespace: backend.namespace, name: backend.service)]?.object,
            let port = service.spec.ports?.first(where: { $0.port == backend.port })
        else { return false }
        return ["kubernetes.io/h2c", "grpc", "http2"].contains(port.appProtocol ?? "")
    }

    /// The cluster that stands for invalid backends of TCP and TLS routes: it has no
    /// endpoints, so the share of connections sent to it is closed at once.
    static let rejectCluster = "chancery/reject"

    static func rejectingCluster() -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = rejectCluster
        cluster.type = .static
        cluster.connectTimeout = .init(seconds: 1)
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        assignment.clusterName = rejectCluster
        cluster.loadAssignment = assignment
        return cluster
    }

    /// One cluster whose endpoints are several backends', each backend a locality
    /// weighted by its share (UDP proxying names a single cluster, so weights live here).
    static func weightedCluster(_ name: String) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = edsCluster(name)
        var common = Envoy_Config_Cluster_V3_Cluster.CommonLbConfig()
        common.localityWeightedLbConfig = Envoy_Config_Cluster_V3_Cluster.CommonLbConfig.LocalityWeightedLbConfig()
        cluster.commonLbConfig = common
        return cluster
    }

    static func weightedEndpoints(_ name: String, backends: [(BackendCluster, Int)], context: Context)
        -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment
    {
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        assignment.clusterName = name
        for (backend, weight) in backends where weight > 0 {
            var locality = endpoints(backend, context: context).endpoints.first ?? Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
            guard !locality.lbEndpoints.isEmpty else { continue }
            var place = Envoy_Config_Core_V3_Locality()
            place.subZone = backend.name
            locality.locality = place
            locality.loadBalancingWeight = Google_Protobuf_UInt32Value(UInt32(weight))
            assignment.endpoints.append(locality)
        }
        return assignment
    }

    /// The Service port's ready endpoints, following Kubernetes' port rules: the
    /// Service port's name picks the EndpointSlice port of the same name.
    static func endpoints(_ backend: BackendCluster, context: Context) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        var service: Service?
        if case .service(let found)? = context.set[ObjectKey(.service, namespace: backend.namespace, name: backend.service)]?.object {
            service = found
        }
        let slices = context.slices[Context.ServiceKey(namespace: backend.namespace, name: backend.service)] ?? []
        guard let cache = context.cache else { return endpoints(backend, service: service, slices: slices) }
        return cache.endpoints(backend, service: service, slices: slices) {
            endpoints(backend, service: service, slices: slices)
        }
    }

    private static func endpoints(_ backend: BackendCluster, service: Service?, slices: [EndpointSlice])
        -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment
    {
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        assignment.clusterName = backend.name
        guard let service, let servicePort = service.spec.ports?.first(where: { $0.port == backend.port })
        else { return assignment }
        var addresses: Set<AddressPort> = []
        for slice in slices {
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
