import GatewayModel
import IR

/// Everything the first stage settled before proxy groups are planned: the Gateways of
/// Chancery's classes with their listeners validated, the routes attached to them, and
/// the indexes of this translation.
struct World {
    /// Chancery's GatewayClasses, by name.
    let classes: [GatewayClass]
    /// Their Gateways, oldest first.
    let gateways: [PreparedGateway]
    let attachments: Attachments
    let context: Context
    /// The mesh's trust domain: workload identities are `spiffe://<it>/ns/…/sa/…`.
    var trustDomain = Translator.defaultTrustDomain
}

/// Something a proxy group could not serve as its objects asked, found while planning
/// it: a listener that another one's port or hostname shuts out, a TLS hostname an
/// older route holds. Status reports each one on the object concerned.
struct Finding: Equatable, Sendable {
    enum Subject: Hashable, Sendable {
        /// A Gateway listener.
        case listener(gateway: ObjectKey, name: String)
        /// A route, as attached to one listener.
        case route(ObjectKey, gateway: ObjectKey, listener: String)
    }

    /// The proxy group it concerns.
    let group: String
    let subject: Subject
    let verdict: Verdict
    /// For a route: whether nothing of it is left on that listener in that group.
    var total = true
}

/// The proxy groups made so far and what was found while planning them.
struct ProxyGroups {
    /// By group name.
    var plans: [String: ProxyPlan] = [:]
    /// Groups whose plan is another group's (a class with one Gateway): group → that group.
    var identical: [String: String] = [:]
    var findings: [Finding] = []
    /// The groups each Gateway is served in, in the order they were made.
    var servedIn: [ObjectKey: [String]] = [:]
    /// Mesh proxy groups: whom each serves.
    var mesh: [String: MeshProxy] = [:]
    /// What could not be used as written, for the warnings.
    var warnings: [String] = []
    /// The status of objects only a producer reads (the mesh's CiliumNetworkPolicies and
    /// Istio AuthorizationPolicies).
    var statuses: [ObjectKey: ObjectStatus] = [:]

    mutating func add(_ group: String, plan: ProxyPlan, serving gateways: [ObjectKey]) {
        plans[group] = plan
        for gateway in gateways { servedIn[gateway, default: []].append(group) }
    }
}

/// A way of dividing what Chancery serves into proxy groups: one group per Gateway (a
/// dedicated fleet), one per GatewayClass (a shared proxy). Producers run in order
/// (``GroupProducers/all``); each adds its groups. A new kind of proxy group (per mesh
/// workload, per node) is one more producer in that list.
protocol GroupProducer: Sendable {
    func produce(from world: World, into groups: inout ProxyGroups)
}

enum GroupProducers {
    static let all: [any GroupProducer] = [PerGatewayGroups(), PerClassGroups(), MeshGroups()]
}

/// `namespace/name`: one Gateway's own proxies.
struct PerGatewayGroups: GroupProducer {
    func produce(from world: World, into groups: inout ProxyGroups) {
        for gateway in world.gateways where gateway.isServed {
            let plan = GatewayPlanner.plan(
                group: gateway.group, gateways: [gateway], world: world, findings: &groups.findings)
            groups.add(gateway.group, plan: plan, serving: [gateway.key])
        }
    }
}

/// A GatewayClass name: one proxy serving every Gateway of the class, merged. Where the
/// Gateways disagree (two protocols on a port, one SNI name twice, two TCP listeners on
/// a port) the older Gateway keeps it and the other listener is reported.
struct PerClassGroups: GroupProducer {
    func produce(from world: World, into groups: inout ProxyGroups) {
        for gatewayClass in world.classes {
            let name = gatewayClass.metadata.name
            let members = world.gateways.filter { $0.className == name && $0.isServed }
            if members.count == 1, let only = groups.plans[members[0].group] {
                // A class with one Gateway serves exactly that Gateway's resources.
                groups.add(name, plan: only, serving: [members[0].key])
                groups.identical[name] = members[0].group
            } else {
                let plan = GatewayPlanner.plan(group: name, gateways: members, world: world, findings: &groups.findings)
                groups.add(name, plan: plan, serving: members.map(\.key))
            }
        }
    }
}
