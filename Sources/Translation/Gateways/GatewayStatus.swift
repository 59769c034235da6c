import GatewayModel

/// GatewayClass and Gateway status, written once every proxy group is planned, so that it
/// says where each Gateway and listener is served and what a shared group could not take.
enum GatewayStatus {
    static func gatewayClass(_ gatewayClass: GatewayClass) -> ObjectStatus {
        let generation = gatewayClass.metadata.generation
        if let problem = classProblem(gatewayClass) {
            return ObjectStatus(
                conditions: [Condition(.accepted, false, reason: .invalidParameters, message: problem, generation: generation)],
                supportedFeatures: Features.supported)
        }
        return ObjectStatus(
            conditions: [
                Condition(.accepted, true, reason: .accepted, message: "Chancery serves this class", generation: generation)
            ],
            supportedFeatures: Features.supported)
    }

    /// Why a class of Chancery's is not accepted: it names parameters, and Chancery
    /// reads no parameters kind.
    static func classProblem(_ gatewayClass: GatewayClass) -> String? {
        guard let parameters = gatewayClass.spec.parametersRef else { return nil }
        return
            "spec.parametersRef names \(parameters.kind) \(parameters.name) (group \(parameters.group.isEmpty ? "core" : parameters.group)); Chancery reads no parameters kind"
    }

    /// - Parameters:
    ///   - servedIn: the proxy groups the Gateway is served in.
    ///   - findings: what groups found about its listeners, by listener name.
    static func gateway(_ gateway: PreparedGateway, servedIn: [String], findings: [String: [Finding]]) -> ObjectStatus {
        let generation = gateway.gateway.metadata.generation
        let own = gateway.ownListeners
        let listenerStatuses = own.map {
            listenerStatus($0, of: gateway, findings: findings[$0.name] ?? [], generation: generation)
        }
        let programmed = own.contains(where: \.isProgrammed)
        let allValid = own.allSatisfy(\.isValid)
        var conditions: [Condition] = []
        let notes = gateway.notes.map { "; " + $0 }.joined()
        if let refusal = gateway.refusal, !refusal.accepted {
            conditions.append(refusal.verdict.condition(.accepted, generation: generation))
            conditions.append(
                Condition(
                    .programmed, false, reason: .invalid, message: "not served: the Gateway is not accepted", generation: generation))
        } else {
            conditions.append(
                Condition(
                    .accepted, true, reason: allValid ? .accepted : .listenersNotValid,
                    message: (allValid ? "Gateway is accepted" : "some listeners are not valid; see their conditions") + notes,
                    generation: generation))
            if let refusal = gateway.refusal {
                conditions.append(refusal.verdict.condition(.programmed, generation: generation))
            } else {
                conditions.append(
                    programmed
                        ? Condition(
                            .programmed, true, reason: .programmed,
                            message: "in the configuration of proxy groups \(servedIn.joined(separator: " and "))", generation: generation)
                        : Condition(
                            .programmed, false, reason: .invalid, message: "no listener could be programmed", generation: generation))
            }
        }
        if gateway.gateway.spec.tls?.backend?.clientCertificateRef != nil {
            conditions.append(
                gateway.backendCertificateProblem?.condition(.resolvedRefs, generation: generation)
                    ?? Condition(
                        .resolvedRefs, true, reason: .resolvedRefs,
                        message: "tls.backend.clientCertificateRef is presented to backends reached over TLS",
                        generation: generation))
        }
        if gateway.insecureFrontend {
            conditions.append(
                Condition(
                    .insecureFrontendValidationMode, true, reason: .configurationChanged,
                    message: "tls.frontend mode AllowInsecureFallback lets clients in without a valid certificate",
                    generation: generation))
        }
        let takesListenerSets = (gateway.gateway.spec.allowedListeners?.namespaces?.from ?? .noNamespace) != .noNamespace
        // The address Envoy listens on, once it is served there.
        let address =
            gateway.isServed && gateway.bindAddress != PreparedGateway.anyAddress
            ? [Gateway.Address(type: .ipAddress, value: gateway.bindAddress)] : nil
        return ObjectStatus(
            conditions: conditions, listeners: listenerStatuses,
            attachedListenerSets: takesListenerSets ? gateway.attachedListenerSets : nil, addresses: address)
    }

    /// A listener's conditions, written in the Gateway or in a ListenerSet: `shared`
    /// is what proxy groups found about it.
    static func listenerStatus(
        _ listener: PreparedListener, of gateway: PreparedGateway, findings shared: [Finding], generation: Int?
    ) -> ListenerStatus {
        var conditions: [Condition] = [listener.accepted.condition(.accepted, generation: generation)]
        if let conflict = listener.conflict {
            conditions.append(conflict.condition(.conflicted, generation: generation))
        } else if let first = shared.first {
            conditions.append(
                Condition(
                    .conflicted, true, reason: first.verdict.reason,
                    message: shared.map(\.verdict.message).joined(separator: "; "), generation: generation))
        } else {
            conditions.append(Condition(.conflicted, false, reason: .noConflicts, message: "no conflicts", generation: generation))
        }
        conditions.append(resolvedRefs(listener, generation: generation))
        conditions.append(programmed(listener, of: gateway, shared: shared, generation: generation))
        return ListenerStatus(
            name: listener.spec.name, attachedRoutes: listener.attachedRoutes, supportedKinds: listener.supportedKinds,
            conditions: conditions)
    }

    /// A ListenerSet's status: whether its Gateway took it, and each listener's.
    /// - Parameter findings: what groups found about the Gateway's listeners, by name.
    static func listenerSet(
        _ set: PreparedListenerSet, gateway: PreparedGateway, servedIn: [String], findings: [String: [Finding]]
    ) -> ObjectStatus {
        let generation = set.set.metadata.generation
        let listeners = set.isAttached ? gateway.listeners.filter { $0.listenerSet == set.key } : set.refusedListeners
        let statuses = listeners.map {
            listenerStatus($0, of: gateway, findings: findings[$0.name] ?? [], generation: generation)
        }
        if let refusal = set.refusal {
            // Programmed says NotAllowed and ListenersNotValid as Accepted does (the
            // conformance tests expect it); a parent not accepted is Invalid here.
            let reason = refusal.reason == .parentNotAccepted ? .invalid : refusal.reason
            return ObjectStatus(
                conditions: [
                    refusal.condition(.accepted, generation: generation),
                    Condition(.programmed, false, reason: reason, message: "not served: \(refusal.message)", generation: generation),
                ],
                listeners: statuses)
        }
        let accepted =
            listeners.allSatisfy(\.isValid)
            ? Condition(
                .accepted, true, reason: .accepted, message: "attached to Gateway \(gateway.group)", generation: generation)
            : Condition(
                .accepted, true, reason: .listenersNotValid,
                message: "attached to Gateway \(gateway.group); some listeners are not valid, see their conditions",
                generation: generation)
        // Sent when one of its listeners is (a shared group may leave some out).
        let sent = statuses.contains { $0.conditions.contains { $0.type == .programmed && $0.isTrue } }
        let programmed =
            sent
            ? Condition(
                .programmed, true, reason: .programmed,
                message: "in the configuration of proxy groups \(servedIn.joined(separator: " and "))", generation: generation)
            : Condition(
                .programmed, false, reason: .invalid,
                message: gateway.isServed
                    ? "no listener could be programmed; see their conditions"
                    : "not served: \(gateway.refusal?.verdict.message ?? "the Gateway is not served")",
                generation: generation)
        return ObjectStatus(conditions: [accepted, programmed], listeners: statuses)
    }

    private static func resolvedRefs(_ listener: PreparedListener, generation: Int?) -> Condition {
        let invalidKinds = "route kinds not supported here: \(listener.invalidKinds.joined(separator: ", "))"
        if let problem = listener.certificateProblems.first {
            var message = listener.certificateProblems.map(\.message).joined(separator: "; ")
            if !listener.invalidKinds.isEmpty { message += "; " + invalidKinds }
            return Condition(.resolvedRefs, false, reason: problem.reason, message: message, generation: generation)
        }
        if !listener.invalidKinds.isEmpty {
            return Condition(.resolvedRefs, false, reason: .invalidRouteKinds, message: invalidKinds, generation: generation)
        }
        var message = "all references resolved"
        if !listener.certificateWarnings.isEmpty {
            message += "; warning: " + listener.certificateWarnings.joined(separator: "; ")
        }
        return Condition(.resolvedRefs, true, reason: .resolvedRefs, message: message, generation: generation)
    }

    /// Programmed says what the proxies get: nothing for an invalid listener or an
    /// unserved Gateway; for a TCP, UDP or TLS listener without routes, no open port yet
    /// (Envoy has nothing to pass connections to); and which shared groups left it out.
    private static func programmed(
        _ listener: PreparedListener, of gateway: PreparedGateway, shared: [Finding], generation: Int?
    ) -> Condition {
        let leftOutOf = Set(shared.map(\.group))
        guard listener.isProgrammed, gateway.isServed, !leftOutOf.contains(gateway.group) else {
            let why = gateway.isServed ? "see the other conditions" : "the Gateway is not served"
            // A ListenerSet's listener that lost to one before it says why here too
            // (GEP-1713's conformance tests expect the conflict's reason).
            let reason = listener.listenerSet != nil ? listener.conflict?.reason ?? .invalid : .invalid
            return Condition(.programmed, false, reason: reason, message: "not in the configuration: \(why)", generation: generation)
        }
        var message =
            leftOutOf.isEmpty
            ? "in the proxy group's configuration"
            : "in the configuration of proxy group \(gateway.group); not of \(leftOutOf.sorted().joined(separator: ", ")) (see Conflicted)"
        if listener.attachedRoutes == 0, [.tls, .tcp, .udp].contains(listener.spec.protocol) {
            message += "; no route is attached, so port \(listener.spec.port) is not opened yet"
        }
        return Condition(.programmed, true, reason: .programmed, message: message, generation: generation)
    }
}
