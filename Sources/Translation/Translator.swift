import EnvoyAPI
import Foundation
import GatewayModel

/// Envoy resources for one proxy group, in a deterministic order.
public struct ProxyConfig: Sendable, Equatable {
    public var listeners: [Envoy_Config_Listener_V3_Listener] = []
    public var routes: [Envoy_Config_Route_V3_RouteConfiguration] = []
    public var clusters: [Envoy_Config_Cluster_V3_Cluster] = []
    public var endpoints: [Envoy_Config_Endpoint_V3_ClusterLoadAssignment] = []
    public var secrets: [Envoy_Extensions_TransportSockets_Tls_V3_Secret] = []
    /// Which objects each resource was made from, keyed `listener/NAME`, `route/NAME`,
    /// `cluster/NAME`, `endpoint/NAME`, `secret/NAME`: when a proxy rejects a resource,
    /// these are the objects to tell.
    public var origins: [String: Set<ObjectKey>] = [:]

    public init() {}

    public static func originKey(_ type: String, _ name: String) -> String { type + "/" + name }
}

/// What translation produces: every proxy group's resources and every object's status.
public struct TranslationResult: Sendable, Equatable {
    /// By proxy group: `namespace/gateway` for each Gateway, and the GatewayClass name
    /// for all Gateways of a class.
    public var proxies: [String: ProxyConfig] = [:]
    /// Conditions of every object Chancery owns or that names one of its Gateways.
    public var statuses: [ObjectKey: ObjectStatus] = [:]
    /// Objects that could not be read at all (from the ResourceSet).
    public var readErrors: [ManifestError] = []
    /// Groups whose resources are those of another group (a class with one Gateway):
    /// group → the group it equals, so consumers can build its snapshot once.
    public var identical: [String: String] = [:]
    /// What is served but needs attention soon (certificates close to expiry).
    public var warnings: [String] = []
    /// When each served listener certificate expires, by SDS name (`namespace/name`).
    public var certificateExpiry: [String: Date] = [:]
}

/// Gateway API → Envoy, as a pure function: no I/O, no clock, no globals. The same
/// ResourceSet always gives byte-identical output.
public struct Translator: Sendable {
    /// The `controllerName` of GatewayClasses Chancery serves.
    public static let controllerName = "chancery.dev/gateway-controller"

    /// The time certificates are checked against: translation reads no clock, so the
    /// caller says what time it is (tests pin it).
    public var now: Date
    /// Values of the previous translation to reuse where their inputs are unchanged
    /// (the result is the same with or without it).
    public var cache: TranslationCache?

    public init(now: Date = Date(), cache: TranslationCache? = nil) {
        self.now = now
        self.cache = cache
    }

    public func translate(_ set: ResourceSet) -> TranslationResult {
        cache?.begin()
        defer { cache?.finish() }
        var context = Context(set: set, now: now, cache: cache)
        var result = TranslationResult()
        result.readErrors = set.errors

        let classes = set.gatewayClasses.filter { $0.spec.controllerName == Self.controllerName }
        for gatewayClass in classes {
            result.statuses[key(.gatewayClass, gatewayClass.metadata)] = ObjectStatus(conditions: [
                Condition(
                    "Accepted", true, reason: "Accepted", message: "Chancery serves this class",
                    generation: gatewayClass.metadata.generation)
            ])
        }
        let ours = Set(classes.map(\.metadata.name))
        let gateways = set.gateways.filter { ours.contains($0.spec.gatewayClassName) }
            .sorted { Ordering.older($0.metadata, than: $1.metadata) }

        // Listeners of every Gateway, validated; then routes attached to them.
        var prepared: [PreparedGateway] = gateways.map { PreparedGateway(gateway: $0, context: context) }
        let attachments = RouteAttachment.attach(RouteObject.all(in: set), to: &prepared, context: &context)

        for gateway in prepared {
            result.statuses[gateway.key] = gateway.status
            for listener in gateway.listeners where listener.isProgrammed {
                result.warnings += listener.certificateWarnings
                for key in listener.certificates {
                    if case .success(let checked)? = context.certificate(key) {
                        result.certificateExpiry[Secrets.certificateName(key)] = checked.notAfter
                    }
                }
            }
        }
        result.warnings = Array(Set(result.warnings)).sorted()
        for (key, status) in attachments.statuses { result.statuses[key] = status }
        for (key, status) in BackendTLS.statuses(prepared: prepared, attachments: attachments, context: context) {
            result.statuses[key] = status
        }

        // One proxy per Gateway, and one per class that merges its Gateways.
        for gateway in prepared {
            result.proxies[gateway.key.namespace + "/" + gateway.key.name] = ProxyBuilder.build(
                [gateway], routes: attachments, context: context)
        }
        for gatewayClass in classes {
            let members = prepared.filter { $0.gateway.spec.gatewayClassName == gatewayClass.metadata.name }
            if members.count == 1 {
                // A class with one Gateway serves exactly that Gateway's resources.
                let only = members[0].key.namespace + "/" + members[0].key.name
                result.proxies[gatewayClass.metadata.name] = result.proxies[only]
                result.identical[gatewayClass.metadata.name] = only
            } else {
                result.proxies[gatewayClass.metadata.name] = ProxyBuilder.build(
                    members, routes: attachments, context: context)
            }
        }
        return result
    }
}

func key(_ kind: Kind, _ metadata: ObjectMeta) -> ObjectKey {
    ObjectKey(kind, namespace: kind.isNamespaced ? (metadata.namespace ?? "default") : "", name: metadata.name)
}

/// Lookups shared by every step of one translation, indexed once so that each lookup
/// costs the same however many objects there are.
struct Context {
    let set: ResourceSet
    let now: Date
    /// EndpointSlices by namespace and Service name.
    let slices: [ServiceKey: [EndpointSlice]]
    /// ReferenceGrants by the namespace they live in.
    let grants: [String: [ReferenceGrant]]
    /// Every Secret, checked as a listener certificate once.
    let certificates: [ObjectKey: Result<CheckedCertificate, CertificateProblem>]
    /// BackendTLSPolicies by the Service they target.
    let backendTLS: [ServiceKey: [BackendTLSPolicy]]
    /// Clusters that GRPCRoutes send to (always HTTP/2).
    var grpcClusters: Set<BackendCluster> = []
    let cache: TranslationCache?

    struct ServiceKey: Hashable {
        let namespace: String
        let name: String
    }

    func certificate(_ key: ObjectKey) -> Result<CheckedCertificate, CertificateProblem>? { certificates[key] }

    init(set: ResourceSet, now: Date, cache: TranslationCache? = nil) {
        self.set = set
        self.now = now
        self.cache = cache
        var certificates: [ObjectKey: Result<CheckedCertificate, CertificateProblem>] = [:]
        for manifest in set.manifests(of: .secret) {
            guard case .secret(let secret) = manifest.object else { continue }
            certificates[manifest.object.key] = CertificateCheck.check(secret, now: now)
        }
        self.certificates = certificates
        var backendTLS: [ServiceKey: [BackendTLSPolicy]] = [:]
        for policy in set.backendTLSPolicies {
            for target in policy.spec.targetRefs where target.group == "" && target.kind == "Service" {
                backendTLS[ServiceKey(namespace: policy.metadata.namespace ?? "default", name: target.name), default: []]
                    .append(policy)
            }
        }
        self.backendTLS = backendTLS
        var slices: [ServiceKey: [EndpointSlice]] = [:]
        for slice in set.endpointSlices {
            guard let service = slice.serviceName else { continue }
            slices[ServiceKey(namespace: slice.metadata.namespace ?? "default", name: service), default: []].append(slice)
        }
        self.slices = slices
        self.grants = Dictionary(grouping: set.referenceGrants) { $0.metadata.namespace ?? "default" }
    }
}

/// The spec's tie-breaks: older objects first, then namespace/name.
enum Ordering {
    static func older(_ a: ObjectMeta, than b: ObjectMeta) -> Bool {
        let ta = a.creationTimestamp ?? ""
        let tb = b.creationTimestamp ?? ""
        if ta != tb {
            // An object without a timestamp (a file) counts as newest.
            if ta.isEmpty { return false }
            if tb.isEmpty { return true }
            return ta < tb
        }
        return ((a.namespace ?? "default"), a.name) < ((b.namespace ?? "default"), b.name)
    }
}
