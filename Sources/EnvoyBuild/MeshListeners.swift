import EnvoyAPI
import IR
import SwiftProtobuf

/// Mesh capture listeners: Envoy's `original_dst` listener filter recovers where each
/// redirected connection was going, and the filter chain matching that destination
/// (and, on a node-level proxy, the sending workload's address) carries it.
enum MeshListeners {
    static func listener(
        _ plan: ListenerPlan, mesh: MeshListenerPlan, filters: [any HTTPFilter], chains memo: MeshChainMemo?
    ) -> Envoy_Config_Listener_V3_Listener {
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = plan.name
        listener.address = Addresses.socket(plan.address, plan.port)
        listener.trafficDirection = mesh.direction == .outbound ? .outbound : .inbound
        var originalDestination = Envoy_Config_Listener_V3_ListenerFilter()
        originalDestination.name = "envoy.filters.listener.original_dst"
        originalDestination.typedConfig = try! .packing(Envoy_Extensions_Filters_Listener_OriginalDst_V3_OriginalDst())
        listener.listenerFilters = [originalDestination]
        // Chains that tell mutual TLS from plaintext need the TLS inspector to know which.
        if mesh.chains.contains(where: { $0.transport != .any }) { listener.listenerFilters.append(Listeners.tlsInspector()) }
        let statPrefix = mesh.direction.rawValue
        listener.filterChains = mesh.chains.map { planned in
            // The sidecars of one namespace share their outbound chains: built once.
            if let memo, let built = memo.chains[planned] { return built }
            let chain = filterChain(planned, statPrefix: statPrefix, filters: filters)
            memo?.chains[planned] = chain
            return chain
        }
        switch mesh.fallback {
        case .passthrough(let cluster):
            var chain = Envoy_Config_Listener_V3_FilterChain()
            chain.name = "\(plan.name)/passthrough"
            chain.filters = [tcpProxy(cluster, statPrefix: "\(statPrefix)-passthrough")]
            listener.defaultFilterChain = chain
        case .blocked:
            // To the cluster without endpoints: the connection is closed at once. (A
            // listener without chains and without a default one would be refused.)
            var chain = Envoy_Config_Listener_V3_FilterChain()
            chain.name = "\(plan.name)/blocked"
            chain.filters = [tcpProxy(ClusterPlan.rejectName, statPrefix: "\(statPrefix)-blocked")]
            listener.defaultFilterChain = chain
        }
        return listener
    }

    static func filterChain(_ planned: MeshChainPlan, statPrefix direction: String, filters: [any HTTPFilter])
        -> Envoy_Config_Listener_V3_FilterChain
    {
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.name = planned.name
        var match = Envoy_Config_Listener_V3_FilterChainMatch()
        // Port 0: any port no other chain of the destination takes.
        if planned.port != 0 { match.destinationPort = Google_Protobuf_UInt32Value(UInt32(planned.port)) }
        match.prefixRanges = planned.destinations.compactMap(cidr)
        match.sourcePrefixRanges = planned.sources.compactMap(cidr)
        var isHTTP = false
        if case .http = planned.traffic { isHTTP = true }
        switch planned.transport {
        case .any: break
        case .plaintext: match.transportProtocol = "raw_buffer"
        case .mutualTLS:
            match.transportProtocol = "tls"
            chain.transportSocket = Secrets.downstream(
                [SecretPlan.workloadCertificateName], alpn: isHTTP ? ["h2", "http/1.1"] : [],
                clientValidation: ClientValidationPlan(caSecret: SecretPlan.meshTrustBundleName, required: true))
        }
        chain.filterChainMatch = match
        let statPrefix = planned.transport == .any ? "\(direction)-\(planned.port)" : "\(direction)-\(planned.port)-\(planned.transport.rawValue)"
        let authorization = planned.authorization.map {
            MeshAuthorization.networkFilters($0, http: isHTTP, statPrefix: "\(statPrefix).")
        } ?? []
        switch planned.traffic {
        case .http(let table, let inbound):
            let checks = planned.authorization.map(MeshAuthorization.httpFilters) ?? []
            var hcm = Listeners.connectionManagerConfig(
                table.name, statPrefix: statPrefix, filters: checks + HTTPFilters.chain(for: .plain(table), filters: filters))
            hcm.accessLog = [accessLog()]
            if inbound {
                // The application learns who called from X-Forwarded-Client-Cert, set
                // by this proxy alone: a header the caller wrote is replaced.
                hcm.forwardClientCertDetails = .sanitizeSet
                var details = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
                    .SetCurrentClientCertDetails()
                details.uri = true
                hcm.setCurrentClientCertDetails = details
            } else {
                // A workload's own calls: the client is the workload, not a remote peer.
                hcm.useRemoteAddress = Google_Protobuf_BoolValue(false)
            }
            var manager = Envoy_Config_Listener_V3_Filter()
            manager.name = "envoy.filters.network.http_connection_manager"
            manager.typedConfig = try! .packing(hcm)
            chain.filters = authorization + [manager]
        case .tcp(let cluster):
            chain.filters = authorization + [tcpProxy(cluster, statPrefix: statPrefix)]
        }
        return chain
    }

    /// A tcp_proxy to one cluster, with an access log.
    static func tcpProxy(_ cluster: String, statPrefix: String) -> Envoy_Config_Listener_V3_Filter {
        var proxy = Listeners.tcpProxyConfig(
            StreamDestination(backends: [WeightedCluster(cluster: cluster, weight: 1)]), statPrefix: statPrefix)
        proxy.accessLog = [accessLog()]
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.tcp_proxy"
        filter.typedConfig = try! .packing(proxy)
        return filter
    }

    /// Envoy's default access log line, on standard output.
    static func accessLog() -> Envoy_Config_Accesslog_V3_AccessLog {
        var log = Envoy_Config_Accesslog_V3_AccessLog()
        log.name = "envoy.access_loggers.stdout"
        log.typedConfig = try! .packing(Envoy_Extensions_AccessLoggers_Stream_V3_StdoutAccessLog())
        return log
    }

    /// `address/length` as Envoy's CIDR range (a bare address is one host).
    static func cidr(_ text: String) -> Envoy_Config_Core_V3_CidrRange? {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let address = parts.first else { return nil }
        var range = Envoy_Config_Core_V3_CidrRange()
        range.addressPrefix = String(address)
        let length = parts.count == 2 ? UInt32(parts[1]) : (address.contains(":") ? 128 : 32)
        guard let length else { return nil }
        range.prefixLen = Google_Protobuf_UInt32Value(length)
        return range
    }
}

/// Mesh filter chains built so far in one build of every group, by their plan: the
/// sidecars of a namespace share their outbound chains, and build them once.
final class MeshChainMemo {
    var chains: [MeshChainPlan: Envoy_Config_Listener_V3_FilterChain] = [:]
}
