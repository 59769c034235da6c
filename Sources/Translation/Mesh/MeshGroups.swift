import GatewayModel
import IR

/// Mesh proxy groups: one per mesh Pod (its sidecar, `sidecar:namespace/pod`) and one per
/// node running mesh Pods (the node-level proxy serving all of them, `node:NODE`).
/// Both are planned for every workload; which one runs is the operator's choice
/// (docs/mesh.md).
struct MeshGroups: GroupProducer {
    func produce(from world: World, into groups: inout ProxyGroups) {
        // Without Pods there is no mesh (GAMMA routes still get their status).
        guard world.context.set.count(of: .pod) > 0 else {
            // CiliumNetworkPolicies and AuthorizationPolicies still get their status.
            let policies = MeshPolicies(set: world.context.set, workloads: [], trustDomain: world.trustDomain)
            groups.statuses.merge(policies.statuses) { $1 }
            return
        }
        let mesh = MeshWorld(world: world, trustDomain: world.trustDomain)
        groups.warnings += mesh.warnings
        groups.statuses.merge(mesh.policies.statuses) { $1 }
        guard !mesh.workloads.isEmpty else { return }
        let memo = MeshPlanner.OutboundMemo()
        for workload in mesh.workloads {
            let group = MeshPlanner.sidecarGroup(workload.key)
            let plan = MeshPlanner.plan(group: group, kind: .sidecar, workloads: [workload], mesh: mesh, world: world, memo: memo)
            groups.plans[group] = plan
            groups.mesh[group] = MeshProxy(kind: .sidecar, pod: workload.key, node: nil, workloads: [workload], plan: plan)
        }
        let byNode = Dictionary(grouping: mesh.workloads.filter { $0.node != nil }) { $0.node! }
        for node in byNode.keys.sorted() {
            let group = MeshPlanner.nodeGroup(node)
            let workloads = byNode[node]!
            let plan = MeshPlanner.plan(group: group, kind: .node, workloads: workloads, mesh: mesh, world: world, memo: memo)
            groups.plans[group] = plan
            groups.mesh[group] = MeshProxy(kind: .node, pod: nil, node: node, workloads: workloads, plan: plan)
        }
    }
}

/// Whom a mesh proxy group serves, for the admin endpoint.
public struct MeshProxy: Sendable, Equatable, Encodable {
    public enum Kind: String, Sendable, Encodable { case sidecar, node }

    public struct Workload: Sendable, Equatable, Encodable {
        /// `namespace/name`.
        public var pod: String
        public var addresses: [String]
        /// The SPIFFE ID: `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
        public var identity: String
        /// Ports it serves (inbound chains).
        public var ports: [Int]
        /// How its sidecar takes inbound connections: `permissive`, `strict` or
        /// `disabled` (`disabled` for a Pod its node-level proxy serves).
        public var mutualTLS: String
    }

    public var kind: Kind
    /// A sidecar's Pod (`namespace/name`).
    public var pod: String?
    /// A node-level proxy's node.
    public var node: String?
    public var workloads: [Workload]
    /// The Services (`namespace/name:port`) its outbound listener routes, each once.
    public var services: [String]
    public var routeTables: Int
    public var clusters: Int

    init(kind: Kind, pod: ObjectKey?, node: String?, workloads: [MeshWorkload], plan: ProxyPlan) {
        self.kind = kind
        self.pod = pod.map { "\($0.namespace)/\($0.name)" }
        self.node = node
        self.workloads = workloads.map { workload in
            Workload(
                pod: "\(workload.namespace)/\(workload.key.name)", addresses: workload.addresses, identity: workload.identity,
                ports: workload.inbound.map(\.port), mutualTLS: workload.mutualTLS.rawValue)
        }
        var services: Set<String> = []
        var tables = 0
        for listener in plan.listeners {
            guard case .mesh(let mesh) = listener.traffic else { continue }
            tables += listener.traffic.routeTables.count
            if mesh.direction == .outbound {
                for chain in mesh.chains { services.insert(MeshPlanner.serviceName(ofChain: chain.name)) }
            }
        }
        self.services = services.sorted()
        self.routeTables = tables
        self.clusters = plan.clusters.count
    }
}
