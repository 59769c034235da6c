import GatewayModel

/// One Gateway listener after validation, with the routes that attach to it.
struct PreparedListener {
    let index: Int
    let spec: Gateway.Listener
    var accepted = true
    var acceptedReason = "Accepted"
    var acceptedMessage = "listener is valid"
    var conflict: (reason: String, message: String)?
    var invalidKinds: [String] = []
    var supportedKinds: [Gateway.RouteGroupKind] = []
    var attachedRoutes = 0
    /// The Secrets holding the listener's usable certificates (HTTPS, and TLS in
    /// Terminate mode).
    var certificates: [ObjectKey] = []
    /// Why a certificate reference could not be used (reason, message).
    var certificateProblems: [(reason: String, message: String)] = []
    /// Certificates that are served but expire soon.
    var certificateWarnings: [String] = []

    /// Whether this listener terminates TLS with certificates of its own.
    var terminatesTLS: Bool {
        spec.protocol == "HTTPS" || (spec.protocol == "TLS" && (spec.tls?.mode ?? "Terminate") == "Terminate")
    }

    var isProgrammed: Bool { accepted && conflict == nil && (!terminatesTLS || !certificates.isEmpty) }

    /// Route kinds this listener protocol can carry.
    static func routeKinds(for protocolName: String) -> [String] {
        switch protocolName {
        case "HTTP", "HTTPS": ["HTTPRoute", "GRPCRoute"]
        case "TLS": ["TLSRoute"]
        case "TCP": ["TCPRoute"]
        case "UDP": ["UDPRoute"]
        default: []
        }
    }
}

/// A Gateway of Chancery's, its listeners validated, ready for routes to attach.
struct PreparedGateway {
    let gateway: Gateway
    let key: ObjectKey
    /// The IP address Envoy listens on: the Gateway's first `IPAddress`, else all.
    let bindAddress: String
    var listeners: [PreparedListener]
    var addressProblem: String?

    init(gateway: Gateway, context: Context) {
        self.gateway = gateway
        self.key = Translation.key(.gateway, gateway.metadata)
        let addresses = gateway.spec.addresses ?? []
        let unsupported = addresses.filter { ($0.type ?? "IPAddress") != "IPAddress" }
        addressProblem =
            unsupported.isEmpty
            ? nil : "address type \(unsupported[0].type ?? "") is not supported; use IPAddress"
        bindAddress = addresses.first { ($0.type ?? "IPAddress") == "IPAddress" }?.value ?? "0.0.0.0"

        var listeners: [PreparedListener] = []
        for (index, spec) in gateway.spec.listeners.enumerated() {
            var listener = PreparedListener(index: index, spec: spec)
            let kinds = PreparedListener.routeKinds(for: spec.protocol)
            if kinds.isEmpty {
                listener.accepted = false
                listener.acceptedReason = "UnsupportedProtocol"
                listener.acceptedMessage = "protocol \(spec.protocol) is not one Chancery serves"
            }
            if listener.terminatesTLS {
                Self.resolveCertificates(&listener, gateway: key, context: context)
            }
            if let requested = spec.allowedRoutes?.kinds, !requested.isEmpty {
                for kind in requested {
                    if (kind.group ?? gatewayGroup) == gatewayGroup, kinds.contains(kind.kind) {
                        listener.supportedKinds.append(Gateway.RouteGroupKind(group: gatewayGroup, kind: kind.kind))
                    } else {
                        listener.invalidKinds.append(kind.kind)
                    }
                }
            } else {
                listener.supportedKinds = kinds.map { Gateway.RouteGroupKind(group: gatewayGroup, kind: $0) }
            }
            listeners.append(listener)
        }
        // Conflicts among valid listeners: one port carries one protocol, and one
        // hostname per port.
        for i in listeners.indices where listeners[i].accepted {
            for j in listeners.indices where j != i && listeners[j].accepted {
                let a = listeners[i].spec
                let b = listeners[j].spec
                guard a.port == b.port else { continue }
                if a.protocol != b.protocol {
                    listeners[i].conflict = (
                        "ProtocolConflict", "port \(a.port) is also used by listener \(b.name) with protocol \(b.protocol)"
                    )
                } else if (a.hostname ?? "") == (b.hostname ?? "") {
                    listeners[i].conflict = (
                        "HostnameConflict",
                        "listener \(b.name) uses the same port \(a.port) and hostname \(a.hostname ?? "(any)")"
                    )
                }
            }
        }
        self.listeners = listeners
    }

    var status: ObjectStatus {
        let generation = gateway.metadata.generation
        var listenerStatuses: [ListenerStatus] = []
        for listener in listeners {
            var conditions: [Condition] = []
            conditions.append(
                Condition(
                    "Accepted", listener.accepted, reason: listener.acceptedReason, message: listener.acceptedMessage,
                    generation: generation))
            if let conflict = listener.conflict {
                conditions.append(Condition("Conflicted", true, reason: conflict.reason, message: conflict.message, generation: generation))
            } else {
                conditions.append(
                    Condition("Conflicted", false, reason: "NoConflicts", message: "no conflicts", generation: generation))
            }
            if let problem = listener.certificateProblems.first {
                var message = listener.certificateProblems.map(\.message).joined(separator: "; ")
                if !listener.invalidKinds.isEmpty {
                    message += "; route kinds not supported here: \(listener.invalidKinds.joined(separator: ", "))"
                }
                conditions.append(
                    Condition("ResolvedRefs", false, reason: problem.reason, message: message, generation: generation))
            } else if listener.invalidKinds.isEmpty {
                var message = "all references resolved"
                if !listener.certificateWarnings.isEmpty {
                    message += "; warning: " + listener.certificateWarnings.joined(separator: "; ")
                }
                conditions.append(
                    Condition("ResolvedRefs", true, reason: "ResolvedRefs", message: message, generation: generation))
            } else {
                conditions.append(
                    Condition(
                        "ResolvedRefs", false, reason: "InvalidRouteKinds",
                        message: "route kinds not supported here: \(listener.invalidKinds.joined(separator: ", "))",
                        generation: generation))
            }
            conditions.append(
                Condition(
                    "Programmed", listener.isProgrammed, reason: listener.isProgrammed ? "Programmed" : "Invalid",
                    message: listener.isProgrammed ? "sent to the proxy group" : "not sent: see the other conditions",
                    generation: generation))
            listenerStatuses.append(
                ListenerStatus(
                    name: listener.spec.name, attachedRoutes: listener.attachedRoutes,
                    supportedKinds: listener.supportedKinds, conditions: conditions))
        }
        let programmed = listeners.contains(where: \.isProgrammed)
        let allValid = listeners.allSatisfy { $0.isProgrammed && $0.invalidKinds.isEmpty && $0.certificateProblems.isEmpty }
        var conditions: [Condition] = []
        if let addressProblem {
            conditions.append(Condition("Accepted", false, reason: "UnsupportedAddress", message: addressProblem, generation: generation))
        } else {
            conditions.append(
                Condition(
                    "Accepted", true, reason: allValid ? "Accepted" : "ListenersNotValid",
                    message: allValid ? "Gateway is accepted" : "some listeners are not valid; see their conditions",
                    generation: generation))
        }
        conditions.append(
            Condition(
                "Programmed", programmed && addressProblem == nil, reason: programmed ? "Programmed" : "Invalid",
                message: programmed ? "configuration sent to proxy groups \(key.namespace)/\(key.name) and \(gateway.spec.gatewayClassName)" : "no listener could be programmed",
                generation: generation))
        return ObjectStatus(conditions: conditions, listeners: listenerStatuses)
    }

    /// A TLS-terminating listener's certificateRefs: Secrets of type kubernetes.io/tls in
    /// the Gateway's namespace, or in another one that grants it with a ReferenceGrant;
    /// each checked before it is served.
    static func resolveCertificates(_ listener: inout PreparedListener, gateway: ObjectKey, context: Context) {
        for ref in listener.spec.tls?.certificateRefs ?? [] {
            let namespace = ref.namespace ?? gateway.namespace
            let label = "\(namespace)/\(ref.name)"
            guard (ref.group ?? "") == "", (ref.kind ?? "Secret") == "Secret" else {
                listener.certificateProblems.append(
                    ("InvalidCertificateRef", "certificateRef \(ref.group ?? "")/\(ref.kind ?? "") \(ref.name): only core Secrets are supported"))
                continue
            }
            if namespace != gateway.namespace,
                !Backends.referenceGranted(
                    from: "Gateway", namespace: gateway.namespace, toGroup: "", toKind: "Secret", name: ref.name,
                    in: namespace, context: context)
            {
                listener.certificateProblems.append(
                    ("RefNotPermitted", "Secret \(label) is in another namespace and no ReferenceGrant there allows Gateways from \(gateway.namespace)"))
                continue
            }
            let secretKey = ObjectKey(.secret, namespace: namespace, name: ref.name)
            guard let checked = context.certificate(secretKey) else {
                listener.certificateProblems.append(("InvalidCertificateRef", "Secret \(label) does not exist"))
                continue
            }
            switch checked {
            case .success(let certificate):
                listener.certificates.append(secretKey)
                if let warning = certificate.warning { listener.certificateWarnings.append(warning) }
            case .failure(let problem):
                listener.certificateProblems.append(("InvalidCertificateRef", problem.message))
            }
        }
    }
}
