import Foundation
import GatewayModel

/// Lookups shared by every step of one translation, indexed once so that each lookup
/// costs the same however many objects there are.
struct Context {
    let set: ResourceSet
    let now: Date
    /// EndpointSlices by the Service they belong to.
    let slices: [ServiceKey: [EndpointSlice]]
    /// ReferenceGrants by the namespace they live in.
    let grants: [String: [ReferenceGrant]]
    /// Every Secret, checked as a listener certificate once.
    let certificates: [ObjectKey: Result<CheckedCertificate, CertificateProblem>]
    /// BackendTLSPolicies by the Service (and port) they target.
    let backendTLS: PolicyIndex<BackendTLSPolicy>
    /// Each BackendTLSPolicy's TLS settings (its CA bundle checked once), by policy.
    let backendTLSResolved: [ObjectKey: Result<BackendTLS.Resolved, CertificateProblem>]
    /// SecurityPolicies and BackendTrafficPolicies, resolved, by what they target.
    let routePolicies: RoutePolicyIndexes
    /// Clusters that GRPCRoutes send to (always HTTP/2).
    var grpcClusters: Set<ServicePort> = []
    /// What the previous translation planned, to reuse where its inputs are equal.
    let cache: PlanCache?
    /// With a cache: which objects other than routes this translation reads, as an
    /// epoch the cache keeps.
    var environment: PlanCache.Environment?
    /// The addresses Gateways may ask for (nil: any).
    let gatewayAddresses: [AddressRange]?
    /// Ports taken on the proxies' hosts.
    let reservedPorts: Set<Int>

    /// A Service by namespace and name.
    struct ServiceKey: Hashable, Sendable {
        let namespace: String
        let name: String
    }

    /// - Parameter environment: with `cache`, the epoch of the objects other than routes:
    ///   the indexes of those objects are then built once per epoch.
    init(
        set: ResourceSet, now: Date, cache: PlanCache? = nil, environment: PlanCache.Environment? = nil,
        gatewayAddresses: [AddressRange]? = nil, reservedPorts: Set<Int> = []
    ) {
        self.set = set
        self.now = now
        self.cache = cache
        self.environment = environment
        self.gatewayAddresses = gatewayAddresses
        self.reservedPorts = reservedPorts
        // Certificates are checked against the time, so every translation.
        var certificates: [ObjectKey: Result<CheckedCertificate, CertificateProblem>] = [:]
        for manifest in set.manifests(of: .secret) {
            guard case .secret(let secret) = manifest.object else { continue }
            certificates[manifest.object.key] = CertificateCheck.check(secret, now: now)
        }
        self.certificates = certificates
        // Route policies may pick routes by label (`targetSelectors`): every translation.
        self.routePolicies = RoutePolicyIndexes(set)
        let indexes =
            if let cache, let environment { cache.indexes(in: environment) { EnvironmentIndexes(set) } } else {
                EnvironmentIndexes(set)
            }
        self.backendTLS = indexes.backendTLS
        self.backendTLSResolved = indexes.backendTLSResolved
        self.slices = indexes.slices
        self.grants = indexes.grants
    }

    /// The lookups that read only objects other than routes (and not the time): the
    /// same for every translation within an environment's epoch. (Route policies are
    /// not among them: a `targetSelector` picks routes by their labels.)
    struct EnvironmentIndexes: Sendable {
        let slices: [ServiceKey: [EndpointSlice]]
        let grants: [String: [ReferenceGrant]]
        let backendTLS: PolicyIndex<BackendTLSPolicy>
        let backendTLSResolved: [ObjectKey: Result<BackendTLS.Resolved, CertificateProblem>]

        init(_ set: ResourceSet) {
            backendTLS = BackendTLS.index(set)
            backendTLSResolved = Dictionary(
                backendTLS.all.map { ($0.key, BackendTLS.resolve($0, in: set)) }, uniquingKeysWith: { first, _ in first })
            var slices: [ServiceKey: [EndpointSlice]] = [:]
            for slice in set.endpointSlices {
                guard let service = slice.serviceName else { continue }
                slices[ServiceKey(namespace: slice.metadata.namespace ?? "default", name: service), default: []].append(slice)
            }
            // Services with a selector and no EndpointSlice (written in files with their
            // Pods): their endpoints are the Pods the selector picks, as Kubernetes' slice
            // controller would list them.
            let pods = set.pods
            if !pods.isEmpty {
                for service in set.services {
                    let key = ServiceKey(namespace: service.metadata.namespace ?? "default", name: service.metadata.name)
                    guard slices[key] == nil, let selector = service.spec.selector, !selector.isEmpty else { continue }
                    slices[key] = Context.slices(of: service, selecting: pods.filter { pod in
                        (pod.metadata.namespace ?? "default") == key.namespace && !pod.hasFinished
                            && selector.allSatisfy { pod.metadata.labels?[$0.key] == $0.value }
                    })
                }
            }
            self.slices = slices
            grants = Dictionary(grouping: set.referenceGrants) { $0.metadata.namespace ?? "default" }
        }
    }

    /// One slice per Pod (a named `targetPort` may differ between Pods), sorted by Pod.
    static func slices(of service: Service, selecting pods: [Pod]) -> [EndpointSlice] {
        pods.sorted { $0.metadata.name < $1.metadata.name }.compactMap { pod -> EndpointSlice? in
            let addresses = pod.addresses
            guard let first = addresses.first else { return nil }
            let ports = (service.spec.ports ?? []).compactMap { port -> EndpointSlice.Port? in
                guard let number = pod.port(port.targetPort ?? .number(port.port)) else { return nil }
                return EndpointSlice.Port(name: port.name, port: number, protocol: port.protocol, appProtocol: port.appProtocol)
            }
            return EndpointSlice(
                metadata: ObjectMeta(
                    name: "\(service.metadata.name)-\(pod.metadata.name)", namespace: pod.metadata.namespace,
                    labels: ["kubernetes.io/service-name": service.metadata.name]),
                addressType: first.contains(":") ? .ipv6 : .ipv4,
                endpoints: [
                    EndpointSlice.Endpoint(
                        addresses: [first], conditions: EndpointSlice.Conditions(ready: true),
                        targetRef: EndpointSlice.TargetReference(kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name),
                        nodeName: pod.spec?.nodeName)
                ],
                ports: ports)
        }
    }

    func certificate(_ key: ObjectKey) -> Result<CheckedCertificate, CertificateProblem>? { certificates[key] }

    func service(_ namespace: String, _ name: String) -> Service? {
        guard case .service(let service)? = set[ObjectKey(.service, namespace: namespace, name: name)]?.object else {
            return nil
        }
        return service
    }

    /// Whether `namespaces.from` (All, Same as `home`, Selector on the namespace's
    /// labels; anything else, such as None, admits nothing) admits `namespace`: for
    /// routes on a listener (`allowedRoutes`) and ListenerSets on a Gateway
    /// (`allowedListeners`).
    func admits(_ from: FromNamespaces, selector: LabelSelector?, namespace: String, home: String) -> Bool {
        switch from {
        case .all: true
        case .same: namespace == home
        case .selector: selector?.matches(set.labels(ofNamespace: namespace)) ?? false
        default: false
        }
    }

    /// A ReferenceGrant in the target's namespace lets objects of kind `from` in
    /// namespace `fromNamespace` reference it.
    func referenceGranted(from kind: Kind, namespace fromNamespace: String, to target: ObjectKey) -> Bool {
        Self.granted(by: grants[target.namespace] ?? [], from: kind, namespace: fromNamespace, to: target)
    }

    /// Whether one of `grants` (those of the target's namespace) lets objects of kind
    /// `from` in namespace `fromNamespace` reference `target`.
    static func granted(by grants: [ReferenceGrant], from kind: Kind, namespace fromNamespace: String, to target: ObjectKey) -> Bool {
        grants.contains { grant in
            grant.spec.from.contains { $0.group == kind.group && $0.kind == kind.rawValue && $0.namespace == fromNamespace }
                && grant.spec.to.contains {
                    $0.group == target.kind.group && $0.kind == target.kind.rawValue && ($0.name == nil || $0.name == target.name)
                }
        }
    }
}

func key(_ kind: Kind, _ metadata: ObjectMeta) -> ObjectKey {
    ObjectKey(kind, namespace: kind.isNamespaced ? (metadata.namespace ?? "default") : "", name: metadata.name)
}

/// The spec's tie-breaks: older objects first, then namespace/name.
enum Ordering {
    static func older(_ a: ObjectMeta, than b: ObjectMeta) -> Bool { Age(a) < Age(b) }

    /// `items` oldest first, each one's age read once (not once per comparison).
    static func oldestFirst<T>(_ items: [T], metadata: (T) -> ObjectMeta) -> [T] {
        items.map { (Age(metadata($0)), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Where an object stands in the order: its creation time, then "{namespace}/{name}"
    /// as one string (the spec's words).
    struct Age: Comparable, Sendable {
        let timestamp: String
        let path: String

        init(_ metadata: ObjectMeta) {
            timestamp = metadata.creationTimestamp ?? ""
            path = "\(metadata.namespace ?? "default")/\(metadata.name)"
        }

        static func < (a: Age, b: Age) -> Bool {
            if a.timestamp != b.timestamp {
                // An object without a timestamp (a file) counts as newest.
                if a.timestamp.isEmpty { return false }
                if b.timestamp.isEmpty { return true }
                return a.timestamp < b.timestamp
            }
            return a.path < b.path
        }
    }
}
