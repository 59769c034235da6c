import EnvoyAPI
import GRPCCore

// The gRPC service conformances: each forwards to ``DiscoveryService``.

typealias DiscoveryRequest = Envoy_Service_Discovery_V3_DiscoveryRequest
typealias DiscoveryResponse = Envoy_Service_Discovery_V3_DiscoveryResponse
typealias DeltaDiscoveryRequest = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest
typealias DeltaDiscoveryResponse = Envoy_Service_Discovery_V3_DeltaDiscoveryResponse

/// A discovery service: the types its streams serve, its name in logs and the admin API,
/// and its state-of-the-world stream method (registered again by ``SotWSplicing``).
protocol DiscoveryServing: RegistrableRPCService {
    static var served: Set<ResourceType> { get }
    static var name: String { get }
    static var stateOfTheWorldMethod: MethodDescriptor { get }
    var core: DiscoveryService { get }
}

/// The Aggregated Discovery Service: every type on one stream, in make-before-break order.
struct AggregatedService: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.SimpleServiceProtocol, DiscoveryServing {
    static let served: Set<ResourceType> = Set(ResourceType.allCases)
    static let name = "ADS"
    static let stateOfTheWorldMethod = Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Method.StreamAggregatedResources.descriptor
    let core: DiscoveryService

    func streamAggregatedResources(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func deltaAggregatedResources(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(
            requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }
}

/// LDS for Envoys configured without ADS.
struct ListenerService: Envoy_Service_Listener_V3_ListenerDiscoveryService.SimpleServiceProtocol, DiscoveryServing {
    static let served: Set<ResourceType> = [.listener]
    static let name = "LDS"
    static let stateOfTheWorldMethod = Envoy_Service_Listener_V3_ListenerDiscoveryService.Method.StreamListeners.descriptor
    let core: DiscoveryService

    func streamListeners(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func deltaListeners(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func fetchListeners(request: DiscoveryRequest, context: ServerContext) async throws -> DiscoveryResponse {
        try core.fetch(request, type: .listener, context: context)
    }
}

/// RDS for Envoys configured without ADS.
struct RouteService: Envoy_Service_Route_V3_RouteDiscoveryService.SimpleServiceProtocol, DiscoveryServing {
    static let served: Set<ResourceType> = [.route]
    static let name = "RDS"
    static let stateOfTheWorldMethod = Envoy_Service_Route_V3_RouteDiscoveryService.Method.StreamRoutes.descriptor
    let core: DiscoveryService

    func streamRoutes(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func deltaRoutes(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func fetchRoutes(request: DiscoveryRequest, context: ServerContext) async throws -> DiscoveryResponse {
        try core.fetch(request, type: .route, context: context)
    }
}

/// CDS for Envoys configured without ADS.
struct ClusterService: Envoy_Service_Cluster_V3_ClusterDiscoveryService.SimpleServiceProtocol, DiscoveryServing {
    static let served: Set<ResourceType> = [.cluster]
    static let name = "CDS"
    static let stateOfTheWorldMethod = Envoy_Service_Cluster_V3_ClusterDiscoveryService.Method.StreamClusters.descriptor
    let core: DiscoveryService

    func streamClusters(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func deltaClusters(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func fetchClusters(request: DiscoveryRequest, context: ServerContext) async throws -> DiscoveryResponse {
        try core.fetch(request, type: .cluster, context: context)
    }
}

/// EDS for Envoys configured without ADS.
struct EndpointService: Envoy_Service_Endpoint_V3_EndpointDiscoveryService.SimpleServiceProtocol, DiscoveryServing {
    static let served: Set<ResourceType> = [.endpoint]
    static let name = "EDS"
    static let stateOfTheWorldMethod = Envoy_Service_Endpoint_V3_EndpointDiscoveryService.Method.StreamEndpoints.descriptor
    let core: DiscoveryService

    func streamEndpoints(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func deltaEndpoints(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func fetchEndpoints(request: DiscoveryRequest, context: ServerContext) async throws -> DiscoveryResponse {
        try core.fetch(request, type: .endpoint, context: context)
    }
}

/// SDS for Envoys configured without ADS.
struct SecretService: Envoy_Service_Secret_V3_SecretDiscoveryService.SimpleServiceProtocol, DiscoveryServing {
    static let served: Set<ResourceType> = [.secret]
    static let name = "SDS"
    static let stateOfTheWorldMethod = Envoy_Service_Secret_V3_SecretDiscoveryService.Method.StreamSecrets.descriptor
    let core: DiscoveryService

    func streamSecrets(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func deltaSecrets(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(requests: request, writer: response, context: context, served: Self.served, service: Self.name)
    }

    func fetchSecrets(request: DiscoveryRequest, context: ServerContext) async throws -> DiscoveryResponse {
        try core.fetch(request, type: .secret, context: context)
    }
}
