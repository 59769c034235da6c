import EnvoyAPI
import EnvoyBuild
import SwiftProtobuf
import XDS

/// Envoy resources for tests that exercise the xDS layer directly (no translation).
public enum Fixtures {
    /// How a resource finds its dependencies: over ADS, or over the per-type gRPC service
    /// on the `chancery_xds` bootstrap cluster.
    public enum Source: Sendable { case ads, perTypeGRPC, perTypeDeltaGRPC }

    public static func configSource(_ source: Source) -> Envoy_Config_Core_V3_ConfigSource {
        var config = Envoy_Config_Core_V3_ConfigSource()
        config.resourceApiVersion = .v3
        switch source {
        case .ads:
            config.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        case .perTypeGRPC, .perTypeDeltaGRPC:
            var api = Envoy_Config_Core_V3_ApiConfigSource()
            api.apiType = source == .perTypeGRPC ? .grpc : .deltaGrpc
            api.transportApiVersion = .v3
            var grpc = Envoy_Config_Core_V3_GrpcService()
            var envoyGrpc = Envoy_Config_Core_V3_GrpcService.EnvoyGrpc()
            envoyGrpc.clusterName = "chancery_xds"
            grpc.envoyGrpc = envoyGrpc
            api.grpcServices = [grpc]
            config.apiConfigSource = api
        }
        return config
    }

    public static func socketAddress(_ port: Int, host: String = "127.0.0.1") -> Envoy_Config_Core_V3_Address {
        var socket = Envoy_Config_Core_V3_SocketAddress()
        socket.address = host
        socket.portValue = UInt32(port)
        var address = Envoy_Config_Core_V3_Address()
        address.socketAddress = socket
        return address
    }

    public static func cluster(_ name: String, source: Source = .ads) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = name
        cluster.type = .eds
        cluster.connectTimeout = .init(seconds: 1)
        var eds = Envoy_Config_Cluster_V3_Cluster.EdsClusterConfig()
        eds.edsConfig = configSource(source)
        cluster.edsClusterConfig = eds
        return cluster
    }

    public static func endpoints(_ cluster: String, ports: [Int]) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        assignment.clusterName = cluster
        var locality = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
        locality.lbEndpoints = ports.map { port in
            var endpoint = Envoy_Config_Endpoint_V3_Endpoint()
            endpoint.address = socketAddress(port)
            var lb = Envoy_Config_Endpoint_V3_LbEndpoint()
            lb.endpoint = endpoint
            return lb
        }
        assignment.endpoints = [locality]
        return assignment
    }

    /// A route: a path prefix (or an RE2 regex) to a cluster.
    public struct Route: Sendable {
        public var prefix: String?
        public var regex: String?
        public var cluster: String
        public init(prefix: String, cluster: String) {
            self.prefix = prefix
            self.cluster = cluster
        }
        public init(regex: String, cluster: String) {
            self.regex = regex
            self.cluster = cluster
        }
    }

    public static func routes(_ name: String, _ routes: [Route]) -> Envoy_Config_Route_V3_RouteConfiguration {
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.name = "all"
        host.domains = ["*"]
        host.routes = routes.map { spec in
            var match = Envoy_Config_Route_V3_RouteMatch()
            if let regex = spec.regex {
                var matcher = Envoy_Type_Matcher_V3_RegexMatcher()
                matcher.regex = regex
                match.safeRegex = matcher
            } else {
                match.prefix = spec.prefix ?? "/"
            }
            var action = Envoy_Config_Route_V3_RouteAction()
            action.cluster = spec.cluster
            var route = Envoy_Config_Route_V3_Route()
            route.match = match
            route.route = action
            return route
        }
        var config = Envoy_Config_Route_V3_RouteConfiguration()
        config.name = name
        config.virtualHosts = [host]
        return config
    }

    public static func httpListener(
        port: Int, routeConfig: String, source: Source = .ads
    ) throws -> Envoy_Config_Listener_V3_Listener {
        var router = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        router.name = "envoy.filters.http.router"
        router.typedConfig = try .packing(Envoy_Extensions_Filters_Http_Router_V3_Router())
        var rds = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_Rds()
        rds.routeConfigName = routeConfig
        rds.configSource = configSource(source)
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = "http_\(port)"
        hcm.rds = rds
        hcm.httpFilters = [router]
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.http_connection_manager"
        filter.typedConfig = try .packing(hcm)
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.filters = [filter]
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = "http-\(port)"
        listener.address = socketAddress(port)
        listener.filterChains = [chain]
        return listener
    }

    /// A listener on `port` whose routes send path prefixes to clusters of loopback backends.
    public static func httpSnapshot(
        port: Int, routes: [Route], backends: [String: [Int]], source: Source = .ads, routeConfig: String = "routes"
    ) throws -> Snapshot {
        try Snapshot(
            listeners: [httpListener(port: port, routeConfig: routeConfig, source: source)],
            routes: [Self.routes(routeConfig, routes)],
            clusters: backends.keys.sorted().map { cluster($0, source: source) },
            endpoints: backends.keys.sorted().map { endpoints($0, ports: backends[$0]!) })
    }
}
