import GatewayModel
import IR

/// Plans a mesh proxy group: an outbound capture listener with a chain per Service port
/// its workloads may call (per calling namespace on a node-level proxy), and an inbound
/// capture listener with a chain per port its workloads serve.
enum MeshPlanner {
    enum ProxyKind { case sidecar, node }

    /// Where iptables sends what a workload sends (`chancery mesh-init`), and what it receives.
    static let outboundPort = 15001
    static let inboundPort = 15006
    static let outboundListener = "mesh/outbound"
    static let inboundListener = "mesh/inbound"
    /// Connections to where they were going: addresses outside the mesh, ports no chain serves.
    static let passthroughCluster = "mesh/passthrough"

    static func sidecarGroup(_ pod: ObjectKey) -> String { "sidecar:\(pod.namespace)/\(pod.name)" }
    static func nodeGroup(_ node: String) -> String { "node:\(node)" }

    /// `outbound|namespace/service:port|caller namespace` → `namespace/service:port`.
    static func serviceName(ofChain name: String) -> String {
        let parts = name.split(separator: "|")
        return parts.count > 1 ? String(parts[1]) : name
    }

    /// What calls from one namespace (with one egress list, from some sources) get: the
    /// same for every sidecar of the namespace, so worked out once per translation.
    struct Outbound {
        var chains: [MeshChainPlan] = []
        var services: [ObjectKey] = []
        /// Service ports the chains send to, with the object that sends there and the
        /// Service whose chain it is.
        var targets: [(target: ServicePort, by: ObjectKey, through: ObjectKey)] = []
        var sessionRules: [(rules: [ResolvedRule], route: ObjectKey)] = []
    }

    struct OutboundKey: Hashable {
        let namespace: String
        let egress: [EgressHost]
        let sources: [String]
    }

    /// Outbound sets already worked out in this translation.
    final class OutboundMemo {
        var sets: [OutboundKey: Outbound] = [:]
    }

    static func plan(
        group: String, kind: ProxyKind, workloads: [MeshWorkload], mesh: MeshWorld, world: World, memo: OutboundMemo
    ) -> ProxyPlan {
        var builder = PlanBuilder(group: group, world: world)
        var listenerOrigins = Origins()
        for workload in workloads { listenerOrigins.insert(workload.key) }

        // Outbound: per calling namespace (a sidecar has one), a chain per Service port
        // in its scope.
        var outbound: [MeshChainPlan] = []
        var outboundOrigins = listenerOrigins
        let callers = Dictionary(grouping: workloads, by: \.namespace)
        for namespace in callers.keys.sorted() {
            let members = callers[namespace]!
            // A sidecar's chains match any source; a node proxy's, its callers' addresses.
            let sources = kind == .sidecar ? [] : members.flatMap(\.addresses).map(cidr).sorted()
            var egress: [EgressHost] = []
            for member in members { for host in member.egress where !egress.contains(host) { egress.append(host) } }
            let key = OutboundKey(namespace: namespace, egress: egress, sources: sources)
            let set: Outbound
            if let known = memo.sets[key] {
                set = known
            } else {
                var made = Outbound()
                for service in mesh.scope(namespace: namespace, egress: egress) {
                    made.services.append(service.key)
                    for port in service.ports {
                        made.chains.append(
                            outboundChain(
                                from: namespace, to: service, port: port, sources: sources, mesh: mesh,
                                cache: world.context.cache, into: &made))
                    }
                }
                memo.sets[key] = made
                set = made
            }
            for service in set.services { outboundOrigins.insert(service) }
            for use in set.targets { builder.use(use.target, by: use.by, through: use.through) }
            for use in set.sessionRules { builder.useSessionClusters(of: use.rules, by: use.route) }
            outbound += set.chains
        }
        let blocked = workloads.allSatisfy(\.outboundBlocked)
        builder.listeners.append(
            ListenerPlan(
                name: outboundListener, address: "0.0.0.0", port: outboundPort,
                traffic: .mesh(
                    MeshListenerPlan(
                        direction: .outbound, chains: outbound,
                        fallback: blocked ? .blocked : .passthrough(cluster: passthroughCluster))),
                origins: outboundOrigins))

        // Inbound: a chain per port each workload serves, to the application (two on a
        // sidecar taking both mutual TLS and plaintext).
        var inbound: [MeshChainPlan] = []
        var clusters: [ClusterPlan] = []
        var refusesPlaintext = false
        for workload in workloads {
            for var port in workload.inbound {
                let authorization = mesh.policies.authorization(for: workload, port: port.port)
                // Cilium's proxy parses HTTP on a port whose policy has HTTP rules.
                if authorization?.inspectsRequests == true { port.http = true }
                let name = "inbound|\(workload.namespace)/\(workload.key.name):\(port.port)"
                // A sidecar reaches its application on the Pod's loopback; a node-level
                // proxy at the Pod's address.
                let endpoints =
                    kind == .sidecar
                    ? [Endpoint(address: "127.0.0.1", port: port.port)]
                    : workload.addresses.map { Endpoint(address: $0, port: port.port) }
                let origins = Origins([workload.key] + port.services.sorted())
                clusters.append(
                    ClusterPlan(
                        name: name, kind: .service(endpoints: endpoints), settings: UpstreamSettings(http2: port.http2),
                        origins: origins, endpointOrigins: origins))
                let traffic: MeshChainPlan.Traffic
                if port.http {
                    let route = RoutePlan(
                        name: name, origin: workload.key, match: RouteMatchPlan(path: .segmentPrefix("/")),
                        action: .forward(
                            ForwardPlan(destinations: [DestinationPlan(cluster: name, weight: 1)], timeoutMilliseconds: 0)))
                    traffic = .http(
                        RouteTablePlan(
                            name: name, virtualHosts: [VirtualHostPlan(name: name, domains: ["*"], routes: [route])],
                            origins: origins),
                        inbound: true)
                } else {
                    traffic = .tcp(cluster: name)
                }
                let destinations = workload.addresses.map(cidr)
                switch (kind, workload.mutualTLS) {
                case (.node, _), (.sidecar, .disabled):
                    inbound.append(
                        MeshChainPlan(
                            name: name, port: port.port, destinations: destinations, traffic: traffic,
                            authorization: authorization))
                case (.sidecar, .permissive):
                    inbound.append(
                        MeshChainPlan(
                            name: name + "|mtls", port: port.port, destinations: destinations, transport: .mutualTLS,
                            traffic: traffic, authorization: authorization))
                    inbound.append(
                        MeshChainPlan(
                            name: name + "|plaintext", port: port.port, destinations: destinations, transport: .plaintext,
                            traffic: traffic, authorization: authorization))
                case (.sidecar, .strict):
                    inbound.append(
                        MeshChainPlan(
                            name: name + "|mtls", port: port.port, destinations: destinations, transport: .mutualTLS,
                            traffic: traffic, authorization: authorization))
                    // Plaintext is closed at once, never passed through to the application.
                    refusesPlaintext = true
                    inbound.append(
                        MeshChainPlan(
                            name: name + "|plaintext", port: port.port, destinations: destinations, transport: .plaintext,
                            traffic: .tcp(cluster: ClusterPlan.rejectName)))
                }
            }
            // A workload a policy governs takes on its other ports only what the policy
            // allows on every port (Cilium's default deny), passed through to it.
            if let authorization = mesh.policies.authorization(for: workload, port: 0) {
                inbound.append(
                    MeshChainPlan(
                        name: "inbound|\(workload.namespace)/\(workload.key.name):*", port: 0,
                        destinations: workload.addresses.map(cidr), traffic: .tcp(cluster: passthroughCluster),
                        authorization: authorization))
            }
        }
        builder.listeners.append(
            ListenerPlan(
                name: inboundListener, address: "0.0.0.0", port: inboundPort,
                traffic: .mesh(
                    MeshListenerPlan(direction: .inbound, chains: inbound, fallback: .passthrough(cluster: passthroughCluster))),
                origins: listenerOrigins))

        var plan = builder.finish()
        clusters.append(
            ClusterPlan(name: passthroughCluster, kind: .originalDestination, origins: listenerOrigins, endpointOrigins: []))
        if blocked || refusesPlaintext, !plan.clusters.contains(where: { $0.name == ClusterPlan.rejectName }) {
            clusters.append(ClusterPlan(name: ClusterPlan.rejectName, kind: .reject, origins: [], endpointOrigins: []))
        }
        plan.clusters = (plan.clusters + clusters).sorted { $0.name < $1.name }
        if kind == .sidecar, let workload = workloads.first {
            // The sidecar's certificate, and the roots its peers' must chain to.
            let origins = Origins([workload.key])
            plan.secrets.append(
                SecretPlan(
                    name: SecretPlan.workloadCertificateName, content: .workloadCertificate(identity: workload.identity),
                    origins: origins))
            plan.secrets.append(SecretPlan(name: SecretPlan.meshTrustBundleName, content: .meshTrustBundle, origins: origins))
            plan.secrets.sort { $0.name < $1.name }
            // Calls to Services whose every endpoint is a sidecar taking mutual TLS use it,
            // and check that the peer is one of those workloads.
            for index in plan.clusters.indices {
                guard case .service(let endpoints) = plan.clusters[index].kind, !endpoints.isEmpty,
                    plan.clusters[index].settings.tls == nil, !plan.clusters[index].name.hasPrefix("inbound|")
                else { continue }
                var identities: Set<String> = []
                let mutual = endpoints.allSatisfy { endpoint in
                    guard let peer = mesh.byAddress[endpoint.address], peer.mutualTLS != .disabled else { return false }
                    identities.insert(peer.identity)
                    return true
                }
                guard mutual else { continue }
                plan.clusters[index].settings.tls = UpstreamTLSPlan(
                    sni: "", subjectAltNames: identities.sorted().map { SubjectAltNamePlan(kind: .uri, value: $0) },
                    caSecret: SecretPlan.meshTrustBundleName, clientCertificate: SecretPlan.workloadCertificateName)
            }
        }
        return plan
    }

    /// The chain for calls from `namespace` to one Service port: HTTP routed by the
    /// GAMMA routes that govern them (or straight to the Service's endpoints), TCP
    /// proxied to the endpoints.
    private static func outboundChain(
        from namespace: String, to service: MeshService, port: Service.Port, sources: [String], mesh: MeshWorld,
        cache: PlanCache?, into set: inout Outbound
    ) -> MeshChainPlan {
        let target = ServicePort(namespace: service.key.namespace, service: service.key.name, port: port.port)
        let name = "outbound|\(target.name)|\(namespace)"
        let routes = mesh.routes(from: namespace, to: service.key, port: port.port)
        let destinations = [cidr(service.clusterIP)]
        guard !routes.isEmpty || MeshServices.speaksHTTP(port) else {
            set.targets.append((target, service.key, service.key))
            return MeshChainPlan(name: name, port: port.port, destinations: destinations, sources: sources, traffic: .tcp(cluster: target.name))
        }
        var origins = Origins([service.key])
        var planned: [RoutePlan] = []
        if routes.isEmpty {
            set.targets.append((target, service.key, service.key))
            planned = [
                RoutePlan(
                    name: "\(target.name)/default", origin: service.key, match: RouteMatchPlan(path: .segmentPrefix("/")),
                    action: .forward(
                        ForwardPlan(destinations: [DestinationPlan(cluster: target.name, weight: 1)], timeoutMilliseconds: 0)))
            ]
        } else {
            var entries: [RouteEntry] = []
            for route in routes {
                origins.insert(route.key)
                entries += route.entries(port: port.port, cache: cache)
                for rule in route.rules {
                    for backend in rule.backends.compactMap(\.target) { set.targets.append((backend, route.key, service.key)) }
                    for mirror in rule.mirrors.compactMap({ $0 }) { set.targets.append((mirror, route.key, service.key)) }
                }
                set.sessionRules.append((route.rules, route.key))
            }
            entries.sort { $0.precedence < $1.precedence }
            var seen: Set<String> = []
            for entry in entries where seen.insert(entry.plan.name).inserted {
                // Calls in the mesh are not cut off unless the route asks (Envoy's default
                // is 15 s; streams and long polls would end there).
                var plan = entry.plan
                if case .forward(var forward) = plan.action, forward.timeoutMilliseconds == nil {
                    forward.timeoutMilliseconds = 0
                    plan.action = .forward(forward)
                }
                planned.append(plan)
            }
        }
        let table = RouteTablePlan(
            name: name, virtualHosts: [VirtualHostPlan(name: name, domains: ["*"], routes: planned)], origins: origins)
        return MeshChainPlan(
            name: name, port: port.port, destinations: destinations, sources: sources, traffic: .http(table, inbound: false))
    }

    /// One address as a CIDR block of one host.
    static func cidr(_ address: String) -> String { address.contains(":") ? "\(address)/128" : "\(address)/32" }
}
