import GatewayModel
import IR

/// Where a policy can attach (GEP-713): an object, or one named section of it — a
/// Gateway listener, a route rule, a Service port.
struct PolicyTarget: Hashable, Sendable {
    let object: ObjectKey
    /// The listener, rule or port name; nil for the whole object.
    let section: String?

    init(_ object: ObjectKey, section: String? = nil) {
        self.object = object
        self.section = section
    }
}

/// A kind of policy: which objects it reads, what each attaches to, and what it does to
/// the plan — the hooks the translator calls for every kind in ``PolicyKinds/all``.
///
/// A new kind is one file conforming to this (its targets, its effects, its status),
/// one entry in ``PolicyKinds/all``, a field in ``Context`` holding its index, the IR
/// fields its effects fill and, when Envoy needs a filter for it, one `HTTPFilter` file
/// in EnvoyBuild.
protocol PolicyKind: Sendable {
    associatedtype Policy: Sendable
    static var kind: Kind { get }
    static func policies(in set: ResourceSet) -> [Policy]
    static func metadata(of policy: Policy) -> ObjectMeta
    /// The objects (and sections) the policy names, resolved in its namespace.
    static func targets(of policy: Policy) -> [PolicyTarget]

    /// Why a route may not send traffic to a Service port (its policy fails closed); nil
    /// when it may.
    static func refusal(of target: ServicePort, context: Context) -> Verdict?
    /// Applies the policy that governs a Service port to its cluster, adding the secrets
    /// it names.
    static func apply(to cluster: inout ClusterPlan, for target: ServicePort, secrets: inout [String: SecretPlan], context: Context)
    /// Every policy's status (GEP-713 ancestors), once routes are attached.
    static func statuses(in world: World) -> [ObjectKey: ObjectStatus]
}

/// Every policy kind the translator applies.
enum PolicyKinds {
    static let all: [any PolicyKind.Type] = [BackendTLS.self]

    /// Whether a policy changes the cluster of this Service port (so that it cannot
    /// share a cluster with other ports).
    static func shapeCluster(of target: ServicePort, context: Context) -> Bool {
        let plain = ClusterPlan(name: target.name, kind: .reject, origins: [], endpointOrigins: [])
        var shaped = plain
        var secrets: [String: SecretPlan] = [:]
        for kind in all { kind.apply(to: &shaped, for: target, secrets: &secrets, context: context) }
        return shaped.settings != plain.settings
    }
}

extension PolicyKind {
    static func refusal(of target: ServicePort, context: Context) -> Verdict? { nil }
    static func apply(to cluster: inout ClusterPlan, for target: ServicePort, secrets: inout [String: SecretPlan], context: Context) {}

    /// Every policy of this kind, indexed by what it targets.
    static func index(_ set: ResourceSet) -> PolicyIndex<Policy> {
        PolicyIndex(
            policies(in: set).map { policy in
                let metadata = metadata(of: policy)
                return PolicyIndex.Entry(
                    key: ObjectKey(kind, namespace: metadata.namespace ?? "default", name: metadata.name), metadata: metadata,
                    policy: policy, targets: targets(of: policy))
            })
    }

    /// A targetRef's object in the policy's namespace, when it names a kind Chancery knows.
    static func target(group: String, kind: String, name: String, sectionName: String?, namespace: String) -> PolicyTarget? {
        guard let known = Kind(rawValue: kind), known.group == group else { return nil }
        return PolicyTarget(ObjectKey(known, namespace: namespace, name: name), section: sectionName)
    }
}

/// Policies of one kind by the object they target, answering "which policies apply
/// here, most specific first". Precedence follows GEP-713: a policy naming a section
/// (listener, rule, port) beats one naming the whole object, which beats one naming an
/// object further up (a route's Gateway); among policies at the same level the oldest
/// wins and the others are conflicted.
struct PolicyIndex<Policy: Sendable>: Sendable {
    struct Entry: Sendable {
        let key: ObjectKey
        let metadata: ObjectMeta
        let policy: Policy
        let targets: [PolicyTarget]
    }

    private var byTarget: [PolicyTarget: [Entry]] = [:]
    /// The objects any policy targets, sections aside (a quick "is anything attached here").
    private var objects: Set<ObjectKey> = []
    /// Every policy of the kind, attached or not.
    let all: [Entry]

    init(_ entries: [Entry]) {
        all = entries
        for entry in entries {
            for target in Set(entry.targets) {
                byTarget[target, default: []].append(entry)
                objects.insert(target.object)
            }
        }
        for target in byTarget.keys {
            byTarget[target]!.sort { Ordering.older($0.metadata, than: $1.metadata) }
        }
    }

    var isEmpty: Bool { byTarget.isEmpty }

    /// Whether any policy targets the object or one of its sections.
    func hasPolicies(for object: ObjectKey) -> Bool { objects.contains(object) }

    /// Policies attached along `levels` (most specific first: a section, its object, the
    /// object's parent…), most specific first and oldest first within a level; a policy
    /// attached at several levels is listed at its most specific one.
    func candidates(along levels: [PolicyTarget]) -> [Entry] {
        var seen: Set<ObjectKey> = []
        var result: [Entry] = []
        for level in levels {
            for entry in byTarget[level] ?? [] where seen.insert(entry.key).inserted {
                result.append(entry)
            }
        }
        return result
    }

    /// The oldest policy naming exactly this target (the one that counts there).
    func first(at level: PolicyTarget) -> Entry? { byTarget[level]?.first }

    /// The policies naming exactly this target, oldest first.
    func entries(at level: PolicyTarget) -> [Entry] { byTarget[level] ?? [] }

    /// The policy that applies along `levels`, if any.
    func effective(along levels: [PolicyTarget]) -> Entry? {
        for level in levels {
            if let first = byTarget[level]?.first { return first }
        }
        return nil
    }
}

/// GEP-713 status for policies: per policy, an entry per ancestor (the Gateway the
/// policy takes effect through) with its conditions.
struct PolicyAncestry {
    private var entries: [ObjectKey: [ObjectKey: [Condition]]] = [:]

    /// Records the conditions of `policy` towards the Gateway `ancestor`.
    mutating func record(_ policy: ObjectKey, ancestor: ObjectKey, conditions: [Condition]) {
        entries[policy, default: [:]][ancestor] = conditions
    }

    /// Every policy's status, ancestors in key order.
    var statuses: [ObjectKey: ObjectStatus] {
        entries.mapValues { byAncestor in
            ObjectStatus(
                ancestors: byAncestor.keys.sorted().map { gateway in
                    var ref = ParentReference(name: gateway.name, namespace: gateway.namespace)
                    ref.group = gateway.kind.group
                    ref.kind = gateway.kind.rawValue
                    return PolicyAncestorStatus(
                        ancestorRef: ref, controllerName: chanceryControllerName, conditions: byAncestor[gateway]!)
                })
        }
    }
}
