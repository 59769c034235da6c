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

    var isProgrammed: Bool { accepted && conflict == nil }

    /// Route kinds this listener protocol can carry.
    static func routeKinds(for protocolName: String) -> [String] {
        switch protocolName {
        case "HTTP": ["HTTPRoute"]
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
                listener.acceptedMessage =
                    "protocol \(spec.protocol) is not served yet by Chancery; HTTP listeners are"
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
            if listener.invalidKinds.isEmpty {
                conditions.append(
                    Condition("ResolvedRefs", true, reason: "ResolvedRefs", message: "all references resolved", generation: generation))
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
        let allValid = listeners.allSatisfy { $0.isProgrammed && $0.invalidKinds.isEmpty }
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
}
