/// A Pod: the parts the mesh reads (who it is, where it runs, what it serves).
public struct Pod: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var serviceAccountName: String?
        public var nodeName: String?
        public var hostNetwork: Bool?
        public var containers: [Container]?

        public init(serviceAccountName: String? = nil, nodeName: String? = nil, containers: [Container]? = nil) {
            self.serviceAccountName = serviceAccountName
            self.nodeName = nodeName
            self.containers = containers
        }
    }

    public struct Container: Codable, Sendable, Hashable {
        public var name: String?
        public var ports: [ContainerPort]?
    }

    public struct ContainerPort: Codable, Sendable, Hashable {
        public var name: String?
        public var containerPort: Int
        public var `protocol`: String?
    }

    public struct Status: Codable, Sendable, Hashable {
        public var podIP: String?
        public var podIPs: [PodIP]?
        public var phase: String?

        public init(podIP: String? = nil, phase: String? = nil) {
            self.podIP = podIP
            self.phase = phase
        }
    }

    public struct PodIP: Codable, Sendable, Hashable {
        public var ip: String
    }

    /// The service account the Pod runs as (`default` when the spec names none, as
    /// Kubernetes fills it in).
    public var serviceAccount: String { spec?.serviceAccountName ?? "default" }

    /// The Pod's addresses: `status.podIPs`, else `status.podIP`.
    public var addresses: [String] {
        if let all = status?.podIPs, !all.isEmpty { return all.map(\.ip) }
        return status?.podIP.map { [$0] } ?? []
    }

    /// The number of a Service's `targetPort` on this Pod: a number as it is, a name
    /// through its containers' named ports (nil when none has that name).
    public func port(_ target: PortNumberOrName) -> Int? {
        switch target {
        case .number(let number): return number
        case .name(let name):
            for container in spec?.containers ?? [] {
                if let port = (container.ports ?? []).first(where: { $0.name == name }) { return port.containerPort }
            }
            return nil
        }
    }

    /// Whether the Pod has finished (`Succeeded` or `Failed`): it serves nothing.
    public var hasFinished: Bool { status?.phase == "Succeeded" || status?.phase == "Failed" }
}

/// The labels and annotations that put workloads in the mesh and shape what their
/// proxies get ([docs/mesh.md](docs/mesh.md)).
public enum MeshLabels {
    /// On a Namespace: `enabled` puts its Pods in the mesh. On a Pod: `disabled` leaves
    /// it out, `enabled` puts it in whatever its namespace says.
    public static let mesh = "chancery.dev/mesh"
    /// On a Pod or Namespace: more Services its proxy gets, beyond its own namespace's
    /// and those its routes name — comma-separated `namespace/name`, `namespace/*` or `*/*`.
    public static let egress = "chancery.dev/mesh-egress"
    /// On a Pod or Namespace: `passthrough` (default) lets traffic to addresses outside
    /// the mesh through unchanged; `blocked` closes such connections.
    public static let outbound = "chancery.dev/mesh-outbound"
    /// On a Pod or Namespace: how its sidecar takes inbound connections — `permissive`
    /// (default: mutual TLS and plaintext), `strict` (mutual TLS only) or `disabled`
    /// (plaintext only; callers do not use mutual TLS to it).
    public static let mutualTLS = "chancery.dev/mesh-mtls"
    /// On a Pod or Namespace: `sidecar` (default) or `node` — the Pod's traffic goes
    /// through its node's node-level proxy, which does not use mutual TLS, so callers
    /// reach it in plaintext.
    public static let proxy = "chancery.dev/mesh-proxy"
}
