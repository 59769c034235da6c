import Foundation
import GatewayModel
import IR

/// What the first stage of translation produces: every proxy group's plan and every
/// object's status.
public struct TranslationResult: Sendable, Equatable {
    /// By proxy group: `namespace/gateway` for each Gateway, and the GatewayClass name
    /// for all Gateways of a class.
    public var plans: [String: ProxyPlan] = [:]
    /// Conditions of every object Chancery owns or that names one of its Gateways.
    public var statuses: [ObjectKey: ObjectStatus] = [:]
    /// Objects that could not be read at all (from the ResourceSet).
    public var readErrors: [ManifestError] = []
    /// Groups whose plan is another group's (a class with one Gateway): group → the
    /// group it equals, so consumers can build its resources once.
    public var identical: [String: String] = [:]
    /// What is served but needs attention soon (certificates close to expiry).
    public var warnings: [String] = []
    /// When each served listener certificate expires, by SDS name (`namespace/name`).
    public var certificateExpiry: [String: Date] = [:]
    /// Per HTTPRoute and GRPCRoute, the policies in effect on each rule and what each decides.
    public var effectivePolicies: [ObjectKey: [EffectivePolicy]] = [:]
    /// Mesh proxy groups (`sidecar:namespace/pod`, `node:NODE`): whom each serves.
    public var mesh: [String: MeshProxy] = [:]

    public init() {}
}

/// Gateway API objects → a plan per proxy group and every object's status, as a pure
/// function: no I/O, no clock, no globals. The same ResourceSet always gives the same
/// result. Every Gateway API decision is taken here, each with a condition; the plans'
/// second stage (`EnvoyBuild`) only spells them in Envoy's terms.
///
/// The steps, in order:
/// 1. GatewayClasses of Chancery's controller are accepted;
/// 2. their Gateways' listeners are validated (protocols, conflicts, certificates), and
///    the ListenerSets they allow add theirs;
/// 3. routes attach to listeners, oldest first (hostnames, allowedRoutes, backends);
/// 4. group producers plan each proxy group (``GroupProducers``), settling what
///    Gateways sharing a proxy disagree on;
/// 5. status is written for every object, saying what is served where.
public struct Translator: Sendable {
    /// The `controllerName` of GatewayClasses Chancery serves.
    public static let controllerName = chanceryControllerName

    /// The time certificates are checked against: translation reads no clock, so the
    /// caller says what time it is (tests pin it).
    public var now: Date
    /// What the previous translation planned, reused where its inputs are unchanged (the
    /// result is the same with or without it).
    public var cache: PlanCache?
    /// The addresses the proxies can listen on (`serve --gateway-addresses`): a Gateway
    /// whose `spec.addresses` asks for another is not served (`AddressNotUsable`). Nil:
    /// any address.
    public var gatewayAddresses: [AddressRange]?
    /// Ports taken on the proxies' hosts (`serve --reserved-ports`; Envoy's own admin
    /// port): a listener on one is not served (`PortUnavailable`), since Envoy could not
    /// bind it.
    public var reservedPorts: Set<Int>
    /// The ports Ingress proxy groups listen on (`serve --ingress-ports`).
    public var ingressPorts: IngressPorts
    /// How what is served divides into proxy groups.
    var producers: [any GroupProducer]
    /// The mesh's trust domain (`serve --trust-domain`).
    public var trustDomain: String = Translator.defaultTrustDomain
    public static let defaultTrustDomain = "cluster.local"

    public init(
        now: Date = Date(), cache: PlanCache? = nil, gatewayAddresses: [AddressRange]? = nil, reservedPorts: Set<Int> = [],
        ingressPorts: IngressPorts = IngressPorts()
    ) {
        self.now = now
        self.ingressPorts = ingressPorts
        self.cache = cache
        self.gatewayAddresses = gatewayAddresses
        self.reservedPorts = reservedPorts
        self.producers = GroupProducers.all
    }

    public func translate(_ set: ResourceSet) -> TranslationResult {
        let environment = cache?.begin(set)
        defer { cache?.finish() }
        var context = Context(
            set: set, now: now, cache: cache, environment: environment, gatewayAddresses: gatewayAddresses,
            reservedPorts: reservedPorts)
        var result = TranslationResult()
        result.readErrors = set.errors

        let classes = set.gatewayClasses.filter { $0.spec.controllerName == Self.controllerName }
        let ours = Set(classes.map(\.metadata.name))
        var classProblems: [String: String] = [:]
        for gatewayClass in classes {
            if let problem = GatewayStatus.classProblem(gatewayClass) {
                classProblems[gatewayClass.metadata.name] = "its GatewayClass \(gatewayClass.metadata.name) is not accepted: \(problem)"
            }
        }
        var gateways = Ordering.oldestFirst(set.gateways.filter { ours.contains($0.spec.gatewayClassName) }, metadata: \.metadata)
            .map { PreparedGateway(gateway: $0, classProblem: classProblems[$0.spec.gatewayClassName], context: context) }
        let listenerSets = ListenerSets.attach(set.listenerSets, to: &gateways, context: context)
        let attachments = RouteAttachment.attach(
            RouteObject.all(in: set, cache: cache), in: set, to: &gateways, listenerSets: listenerSets, context: &context)

        let world = World(
            classes: classes, gateways: gateways, attachments: attachments, context: context, trustDomain: trustDomain)
        var groups = ProxyGroups()
        for producer in producers { producer.produce(from: world, into: &groups) }
        Ingresses.plan(
            set, world: world, ports: ingressPorts, into: &groups, statuses: &result.statuses,
            certificateExpiry: &result.certificateExpiry, warnings: &result.warnings)
        result.plans = groups.plans
        result.identical = groups.identical
        result.mesh = groups.mesh
        result.warnings += groups.warnings

        // Status, with what the groups found.
        var listenerFindings: [ObjectKey: [String: [Finding]]] = [:]
        var routeFindings: [ObjectKey: [ObjectKey: [Finding]]] = [:]
        for finding in groups.findings {
            switch finding.subject {
            case .listener(let gateway, let name): listenerFindings[gateway, default: [:]][name, default: []].append(finding)
            case .route(let route, let gateway, _): routeFindings[route, default: [:]][gateway, default: []].append(finding)
            }
        }
        for gatewayClass in classes {
            result.statuses[key(.gatewayClass, gatewayClass.metadata)] = GatewayStatus.gatewayClass(gatewayClass)
        }
        for gateway in gateways {
            result.statuses[gateway.key] = GatewayStatus.gateway(
                gateway, servedIn: groups.servedIn[gateway.key] ?? [], findings: listenerFindings[gateway.key] ?? [:])
            guard gateway.isServed else { continue }
            for listener in gateway.listeners where listener.isProgrammed {
                result.warnings += listener.certificateWarnings
                for key in listener.certificates {
                    if case .success(let checked)? = context.certificate(key) {
                        result.certificateExpiry[Certificates.sdsName(key)] = checked.notAfter
                    }
                }
            }
        }
        let byKey = Dictionary(uniqueKeysWithValues: gateways.map { ($0.key, $0) })
        for (key, listenerSet) in listenerSets {
            guard let gateway = byKey[listenerSet.gateway] else { continue }
            result.statuses[key] = GatewayStatus.listenerSet(
                listenerSet, gateway: gateway, servedIn: groups.servedIn[gateway.key] ?? [],
                findings: listenerFindings[gateway.key] ?? [:])
        }
        result.warnings = Array(Set(result.warnings)).sorted()
        // Every route's status, then what was written so far (of other kinds) put in.
        // (Copied with room for them: the copy keeps each entry's place, where growing
        // would hash every key again.)
        var statuses = RouteStatus.all(attachments, findings: routeFindings, cache: cache)
        statuses.reserveCapacity(statuses.count + result.statuses.count)
        for (key, status) in result.statuses { statuses[key] = status }
        result.statuses = statuses
        for kind in PolicyKinds.all {
            for (key, status) in kind.statuses(in: world) { result.statuses[key] = status }
        }
        for (key, status) in groups.statuses { result.statuses[key] = status }
        let policies = RoutePolicies.report(in: world)
        for (key, status) in policies.statuses { result.statuses[key] = status }
        result.effectivePolicies = policies.effective
        return result
    }
}
