import EnvoyAPI
import SwiftProtobuf

/// A resource that another resource names and expects to find in the same snapshot.
public struct ResourceReference: Hashable, Sendable, CustomStringConvertible {
    public var type: ResourceType
    public var name: String
    public var description: String { "\(type.noun) \"\(name)\"" }
}

extension ResourceType {
    /// How errors and logs call a resource of this type.
    public var noun: String {
        switch self {
        case .cluster: "cluster"
        case .endpoint: "cluster load assignment"
        case .secret: "secret"
        case .listener: "listener"
        case .scopedRoute: "scoped route configuration"
        case .route: "route configuration"
        }
    }
}

/// Finds the resources a listener, route configuration or cluster depends on over xDS:
/// route configurations named through RDS, clusters named by routes and TCP proxies,
/// endpoints of EDS clusters and secrets named through SDS.
enum ResourceReferences {
    static func of(_ message: any ResourceMessage) throws -> [ResourceReference] {
        switch message {
        case let listener as Envoy_Config_Listener_V3_Listener: try of(listener: listener)
        case let routes as Envoy_Config_Route_V3_RouteConfiguration: of(routes: routes)
        case let scope as Envoy_Config_Route_V3_ScopedRouteConfiguration: of(scope: scope)
        case let cluster as Envoy_Config_Cluster_V3_Cluster: try of(cluster: cluster)
        default: []
        }
    }

    static func of(listener: Envoy_Config_Listener_V3_Listener) throws -> [ResourceReference] {
        var refs: [ResourceReference] = []
        var chains = listener.filterChains
        if listener.hasDefaultFilterChain { chains.append(listener.defaultFilterChain) }
        for chain in chains {
            if chain.hasTransportSocket { refs += try of(transportSocket: chain.transportSocket) }
            for filter in chain.filters {
                guard case .typedConfig(let config)? = filter.configType else { continue }
                refs += try of(networkFilter: config)
            }
        }
        return refs
    }

    static func of(networkFilter config: Google_Protobuf_Any) throws -> [ResourceReference] {
        if config.isA(Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.self) {
            let hcm = try Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
                unpackingAny: config)
            switch hcm.routeSpecifier {
            case .rds(let rds)?: return [ResourceReference(type: .route, name: rds.routeConfigName)]
            case .routeConfig(let routes)?: return of(routes: routes)
            default: return []
            }
        }
        if config.isA(Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.self) {
            let proxy = try Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy(unpackingAny: config)
            switch proxy.clusterSpecifier {
            case .cluster(let name)?: return [ResourceReference(type: .cluster, name: name)]
            case .weightedClusters(let weighted)?:
                return weighted.clusters.map { ResourceReference(type: .cluster, name: $0.name) }
            case nil: return []
            }
        }
        return []
    }

    /// A scope names its route configuration through RDS, or carries it.
    static func of(scope: Envoy_Config_Route_V3_ScopedRouteConfiguration) -> [ResourceReference] {
        scope.hasRouteConfiguration
            ? of(routes: scope.routeConfiguration) : [ResourceReference(type: .route, name: scope.routeConfigurationName)]
    }

    static func of(routes: Envoy_Config_Route_V3_RouteConfiguration) -> [ResourceReference] {
        routes.virtualHosts.flatMap(of(host:))
    }

    static func of(host: Envoy_Config_Route_V3_VirtualHost) -> [ResourceReference] {
        var refs: [ResourceReference] = []
        for route in host.routes {
            guard case .route(let action)? = route.action else { continue }
            // A route that says what to answer when a cluster is missing names it on
            // purpose (Gateway API answers 500 for an invalid backend's share).
            let missingIsIntended = action.clusterNotFoundResponseCode != .serviceUnavailable
            switch action.clusterSpecifier {
            case .cluster(let name)? where !missingIsIntended:
                refs.append(ResourceReference(type: .cluster, name: name))
            case .weightedClusters(let weighted)? where !missingIsIntended:
                refs += weighted.clusters.map { ResourceReference(type: .cluster, name: $0.name) }
            default: break
            }
            refs += action.requestMirrorPolicies.map { ResourceReference(type: .cluster, name: $0.cluster) }
        }
        return refs
    }

    static func of(cluster: Envoy_Config_Cluster_V3_Cluster) throws -> [ResourceReference] {
        var refs: [ResourceReference] = []
        if case .type(.eds)? = cluster.clusterDiscoveryType {
            let service = cluster.edsClusterConfig.serviceName
            refs.append(ResourceReference(type: .endpoint, name: service.isEmpty ? cluster.name : service))
        }
        if cluster.hasTransportSocket { refs += try of(transportSocket: cluster.transportSocket) }
        for match in cluster.transportSocketMatches where match.hasTransportSocket {
            refs += try of(transportSocket: match.transportSocket)
        }
        return refs
    }

    static func of(transportSocket socket: Envoy_Config_Core_V3_TransportSocket) throws -> [ResourceReference] {
        guard case .typedConfig(let config)? = socket.configType else { return [] }
        let common: Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext
        if config.isA(Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext.self) {
            common = try Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext(unpackingAny: config)
                .commonTlsContext
        } else if config.isA(Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext.self) {
            common = try Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(unpackingAny: config)
                .commonTlsContext
        } else {
            return []
        }
        var configs = common.tlsCertificateSdsSecretConfigs
        switch common.validationContextType {
        case .validationContextSdsSecretConfig(let sds)?: configs.append(sds)
        case .combinedValidationContext(let combined)? where combined.hasValidationContextSdsSecretConfig:
            configs.append(combined.validationContextSdsSecretConfig)
        default: break
        }
        // A secret without an SDS config source is a static one from Envoy's bootstrap.
        return configs.filter(\.hasSdsConfig).map { ResourceReference(type: .secret, name: $0.name) }
    }
}
