import GatewayModel

/// A status condition as Kubernetes and the Gateway API spell it.
public struct Condition: Codable, Hashable, Sendable {
    public var type: String
    /// "True", "False" or "Unknown".
    public var status: String
    public var reason: String
    public var message: String
    public var observedGeneration: Int?

    public init(_ type: String, _ status: Bool, reason: String, message: String, generation: Int?) {
        self.type = type
        self.status = status ? "True" : "False"
        self.reason = reason
        self.message = message
        self.observedGeneration = generation
    }

    public var isTrue: Bool { status == "True" }
}

/// A Gateway listener's status.
public struct ListenerStatus: Codable, Hashable, Sendable {
    public var name: String
    public var attachedRoutes: Int
    public var supportedKinds: [Gateway.RouteGroupKind]
    public var conditions: [Condition]
}

/// A route's status towards one parent (one Gateway, possibly one listener of it).
public struct RouteParentStatus: Codable, Hashable, Sendable {
    public var parentRef: ParentReference
    public var controllerName: String
    public var conditions: [Condition]
}

/// The status Chancery computes for one object.
public struct ObjectStatus: Codable, Hashable, Sendable {
    public var conditions: [Condition] = []
    /// Gateways only.
    public var listeners: [ListenerStatus]?
    /// Routes only: one entry per parent that is a Gateway of Chancery's.
    public var parents: [RouteParentStatus]?
    /// Policies only (BackendTLSPolicy): one entry per Gateway the policy takes effect for.
    public var ancestors: [RouteParentStatus]?

    public init(
        conditions: [Condition] = [], listeners: [ListenerStatus]? = nil, parents: [RouteParentStatus]? = nil,
        ancestors: [RouteParentStatus]? = nil
    ) {
        self.conditions = conditions
        self.listeners = listeners
        self.parents = parents
        self.ancestors = ancestors
    }

    /// Whether anything about the object was refused: a False Accepted or ResolvedRefs,
    /// at the object, on a listener, or towards a parent.
    public var isRejected: Bool {
        let all =
            conditions + (listeners ?? []).flatMap(\.conditions) + (parents ?? []).flatMap(\.conditions)
            + (ancestors ?? []).flatMap(\.conditions)
        return all.contains { ($0.type == "Accepted" || $0.type == "ResolvedRefs") && !$0.isTrue }
    }
}
