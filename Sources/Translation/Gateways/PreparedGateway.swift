import GatewayModel

/// A condition's outcome before it is written: whether it holds, why, and in words.
struct Verdict: Hashable, Sendable {
    var holds: Bool
    var reason: ConditionReason
    var message: String

    init(_ holds: Bool, _ reason: ConditionReason, _ message: String) {
        self.holds = holds
        self.reason = reason
        self.message = message
    }

    func condition(_ type: ConditionType, generation: Int?) -> Condition {
        Condition(type, holds, reason: reason, message: message, generation: generation)
    }
}

/// One Gateway listener after validation, with the routes that attach to it: written in
/// the Gateway, or in a ListenerSet attached to it (GEP-1713).
struct PreparedListener: Equatable {
    let spec: Gateway.Listener
    /// The ListenerSet it comes from; nil for the Gateway's own.
    var listenerSet: ObjectKey? = nil
    var accepted = Verdict(true, .accepted, "listener is valid")
    /// Why the listener cannot be served at all (another listener of its Gateway claims
    /// the same port with another protocol, or the same port and hostname).
    var conflict: Verdict?
    var invalidKinds: [String] = []
    var supportedKinds: [Gateway.RouteGroupKind] = []
    var attachedRoutes = 0
    /// The Secrets holding the listener's usable certificates (HTTPS, and TLS in
    /// Terminate mode).
    var certificates: [ObjectKey] = []
    /// Why a certificate reference could not be used.
    var certificateProblems: [Verdict] = []
    /// Certificates that are served but expire soon.
    var certificateWarnings: [String] = []
    /// HTTPS: the client certificates the Gateway's `tls.frontend` asks for here.
    var clientValidation: ClientValidation?

    /// Unique among the Gateway's listeners: a Gateway listener's name, or
    /// `namespace/listenerset/name` for a ListenerSet's (listener names have no `/`).
    var name: String {
        guard let listenerSet else { return spec.name }
        return "\(listenerSet.namespace)/\(listenerSet.name)/\(spec.name)"
    }

    /// How messages name it.
    var label: String {
        guard let listenerSet else { return "listener \(spec.name)" }
        return "ListenerSet \(listenerSet.namespace)/\(listenerSet.name) listener \(spec.name)"
    }

    /// The namespace that `allowedRoutes` `Same` and unqualified references mean: the
    /// ListenerSet's for its listeners.
    func home(in gateway: ObjectKey) -> String { listenerSet?.namespace ?? gateway.namespace }

    /// Whether this listener terminates TLS with certificates of its own.
    var terminatesTLS: Bool {
        spec.protocol == .https || (spec.protocol == .tls && (spec.tls?.mode ?? .terminate) == .terminate)
    }

    var isProgrammed: Bool { accepted.holds && conflict == nil && (!terminatesTLS || !certificates.isEmpty) }

    /// Served, with every reference resolved and every route kind it names supported.
    var isValid: Bool { isProgrammed && invalidKinds.isEmpty && certificateProblems.isEmpty }

    /// Route kinds this listener protocol can carry.
    static func routeKinds(for protocolType: ProtocolType) -> [Kind] {
        switch protocolType {
        case .http, .https: [.httpRoute, .grpcRoute]
        case .tls: [.tlsRoute]
        case .tcp: [.tcpRoute]
        case .udp: [.udpRoute]
        default: []
        }
    }
}

/// Client certificate validation on one HTTPS listener: the usable CA bundles, the
/// ConfigMaps they came from, and whether a client must present a valid certificate.
struct ClientValidation: Hashable {
    let bundlePEM: String
    let configMaps: [ObjectKey]
    let required: Bool
    /// The SDS name of the bundle: one per Gateway and port, as the spec configures it.
    let secretName: String
}

/// A Gateway of Chancery's, its listeners validated, ready for routes to attach.
struct PreparedGateway: Equatable {
    let gateway: Gateway
    let key: ObjectKey
    /// The IP address Envoy listens on: the Gateway's first `IPAddress`, else all.
    let bindAddress: String
    var listeners: [PreparedListener]
    /// Why the Gateway cannot be served at all: parameters Chancery does not read, an
    /// address it cannot use or must assign. `accepted` tells which condition says so.
    var refusal: Refusal?
    struct Refusal: Hashable {
        /// Whether the Gateway is still `Accepted` (its `Programmed` condition says why
        /// it is not served).
        let accepted: Bool
        let verdict: Verdict

        init(_ accepted: Bool, _ verdict: Verdict) {
            self.accepted = accepted
            self.verdict = verdict
        }
    }

    /// Fields Chancery reads but does not act on, for the `Accepted` message.
    var notes: [String] = []
    /// The Secret whose certificate TLS to backends presents (`tls.backend`), checked.
    var backendClientCertificate: ObjectKey?
    /// Why `tls.backend.clientCertificateRef` cannot be used (the Gateway's ResolvedRefs).
    var backendCertificateProblem: Verdict?
    /// How many ListenerSets it took (their listeners follow its own in `listeners`).
    var attachedListenerSets = 0
    /// The listeners written in the Gateway itself, which its status lists.
    var ownListeners: [PreparedListener] { listeners.filter { $0.listenerSet == nil } }

    /// Where Envoy listens for a Gateway without addresses: every address.
    static let anyAddress = "0.0.0.0"

    /// The proxy group of this Gateway's dedicated fleet: `namespace/name`.
    var group: String { "\(key.namespace)/\(key.name)" }
    var className: String { gateway.spec.gatewayClassName }
    /// Whether any of it is served.
    var isServed: Bool { refusal == nil }

    /// - Parameter classProblem: why its GatewayClass is not accepted, if it is not.
    init(gateway: Gateway, classProblem: String? = nil, context: Context) {
        self.gateway = gateway
        self.key = Translation.key(.gateway, gateway.metadata)
        let addresses = gateway.spec.addresses ?? []
        let ips = addresses.filter { ($0.type ?? .ipAddress) == .ipAddress }
        bindAddress = ips.first?.value.flatMap { $0.isEmpty ? nil : $0 } ?? Self.anyAddress
        let infrastructure = gateway.spec.infrastructure
        if let classProblem {
            refusal = Refusal(false, Verdict(false, .invalidParameters, classProblem))
        } else if let parameters = infrastructure?.parametersRef {
            refusal = Refusal(
                false,
                Verdict(
                    false, .invalidParameters,
                    "spec.infrastructure.parametersRef names \(parameters.kind) \(parameters.name) (group \(parameters.group.isEmpty ? "core" : parameters.group)); Chancery reads no parameters kind"
                )
            )
        } else if let other = addresses.first(where: { ($0.type ?? .ipAddress) != .ipAddress }) {
            refusal = Refusal(
                false,
                Verdict(false, .unsupportedAddress, "address type \(other.type ?? .ipAddress) is not supported; use IPAddress")
            )
        } else if let bad = ips.compactMap(\.value).first(where: { !$0.isEmpty && AddressRange.bytes(of: $0) == nil }) {
            refusal = Refusal(false, Verdict(false, .unsupportedAddress, "\(bad) is not an IP address (type IPAddress)"))
        } else if addresses.contains(where: { ($0.value ?? "").isEmpty }) {
            refusal = Refusal(
                true,
                Verdict(
                    false, .addressNotAssigned,
                    "an address without a value asks Chancery to assign one, and Chancery does not assign addresses: give the IP address Envoy should listen on"
                )
            )
        } else if let usable = context.gatewayAddresses,
            case let unusable = ips.compactMap(\.value).filter({ ip in !usable.contains { $0.contains(ip) } }),
            !unusable.isEmpty
        {
            refusal = Refusal(
                true,
                Verdict(
                    false, .addressNotUsable,
                    "\(unusable.joined(separator: ", ")) \(unusable.count == 1 ? "is not an address" : "are not addresses") the proxies can listen on (--gateway-addresses \(usable.map(\.description).joined(separator: ",")))"
                )
            )
        }
        if let ref = gateway.spec.tls?.backend?.clientCertificateRef {
            switch Self.resolveSecret(ref, field: "tls.backend.clientCertificateRef", prefixed: true, owner: key, context: context) {
            case .success(let resolved): backendClientCertificate = resolved.key
            case .failure(let problem):
                backendCertificateProblem = Verdict(
                    false, problem.reason == .refNotPermitted ? .refNotPermitted : .invalidClientCertificateRef, problem.message)
            }
        }
        if ips.count > 1 {
            notes.append(
                "only the first address (\(bindAddress)) is listened on, not \(ips.dropFirst().compactMap(\.value).joined(separator: ", "))")
        }
        if !(infrastructure?.labels ?? [:]).isEmpty || !(infrastructure?.annotations ?? [:]).isEmpty {
            notes.append("spec.infrastructure labels and annotations are not applied: Chancery creates no resources for Gateways")
        }
        let key = self.key
        var listeners = gateway.spec.listeners.map {
            Self.prepare($0, of: gateway, key: key, owner: key, context: context)
        }
        // Conflicts among valid listeners: one port carries one protocol, and one
        // hostname per port.
        for i in listeners.indices where listeners[i].accepted.holds {
            for j in listeners.indices where j != i && listeners[j].accepted.holds {
                if let conflict = Self.conflict(listeners[i], with: listeners[j]) { listeners[i].conflict = conflict }
            }
        }
        self.listeners = listeners
    }

    /// Why listener `a` cannot share its port with `b`: another protocol, or the same
    /// hostname (a TCP or UDP port carries one listener).
    static func conflict(_ a: PreparedListener, with b: PreparedListener) -> Verdict? {
        let port = a.spec.port
        guard port == b.spec.port else { return nil }
        // Another team's ListenerSet is not named to this one (GEP-1713 asks not to
        // leak what a ListenerSet would not otherwise see).
        let otherTeam = a.listenerSet != nil && b.listenerSet != nil && a.listenerSet?.namespace != b.listenerSet?.namespace
        let label = otherTeam ? "a listener of another namespace's ListenerSet on the same Gateway" : b.label
        if a.spec.protocol != b.spec.protocol {
            return Verdict(true, .protocolConflict, "port \(port) is also used by \(label) with protocol \(b.spec.protocol)")
        }
        if a.spec.protocol == .tcp || a.spec.protocol == .udp {
            // No hostname tells their connections apart: one listener per port.
            return Verdict(
                true, .hostnameConflict,
                "\(label) uses the same \(a.spec.protocol) port \(port); a \(a.spec.protocol) port carries one listener")
        }
        if (a.spec.hostname ?? "") == (b.spec.hostname ?? "") {
            return Verdict(
                true, .hostnameConflict, "\(label) uses the same port \(port) and hostname \(a.spec.hostname ?? "(any)")")
        }
        return nil
    }

    /// Validates one listener written in the Gateway or, with `owner` a ListenerSet, in a
    /// ListenerSet attached to it: its protocol, certificates (looked up from the
    /// owner's namespace, with ReferenceGrants to the owner's kind), the Gateway's client
    /// validation for its port, and the route kinds it admits.
    static func prepare(
        _ spec: Gateway.Listener, of gateway: Gateway, key: ObjectKey, owner: ObjectKey, context: Context
    ) -> PreparedListener {
        var listener = PreparedListener(spec: spec, listenerSet: owner.kind == .listenerSet ? owner : nil)
        let kinds = PreparedListener.routeKinds(for: spec.protocol)
        if kinds.isEmpty {
            listener.accepted = Verdict(false, .unsupportedProtocol, "protocol \(spec.protocol) is not one Chancery serves")
        } else if context.reservedPorts.contains(spec.port) {
            // Envoy could not bind it: sent anyway, the proxy would reject the listener.
            listener.accepted = Verdict(
                false, .portUnavailable,
                "port \(spec.port) is taken on the proxies' hosts (serve --reserved-ports; 9901 is the Envoy admin port chancery bootstrap sets)"
            )
        }
        if listener.terminatesTLS {
            Self.resolveCertificates(&listener, owner: owner, context: context)
        }
        if let options = spec.tls?.options?.keys.sorted(), !options.isEmpty, listener.accepted.holds {
            listener.accepted.message += "; tls.options \(options.joined(separator: ", ")) are not recognised and have no effect"
        }
        if spec.protocol == .https, let frontend = gateway.spec.tls?.frontend {
            let config = frontend.perPort?.first { $0.port == spec.port }?.tls ?? frontend.default
            if let validation = config.validation {
                Self.resolveClientValidation(validation, for: &listener, gateway: key, context: context)
            }
        }
        if let requested = spec.allowedRoutes?.kinds, !requested.isEmpty {
            for kind in requested {
                if (kind.group ?? gatewayGroup) == gatewayGroup, kinds.contains(where: { $0.rawValue == kind.kind }) {
                    listener.supportedKinds.append(Gateway.RouteGroupKind(group: gatewayGroup, kind: kind.kind))
                } else {
                    listener.invalidKinds.append(kind.kind)
                }
            }
        } else {
            listener.supportedKinds = kinds.map { Gateway.RouteGroupKind(group: gatewayGroup, kind: $0.rawValue) }
        }
        return listener
    }

    /// Whether the Gateway lets clients in without a valid certificate somewhere.
    var insecureFrontend: Bool {
        guard let frontend = gateway.spec.tls?.frontend else { return false }
        return ([frontend.default] + (frontend.perPort ?? []).map(\.tls)).contains {
            $0.validation?.mode == .allowInsecureFallback
        }
    }

    /// The CA bundles client certificates are checked against: ConfigMaps (`ca.crt`) in
    /// the Gateway's namespace, or another one whose ReferenceGrant allows it. A bad
    /// reference makes the listener's `ResolvedRefs` False; when none is usable the
    /// listener is not accepted (`NoValidCACertificate`) rather than served without
    /// validation.
    static func resolveClientValidation(
        _ validation: Gateway.FrontendValidation, for listener: inout PreparedListener, gateway: ObjectKey, context: Context
    ) {
        var bundle = ""
        var configMaps: [ObjectKey] = []
        for ref in validation.caCertificateRefs {
            let namespace = ref.namespace ?? gateway.namespace
            let label = "\(namespace)/\(ref.name)"
            guard ref.group.isEmpty, ref.kind == Kind.configMap.rawValue else {
                listener.certificateProblems.append(
                    Verdict(
                        false, .invalidCACertificateKind,
                        "tls.frontend caCertificateRef \(ref.group.isEmpty ? "core" : ref.group)/\(ref.kind) \(ref.name): only ConfigMaps are supported"
                    ))
                continue
            }
            let configMapKey = ObjectKey(.configMap, namespace: namespace, name: ref.name)
            if namespace != gateway.namespace,
                !context.referenceGranted(from: .gateway, namespace: gateway.namespace, to: configMapKey)
            {
                listener.certificateProblems.append(
                    Verdict(
                        false, .refNotPermitted,
                        "ConfigMap \(label) is in another namespace and no ReferenceGrant there allows Gateways from \(gateway.namespace)"
                    ))
                continue
            }
            guard case .configMap(let configMap)? = context.set[configMapKey]?.object else {
                listener.certificateProblems.append(
                    Verdict(false, .invalidCACertificateRef, "tls.frontend CA ConfigMap \(label) does not exist"))
                continue
            }
            switch CertificateCheck.checkBundle(configMap) {
            case .success(let pem):
                bundle += pem
                configMaps.append(configMapKey)
            case .failure(let problem):
                listener.certificateProblems.append(
                    Verdict(false, .invalidCACertificateRef, "tls.frontend CA ConfigMap \(label): \(problem.message)"))
            }
        }
        guard !configMaps.isEmpty else {
            listener.accepted = Verdict(
                false, .noValidCACertificate,
                "no tls.frontend CA certificate can be used, and the listener is not served without client validation")
            return
        }
        listener.clientValidation = ClientValidation(
            bundlePEM: bundle, configMaps: configMaps, required: (validation.mode ?? .allowValidOnly) == .allowValidOnly,
            secretName: "\(gateway.namespace)/\(gateway.name)/client-ca/\(listener.spec.port)")
    }

    /// A certificate Secret a Gateway names (`field` says where): a core Secret in its
    /// namespace, or in another one whose ReferenceGrant allows it, that passes the
    /// certificate checks. With `prefixed`, every message starts with `field`.
    static func resolveSecret(
        _ ref: SecretObjectReference, field: String, prefixed: Bool, owner: ObjectKey, context: Context
    ) -> Result<(key: ObjectKey, certificate: CheckedCertificate), ReferenceProblem> {
        let namespace = ref.namespace ?? owner.namespace
        let label = "\(namespace)/\(ref.name)"
        let prefix = prefixed ? "\(field): " : ""
        guard Kind.referenced(group: ref.group, kind: ref.kind, implied: .secret) == .secret else {
            return .failure(
                ReferenceProblem(
                    reason: .invalidCertificateRef,
                    message: "\(field) \(ref.group ?? "")/\(ref.kind ?? "") \(ref.name): only core Secrets are supported"))
        }
        let secretKey = ObjectKey(.secret, namespace: namespace, name: ref.name)
        if namespace != owner.namespace,
            !context.referenceGranted(from: owner.kind, namespace: owner.namespace, to: secretKey)
        {
            return .failure(
                ReferenceProblem(
                    reason: .refNotPermitted,
                    message: "\(prefix)Secret \(label) is in another namespace and no ReferenceGrant there allows \(owner.kind.rawValue)s from \(owner.namespace)"))
        }
        switch context.certificate(secretKey) {
        case nil:
            return .failure(ReferenceProblem(reason: .invalidCertificateRef, message: "\(prefix)Secret \(label) does not exist"))
        case .failure(let problem)?:
            return .failure(ReferenceProblem(reason: .invalidCertificateRef, message: prefix + problem.message))
        case .success(let certificate)?:
            return .success((secretKey, certificate))
        }
    }

    struct ReferenceProblem: Error {
        let reason: ConditionReason
        let message: String
    }

    /// A TLS-terminating listener's certificateRefs: Secrets of type kubernetes.io/tls in
    /// the Gateway's namespace, or in another one that grants it with a ReferenceGrant;
    /// each checked before it is served.
    static func resolveCertificates(_ listener: inout PreparedListener, owner: ObjectKey, context: Context) {
        for ref in listener.spec.tls?.certificateRefs ?? [] {
            switch resolveSecret(ref, field: "certificateRef", prefixed: false, owner: owner, context: context) {
            case .success(let resolved):
                listener.certificates.append(resolved.key)
                if let warning = resolved.certificate.warning { listener.certificateWarnings.append(warning) }
            case .failure(let problem):
                listener.certificateProblems.append(Verdict(false, problem.reason, problem.message))
            }
        }
    }
}
