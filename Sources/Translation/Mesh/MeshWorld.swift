import GatewayModel
import IR

/// What the mesh is made of in one translation: its workloads (Pods in the mesh), the
/// Services they can call by cluster IP, and the routes attached to those Services.
struct MeshWorld {
    let workloads: [MeshWorkload]
    /// Services with a cluster IP, by key.
    let services: [ObjectKey: MeshService]
    /// Sorted by key.
    let serviceKeys: [ObjectKey]
    /// GAMMA routes by Service, oldest first.
    let routes: [ObjectKey: [MeshRoute]]
    /// Consumer routes by the namespace they live in (its callers' view).
    let consumerRoutes: [String: [MeshRoute]]
    /// Services with producer routes: every caller gets them, so that the routes govern
    /// every call (GEP-1294).
    let producerRouted: Set<ObjectKey>
    /// What in the objects could not be used as written (bad annotations).
    let warnings: [String]
    /// Workloads by their addresses.
    let byAddress: [String: MeshWorkload]
    /// CiliumNetworkPolicies and Istio AuthorizationPolicies, compiled.
    let policies: MeshPolicies

    init(world: World, trustDomain: String) {
        let set = world.context.set
        var warnings: [String] = []
        var services: [ObjectKey: MeshService] = [:]
        // A cluster IP is one Service's: the oldest keeps one two Services claim.
        var holders: [String: ObjectKey] = [:]
        for service in Ordering.oldestFirst(set.services, metadata: \.metadata) {
            guard let ip = MeshServices.clusterIP(of: service) else { continue }
            let key = Translation.key(.service, service.metadata)
            guard !ip.contains("/"), AddressRange(ip) != nil else {
                warnings.append("Service \(key.namespace)/\(key.name): spec.clusterIP \"\(ip)\" is not an IP address; the mesh leaves it out")
                continue
            }
            if let holder = holders[ip] {
                warnings.append(
                    "Service \(key.namespace)/\(key.name): cluster IP \(ip) is already Service \(holder.namespace)/\(holder.name)'s (older); the mesh leaves it out")
                continue
            }
            holders[ip] = key
            let ports = (service.spec.ports ?? []).filter { ($0.protocol ?? "TCP") == "TCP" }
            guard !ports.isEmpty else { continue }
            services[key] = MeshService(key: key, service: service, clusterIP: ip, ports: ports)
        }
        self.services = services
        serviceKeys = services.keys.sorted()
        let byNamespace = Dictionary(grouping: services.values, by: \.key.namespace)
        routes = world.attachments.mesh
        var consumer: [String: [MeshRoute]] = [:]
        var produced: Set<ObjectKey> = []
        for (service, attached) in routes {
            for route in attached {
                if route.namespace != service.namespace {
                    consumer[route.namespace, default: []].append(route)
                } else {
                    produced.insert(service)
                }
            }
        }
        consumerRoutes = consumer
        producerRouted = produced
        var workloads: [MeshWorkload] = []
        for pod in set.pods.sorted(by: { ($0.metadata.namespace ?? "default", $0.metadata.name) < ($1.metadata.namespace ?? "default", $1.metadata.name) }) {
            let namespace = pod.metadata.namespace ?? "default"
            let namespaceLabels = set.labels(ofNamespace: namespace)
            let namespaceAnnotations =
                set[ObjectKey(.namespace, namespace: "", name: namespace)]?.object.metadata.annotations ?? [:]
            let podSays = pod.metadata.labels?[MeshLabels.mesh]
            let inMesh = podSays == "enabled" || (podSays != "disabled" && namespaceLabels[MeshLabels.mesh] == "enabled")
            guard inMesh, !pod.hasFinished, pod.spec?.hostNetwork != true, !pod.addresses.isEmpty else { continue }
            let key = ObjectKey(.pod, namespace: namespace, name: pod.metadata.name)
            func annotation(_ name: String) -> String? { pod.metadata.annotations?[name] ?? namespaceAnnotations[name] }
            var blocked = false
            if let outbound = annotation(MeshLabels.outbound) {
                switch outbound {
                case "passthrough": blocked = false
                case "blocked": blocked = true
                default:
                    warnings.append(
                        "Pod \(namespace)/\(pod.metadata.name): \(MeshLabels.outbound) is \"\(outbound)\", not passthrough or blocked; passthrough is used")
                }
            }
            var egress: [EgressHost] = []
            for entry in (annotation(MeshLabels.egress) ?? "").split(separator: ",") {
                let text = entry.trimmingCharacters(in: .whitespaces)
                guard !text.isEmpty else { continue }
                if let host = EgressHost(text) {
                    egress.append(host)
                } else {
                    warnings.append(
                        "Pod \(namespace)/\(pod.metadata.name): \(MeshLabels.egress) entry \"\(text)\" is not namespace/name, namespace/* or */*; it is left out")
                }
            }
            var mutualTLS = MeshWorkload.MutualTLS.permissive
            if let mode = annotation(MeshLabels.mutualTLS) {
                if let known = MeshWorkload.MutualTLS(rawValue: mode) {
                    mutualTLS = known
                } else {
                    warnings.append(
                        "Pod \(namespace)/\(pod.metadata.name): \(MeshLabels.mutualTLS) is \"\(mode)\", not strict, permissive or disabled; permissive is used")
                }
            }
            var nodeProxied = false
            if let proxy = annotation(MeshLabels.proxy) {
                switch proxy {
                case "sidecar": nodeProxied = false
                case "node": nodeProxied = true
                default:
                    warnings.append(
                        "Pod \(namespace)/\(pod.metadata.name): \(MeshLabels.proxy) is \"\(proxy)\", not sidecar or node; sidecar is used")
                }
            }
            workloads.append(
                MeshWorkload(
                    key: key, pod: pod, addresses: pod.addresses, node: pod.spec?.nodeName,
                    identity: "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(pod.serviceAccount)", egress: egress,
                    outboundBlocked: blocked, inbound: Self.inboundPorts(of: pod, services: byNamespace[namespace] ?? []),
                    mutualTLS: nodeProxied ? .disabled : mutualTLS))
        }
        self.workloads = workloads
        self.warnings = warnings
        var byAddress: [String: MeshWorkload] = [:]
        for workload in workloads { for address in workload.addresses { byAddress[address] = workload } }
        self.byAddress = byAddress
        policies = MeshPolicies(set: set, workloads: workloads, trustDomain: trustDomain)
    }

    /// The ports a Pod serves through the Services that select it, each once (HTTP when
    /// any Service port reaching it speaks HTTP).
    static func inboundPorts(of pod: Pod, services: [MeshService]) -> [InboundPort] {
        var ports: [Int: InboundPort] = [:]
        let labels = pod.metadata.labels ?? [:]
        for service in services {
            guard let selector = service.service.spec.selector, !selector.isEmpty,
                selector.allSatisfy({ labels[$0.key] == $0.value })
            else { continue }
            for port in service.ports {
                guard let number = pod.port(port.targetPort ?? .number(port.port)) else { continue }
                var entry = ports[number] ?? InboundPort(port: number, http: false, http2: false, services: [])
                entry.http = entry.http || MeshServices.speaksHTTP(port)
                entry.http2 = entry.http2 || MeshServices.speaksHTTP2(port)
                entry.services.insert(service.key)
                ports[number] = entry
            }
        }
        return ports.keys.sorted().map { ports[$0]! }
    }

    /// The Services a caller in `namespace` with `egress` gets: its own namespace's,
    /// those its namespace's consumer routes name, those with producer routes, and those
    /// `egress` lists.
    func scope(namespace: String, egress: [EgressHost]) -> [MeshService] {
        var named = Set(consumerRoutes[namespace]?.map(\.service) ?? []).union(producerRouted)
        for key in serviceKeys where key.namespace == namespace || egress.contains(where: { $0.covers(key) }) {
            named.insert(key)
        }
        return named.sorted().compactMap { services[$0] }
    }

    /// The routes that govern calls from `namespace` to a Service's `port`: the caller's
    /// namespace's consumer routes when it has any, else the producer routes.
    /// Where GRPCRoutes and HTTPRoutes both govern the port, the GRPCRoutes alone (GEP-1294).
    func routes(from namespace: String, to service: ObjectKey, port: Int) -> [MeshRoute] {
        let attached = (routes[service] ?? []).filter { $0.governs(port) }
        func winners(_ routes: [MeshRoute]) -> [MeshRoute] {
            routes.contains { $0.route.kind == .grpcRoute } ? routes.filter { $0.route.kind == .grpcRoute } : routes
        }
        if namespace != service.namespace {
            let consumer = attached.filter { $0.namespace == namespace }
            if !consumer.isEmpty { return winners(consumer) }
        }
        return winners(attached.filter { $0.namespace == service.namespace })
    }
}

/// A Pod in the mesh.
struct MeshWorkload {
    let key: ObjectKey
    let pod: Pod
    let addresses: [String]
    let node: String?
    /// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
    let identity: String
    let egress: [EgressHost]
    let outboundBlocked: Bool
    let inbound: [InboundPort]
    /// How its sidecar takes inbound connections (`disabled` for a node-proxied Pod).
    let mutualTLS: MutualTLS

    var namespace: String { key.namespace }

    enum MutualTLS: String {
        /// Mutual TLS and plaintext.
        case permissive
        /// Mutual TLS only.
        case strict
        /// Plaintext only; callers do not use mutual TLS to it.
        case disabled
    }
}

struct InboundPort {
    let port: Int
    var http: Bool
    var http2: Bool
    var services: Set<ObjectKey>
}

struct MeshService {
    let key: ObjectKey
    let service: Service
    let clusterIP: String
    let ports: [Service.Port]
}

/// An entry of the egress list: `namespace/name`, `namespace/*`, `*/*`.
struct EgressHost: Hashable {
    let namespace: String?
    let name: String?

    init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[0] != "*" || parts[1] == "*" else { return nil }
        namespace = parts[0] == "*" ? nil : parts[0]
        name = parts[1] == "*" ? nil : parts[1]
    }

    func covers(_ service: ObjectKey) -> Bool {
        (namespace.map { $0 == service.namespace } ?? true) && (name.map { $0 == service.name } ?? true)
    }
}

enum MeshServices {
    /// The Service's cluster IP: nil for headless (`None`) and ExternalName Services.
    static func clusterIP(of service: Service) -> String? {
        guard service.spec.type != "ExternalName", let ip = service.spec.clusterIP, !ip.isEmpty, ip != "None" else { return nil }
        return ip
    }

    /// Whether a Service port carries HTTP, by its `appProtocol` or, as Istio reads it,
    /// its name (`http`, `http-…`, `grpc…`, `http2…`).
    static func speaksHTTP(_ port: Service.Port) -> Bool {
        if let app = port.appProtocol?.lowercased() {
            return ["http", "http2", "grpc", "grpc-web", "kubernetes.io/h2c", "kubernetes.io/ws", "kubernetes.io/wss"].contains(app)
        }
        let name = (port.name ?? "").lowercased()
        return ["http", "http2", "grpc", "grpc-web"].contains { name == $0 || name.hasPrefix($0 + "-") }
    }

    /// Whether a Service port carries HTTP/2 in cleartext (gRPC, h2c).
    static func speaksHTTP2(_ port: Service.Port) -> Bool {
        if let app = port.appProtocol?.lowercased() { return ["http2", "grpc", "kubernetes.io/h2c"].contains(app) }
        let name = (port.name ?? "").lowercased()
        return ["http2", "grpc"].contains { name == $0 || name.hasPrefix($0 + "-") }
    }
}
