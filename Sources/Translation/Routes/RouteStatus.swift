import GatewayModel

/// Route status: per parent Gateway, whether the route is attached (and, when proxy
/// groups could not serve all of it, what they left out), and whether its references
/// resolved.
enum RouteStatus {
    /// - Parameter findings: what planning found about this route, by Gateway.
    /// Everything a route's status is made from.
    struct Input: Equatable, Sendable {
        let record: RouteRecord
        let findings: [ObjectKey: [Finding]]
    }

    /// ``route(_:findings:)``, the last translation's when its input was equal: a route
    /// whose attachment and findings did not change keeps its status (building every
    /// route's conditions and messages again was a tenth of a one-route change at 1,000
    /// routes).
    static func route(_ record: RouteRecord, findings: [ObjectKey: [Finding]], cache: PlanCache?) -> ObjectStatus {
        guard let cache else { return route(record, findings: findings) }
        let input = Input(record: record, findings: findings)
        return cache.routeStatuses.value(record.key, input) { route(record, findings: findings) }
    }

    /// The statuses of every route an attachment holds, as the last translation made
    /// them and the attachment whose ``Attachments/generation`` they were made from.
    struct Kept: Sendable {
        let generation: Int
        /// What planning found, by route and Gateway.
        let findings: [ObjectKey: [ObjectKey: [Finding]]]
        let statuses: [ObjectKey: ObjectStatus]
    }

    /// The status of every route `attachments` holds, by route. With a plan cache, when
    /// `attachments` is the last translation's with a few HTTPRoutes put in place again
    /// (``Attachments/patch``), the last statuses are taken and only those routes' made
    /// again, and those of routes whose findings changed: every other route's record and
    /// findings are the ones its kept status was made from. (Asking for every route's
    /// status, a one-route change at 10,000 routes copied, compared and stored 10,000
    /// records: a sixth of its translation.)
    static func all(
        _ attachments: Attachments, findings: [ObjectKey: [ObjectKey: [Finding]]], cache: PlanCache?
    ) -> [ObjectKey: ObjectStatus] {
        guard let cache else {
            return attachments.records.mapValues { route($0, findings: findings[$0.key] ?? [:]) }
        }
        let kept = cache.keptRouteStatuses.withLock { $0.take() }
        var statuses: [ObjectKey: ObjectStatus]
        if let kept, let patch = attachments.patch, patch.base == kept.generation {
            var changed = patch.routes
            for (key, found) in findings where kept.findings[key] != found { changed.insert(key) }
            for key in kept.findings.keys where findings[key] == nil { changed.insert(key) }
            cache.routeStatuses.beginPatch()
            for key in changed { cache.routeStatuses.reopen(key) }
            // Taken out of the cache, so that it changes in place.
            statuses = kept.statuses
            for key in changed {
                statuses[key] = attachments.records[key].map { route($0, findings: findings[key] ?? [:], cache: cache) }
            }
        } else {
            cache.routeStatuses.begin()
            statuses = Dictionary(minimumCapacity: attachments.records.count)
            for (key, record) in attachments.records {
                statuses[key] = route(record, findings: findings[key] ?? [:], cache: cache)
            }
        }
        cache.keptRouteStatuses.withLock {
            $0 = Kept(generation: attachments.generation, findings: findings, statuses: statuses)
        }
        return statuses
    }

    static func route(_ record: RouteRecord, findings: [ObjectKey: [Finding]]) -> ObjectStatus {
        let generation = record.generation
        let resolvedRefs: Condition =
            if let problem = record.refProblems.first {
                Condition(
                    .resolvedRefs, false, reason: problem.reason,
                    message: record.refProblems.map(\.message).joined(separator: "; "), generation: generation)
            } else {
                Condition(.resolvedRefs, true, reason: .resolvedRefs, message: "all references resolved", generation: generation)
            }
        // GEP-1364: rules dropped while the others are served.
        let partiallyInvalid: Condition? =
            record.dropped.isEmpty
            ? nil
            : Condition(
                .partiallyInvalid, true, reason: .unsupportedValue, message: record.dropped.joined(separator: "; "),
                generation: generation)
        let parents = record.parents.map { parent in
            let accepted = accepted(parent, findings: findings[parent.gateway] ?? [], notes: record.notes)
            return RouteParentStatus(
                parentRef: parent.parentRef, controllerName: chanceryControllerName,
                conditions: [accepted.condition(.accepted, generation: generation), resolvedRefs]
                    + (accepted.holds ? [partiallyInvalid].compactMap { $0 } : []))
        }
        return ObjectStatus(parents: parents)
    }

    /// Losses in the Gateway's own proxy group refuse the route there when nothing of it
    /// is left; shared groups' losses are named in the message.
    private static func accepted(_ parent: ParentAttachment, findings: [Finding], notes: [String]) -> Verdict {
        guard parent.accepted.holds else { return parent.accepted }
        let ownGroup = "\(parent.gateway.namespace)/\(parent.gateway.name)"
        var own: [Finding] = []
        var shared: [Finding] = []
        for finding in findings {
            guard case .route(_, _, let listener) = finding.subject, parent.listeners.contains(listener) else { continue }
            if finding.group == ownGroup { own.append(finding) } else { shared.append(finding) }
        }
        var verdict = parent.accepted
        let lostEverywhere = Set(parent.listeners).allSatisfy { listener in
            own.contains { finding in
                guard case .route(_, _, let lost) = finding.subject else { return false }
                return lost == listener && finding.total
            }
        }
        if !own.isEmpty, lostEverywhere {
            return Verdict(false, own[0].verdict.reason, own.map(\.verdict.message).joined(separator: "; "))
        }
        for finding in own { verdict.message += "; not served: " + finding.verdict.message }
        for finding in shared { verdict.message += "; not served by shared proxy group \(finding.group): " + finding.verdict.message }
        for note in notes { verdict.message += "; " + note }
        return verdict
    }
}
