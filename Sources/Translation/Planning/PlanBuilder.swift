import GatewayModel
import IR

/// What planning one proxy group collects besides its listeners: the Service ports its
/// routes use (with the objects that use them), weighted UDP clusters, whether the
/// rejecting cluster is needed, certificates, and findings.
struct PlanBuilder {
    let group: String
    let world: World
    var listeners: [ListenerPlan] = []
    var findings: [Finding] = []
    private var targets: [ServicePort: Origins] = [:]
    private var weighted: [String: (origin: ObjectKey, backends: [(ServicePort, Int)], http2: Bool)] = [:]
    private var certificates: [ObjectKey: Origins] = [:]
    private var clientCAs: [String: SecretPlan] = [:]
    /// The Gateways whose routes reach each Service port (their `tls.backend`
    /// certificate is what TLS to it presents).
    private var gatewaysByTarget: [ServicePort: Set<ObjectKey>] = [:]
    private var reject = false
    /// Clusters BackendTrafficPolicies shape, by name: the Service port, the settings, the
    /// routes that use them.
    private var variants: [String: (target: ServicePort, variant: ClusterVariant, routes: Origins)] = [:]
    /// Clusters remote JWKS are fetched through, by name, with the policies naming them.
    private var jwks: [String: (endpoint: JWKSEndpoint, policies: Origins)] = [:]
    /// Service ports spoken to over HTTP/2 whatever they say (an Ingress's
    /// `backend-protocol: GRPC`).
    private var http2Targets: Set<ServicePort> = []
    /// Service ports spoken to over TLS without checking their certificates.
    private var unverifiedTLSTargets: Set<ServicePort> = []
    /// Who decided how each of those Service ports is spoken to.
    private var protocols: [ServicePort: (http2: Bool, tls: Bool, owner: ObjectKey)] = [:]
    /// Connect timeouts asked for Service ports, and who asked first.
    private var connectTimeouts: [ServicePort: (milliseconds: Int64, owner: ObjectKey)] = [:]

    /// Whether a Gateway of the world names a backend client certificate (only then is
    /// it worth knowing which Gateways reach each port).
    private let presentsClientCertificates: Bool

    init(group: String, world: World) {
        self.group = group
        self.world = world
        presentsClientCertificates = world.gateways.contains { $0.backendClientCertificate != nil }
        // Room for as many Service ports as the group's last plan had: the table is
        // not grown (and every port hashed again) in steps while routes are walked.
        if let count = world.context.cache?.targetCount(of: group) { targets.reserveCapacity(count) }
    }

    mutating func find(_ subject: Finding.Subject, _ reason: ConditionReason, _ message: String, total: Bool = true) {
        findings.append(Finding(group: group, subject: subject, verdict: Verdict(true, reason, message), total: total))
    }

    /// A route sends traffic to a Service port.
    mutating func use(_ target: ServicePort, by route: ObjectKey, through gateway: ObjectKey) {
        targets[target, default: []].insert(route)
        if presentsClientCertificates { gatewaysByTarget[target, default: []].insert(gateway) }
    }

    /// A route sends traffic to a Service port through the cluster a BackendTrafficPolicy
    /// shapes for it (`variant`), or through the port's own.
    mutating func use(_ target: ServicePort, variant: ClusterVariant?, by route: ObjectKey, through gateway: ObjectKey) {
        guard let variant else { return use(target, by: route, through: gateway) }
        variants[variant.name(for: target), default: (target, variant, [])].routes.insert(route)
        if presentsClientCertificates { gatewaysByTarget[target, default: []].insert(gateway) }
    }

    /// A route's JSON Web Tokens are checked against keys fetched from `endpoint`.
    mutating func useJWKS(_ endpoint: JWKSEndpoint, by policy: ObjectKey) {
        jwks[SecurityPolicies.jwksCluster(endpoint), default: (endpoint, [])].policies.insert(policy)
    }

    /// A placed listener's certificates, served over SDS.
    mutating func addCertificates(of placed: GatewayPlanner.Placed) {
        for certificate in placed.listener.certificates {
            for owner in placed.owners { certificates[certificate, default: []].insert(owner) }
        }
    }

    /// Connections to `target` open within `milliseconds`; nil when that is set, else who
    /// set another value first.
    mutating func connect(to target: ServicePort, within milliseconds: Int64, by owner: ObjectKey) -> ObjectKey? {
        if let set = connectTimeouts[target] { return set.milliseconds == milliseconds ? nil : set.owner }
        connectTimeouts[target] = (milliseconds, owner)
        return nil
    }

    /// How requests to `target` are spoken (an Ingress's `backend-protocol`): HTTP/2, TLS
    /// unchecked. The first to reach a Service port decides; nil when that is set, else
    /// who decided otherwise.
    mutating func speak(to target: ServicePort, http2: Bool, unverifiedTLS: Bool, by owner: ObjectKey) -> ObjectKey? {
        if let set = protocols[target] { return set.http2 == http2 && set.tls == unverifiedTLS ? nil : set.owner }
        protocols[target] = (http2, unverifiedTLS, owner)
        if http2 { http2Targets.insert(target) }
        if unverifiedTLS { unverifiedTLSTargets.insert(target) }
        return nil
    }

    /// A certificate Secret served over SDS for `owner` (an Ingress's `tls` entry).
    mutating func addCertificate(_ secret: ObjectKey, owner: ObjectKey) {
        certificates[secret, default: []].insert(owner)
    }

    /// The listener's client certificate validation, its CA bundle served as a secret.
    mutating func clientValidation(of placed: GatewayPlanner.Placed) -> ClientValidationPlan? {
        guard let validation = placed.listener.clientValidation else { return nil }
        clientCAs[validation.secretName] = SecretPlan(
            name: validation.secretName,
            content: .clientCA(bundlePEM: validation.bundlePEM, acceptUntrusted: !validation.required),
            origins: Origins(placed.owners + validation.configMaps))
        return ClientValidationPlan(caSecret: validation.secretName, required: validation.required)
    }

    /// Client certificates a ClientTrafficPolicy asks for, validated against its CAs. An
    /// optional certificate may be left out, never untrusted.
    mutating func clientValidation(_ ca: ClientCAPlan) -> ClientValidationPlan {
        var secret =
            clientCAs[ca.secretName]
            ?? SecretPlan(name: ca.secretName, content: .clientCA(bundlePEM: ca.bundlePEM, acceptUntrusted: false), origins: [])
        secret.origins.insert(ca.policy)
        clientCAs[ca.secretName] = secret
        return ClientValidationPlan(caSecret: ca.secretName, required: ca.required)
    }

    /// Where a TCP or TLS route's connections go: its valid backends by weight; the
    /// share of invalid ones (or all, when none is valid) to the rejecting cluster.
    mutating func destination(_ attached: AttachedRoute) -> StreamDestination {
        let valid = attached.backends.filter { $0.target != nil && $0.weight > 0 }
        let invalidWeight = attached.backends.filter { $0.target == nil }.reduce(0) { $0 + $1.weight }
        for backend in valid { use(backend.target!, by: attached.key, through: attached.gateway) }
        if valid.isEmpty {
            reject = true
            return StreamDestination(backends: [WeightedCluster(cluster: ClusterPlan.rejectName, weight: max(invalidWeight, 1))])
        }
        var backends = valid.map { WeightedCluster(cluster: $0.target!.name, weight: $0.weight) }
        if invalidWeight > 0 {
            reject = true
            backends.append(WeightedCluster(cluster: ClusterPlan.rejectName, weight: invalidWeight))
        }
        return StreamDestination(backends: backends)
    }

    /// The one cluster a UDP route's datagrams go to: its backend's, a weighted cluster
    /// of several, or the rejecting one.
    mutating func udpCluster(_ attached: AttachedRoute) -> String {
        let valid = attached.backends.filter { $0.target != nil && $0.weight > 0 }
        if valid.isEmpty {
            reject = true
            return ClusterPlan.rejectName
        }
        if valid.count == 1 {
            use(valid[0].target!, by: attached.key, through: attached.gateway)
            return valid[0].target!.name
        }
        let name = "\(attached.key.namespace)/\(attached.key.name)/weighted"
        weighted[name] = (attached.key, valid.map { ($0.target!, $0.weight) }, false)
        return name
    }

    /// The clusters that rules with session persistence share across their backends.
    mutating func useSessionClusters(of attached: AttachedRoute) { useSessionClusters(of: attached.rules, by: attached.key) }

    /// The clusters shared by the backends of rules with session persistence.
    mutating func useSessionClusters(of rules: [ResolvedRule], by route: ObjectKey) {
        for rule in rules {
            guard let shared = rule.sessionCluster else { continue }
            weighted[shared.name] = (route, shared.backends.map { ($0.target, $0.weight) }, shared.http2)
        }
    }

    /// The plan: listeners as placed, clusters and secrets sorted by name.
    func finish() -> ProxyPlan {
        let context = world.context
        var clusters: [ClusterPlan] = []
        var secrets = clientCAs
        // Backend client certificates: a Service port's cluster presents one when every
        // Gateway reaching it in this group names that same certificate (a shared group's
        // cluster cannot present one Gateway's identity for another).
        var certificateOf: [ObjectKey: ObjectKey] = [:]
        for gateway in world.gateways { certificateOf[gateway.key] = gateway.backendClientCertificate }
        var backendCertificates: [ServicePort: (secret: ObjectKey, gateways: [ObjectKey])] = [:]
        for (target, gateways) in gatewaysByTarget {
            let named = Set(gateways.map { certificateOf[$0] })
            if named.count == 1, let only = named.first, let secret = only {
                backendCertificates[target] = (secret, gateways.sorted())
            }
        }
        for (key, gateways) in certificates {
            guard case .success(let checked)? = context.certificate(key) else { continue }
            let name = Certificates.sdsName(key)
            secrets[name] = SecretPlan(
                name: name, content: .certificate(chainPEM: checked.chainPEM, keyPEM: checked.keyPEM),
                origins: Origins(gateways.keys + [key]))
        }
        // A Service port's cluster (`name`: its own, or a policy-shaped one's).
        func serviceCluster(_ target: ServicePort, name: String, users: Origins) -> ClusterPlan {
            let origins = Origins(users.keys + [target.serviceKey])
            let facts = Endpoints.facts(target, context: context)
            var cluster = ClusterPlan(
                name: name, kind: .service(endpoints: facts.endpoints),
                settings: UpstreamSettings(
                    http2: http2Targets.contains(target) || context.grpcClusters.contains(target) || facts.http2,
                    connectTimeoutMilliseconds: connectTimeouts[target]?.milliseconds,
                    unverifiedTLS: unverifiedTLSTargets.contains(target)),
                origins: origins,
                endpointOrigins: origins)
            for kind in PolicyKinds.all { kind.apply(to: &cluster, for: target, secrets: &secrets, context: context) }
            if cluster.settings.tls != nil, let client = backendCertificates[target],
                case .success(let checked)? = context.certificate(client.secret)
            {
                let name = Certificates.sdsName(client.secret)
                cluster.settings.tls?.clientCertificate = name
                for gateway in client.gateways { cluster.origins.insert(gateway) }
                var secret =
                    secrets[name]
                    ?? SecretPlan(name: name, content: .certificate(chainPEM: checked.chainPEM, keyPEM: checked.keyPEM), origins: [])
                for gateway in client.gateways { secret.origins.insert(gateway) }
                secret.origins.insert(client.secret)
                secrets[name] = secret
            }
            return cluster
        }
        // The Service ports in a fixed order, by name: the last translation's for this
        // group when they are the same ports (every one of them here, as many), else
        // sorted anew (sorting every port again was 4 % of a one-route change). A port's
        // cluster is the last translation's while nothing it is planned from changed.
        let cache = context.cache
        let epoch = context.environment?.epoch
        let kept = cache?.serviceClusters(of: group)
        var order = kept?.order ?? []
        let keptClusters = epoch != nil && kept?.epoch == epoch ? kept?.clusters : nil
        var planned: [PlanCache.ServiceClusters.Kept?] = []
        var keptCount = 0
        func asks(of target: ServicePort) -> PlanCache.ServiceClusters.Asked {
            // Each set looked in only when it has members (most groups' are empty).
            PlanCache.ServiceClusters.Asked(
                http2: (!http2Targets.isEmpty && http2Targets.contains(target))
                    || (!context.grpcClusters.isEmpty && context.grpcClusters.contains(target)),
                connectTimeoutMilliseconds: connectTimeouts.isEmpty ? nil : connectTimeouts[target]?.milliseconds,
                unverifiedTLS: !unverifiedTLSTargets.isEmpty && unverifiedTLSTargets.contains(target))
        }
        func plan(_ target: ServicePort, users: Origins, kept: PlanCache.ServiceClusters.Kept?) {
            let asked = asks(of: target)
            if let kept, kept.asked == asked, kept.plan.origins.keys.count == users.keys.count + 1,
                kept.plan.origins.keys.withUnsafeBufferPointer({ $0[..<users.keys.count].elementsEqual(users.keys) })
            {
                clusters.append(kept.plan)
                planned.append(kept)
                keptCount += 1
                return
            }
            let cluster = serviceCluster(target, name: target.name, users: users)
            clusters.append(cluster)
            planned.append(epoch != nil && cluster.settings.tls == nil ? .init(asked: asked, plan: cluster) : nil)
        }
        var reused = order.count == targets.count
        let secretsBefore = secrets
        if reused {
            clusters.reserveCapacity(targets.count)
            planned.reserveCapacity(targets.count)
            for (index, target) in order.enumerated() {
                guard let users = targets[target] else {
                    reused = false
                    break
                }
                plan(target, users: users, kept: keptClusters?[index])
            }
        }
        if !reused {
            clusters = []
            planned = []
            keptCount = 0
            secrets = secretsBefore
            // Each name made once (comparing ports by name makes both names per comparison).
            order = targets.keys.map { (name: $0.name, port: $0) }.sorted { $0.name < $1.name }.map(\.port)
            for target in order { plan(target, users: targets[target]!, kept: nil) }
        }
        cache?.keep(PlanCache.ServiceClusters(order: order, clusters: planned, epoch: epoch), of: group, kept: keptCount)
        for name in variants.keys.sorted() {
            let use = variants[name]!
            var cluster = serviceCluster(use.target, name: name, users: use.routes)
            var traffic = use.variant.traffic
            if let connect = traffic.connectTimeoutMilliseconds {
                cluster.settings.connectTimeoutMilliseconds = connect
                traffic.connectTimeoutMilliseconds = nil
            }
            // HTTP health checks ask for the Service by name (Envoy's default Host, the
            // cluster's name, is not a host name).
            if traffic.healthCheck?.http != nil, traffic.healthCheck?.host == nil {
                traffic.healthCheck?.host = "\(use.target.service).\(use.target.namespace).svc"
            }
            cluster.settings.traffic = traffic.isEmpty ? nil : traffic
            for policy in use.variant.policies { cluster.origins.insert(policy) }
            clusters.append(cluster)
        }
        for (name, use) in weighted {
            let localities = use.backends.compactMap { target, weight -> WeightedLocality? in
                guard weight > 0 else { return nil }
                let endpoints = Endpoints.of(target, context: context)
                return endpoints.isEmpty ? nil : WeightedLocality(name: target.name, weight: weight, endpoints: endpoints)
            }
            let origins = Origins([use.origin] + use.backends.map(\.0.serviceKey))
            clusters.append(
                ClusterPlan(
                    name: name, kind: .weighted(localities: localities), settings: UpstreamSettings(http2: use.http2),
                    origins: origins, endpointOrigins: origins))
        }
        if reject {
            clusters.append(ClusterPlan(name: ClusterPlan.rejectName, kind: .reject, origins: [], endpointOrigins: []))
        }
        for name in jwks.keys.sorted() {
            let use = jwks[name]!
            var settings = UpstreamSettings()
            if use.endpoint.secure {
                // Verified against the system's CAs, with the host's name.
                settings.tls = UpstreamTLSPlan(
                    sni: use.endpoint.host, subjectAltNames: [SubjectAltNamePlan(kind: .dns, value: use.endpoint.host)],
                    caSecret: BackendTLS.systemCASecret)
                var secret =
                    secrets[BackendTLS.systemCASecret]
                    ?? SecretPlan(name: BackendTLS.systemCASecret, content: .trustedCAFile(path: BackendTLS.systemCAFile), origins: [])
                for policy in use.policies.keys { secret.origins.insert(policy) }
                secrets[BackendTLS.systemCASecret] = secret
            }
            clusters.append(
                ClusterPlan(
                    name: name, kind: .dns(host: use.endpoint.host, port: use.endpoint.port), settings: settings,
                    origins: use.policies, endpointOrigins: []))
        }
        // Sorted in place, and only when they are not in order already: the Service
        // ports' clusters usually are, and are most of them (sorting a copy of them was
        // a sixth of this function at 10,000 routes).
        var ascending = true
        clusters.withUnsafeBufferPointer { clusters in
            for index in clusters.indices.dropFirst() where !(clusters[index - 1].name < clusters[index].name) {
                ascending = false
                break
            }
        }
        if !ascending { clusters.sort { $0.name < $1.name } }
        return ProxyPlan(
            listeners: listeners, clusters: clusters,
            secrets: secrets.keys.sorted().map { secrets[$0]! })
    }
}

/// SDS names of listener certificates.
enum Certificates {
    /// A Secret's certificate is served as `namespace/name`.
    static func sdsName(_ key: ObjectKey) -> String { "\(key.namespace)/\(key.name)" }
}

/// A Service port's ready endpoints, following Kubernetes' port rules: the Service
/// port's name picks the EndpointSlice port of the same name.
enum Endpoints {
    /// What a Service port's cluster reads of its Service and EndpointSlices.
    struct Facts: Equatable, Sendable {
        /// Its ready endpoints, sorted, each once.
        var endpoints: [Endpoint] = []
        /// Its `appProtocol` says it speaks HTTP/2 in cleartext.
        var http2 = false
    }

    /// A Service port's ready endpoints, sorted, each once.
    static func of(_ target: ServicePort, context: Context) -> [Endpoint] { facts(target, context: context).endpoints }

    /// A Service port's facts: worked out once per environment epoch when the
    /// translation has a cache (they read no route), so that a translation's clusters do
    /// not each look their Service up again.
    static func facts(_ target: ServicePort, context: Context) -> Facts {
        guard let cache = context.cache, let environment = context.environment else { return build(target, context: context) }
        return cache.endpoints.value(target, environment.epoch) { build(target, context: context) }
    }

    private static func build(_ target: ServicePort, context: Context) -> Facts {
        guard let servicePort = context.service(target.namespace, target.service)?.spec.ports?.first(where: { $0.port == target.port })
        else { return Facts() }
        var endpoints: [Endpoint] = []
        for slice in context.slices[Context.ServiceKey(namespace: target.namespace, name: target.service)] ?? [] {
            guard slice.addressType == .ipv4 || slice.addressType == .ipv6 else { continue }
            guard let port = slice.ports?.first(where: { ($0.name ?? "") == (servicePort.name ?? "") })?.port else { continue }
            for endpoint in slice.endpoints ?? [] where endpoint.conditions?.ready ?? true {
                for address in endpoint.addresses { endpoints.append(Endpoint(address: address, port: port)) }
            }
        }
        // Sorted, each once (slices may list an address twice).
        endpoints.sort()
        var unique = 0
        for index in endpoints.indices where index == 0 || endpoints[index] != endpoints[unique - 1] {
            endpoints[unique] = endpoints[index]
            unique += 1
        }
        endpoints.removeLast(endpoints.count - unique)
        return Facts(
            endpoints: endpoints, http2: servicePort.appProtocol.map(Backends.http2Protocols.contains) ?? false)
    }
}
