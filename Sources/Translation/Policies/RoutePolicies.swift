import GatewayModel
import IR

/// What one feature of a policy (a top-level field of its spec) does to a route.
enum RouteEffect: Hashable, Sendable {
    case authorization(AuthorizationPlan)
    case cors(CORSPlan)
    case basicAuth(BasicAuthPlan)
    case apiKeyAuth(APIKeyAuthPlan)
    case jwt(JWTPlan)
    case rateLimit(LocalRateLimitPlan)
    /// Retries, and each attempt's timeout.
    case retry(RetryPlan, perTryMilliseconds: Int64?)
    /// The request's timeout (per route), and the cluster's connect and idle timeouts.
    case timeouts(request: Int64?, connect: Int64?, idle: Int64?)
    case loadBalancer(BackendTrafficPlan.LoadBalancer, hash: HashPolicyPlan?)
    case circuitBreaker(BackendTrafficPlan.CircuitBreaker)
    case healthCheck(outlier: BackendTrafficPlan.OutlierDetection?, active: BackendTrafficPlan.HealthCheck?)
    case fault(FaultPlan)
    // ClientTrafficPolicy features, carried out by listeners (``RoutePolicies/client``).
    case clientAddress(ClientSettingsPlan.AddressSource)
    case clientTimeouts(requestReceived: Int64?, idle: Int64?)
    case connection(limit: Int?, delay: Int64?, bufferBytes: Int?)
    case http1(trailers: Bool, preserveCase: Bool, http10: Bool, http10DefaultHost: Bool)
    case requestHeaders(
        requestID: ClientSettingsPlan.RequestID?, underscores: ClientSettingsPlan.Underscores?,
        forwardClientCert: ClientSettingsPlan.ForwardClientCert?)
    case tls(DownstreamTLSPlan, clientCA: ClientCAPlan?)
}

/// Why a policy cannot be used as written.
struct PolicyProblem: Error, Hashable, Sendable {
    let message: String
    init(_ message: String) { self.message = message }
}

/// A policy that acts on the requests of routes, resolved once per translation: what
/// it targets, the features it sets and what each does — or why it cannot be used. A
/// class: every route's lookups pass it around.
final class ResolvedRoutePolicy: Sendable {
    let key: ObjectKey
    let metadata: ObjectMeta
    let targets: [PolicyTarget]
    /// The features it sets (its spec's top-level fields but the targets), sorted.
    let features: [String]
    /// What each feature does, when the policy can be used.
    let effects: [String: RouteEffect]
    /// Why it cannot be used (a field Chancery does not carry out, a missing Secret): the
    /// routes it governs answer 500 rather than go unprotected.
    let problem: String?

    init(
        key: ObjectKey, metadata: ObjectMeta, targets: [PolicyTarget], features: [String], effects: [String: RouteEffect],
        problem: String?
    ) {
        self.key = key
        self.metadata = metadata
        self.targets = targets
        self.features = features
        self.effects = effects
        self.problem = problem
    }
}

/// A policy kind acting on routes' requests (Envoy Gateway's SecurityPolicy and
/// BackendTrafficPolicy): the second kind of seam beside ``PolicyKind`` (which acts on
/// a Service port's cluster). A new kind is one type conforming to this — its policies
/// resolved into features — and one entry in ``RoutePolicies/kinds``; its effects are
/// ``RouteEffect`` cases, which ``RoutePolicies/apply(_:to:)`` puts into the IR.
///
/// Precedence (GEP-713): a route rule is governed from, most specific first, the rule
/// (a `sectionName` naming it), the route, the ListenerSet listener, the ListenerSet,
/// the Gateway listener, the Gateway. At each level the oldest policy of the kind
/// counts (a newer one there is `Conflicted`); each feature comes from the most
/// specific policy that sets it.
protocol RoutePolicyKind: Sendable {
    static var kind: Kind { get }
    /// The kinds its policies may target.
    static var targetKinds: [Kind] { get }
    /// Every policy of the kind, resolved.
    static func resolveAll(in set: ResourceSet) -> [ResolvedRoutePolicy]
}

extension RoutePolicyKind {
    /// A Gateway API duration field of a policy, in milliseconds.
    static func duration(_ text: String?, at path: String) throws(PolicyProblem) -> Int64? {
        guard let text else { return nil }
        guard let milliseconds = GatewayDuration.milliseconds(in: text) else { throw PolicyProblem("\(path): \(text) is not a duration") }
        return milliseconds
    }

    /// A policy's targets, features and effects: `effects` turns its spec into features,
    /// or throws why it cannot be used; a field outside `fields` makes it unusable.
    static func resolve<Policy: AttachedPolicy>(
        _ policy: Policy, fields: PolicyFields, in set: ResourceSet,
        effects: (Policy, String) throws(PolicyProblem) -> [String: RouteEffect]
    ) -> ResolvedRoutePolicy {
        let namespace = policy.metadata.namespace ?? "default"
        let key = ObjectKey(kind, namespace: namespace, name: policy.metadata.name)
        var problems: [String] = policy.readProblem.map { [$0] } ?? []
        var targets: [PolicyTarget] = []
        let refs = (policy.spec.targetRef.map { [$0] } ?? []) + (policy.spec.targetRefs ?? [])
        for ref in refs {
            guard let target = Kind(rawValue: ref.kind), target.group == ref.group, targetKinds.contains(target) else {
                problems.append(
                    "a \(kind.rawValue) cannot target \(ref.group.isEmpty ? "" : ref.group + "/")\(ref.kind) (it targets \(targetKinds.map(\.rawValue).joined(separator: ", ")))"
                )
                continue
            }
            targets.append(PolicyTarget(ObjectKey(target, namespace: namespace, name: ref.name), section: ref.sectionName))
        }
        for selector in policy.spec.targetSelectors ?? [] {
            guard let target = Kind(rawValue: selector.kind), target.group == (selector.group ?? gatewayGroup),
                targetKinds.contains(target)
            else {
                problems.append("a \(kind.rawValue) cannot target \(selector.kind) (targetSelectors)")
                continue
            }
            let labels = selector.selector
            for manifest in set.manifests(of: target) {
                let metadata = manifest.object.metadata
                guard (metadata.namespace ?? "default") == namespace, labels.matches(metadata.labels ?? [:]) else { continue }
                targets.append(PolicyTarget(manifest.object.key))
            }
        }
        var features: [String] = []
        if case .object(let written) = policy.writtenSpec {
            features = written.keys.filter { PolicyFields.targets[$0] == nil }.sorted()
        }
        let unsupported = fields.unsupported(in: policy.writtenSpec, at: "spec")
        if !unsupported.isEmpty {
            problems.append(
                "\(unsupported.joined(separator: ", ")) \(unsupported.count == 1 ? "is" : "are") not supported by Chancery (see docs/policies.md)")
        }
        var resolved: [String: RouteEffect] = [:]
        if problems.isEmpty {
            do throws(PolicyProblem) {
                resolved = try effects(policy, namespace)
            } catch {
                problems.append(error.message)
            }
        }
        return ResolvedRoutePolicy(
            key: key, metadata: policy.metadata, targets: targets, features: features, effects: resolved,
            problem: problems.isEmpty ? nil : problems.joined(separator: "; "))
    }
}

/// The route policies of one translation, indexed by what they target, kind by kind.
struct RoutePolicyIndexes: Sendable {
    let byKind: [(kind: Kind, index: PolicyIndex<ResolvedRoutePolicy>)]
    let isEmpty: Bool

    init(_ set: ResourceSet) {
        byKind = RoutePolicies.kinds.map { kind in
            (
                kind.kind,
                PolicyIndex(
                    kind.resolveAll(in: set).map { policy in
                        PolicyIndex.Entry(key: policy.key, metadata: policy.metadata, policy: policy, targets: policy.targets)
                    })
            )
        }
        isEmpty = byKind.allSatisfy { $0.index.isEmpty }
    }
}

/// Clusters of their own for the backends of rules a BackendTrafficPolicy governs: named
/// after the Service port's and the policies that shape them.
struct ClusterVariant: Hashable, Sendable {
    let traffic: BackendTrafficPlan
    /// Sorted.
    let policies: [ObjectKey]

    /// `btp:namespace/name` (`+` between several).
    var suffix: String { "btp:" + policies.map { "\($0.namespace)/\($0.name)" }.joined(separator: "+") }

    func name(for target: ServicePort) -> String { "\(target.name)/\(suffix)" }
}

/// What the policies in effect do to one rule of a route on one listener.
struct RuleEffects: Hashable, Sendable {
    var effects: [RouteEffect] = []
    /// The cluster settings its backends get.
    var cluster: ClusterVariant?
    /// The policies in effect, most specific first.
    var origins: [ObjectKey] = []
    /// Why the rule answers 500: a policy in effect cannot be used (it fails closed).
    var failure: String?

    var isEmpty: Bool { effects.isEmpty && origins.isEmpty && failure == nil }
}

enum RoutePolicies {
    static let kinds: [any RoutePolicyKind.Type] = [SecurityPolicies.self, BackendTrafficPolicies.self, ClientTrafficPolicies.self]

    /// The levels a rule is governed from, most specific first.
    static func levels(route: ObjectKey, ruleName: String?, gateway: ObjectKey, listener: PreparedListener) -> [PolicyTarget] {
        var levels: [PolicyTarget] = []
        if let ruleName { levels.append(PolicyTarget(route, section: ruleName)) }
        levels.append(PolicyTarget(route))
        if let listenerSet = listener.listenerSet {
            levels.append(PolicyTarget(listenerSet, section: listener.spec.name))
            levels.append(PolicyTarget(listenerSet))
        } else {
            levels.append(PolicyTarget(gateway, section: listener.spec.name))
        }
        levels.append(PolicyTarget(gateway))
        return levels
    }

    /// The policy of a kind that counts at each level (the oldest there), most specific
    /// first, each once.
    static func winners(along levels: [PolicyTarget], in index: PolicyIndex<ResolvedRoutePolicy>)
        -> [PolicyIndex<ResolvedRoutePolicy>.Entry]
    {
        var result: [PolicyIndex<ResolvedRoutePolicy>.Entry] = []
        for level in levels {
            guard let entry = index.first(at: level), !result.contains(where: { $0.key == entry.key }) else { continue }
            result.append(entry)
        }
        return result
    }

    /// Per feature, the policy that sets it: the most specific winner.
    static func assignment(of winners: [PolicyIndex<ResolvedRoutePolicy>.Entry]) -> [(feature: String, policy: ResolvedRoutePolicy)] {
        var taken: Set<String> = []
        var result: [(String, ResolvedRoutePolicy)] = []
        for winner in winners {
            for feature in winner.policy.features where taken.insert(feature).inserted {
                result.append((feature, winner.policy))
            }
        }
        return result.sorted { $0.0 < $1.0 }
    }

    /// What the policies do to each rule (by position) of a route attached to `listener`;
    /// empty when no policy concerns it.
    static func effects(
        route: ObjectKey, rules: [ResolvedRule], gateway: ObjectKey, listener: PreparedListener, context: Context
    ) -> [RuleEffects] {
        let indexes = context.routePolicies
        guard !indexes.isEmpty else { return [] }
        let result = rules.map { rule in
            effects(along: levels(route: route, ruleName: rule.rule.name, gateway: gateway, listener: listener), indexes: indexes)
        }
        return result.allSatisfy(\.isEmpty) ? [] : result
    }

    static func effects(along levels: [PolicyTarget], indexes: RoutePolicyIndexes) -> RuleEffects {
        var result = RuleEffects()
        for (kind, index) in indexes.byKind where !index.isEmpty {
            let winners = winners(along: levels, in: index)
            let assigned = assignment(of: winners)
            result.origins += winners.map(\.key).filter { key in assigned.contains { $0.policy.key == key } }
            var traffic = BackendTrafficPlan()
            var shapers: [ObjectKey] = []
            for (feature, policy) in assigned {
                if let problem = policy.problem {
                    if result.failure == nil {
                        result.failure = "\(kind.rawValue) \(policy.key.namespace)/\(policy.key.name) cannot be used: \(problem)"
                    }
                    continue
                }
                guard let effect = policy.effects[feature] else { continue }
                result.effects.append(effect)
                if effect.shape(&traffic), !shapers.contains(policy.key) { shapers.append(policy.key) }
            }
            if kind == .securityPolicy, result.failure == nil, let missing = missingJWTProvider(in: result.effects) {
                result.failure = missing
            }
            if !traffic.isEmpty {
                let sorted = shapers.sorted()
                result.cluster = ClusterVariant(traffic: traffic, policies: sorted)
            }
        }
        return result
    }

    /// An authorization rule that reads the claims of a JWT provider the route's `jwt`
    /// (perhaps a more specific policy's) does not have would never match: a Deny rule
    /// would let everything through. Why the route must answer 500, then.
    static func missingJWTProvider(in effects: [RouteEffect]) -> String? {
        var providers: Set<String> = []
        var rules: [AuthorizationRulePlan] = []
        for effect in effects {
            switch effect {
            case .jwt(let jwt): providers.formUnion(jwt.providers.map(\.name))
            case .authorization(let authorization): rules = authorization.rules
            default: break
            }
        }
        guard let rule = rules.first(where: { $0.jwt.map { !providers.contains($0.provider) } ?? false }) else { return nil }
        return "authorization rule \(rule.name) reads the claims of JWT provider \(rule.jwt!.provider), which the jwt in effect on this route does not have"
    }

    /// The route's backends are reached through their clusters of `variant`.
    static func send(to variant: ClusterVariant, backends: [ResolvedBackend], plan: inout RoutePlan) {
        guard case .forward(var forward) = plan.action else { return }
        var names: [String: String] = [:]
        for backend in backends { if let target = backend.target { names[target.name] = variant.name(for: target) } }
        for index in forward.destinations.indices {
            if let name = names[forward.destinations[index].cluster] { forward.destinations[index].cluster = name }
        }
        plan.action = .forward(forward)
    }

    /// The policies' effects on a planned route. A route's own filters (CORS, retry,
    /// timeouts) win over a policy's.
    static func apply(_ effects: RuleEffects, to plan: inout RoutePlan) {
        if let failure = effects.failure {
            plan.action = .respond(DirectResponsePlan(status: 500, body: failure))
            plan.cors = nil
            plan.policies = RoutePolicyPlan(RoutePolicyPlan.Body(origins: effects.origins))
            return
        }
        var body = RoutePolicyPlan.Body(origins: effects.origins)
        for effect in effects.effects {
            switch effect {
            case .authorization(let authorization): body.authorization = authorization
            case .cors(let cors): if plan.cors == nil { plan.cors = cors }
            case .basicAuth(let basicAuth): body.basicAuth = basicAuth
            case .apiKeyAuth(let apiKeyAuth): body.apiKeyAuth = apiKeyAuth
            case .jwt(let jwt): body.jwt = jwt
            case .rateLimit(let rateLimit): body.rateLimit = rateLimit
            case .fault(let fault): body.fault = fault
            case .retry(let retry, let perTry):
                if case .forward(var forward) = plan.action, forward.retry == nil {
                    forward.retry = retry
                    if forward.backendTimeoutMilliseconds == nil { forward.backendTimeoutMilliseconds = perTry }
                    plan.action = .forward(forward)
                }
            case .timeouts(let request?, _, _):
                if case .forward(var forward) = plan.action, forward.timeoutMilliseconds == nil {
                    forward.timeoutMilliseconds = request
                    plan.action = .forward(forward)
                }
            case .loadBalancer(_, let hash?):
                if case .forward(var forward) = plan.action {
                    forward.hashPolicy = hash
                    plan.action = .forward(forward)
                }
            case .timeouts, .loadBalancer, .circuitBreaker, .healthCheck:
                break  // the clusters'  (``ClusterVariant``)
            case .clientAddress, .clientTimeouts, .connection, .http1, .requestHeaders, .tls:
                break  // the listener's
            }
        }
        if !body.origins.isEmpty { plan.policies = RoutePolicyPlan(body) }
    }
}

// MARK: status

extension RoutePolicies {
    /// Every route policy's status (GEP-713): an ancestor per Gateway it takes effect
    /// through — the Gateway it targets (or its listener's, or its ListenerSet's), or the
    /// Gateways of the routes it targets — with `Accepted` and, when more specific
    /// policies take all it sets on some routes, `Overridden`. A policy whose targets
    /// are all missing has no ancestors (Envoy Gateway writes none either). And, from the
    /// same pass over every rule, per route the policies in effect on each rule on each
    /// listener and what each decides (``EffectivePolicy``).
    static func report(in world: World) -> (statuses: [ObjectKey: ObjectStatus], effective: [ObjectKey: [EffectivePolicy]]) {
        let indexes = world.context.routePolicies
        guard !indexes.isEmpty else { return ([:], [:]) }
        let gateways = Dictionary(uniqueKeysWithValues: world.gateways.map { ($0.key, $0) })
        // ListenerSets by key, with their Gateway.
        var listenerSetGateway: [ObjectKey: ObjectKey] = [:]
        for gateway in world.gateways {
            for listener in gateway.listeners { if let set = listener.listenerSet { listenerSetGateway[set] = gateway.key } }
        }
        // The Gateways each route is attached to, and its rule names.
        var routeGateways: [ObjectKey: Set<ObjectKey>] = [:]
        var ruleNames: [ObjectKey: Set<String>] = [:]
        for (gateway, listeners) in world.attachments.routes {
            for attached in listeners.values.joined() {
                routeGateways[attached.key, default: []].insert(gateway)
                ruleNames[attached.key, default: []].formUnion(attached.rules.compactMap(\.rule.name))
            }
        }
        var ancestry = PolicyAncestry()
        var effective: [ObjectKey: [EffectivePolicy]] = [:]
        for (kind, index) in indexes.byKind where !index.isEmpty {
            // Per policy and Gateway: the routes whose rules take a feature from it, and
            // those whose rules it would govern but more specific policies take all it sets.
            var applied: [ObjectKey: [ObjectKey: Set<ObjectKey>]] = [:]
            var overridden: [ObjectKey: [ObjectKey: Set<ObjectKey>]] = [:]
            for (gatewayKey, listeners) in world.attachments.routes {
                guard let gateway = gateways[gatewayKey] else { continue }
                for (listenerName, routes) in listeners {
                    guard let listener = gateway.listeners.first(where: { $0.name == listenerName }) else { continue }
                    for attached in routes where !attached.entries.isEmpty || !attached.rules.isEmpty {
                        for rule in attached.rules where rule.dropped == nil {
                            let levels = levels(route: attached.key, ruleName: rule.rule.name, gateway: gatewayKey, listener: listener)
                            let winners = winners(along: levels, in: index)
                            guard !winners.isEmpty else { continue }
                            let assigned = assignment(of: winners)
                            let used = Set(assigned.map(\.policy.key))
                            var features: [ObjectKey: [String]] = [:]
                            for (feature, policy) in assigned { features[policy.key, default: []].append(feature) }
                            for winner in winners {
                                guard let decided = features[winner.key] else { continue }
                                effective[attached.key, default: []].append(
                                    EffectivePolicy(
                                        gateway: gatewayKey, listener: listenerName, rule: rule.rule.name ?? String(rule.index),
                                        policy: winner.key, features: decided))
                            }
                            // A policy that sets nothing is never overridden.
                            for winner in winners where !winner.policy.features.isEmpty {
                                if used.contains(winner.key) {
                                    applied[winner.key, default: [:]][gatewayKey, default: []].insert(attached.key)
                                } else {
                                    overridden[winner.key, default: [:]][gatewayKey, default: []].insert(attached.key)
                                }
                            }
                        }
                    }
                }
            }
            // As Envoy Gateway's messages name them.
            let plural = [Kind.securityPolicy: "securityPolicies", .backendTrafficPolicy: "backendTrafficPolicies"][kind] ?? "clientTrafficPolicies"
            for entry in index.all {
                let policy = entry.policy
                let generation = entry.metadata.generation
                // Per Gateway the policy takes effect through: what it cannot target there.
                var ancestors: Set<ObjectKey> = []
                var conflicts: [ObjectKey: [String]] = [:]
                var missing: [ObjectKey: [String]] = [:]
                for target in policy.targets {
                    let object = target.object
                    var through: Set<ObjectKey> = []
                    var notFound: String?
                    switch object.kind {
                    case .gateway:
                        guard let gateway = gateways[object] else { continue }
                        through = [object]
                        if let section = target.section, !gateway.listeners.contains(where: { $0.listenerSet == nil && $0.spec.name == section }) {
                            notFound = "No section name \(section) found for Gateway \(object.namespace)/\(object.name)"
                        }
                    case .listenerSet:
                        guard let gateway = listenerSetGateway[object] else { continue }
                        through = [gateway]
                        if let section = target.section,
                            !(gateways[gateway]?.listeners.contains(where: { $0.listenerSet == object && $0.spec.name == section }) ?? false)
                        {
                            notFound = "No section name \(section) found for ListenerSet \(object.namespace)/\(object.name)"
                        }
                    default:
                        guard let attachedTo = routeGateways[object] else { continue }
                        through = attachedTo
                        if let section = target.section, !(ruleNames[object] ?? []).contains(section) {
                            notFound = "No section name \(section) found for \(object.kind.rawValue) \(object.namespace)/\(object.name)"
                        }
                    }
                    ancestors.formUnion(through)
                    if let notFound { for gateway in through { missing[gateway, default: []].append(notFound) } }
                    if let holder = index.first(at: target), holder.key != entry.key {
                        let what: String
                        switch (object.kind, target.section) {
                        case (.gateway, let section?), (.listenerSet, let section?):
                            what = "Listener \(object.name)/\(section)"
                        case (.gateway, nil), (.listenerSet, nil):
                            what = "\(object.kind.rawValue) \(object.name)"
                        case (_, let section?): what = "RouteRule \(object.name)/\(section)"
                        case (_, nil): what = "\(object.kind.rawValue) \(object.name)"
                        }
                        let message =
                            "Unable to target \(what), another \(kind.rawValue) (\(holder.key.namespace)/\(holder.key.name), older) has already attached to it"
                        for gateway in through { conflicts[gateway, default: []].append(message) }
                    }
                }
                for gateway in ancestors.sorted() {
                    var conditions: [Condition] = []
                    if let problem = policy.problem {
                        conditions.append(
                            Condition(.accepted, false, reason: .invalid, message: problem + "; the routes it governs answer 500", generation: generation))
                    } else if let missing = missing[gateway] {
                        conditions.append(
                            Condition(.accepted, false, reason: .targetNotFound, message: missing.joined(separator: "; "), generation: generation))
                    } else if let conflicts = conflicts[gateway] {
                        conditions.append(
                            Condition(.accepted, false, reason: .conflicted, message: conflicts.joined(separator: "; "), generation: generation))
                    } else {
                        conditions.append(Condition(.accepted, true, reason: .accepted, message: "Policy has been accepted.", generation: generation))
                    }
                    let shadowed = (overridden[entry.key]?[gateway] ?? []).subtracting(applied[entry.key]?[gateway] ?? [])
                    if conditions[0].status == .true, !shadowed.isEmpty {
                        conditions.append(
                            Condition(
                                .overridden, true, reason: .overridden,
                                message: "This policy is being overridden by other \(plural) for these routes: [\(shadowed.sorted().map { "\($0.namespace)/\($0.name)" }.joined(separator: ", "))]",
                                generation: generation))
                    }
                    ancestry.record(entry.key, ancestor: gateway, conditions: conditions)
                }
            }
        }
        let sorted = effective.mapValues { policies in
            policies.sorted {
                ($0.gateway, $0.listener, $0.rule, $0.policy) < ($1.gateway, $1.listener, $1.rule, $1.policy)
            }
        }
        return (ancestry.statuses, sorted)
    }
}

extension RouteEffect {
    /// Puts what the effect asks of clusters into `traffic`; whether it asks anything.
    func shape(_ traffic: inout BackendTrafficPlan) -> Bool {
        switch self {
        case .timeouts(_, let connect, let idle):
            traffic.connectTimeoutMilliseconds = connect
            traffic.idleTimeoutMilliseconds = idle
            return connect != nil || idle != nil
        case .loadBalancer(let balancer, _):
            traffic.loadBalancer = balancer
            return true
        case .circuitBreaker(let breaker):
            traffic.circuitBreaker = breaker
            return true
        case .healthCheck(let outlier, let active):
            traffic.outlierDetection = outlier
            traffic.healthCheck = active
            return true
        default:
            return false
        }
    }
}

/// A policy in effect on one rule of a route, as attached to one Gateway listener: the
/// features it decides there (what `validate` and the admin endpoint show per route).
public struct EffectivePolicy: Hashable, Sendable, Codable {
    public var gateway: ObjectKey
    public var listener: String
    /// The rule's name, or its index.
    public var rule: String
    public var policy: ObjectKey
    public var features: [String]

    public var description: String {
        "\(policy.kind.rawValue) \(policy.namespace)/\(policy.name) (\(features.joined(separator: ", "))) for rule \(rule) on Gateway \(gateway.namespace)/\(gateway.name) listener \(listener)"
    }
}

extension RoutePolicies {
    /// Who may connect to a TCP route: the `authorization` of the SecurityPolicy in effect
    /// (the route's, its listener's or its Gateway's), by client address only — as in
    /// Envoy Gateway, the only principal a connection has. A rule with any other
    /// condition cannot match a connection and is left out; the policy's other features
    /// do not apply to TCP. A policy that cannot be used lets nobody connect. Nil: anyone.
    static func streamAuthorization(route: ObjectKey, gateway: ObjectKey, listener: PreparedListener, context: Context)
        -> AuthorizationPlan?
    {
        guard let index = context.routePolicies.byKind.first(where: { $0.kind == .securityPolicy })?.index, !index.isEmpty
        else { return nil }
        let winners = winners(along: levels(route: route, ruleName: nil, gateway: gateway, listener: listener), in: index)
        guard let (_, policy) = assignment(of: winners).first(where: { $0.feature == "authorization" }) else { return nil }
        guard policy.problem == nil, case .authorization(let plan)? = policy.effects["authorization"] else {
            return AuthorizationPlan(rules: [], defaultAllow: false)
        }
        let rules = plan.rules.filter { rule in rule.methods.isEmpty && rule.path == nil && rule.headers.isEmpty && rule.jwt == nil }
        return AuthorizationPlan(rules: rules, defaultAllow: plan.defaultAllow)
    }
}
