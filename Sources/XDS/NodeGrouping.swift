import EnvoyAPI

/// Which proxy group a connecting Envoy belongs to, worked out from the node it announces
/// in its first request (go-control-plane's `NodeHash`). The xDS server asks once per
/// stream and serves that group's snapshot; the cache knows groups only by name.
///
/// Chancery's Gateway proxies say their group in `node.cluster` (``ClusterGrouping``,
/// what `chancery bootstrap --proxy` writes). Mesh proxies announce what they serve in
/// their node metadata — a sidecar its Pod, a node-level proxy its node —, read by
/// ``MeshGrouping``, the grouping `serve` uses.
public protocol NodeGrouping: Sendable {
    /// The group of `node`; a group with no snapshot gets an empty, valid one.
    func group(of node: Envoy_Config_Core_V3_Node) -> String
}

/// The group is `node.cluster`.
public struct ClusterGrouping: NodeGrouping {
    public init() {}

    public func group(of node: Envoy_Config_Core_V3_Node) -> String { node.cluster }
}


/// Mesh proxies name what they serve in their node metadata (what `chancery bootstrap
/// --sidecar` and `--node-proxy` write): a sidecar its Pod (`chancery.dev/pod`:
/// `namespace/name`, group `sidecar:namespace/name`), a node-level proxy its node
/// (`chancery.dev/node`, group `node:NAME`). Every other proxy's group is `node.cluster`.
public struct MeshGrouping: NodeGrouping {
    public static let podKey = "chancery.dev/pod"
    public static let nodeKey = "chancery.dev/node"

    public init() {}

    public func group(of node: Envoy_Config_Core_V3_Node) -> String {
        if case .stringValue(let pod)? = node.metadata.fields[Self.podKey]?.kind, !pod.isEmpty { return Self.sidecarGroup(pod) }
        if case .stringValue(let name)? = node.metadata.fields[Self.nodeKey]?.kind, !name.isEmpty { return Self.nodeGroup(name) }
        return node.cluster
    }

    /// A sidecar's group: `sidecar:namespace/name`. (Translation names the groups it
    /// plans the same way, `MeshPlanner`; it cannot import this module.)
    public static func sidecarGroup(_ pod: String) -> String { sidecarPrefix + pod }
    /// A node-level proxy's group: `node:NAME`.
    public static func nodeGroup(_ node: String) -> String { nodePrefix + node }
    public static let sidecarPrefix = "sidecar:"
    public static let nodePrefix = "node:"
}
