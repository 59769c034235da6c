import EnvoyAPI
import GatewayModel
import SwiftProtobuf

/// Builds one proxy group's Envoy resources from its Gateways and their routes.
enum ProxyBuilder {
    struct Bind: Hashable, Comparable {
        let address: String
        let port: Int
        var name: String { "\(address):\(port)" }
        static func < (a: Bind, b: Bind) -> Bool { (a.port, a.address) < (b.port, b.address) }
    }

    /// A Gateway listener placed on an Envoy listener.
    private struct Placed {
        let gateway: PreparedGateway
        let listener: PreparedListener
        var chainName: String { "\(gateway.key.namespace)/\(gateway.key.name)/\(listener.spec.name)" }
    }

    /// What one group's build collects besides listeners and route configurations.
    private struct Collected {
        var config = ProxyConfig()
        var clusters: Set<BackendCluster> = []
        var certificates: Set<ObjectKey> = []
        var weighted: [String: [(BackendCluster, Int)]] = [:]
        var reject = false

        mutating func origin(_ type: String, _ name: String, _ key: ObjectKey) {
            config.origins[ProxyConfig.originKey(type, name), default: []].insert(key)
        }
    }

    static func build(_ gateways: [PreparedGateway], routes: Attachments, context: Context) -> ProxyConfig {
        // Gateway listeners sharing an address and port become one Envoy listener: HTTP
        // ones share virtual hosts, HTTPS and TLS ones get a filter chain per hostname.
        var binds: [Bind: [Placed]] = [:]
        for gateway in gateways {
            for listener in gateway.listeners where listener.isProgrammed {
                binds[Bind(address: gateway.bindAddress, port: listener.spec.port), default: []].append(
                    Placed(gateway: gateway, listener: listener))
            }
        }
        var collected = Collected()
        for bind in binds.keys.sorted() {
            // One protocol per port (a class merging Gateways that disagree keeps the first).
            let protocolName = binds[bind]![0].listener.spec.protocol
            let placed = binds[bind]!.filter { $0.listener.spec.protocol == protocolName }
            for entry in placed {
                collected.origin("listener", bind.name, entry.gateway.key)
                collected.certificates.formUnion(entry.listener.certificates)
                for certificate in entry.listener.certificates {
                    collected.origin("secret", Secrets.certificateName(certificate), entry.gateway.key)
                }
            }
            switch protocolName {
            case "HTTP", "HTTPS": buildHTTP(bind, placed, routes: routes, context: context, into: &collected)
            case "TLS": buildTLS(bind, placed, routes: routes, into: &collected)
            case "TCP", "UDP": buildStream(bind, placed, udp: protocolName == "UDP", routes: routes, into: &collected)
            default: break
            }
        }
        var secrets: [String: Envoy_Extensions_TransportSockets_Tls_V3_Secret] = [:]
        for key in collected.certificates {
            if case .success(let checked)? = context.certificate(key) {
                let name = Secrets.certificateName(key)
                secrets[name] = Secrets.certificate(name, checked)
                collected.origin("secret", name, key)
            }
        }
        // (Any fixed order does: the clusters are sorted by name below.)
        for backend in collected.clusters.sorted(by: { ($0.namespace, $0.service, $0.port) < ($1.namespace, $1.service, $1.port) }) {
            var tls: UpstreamTLS?
            if case .success(let resolved)? = BackendTLS.resolve(backend, context: context) { tls = resolved }
            collected.config.clusters.append(Backends.cluster(backend, tls: tls, context: context))
            collected.config.endpoints.append(Backends.endpoints(backend, context: context))
            let service = ObjectKey(.service, namespace: backend.namespace, name: backend.service)
            collected.origin("cluster", backend.name, service)
            collected.origin("endpoint", backend.name, service)
            if let tls {
                secrets[tls.caSecret] = BackendTLS.caSecret(tls)
                collected.origin("cluster", backend.name, tls.policy)
                collected.origin("secret", tls.caSecret, tls.policy)
            }
        }
        for name in collected.weighted.keys.sorted() {
            collected.config.clusters.append(Backends.weightedCluster(name))
            collected.config.endpoints.append(
                Backends.weightedEndpoints(name, backends: collected.weighted[name]!, context: context))
            for (backend, _) in collected.weighted[name]! {
                let service = ObjectKey(.service, namespace: backend.namespace, name: backend.service)
                collected.origin("cluster", name, service)
                collected.origin("endpoint", name, service)
            }
        }
        if collected.reject { collected.config.clusters.append(Backends.rejectingCluster()) }
        collected.config.clusters.sort { $0.name < $1.name }
        collected.config.endpoints.sort { $0.clusterName < $1.clusterName }
        collected.config.secrets = secrets.keys.sorted().map { secrets[$0]! }
        return collected.config
    }

    // MARK: HTTP and HTTPS

    private static func buildHTTP(
        _ bind: Bind, _ placed: [Placed], routes: Attachments, context: Context, into collected: inout Collected
    ) {
        var hosts: [String: [RouteEntry]] = [:]
        var chains: [Envoy_Config_Listener_V3_FilterChain] = []
        var serverNamesUsed: Set<[String]> = []
        let https = placed[0].listener.spec.protocol == "HTTPS"
        let hcm = connectionManager(routeConfig: bind.name, statPrefix: "\(https ? "https" : "http")-\(bind.port)")
        for entry in placed {
            let fallback = entry.listener.spec.hostname ?? "*"
            if hosts[fallback] == nil { hosts[fallback] = [] }
            collected.origin("route", bind.name, entry.gateway.key)
            for attached in routes.routes(for: entry.gateway.key, listener: entry.listener.spec.name) {
                collected.origin("route", bind.name, attached.key)
                let entries = EnvoyRoutes.entries(for: attached, cache: context.cache)
                for hostname in attached.hostnames { hosts[hostname, default: []] += entries }
                for backend in attached.allBackendRefs {
                    collected.clusters.insert(backend)
                    collected.origin("cluster", backend.name, attached.key)
                    collected.origin("endpoint", backend.name, attached.key)
                }
            }
            if https {
                // One filter chain per Gateway listener, chosen by SNI.
                let serverNames = entry.listener.spec.hostname.map { [$0] } ?? []
                guard serverNamesUsed.insert(serverNames).inserted else { continue }
                var chain = Envoy_Config_Listener_V3_FilterChain()
                chain.name = entry.chainName
                if !serverNames.isEmpty { chain.filterChainMatch.serverNames = serverNames }
                chain.transportSocket = Secrets.downstream(entry.listener.certificates, alpn: ["h2", "http/1.1"])
                chain.filters = [hcm]
                chains.append(chain)
            }
        }
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = bind.name
        listener.address = socketAddress(bind.address, bind.port)
        if https {
            listener.listenerFilters = [tlsInspector()]
            listener.filterChains = chains
        } else {
            var chain = Envoy_Config_Listener_V3_FilterChain()
            chain.filters = [hcm]
            listener.filterChains = [chain]
        }
        collected.config.listeners.append(listener)

        var routeConfig = Envoy_Config_Route_V3_RouteConfiguration()
        routeConfig.name = bind.name
        routeConfig.validateClusters = Google_Protobuf_BoolValue(false)
        // Only wildcards can cover another hostname: find them once.
        let wildcards = hosts.keys.filter { $0 == "*" || $0.hasPrefix("*.") }
        // Virtual host names are unique within a group, not across groups: the cache
        // keys them by the group's Gateways too.
        let scope = placed.map { "\($0.gateway.key.namespace)/\($0.gateway.key.name)" }.joined(separator: ",")
        routeConfig.virtualHosts = hosts.keys.sorted().map { hostname in
            let name = "\(bind.name)/\(hostname)"
            let routes = virtualHostRoutes(for: hostname, in: hosts, wildcards: wildcards)
            func build() -> Envoy_Config_Route_V3_VirtualHost {
                var host = Envoy_Config_Route_V3_VirtualHost()
                host.name = name
                host.domains = [hostname]
                host.routes = routes
                return host
            }
            return context.cache?.virtualHost(named: scope + " " + name, routes: routes, build: build) ?? build()
        }
        collected.config.routes.append(routeConfig)
    }

    // MARK: TLS, TCP, UDP

    /// TLS listeners: a filter chain per TLSRoute hostname (SNI), proxying the
    /// connection as it is (Passthrough) or after terminating TLS with the listener's
    /// certificates (Terminate).
    private static func buildTLS(_ bind: Bind, _ placed: [Placed], routes: Attachments, into collected: inout Collected) {
        var chains: [Envoy_Config_Listener_V3_FilterChain] = []
        var namesUsed: Set<String> = []
        var catchAllUsed = false
        for entry in placed {
            let terminate = entry.listener.terminatesTLS
            for attached in routes.routes(for: entry.gateway.key, listener: entry.listener.spec.name) {
                var serverNames = attached.hostnames.filter { $0 != "*" }
                if serverNames.isEmpty {
                    if catchAllUsed { continue }
                    catchAllUsed = true
                } else {
                    // The oldest route keeps a hostname two routes ask for.
                    serverNames = serverNames.filter { namesUsed.insert($0).inserted }
                    if serverNames.isEmpty { continue }
                }
                guard let proxy = tcpProxy(attached, statPrefix: "tls-\(bind.port)", into: &collected) else { continue }
                var chain = Envoy_Config_Listener_V3_FilterChain()
                chain.name = "\(entry.chainName)/\(attached.key.namespace)/\(attached.key.name)"
                if !serverNames.isEmpty { chain.filterChainMatch.serverNames = serverNames }
                if terminate {
                    chain.transportSocket = Secrets.downstream(entry.listener.certificates, alpn: [])
                }
                chain.filters = [proxy]
                chains.append(chain)
                collected.origin("listener", bind.name, attached.key)
            }
        }
        // Envoy refuses a TCP listener without filter chains: no routes, no listener.
        guard !chains.isEmpty else { return }
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = bind.name
        listener.address = socketAddress(bind.address, bind.port)
        listener.listenerFilters = [tlsInspector()]
        listener.filterChains = chains
        collected.config.listeners.append(listener)
    }

    /// TCP and UDP listeners carry one route each.
    private static func buildStream(
        _ bind: Bind, _ placed: [Placed], udp: Bool, routes: Attachments, into collected: inout Collected
    ) {
        guard let entry = placed.first,
            let attached = routes.routes(for: entry.gateway.key, listener: entry.listener.spec.name).first
        else { return }
        collected.origin("listener", bind.name, attached.key)
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = bind.name
        listener.address = socketAddress(bind.address, bind.port)
        if udp {
            listener.address.socketAddress.protocol = .udp
            listener.udpListenerConfig = Envoy_Config_Listener_V3_UdpListenerConfig()
            listener.listenerFilters = [udpProxy(attached, statPrefix: "udp-\(bind.port)", into: &collected)]
        } else {
            guard let proxy = tcpProxy(attached, statPrefix: "tcp-\(bind.port)", into: &collected) else { return }
            var chain = Envoy_Config_Listener_V3_FilterChain()
            chain.name = "\(entry.chainName)/\(attached.key.namespace)/\(attached.key.name)"
            chain.filters = [proxy]
            listener.filterChains = [chain]
        }
        collected.config.listeners.append(listener)
    }

    /// A tcp_proxy to the route's backends by weight; the share of invalid backends goes
    /// to a cluster without endpoints, so those connections are closed.
    private static func tcpProxy(_ attached: AttachedRoute, statPrefix: String, into collected: inout Collected)
        -> Envoy_Config_Listener_V3_Filter?
    {
        let valid = attached.backends.filter { $0.cluster != nil && $0.weight > 0 }
        let invalidWeight = attached.backends.filter { $0.cluster == nil }.reduce(0) { $0 + $1.weight }
        var proxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy()
        proxy.statPrefix = statPrefix
        for backend in valid {
            collected.clusters.insert(backend.cluster!)
            collected.origin("cluster", backend.cluster!.name, attached.key)
            collected.origin("endpoint", backend.cluster!.name, attached.key)
        }
        if valid.isEmpty {
            proxy.cluster = Backends.rejectCluster
            collected.reject = true
        } else if valid.count == 1, invalidWeight == 0 {
            proxy.cluster = valid[0].cluster!.name
        } else {
            var weighted = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.WeightedCluster()
            for backend in valid {
                var entry = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.WeightedCluster.ClusterWeight()
                entry.name = backend.cluster!.name
                entry.weight = UInt32(backend.weight)
                weighted.clusters.append(entry)
            }
            if invalidWeight > 0 {
                var entry = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.WeightedCluster.ClusterWeight()
                entry.name = Backends.rejectCluster
                entry.weight = UInt32(invalidWeight)
                weighted.clusters.append(entry)
                collected.reject = true
            }
            proxy.weightedClusters = weighted
        }
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.tcp_proxy"
        filter.typedConfig = try! .packing(proxy)
        return filter
    }

    /// A udp_proxy listener filter. UDP proxying names one cluster, so several weighted
    /// backends become one cluster with a locality per backend.
    private static func udpProxy(_ attached: AttachedRoute, statPrefix: String, into collected: inout Collected)
        -> Envoy_Config_Listener_V3_ListenerFilter
    {
        let valid = attached.backends.filter { $0.cluster != nil && $0.weight > 0 }
        let cluster: String
        if valid.isEmpty {
            cluster = Backends.rejectCluster
            collected.reject = true
        } else if valid.count == 1 {
            cluster = valid[0].cluster!.name
            collected.clusters.insert(valid[0].cluster!)
            collected.origin("cluster", cluster, attached.key)
            collected.origin("endpoint", cluster, attached.key)
        } else {
            cluster = "\(attached.key.namespace)/\(attached.key.name)/weighted"
            collected.weighted[cluster] = valid.map { ($0.cluster!, $0.weight) }
            collected.origin("cluster", cluster, attached.key)
            collected.origin("endpoint", cluster, attached.key)
        }
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

    private static func tlsInspector() -> Envoy_Config_Listener_V3_ListenerFilter {
        var filter = Envoy_Config_Listener_V3_ListenerFilter()
        filter.name = "envoy.filters.listener.tls_inspector"
        filter.typedConfig = try! .packing(Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector())
        return filter
    }

    /// A virtual host's routes. Envoy picks one virtual host per request, the most
    /// specific; the spec lets a more specific hostname take precedence but still
    /// serves the routes of wildcard hostnames that cover it. So the host's own routes
    /// come first, then those of each covering wildcard, most specific first, then `*`.
    static func virtualHostRoutes(
        for hostname: String, in byHost: [String: [RouteEntry]], wildcards: [String]
    ) -> [Envoy_Config_Route_V3_Route] {
        let covering = wildcards.filter { other in
            other != hostname && (other == "*" || Hostnames.matches(pattern: other, hostname))
        }.sorted { a, b in
            if a == "*" || b == "*" { return b == "*" && a != "*" }
            return a.count != b.count ? a.count > b.count : a < b
        }
        var seen: Set<String> = []
        var result: [Envoy_Config_Route_V3_Route] = []
        for host in [hostname] + covering {
            for entry in byHost[host]!.sorted(by: { $0.precedence < $1.precedence })
            where seen.insert(entry.route.name).inserted {
                result.append(entry.route)
            }
        }
        return result
    }

    /// The HTTP connection manager with the hygiene every peer ships: request ids
    /// generated, the client address appended to x-forwarded-for, a `server` header of
    /// our own, paths normalised (slashes not merged), ports stripped from Host before
    /// matching. It speaks HTTP/1.1 and HTTP/2 (h2c with prior knowledge, h2 by ALPN).
    static func connectionManager(routeConfig name: String, statPrefix: String) -> Envoy_Config_Listener_V3_Filter {
        var router = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        router.name = "envoy.filters.http.router"
        router.typedConfig = try! .packing(Envoy_Extensions_Filters_Http_Router_V3_Router())
        var rds = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_Rds()
        rds.routeConfigName = name
        var source = Envoy_Config_Core_V3_ConfigSource()
        source.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        source.resourceApiVersion = .v3
        rds.configSource = source
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = statPrefix
        hcm.rds = rds
        hcm.httpFilters = [router]
        hcm.generateRequestID = Google_Protobuf_BoolValue(true)
        hcm.useRemoteAddress = Google_Protobuf_BoolValue(true)
        hcm.serverName = "chancery"
        hcm.normalizePath = Google_Protobuf_BoolValue(true)
        hcm.mergeSlashes = false
        hcm.stripAnyHostPort = true
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.http_connection_manager"
        filter.typedConfig = try! .packing(hcm)
        return filter
    }
}

extension Google_Protobuf_Any {
    /// Packs `message` with deterministic bytes (map entries in key order). Use this
    /// rather than `Any(message:)` for anything that ends up in an xDS resource: a nested
    /// map serialised in hash order would change the resource's version on every start.
    public static func packing(_ message: some SwiftProtobuf.Message) throws -> Google_Protobuf_Any {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        var any = Google_Protobuf_Any()
        any.typeURL = "type.googleapis.com/" + type(of: message).protoMessageName
        any.value = try message.serializedBytes(options: options)
        return any
    }
}
