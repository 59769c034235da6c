import EnvoyAPI
import IR
import SwiftProtobuf

/// Planned listeners as Envoy listeners: HTTP connection managers (behind TLS chains for
/// HTTPS), TLS chains by SNI, TCP and UDP proxies.
enum Listeners {
    /// - Parameters:
    ///   - chains: mesh filter chains built for other groups in this build.
    ///   - scopedTable: the route table served as scopes (``RouteLayout/scoped``), if any.
    static func listener(
        _ plan: ListenerPlan, filters: [any HTTPFilter], chains: MeshChainMemo? = nil, scopedTable: String? = nil
    ) -> Envoy_Config_Listener_V3_Listener {
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = plan.name
        listener.address = Addresses.socket(plan.address, plan.port)
        switch plan.traffic {
        case .http(let http):
            let chain = HTTPFilters.chain(for: http, filters: filters)
            let pathAuthorization = http.hasRoute { route in route.policies?.authorization?.rules.contains { $0.path != nil } ?? false }
            switch http {
            case .secure(let chains):
                listener.listenerFilters = [tlsInspector()]
                listener.filterChains = chains.map { planned in
                    var filterChain = sniChain(
                        planned.name, serverNames: planned.serverNames,
                        tls: Secrets.downstream(
                            planned.certificates, alpn: planned.tls?.alpnProtocols ?? ["h2", "http/1.1"],
                            clientValidation: planned.clientValidation, parameters: planned.tls.map(ClientSettings.tlsParameters)),
                        filter: connectionManager(
                            planned.routeTable.name, statPrefix: "https-\(plan.port)", filters: chain, client: planned.client,
                            pathAuthorization: pathAuthorization))
                    if let limit = ClientSettings.connectionLimit(plan.client, statPrefix: "https-\(plan.port)") {
                        filterChain.filters.insert(limit, at: 0)
                    }
                    return filterChain
                }
            case .plain(let table):
                var filterChain = Envoy_Config_Listener_V3_FilterChain()
                filterChain.filters =
                    [ClientSettings.connectionLimit(plan.client, statPrefix: "http-\(plan.port)")].compactMap { $0 }
                    + [
                        connectionManager(
                            table.name, statPrefix: "http-\(plan.port)", filters: chain, client: plan.client,
                            pathAuthorization: pathAuthorization, scoped: table.name == scopedTable)
                    ]
                listener.filterChains = [filterChain]
            }
            if let bytes = plan.client?.bufferLimitBytes {
                listener.perConnectionBufferLimitBytes = Google_Protobuf_UInt32Value(UInt32(clamping: bytes))
            }
        case .tls(let chains):
            listener.listenerFilters = [tlsInspector()]
            listener.filterChains = chains.map { planned in
                sniChain(
                    planned.name, serverNames: planned.serverNames,
                    tls: planned.certificates.isEmpty ? nil : Secrets.downstream(planned.certificates, alpn: []),
                    filter: tcpProxy(planned.destination, statPrefix: "tls-\(plan.port)"))
            }
        case .tcp(let planned):
            var chain = Envoy_Config_Listener_V3_FilterChain()
            chain.name = planned.name
            chain.filters =
                (planned.authorization.map { [AuthorizationFilter.network($0, statPrefix: "tcp-\(plan.port)")] } ?? [])
                + [tcpProxy(planned.destination, statPrefix: "tcp-\(plan.port)")]
            listener.filterChains = [chain]
        case .udp(let planned):
            listener.address = Addresses.socket(plan.address, plan.port, udp: true)
            listener.udpListenerConfig = Envoy_Config_Listener_V3_UdpListenerConfig()
            listener.listenerFilters = [udpProxy(planned.cluster, statPrefix: "udp-\(plan.port)")]
        case .mesh(let mesh):
            return MeshListeners.listener(plan, mesh: mesh, filters: filters, chains: chains)
        }
        return listener
    }

    /// A filter chain chosen by SNI (any name when `serverNames` is empty), terminating
    /// TLS when `tls` is set.
    static func sniChain(
        _ name: String, serverNames: [String], tls: Envoy_Config_Core_V3_TransportSocket?,
        filter: Envoy_Config_Listener_V3_Filter
    ) -> Envoy_Config_Listener_V3_FilterChain {
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.name = name
        if !serverNames.isEmpty { chain.filterChainMatch.serverNames = serverNames }
        if let tls { chain.transportSocket = tls }
        chain.filters = [filter]
        return chain
    }

    /// The HTTP connection manager with the hygiene every peer ships: request ids
    /// generated, the client address appended to x-forwarded-for, a `server` header of
    /// our own, paths normalised (slashes not merged). The Host header reaches the
    /// backend as the client sent it, port included (the route table ignores the port
    /// when matching virtual hosts). WebSocket upgrades pass. It speaks HTTP/1.1 and
    /// HTTP/2 (h2c with prior knowledge, h2 by ALPN). `filters` is the listener's HTTP
    /// filter chain (``HTTPFilters/chain(for:filters:)``).
    static func connectionManager(
        _ routeTable: String, statPrefix: String,
        filters: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter], client: ClientSettingsPlan? = nil,
        pathAuthorization: Bool = false, scoped: Bool = false
    ) -> Envoy_Config_Listener_V3_Filter {
        var config = connectionManagerConfig(
            routeTable, statPrefix: statPrefix, filters: filters, client: client, pathAuthorization: pathAuthorization)
        if scoped { config.scopedRoutes = scopedRoutes(routeTable) }
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.http_connection_manager"
        filter.typedConfig = try! .packing(config)
        return filter
    }

    /// Routes found by scope (SRDS over ADS): the key is the Host header up to its first
    /// `:` (`foo.com:8080` is looked up as `foo.com`, as the single layout's tables
    /// ignore the port), and each scope carries its route configuration.
    static func scopedRoutes(_ name: String) -> Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_ScopedRoutes {
        typealias Builder = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_ScopedRoutes.ScopeKeyBuilder
        var host = Builder.FragmentBuilder.HeaderValueExtractor()
        host.name = ":authority"
        host.elementSeparator = ":"
        host.index = 0
        var fragment = Builder.FragmentBuilder()
        fragment.headerValueExtractor = host
        var scoped = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_ScopedRoutes()
        scoped.name = name
        scoped.scopeKeyBuilder.fragments = [fragment]
        scoped.rdsConfigSource = AggregatedSource.ads
        var discovery = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_ScopedRds()
        discovery.scopedRdsConfigSource = AggregatedSource.ads
        scoped.scopedRds = discovery
        return scoped
    }

    /// The connection manager's configuration (``connectionManager(_:statPrefix:filters:client:pathAuthorization:)``
    /// packs it into a filter).
    static func connectionManagerConfig(
        _ routeTable: String, statPrefix: String,
        filters: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter], client: ClientSettingsPlan? = nil,
        pathAuthorization: Bool = false
    ) -> Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager {
        var rds = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_Rds()
        rds.routeConfigName = routeTable
        rds.configSource = AggregatedSource.ads
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = statPrefix
        hcm.rds = rds
        hcm.httpFilters = filters
        hcm.generateRequestID = Google_Protobuf_BoolValue(true)
        hcm.useRemoteAddress = Google_Protobuf_BoolValue(true)
        hcm.serverName = "chancery"
        hcm.normalizePath = Google_Protobuf_BoolValue(true)
        hcm.mergeSlashes = false
        // WebSocket handshakes (`Upgrade: websocket`) are forwarded to the backend, whatever
        // its appProtocol says (`kubernetes.io/ws` needs nothing else).
        var websocket = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.UpgradeConfig()
        websocket.upgradeType = "websocket"
        hcm.upgradeConfigs = [websocket]
        if pathAuthorization {
            // Paths are decided on: `//admin` and `/admin%2F…` must be what the backend
            // sees, and the rules match.
            hcm.mergeSlashes = true
            hcm.pathWithEscapedSlashesAction = .unescapeAndRedirect
        }
        if let client { ClientSettings.apply(client, to: &hcm) }
        return hcm
    }

    /// A tcp_proxy to one cluster, or to several by weight.
    static func tcpProxy(_ destination: StreamDestination, statPrefix: String) -> Envoy_Config_Listener_V3_Filter {
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.tcp_proxy"
        filter.typedConfig = try! .packing(tcpProxyConfig(destination, statPrefix: statPrefix))
        return filter
    }

    /// The tcp_proxy's configuration (``tcpProxy(_:statPrefix:)`` packs it into a filter).
    static func tcpProxyConfig(_ destination: StreamDestination, statPrefix: String)
        -> Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy
    {
        var proxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy()
        proxy.statPrefix = statPrefix
        if destination.backends.count == 1 {
            proxy.cluster = destination.backends[0].cluster
        } else {
            var weighted = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.WeightedCluster()
            weighted.clusters = destination.backends.map { backend in
                var entry = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.WeightedCluster.ClusterWeight()
                entry.name = backend.cluster
                entry.weight = UInt32(backend.weight)
                return entry
            }
            proxy.weightedClusters = weighted
        }
        return proxy
    }

    /// A udp_proxy listener filter sending every datagram to one cluster.
    static func udpProxy(_ cluster: String, statPrefix: String) -> Envoy_Config_Listener_V3_ListenerFilter {
        var route = Envoy_Extensions_Filters_Udp_UdpProxy_V3_Route()
        route.cluster = cluster
        var action = Xds_Core_V3_TypedExtensionConfig()
        action.name = "route"
        action.typedConfig = try! .packing(route)
        var onMatch = Xds_Type_Matcher_V3_Matcher.OnMatch()
        onMatch.action = action
        var matcher = Xds_Type_Matcher_V3_Matcher()
        matcher.onNoMatch = onMatch
        var proxy = Envoy_Extensions_Filters_Udp_UdpProxy_V3_UdpProxyConfig()
        proxy.statPrefix = statPrefix
        proxy.matcher = matcher
        var filter = Envoy_Config_Listener_V3_ListenerFilter()
        filter.name = "envoy.filters.udp_listener.udp_proxy"
        filter.typedConfig = try! .packing(proxy)
        return filter
    }

    static func tlsInspector() -> Envoy_Config_Listener_V3_ListenerFilter {
        var filter = Envoy_Config_Listener_V3_ListenerFilter()
        filter.name = "envoy.filters.listener.tls_inspector"
        filter.typedConfig = try! .packing(Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector())
        return filter
    }
}
