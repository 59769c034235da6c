/// Status as Kubernetes and the Gateway API spell it: conditions, a Gateway's listeners,
/// a route's parents and a policy's ancestors. The translator writes these values;
/// the Kubernetes source writes them back to the cluster; the admin endpoint shows them.

/// A condition's `type`.
public struct ConditionType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let accepted = Self(rawValue: "Accepted")
    public static let resolvedRefs = Self(rawValue: "ResolvedRefs")
    public static let programmed = Self(rawValue: "Programmed")
    public static let conflicted = Self(rawValue: "Conflicted")
    /// A route is served without some of its rules (they say why).
    public static let partiallyInvalid = Self(rawValue: "PartiallyInvalid")
    /// A Gateway accepts clients whose certificates do not validate.
    public static let insecureFrontendValidationMode = Self(rawValue: "InsecureFrontendValidationMode")
    /// A policy that more specific policies override on some of its targets (Envoy
    /// Gateway's condition; it stays accepted).
    public static let overridden = Self(rawValue: "Overridden")
}

/// A condition's `reason`: the Gateway API's reasons, and Chancery's where the spec
/// leaves one to the implementation.
public struct ConditionReason: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    // Positive reasons, one per condition type.
    public static let accepted = Self(rawValue: "Accepted")
    public static let resolvedRefs = Self(rawValue: "ResolvedRefs")
    public static let programmed = Self(rawValue: "Programmed")
    /// No controller has taken the object yet (what the API server starts it with).
    public static let pending = Self(rawValue: "Pending")
    public static let noConflicts = Self(rawValue: "NoConflicts")

    // Gateways and listeners.
    public static let invalid = Self(rawValue: "Invalid")
    /// Chancery's own: a proxy rejected what this object produced, so it is served
    /// without it (or as it was before) until it changes.
    public static let quarantined = Self(rawValue: "Quarantined")
    public static let listenersNotValid = Self(rawValue: "ListenersNotValid")
    public static let unsupportedAddress = Self(rawValue: "UnsupportedAddress")
    public static let addressNotAssigned = Self(rawValue: "AddressNotAssigned")
    /// A requested address the proxies cannot listen on.
    public static let addressNotUsable = Self(rawValue: "AddressNotUsable")
    public static let invalidParameters = Self(rawValue: "InvalidParameters")
    public static let unsupportedProtocol = Self(rawValue: "UnsupportedProtocol")
    /// The listener's port cannot be used on the proxies (Gateway API's own reason).
    public static let portUnavailable = Self(rawValue: "PortUnavailable")
    public static let protocolConflict = Self(rawValue: "ProtocolConflict")
    public static let hostnameConflict = Self(rawValue: "HostnameConflict")
    public static let invalidCertificateRef = Self(rawValue: "InvalidCertificateRef")
    public static let invalidRouteKinds = Self(rawValue: "InvalidRouteKinds")
    public static let invalidCACertificateKind = Self(rawValue: "InvalidCACertificateKind")
    public static let invalidClientCertificateRef = Self(rawValue: "InvalidClientCertificateRef")
    public static let configurationChanged = Self(rawValue: "ConfigurationChanged")

    // ListenerSets.
    /// The parent Gateway's `allowedListeners` does not admit the ListenerSet.
    public static let notAllowed = Self(rawValue: "NotAllowed")
    /// The parent Gateway is not accepted.
    public static let parentNotAccepted = Self(rawValue: "ParentNotAccepted")

    // Routes.
    public static let noMatchingParent = Self(rawValue: "NoMatchingParent")
    public static let notAllowedByListeners = Self(rawValue: "NotAllowedByListeners")
    public static let noMatchingListenerHostname = Self(rawValue: "NoMatchingListenerHostname")
    /// A newer route lost what it asked for (a hostname, a TCP listener) to an older one.
    public static let conflicted = Self(rawValue: "Conflicted")
    public static let refNotPermitted = Self(rawValue: "RefNotPermitted")
    public static let invalidKind = Self(rawValue: "InvalidKind")
    public static let backendNotFound = Self(rawValue: "BackendNotFound")
    public static let unsupportedValue = Self(rawValue: "UnsupportedValue")
    /// A backend whose BackendTLSPolicy cannot be used (TLS to it fails closed).
    public static let invalidBackendTLSPolicy = Self(rawValue: "InvalidBackendTLSPolicy")

    // Policies (GEP-713) and BackendTLSPolicy.
    public static let noValidCACertificate = Self(rawValue: "NoValidCACertificate")
    public static let invalidCACertificateRef = Self(rawValue: "InvalidCACertificateRef")
    /// A policy names a section (listener, rule) its target does not have.
    public static let targetNotFound = Self(rawValue: "TargetNotFound")
    public static let overridden = Self(rawValue: "Overridden")
}

/// A condition's `status`.
public enum ConditionStatus: String, Codable, Hashable, Sendable {
    case `true` = "True"
    case `false` = "False"
    case unknown = "Unknown"
}

/// A status condition as Kubernetes and the Gateway API spell it.
public struct Condition: Codable, Hashable, Sendable {
    public var type: ConditionType
    public var status: ConditionStatus
    public var reason: ConditionReason
    public var message: String
    public var observedGeneration: Int?

    public init(_ type: ConditionType, _ status: Bool, reason: ConditionReason, message: String, generation: Int?) {
        self.type = type
        self.status = status ? .true : .false
        self.reason = reason
        self.message = message
        self.observedGeneration = generation
    }

    public var isTrue: Bool { status == .true }
}

/// A Gateway listener's status.
public struct ListenerStatus: Codable, Hashable, Sendable {
    public var name: String
    public var attachedRoutes: Int
    public var supportedKinds: [Gateway.RouteGroupKind]
    public var conditions: [Condition]

    public init(name: String, attachedRoutes: Int, supportedKinds: [Gateway.RouteGroupKind], conditions: [Condition]) {
        self.name = name
        self.attachedRoutes = attachedRoutes
        self.supportedKinds = supportedKinds
        self.conditions = conditions
    }
}

/// A route's status towards one parent (one Gateway, possibly one listener of it).
public struct RouteParentStatus: Codable, Hashable, Sendable {
    public var parentRef: ParentReference
    public var controllerName: String
    public var conditions: [Condition]

    public init(parentRef: ParentReference, controllerName: String, conditions: [Condition]) {
        self.parentRef = parentRef
        self.controllerName = controllerName
        self.conditions = conditions
    }
}

/// A policy's status towards one ancestor (GEP-713's PolicyAncestorStatus): for a
/// BackendTLSPolicy, a Gateway whose routes send to the Service it targets.
public struct PolicyAncestorStatus: Codable, Hashable, Sendable {
    public var ancestorRef: ParentReference
    public var controllerName: String
    public var conditions: [Condition]

    public init(ancestorRef: ParentReference, controllerName: String, conditions: [Condition]) {
        self.ancestorRef = ancestorRef
        self.controllerName = controllerName
        self.conditions = conditions
    }
}

/// The status Chancery computes for one object.
public struct ObjectStatus: Codable, Hashable, Sendable {
    public var conditions: [Condition] = []
    /// Gateways and ListenerSets.
    public var listeners: [ListenerStatus]?
    /// Gateways only: how many ListenerSets attached.
    public var attachedListenerSets: Int?
    /// Gateways only: the addresses it is served on (none when it is served on every
    /// address of the proxies, or not at all).
    public var addresses: [Gateway.Address]?
    /// Routes only: one entry per parent that is a Gateway of Chancery's.
    public var parents: [RouteParentStatus]?
    /// Policies only: one entry per ancestor the policy takes effect for.
    public var ancestors: [PolicyAncestorStatus]?
    /// GatewayClasses only: the conformance features implemented, sorted.
    public var supportedFeatures: [FeatureName]?
    /// An Ingress's `status.loadBalancer.ingress`: where its proxies are reached (what
    /// `kubectl get ingress` shows as ADDRESS). An Ingress's status has nothing else; its
    /// conditions are Chancery's, shown by `validate` and the admin endpoint.
    public var loadBalancer: [LoadBalancerIngress]?

    public init(
        conditions: [Condition] = [], listeners: [ListenerStatus]? = nil, attachedListenerSets: Int? = nil,
        addresses: [Gateway.Address]? = nil, parents: [RouteParentStatus]? = nil, ancestors: [PolicyAncestorStatus]? = nil,
        supportedFeatures: [FeatureName]? = nil, loadBalancer: [LoadBalancerIngress]? = nil
    ) {
        self.loadBalancer = loadBalancer
        self.conditions = conditions
        self.listeners = listeners
        self.attachedListenerSets = attachedListenerSets
        self.addresses = addresses
        self.parents = parents
        self.ancestors = ancestors
        self.supportedFeatures = supportedFeatures
    }

    /// Every condition: the object's, its listeners', towards its parents and ancestors.
    public var allConditions: [Condition] {
        conditions + (listeners ?? []).flatMap(\.conditions) + (parents ?? []).flatMap(\.conditions)
            + (ancestors ?? []).flatMap(\.conditions)
    }

    /// Whether anything about the object was refused: a False Accepted or ResolvedRefs,
    /// at the object, on a listener, or towards a parent or ancestor; or rules dropped.
    public var isRejected: Bool {
        allConditions.contains {
            (($0.type == .accepted || $0.type == .resolvedRefs) && !$0.isTrue) || ($0.type == .partiallyInvalid && $0.isTrue)
        }
    }
}

/// One entry of `status.loadBalancer.ingress`: an IP address or a host name.
public struct LoadBalancerIngress: Codable, Hashable, Sendable {
    public var ip: String?
    public var hostname: String?

    /// An IPv4 or IPv6 address becomes `ip`, anything else `hostname`.
    public init(_ address: String) {
        let isIP = address.contains(":") || address.split(separator: ".").count == 4 && address.split(separator: ".").allSatisfy { UInt8($0) != nil }
        ip = isIP ? address : nil
        hostname = isIP ? nil : address
    }
}

/// The `controllerName` of the GatewayClasses Chancery serves, and the name its entries in
/// routes' and policies' status carry.
public let chanceryControllerName = "chancery.dev/gateway-controller"
