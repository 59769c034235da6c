import EnvoyAPI
import GRPCCore

// The gRPC service conformances: each forwards to ``DiscoveryService``.

typealias DiscoveryRequest = Envoy_Service_Discovery_V3_DiscoveryRequest
typealias DiscoveryResponse = Envoy_Service_Discovery_V3_DiscoveryResponse
typealias DeltaDiscoveryRequest = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest
typealias DeltaDiscoveryResponse = Envoy_Service_Discovery_V3_DeltaDiscoveryResponse

/// The Aggregated Discovery Service: every type on one stream, in make-before-break order.
struct AggregatedService: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.SimpleServiceProtocol {
    let core: DiscoveryService

    func streamAggregatedResources(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: Set(ResourceType.allCases), service: "ADS")
    }

    func deltaAggregatedResources(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(
            requests: request, writer: response, context: context, served: Set(ResourceType.allCases), service: "ADS")
    }
}

/// LDS for Envoys configured without ADS.
struct ListenerService: Envoy_Service_Listener_V3_ListenerDiscoveryService.SimpleServiceProtocol {
    let core: DiscoveryService

    func streamListeners(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: [.listener], service: "LDS")
    }

    func deltaListeners(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(requests: request, writer: response, context: context, served: [.listener], service: "LDS")
    }

    func fetchListeners(request: DiscoveryRequest, context: ServerContext) async throws -> DiscoveryResponse {
        try core.fetch(request, type: .listener, context: context)
    }
}

/// RDS for Envoys configured without ADS.
struct RouteService: Envoy_Service_Route_V3_RouteDiscoveryService.SimpleServiceProtocol {
    let core: DiscoveryService

    func streamRoutes(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: [.route], service: "RDS")
    }

    func deltaRoutes(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(requests: request, writer: response, context: context, served: [.route], service: "RDS")
    }

    func fetchRoutes(request: DiscoveryRequest, context: ServerContext) async throws -> DiscoveryResponse {
        try core.fetch(request, type: .route, context: context)
    }
}

/// CDS for Envoys configured without ADS.
struct ClusterService: Envoy_Service_Cluster_V3_ClusterDiscoveryService.SimpleServiceProtocol {
    let core: DiscoveryService

    func streamClusters(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: [.cluster], service: "CDS")
    }

    func deltaClusters(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(requests: request, writer: response, context: context, served: [.cluster], service: "CDS")
    }

    func fetchClusters(request: DiscoveryRequest, context: ServerContext) async throws -> DiscoveryResponse {
        try core.fetch(request, type: .cluster, context: context)
    }
}

/// EDS for Envoys configured without ADS.
struct EndpointService: Envoy_Service_Endpoint_V3_EndpointDiscoveryService.SimpleServiceProtocol {
    let core: DiscoveryService

    func streamEndpoints(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: [.endpoint], service: "EDS")
    }

    func deltaEndpoints(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(requests: request, writer: response, context: context, served: [.endpoint], service: "EDS")
    }

    func fetchEndpoints(request: DiscoveryRequest, context: ServerContext) async throws -> DiscoveryResponse {
        try core.fetch(request, type: .endpoint, context: context)
    }
}

/// SDS for Envoys configured without ADS.
struct SecretService: Envoy_Service_Secret_V3_SecretDiscoveryService.SimpleServiceProtocol {
    let core: DiscoveryService

    func streamSecrets(
        request: RPCAsyncSequence<DiscoveryRequest, any Error>,
        response: RPCWriter<DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.stateOfTheWorld(
            requests: request, writer: response, context: context, served: [.secret], service: "SDS")
    }

    func deltaSecrets(
        request: RPCAsyncSequence<DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        try await core.delta(requests: request, writer: response, context: context, served: [.secret], service: "SDS")
    }

    func fetchSecrets(request: DiscoveryRequest, context: ServerContext) async throws -> DiscoveryResponse {
        try core.fetch(request, type: .secret, context: context)
    }
}
