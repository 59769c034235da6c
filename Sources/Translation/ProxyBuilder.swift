import EnvoyAPI
import GatewayModel
import SwiftProtobuf

/// Builds one proxy group's Envoy resources from its Gateways and their routes.
enum ProxyBuilder {
    private struct Bind: Hashable, Comparable {
        let address: String
        let port: Int
        var name: String { "\(address):\(port)" }
        static func < (a: Bind, b: Bind) -> Bool { (a.port, a.address) < (b.port, b.address) }
    }

    static func build(_ gateways: [PreparedGateway], routes: Attachments, context: Context) -> ProxyConfig {
        // Gateway listeners sharing an address and port become one Envoy listener whose
        // virtual hosts are the listeners' hostnames.
        var hosts: [Bind: [String: [RouteEntry]]] = [:]
        var clusters: Set<BackendCluster> = []
        var config = ProxyConfig()
        func origin(_ type: String, _ name: String, _ key: ObjectKey) {
            config.origins[ProxyConfig.originKey(type, name), default: []].insert(key)
        }
        for gateway in gateways {
            for listener in gateway.listeners where listener.isProgrammed {
                let bind = Bind(address: gateway.bindAddress, port: listener.spec.port)
                let fallback = listener.spec.hostname ?? "*"
                if hosts[bind]?[fallback] == nil { hosts[bind, default: [:]][fallback] = [] }
                origin("listener", bind.name, gateway.key)
                origin("route", bind.name, gateway.key)
                for attached in routes.routes(for: gateway.key, listener: listener.spec.name) {
                    origin("route", bind.name, attached.key)
                    let entries = EnvoyRoutes.entries(for: attached)
                    for hostname in attached.hostnames {
                        hosts[bind, default: [:]][hostname, default: []] += entries
                    }
                    for rule in attached.rules {
                        let used = rule.backends.compactMap(\.cluster) + rule.mirrors.compactMap { $0 }
                        clusters.formUnion(used)
                        for backend in used {
                            origin("cluster", backend.name, attached.key)
                            origin("endpoint", backend.name, attached.key)
                        }
                    }
                }
            }
        }
        for bind in hosts.keys.sorted() {
            config.listeners.append(listener(bind.name, address: bind.address, port: bind.port))
            var routeConfig = Envoy_Config_Route_V3_RouteConfiguration()
            routeConfig.name = bind.name
            routeConfig.validateClusters = Google_Protobuf_BoolValue(false)
            let byHost = hosts[bind]!
            // Only wildcards can cover another hostname: find them once.
            let wildcards = byHost.keys.filter { $0 == "*" || $0.hasPrefix("*.") }
            routeConfig.virtualHosts = byHost.keys.sorted().map { hostname in
                var host = Envoy_Config_Route_V3_VirtualHost()
                host.name = "\(bind.name)/\(hostname)"
                host.domains = [hostname]
                host.routes = virtualHostRoutes(for: hostname, in: byHost, wildcards: wildcards)
                return host
            }
            config.routes.append(routeConfig)
        }
        for backend in clusters.sorted() {
            config.clusters.append(Backends.cluster(backend))
            config.endpoints.append(Backends.endpoints(backend, context: context))
            let service = ObjectKey(.service, namespace: backend.namespace, name: backend.service)
            origin("cluster", backend.name, service)
            origin("endpoint", backend.name, service)
        }
        return config
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

    /// An HTTP listener with the hygiene every peer ships: request ids generated, the
    /// client address appended to x-forwarded-for, a `server` header of our own, paths
    /// normalised (slashes not merged), ports stripped from Host before matching.
    static func listener(_ name: String, address: String, port: Int) -> Envoy_Config_Listener_V3_Listener {
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
        hcm.statPrefix = "http-\(port)"
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
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.filters = [filter]
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = name
        listener.address = socketAddress(address, port)
        listener.filterChains = [chain]
        return listener
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
