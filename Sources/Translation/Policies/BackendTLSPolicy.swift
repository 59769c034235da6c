import GatewayModel
import IR

/// BackendTLSPolicy: TLS from Envoy to a Service's endpoints. The policy's hostname is
/// the SNI, the backend's certificate is verified against the CA bundle from ConfigMaps
/// (or the system's CAs) and must carry the hostname (or the listed subjectAltNames).
/// A backend whose policy cannot be used is refused (fail closed): its share of requests
/// is answered with 500 and the route says why.
enum BackendTLS: PolicyKind {
    static let kind = Kind.backendTLSPolicy
    /// Where Debian, Ubuntu and the Envoy images keep the system's CA bundle.
    static let systemCAFile = "/etc/ssl/certs/ca-certificates.crt"
    static let systemCASecret = "chancery/system-ca"

    static func policies(in set: ResourceSet) -> [BackendTLSPolicy] { set.backendTLSPolicies }
    static func metadata(of policy: BackendTLSPolicy) -> ObjectMeta { policy.metadata }

    static func targets(of policy: BackendTLSPolicy) -> [PolicyTarget] {
        policy.spec.targetRefs.compactMap { ref in
            // Services only: a policy naming another kind attaches to nothing.
            guard ref.group == "", ref.kind == Kind.service.rawValue else { return nil }
            return target(
                group: ref.group, kind: ref.kind, name: ref.name, sectionName: ref.sectionName,
                namespace: policy.metadata.namespace ?? "default")
        }
    }

    /// TLS settings a usable policy gives, and the CA secret they name.
    struct Resolved: Hashable, Sendable {
        let policy: ObjectKey
        let tls: UpstreamTLSPlan
        let caSecret: SecretPlan.Content
    }

    /// The levels a Service port's policies attach at: the port (by name), then the Service.
    static func levels(for target: ServicePort, context: Context) -> [PolicyTarget] {
        let portName = context.service(target.namespace, target.service)?.spec.ports?.first { $0.port == target.port }?.name
        let service = target.serviceKey
        return portName.map { [PolicyTarget(service, section: $0), PolicyTarget(service)] } ?? [PolicyTarget(service)]
    }

    /// Every policy that targets the Service port, the one that applies first.
    static func candidates(for target: ServicePort, context: Context) -> [PolicyIndex<BackendTLSPolicy>.Entry] {
        guard context.backendTLS.hasPolicies(for: target.serviceKey) else { return [] }
        return context.backendTLS.candidates(along: levels(for: target, context: context))
    }

    /// nil when no policy applies; a problem when one applies but its CAs are unusable.
    static func resolve(_ target: ServicePort, context: Context) -> Result<Resolved, CertificateProblem>? {
        guard context.backendTLS.hasPolicies(for: target.serviceKey),
            let entry = context.backendTLS.effective(along: levels(for: target, context: context))
        else { return nil }
        return context.backendTLSResolved[entry.key]
    }

    /// A policy's TLS settings, or why its CA certificates cannot be used (``Context``
    /// works this out once per policy).
    static func resolve(_ entry: PolicyIndex<BackendTLSPolicy>.Entry, in set: ResourceSet) -> Result<Resolved, CertificateProblem> {
        let namespace = entry.key.namespace
        let name = "BackendTLSPolicy \(namespace)/\(entry.key.name)"
        let validation = entry.policy.spec.validation
        let sans: [SubjectAltNamePlan] =
            (validation.subjectAltNames ?? []).isEmpty
            ? [SubjectAltNamePlan(kind: .dns, value: validation.hostname)]
            : (validation.subjectAltNames ?? []).map { san in
                san.type == .uri
                    ? SubjectAltNamePlan(kind: .uri, value: san.uri ?? "") : SubjectAltNamePlan(kind: .dns, value: san.hostname ?? "")
            }
        if validation.wellKnownCACertificates == .system {
            return .success(
                Resolved(
                    policy: entry.key,
                    tls: UpstreamTLSPlan(sni: validation.hostname, subjectAltNames: sans, caSecret: systemCASecret),
                    caSecret: .trustedCAFile(path: systemCAFile)))
        }
        var bundle = ""
        for ref in validation.caCertificateRefs ?? [] {
            guard ref.group == "", ref.kind == Kind.configMap.rawValue else {
                return .failure(
                    CertificateProblem(
                        "\(name): caCertificateRef \(ref.group)/\(ref.kind) \(ref.name) is not a ConfigMap", kind: .notAConfigMap))
            }
            guard case .configMap(let configMap)? = set[ObjectKey(.configMap, namespace: namespace, name: ref.name)]?.object
            else {
                return .failure(CertificateProblem("\(name): ConfigMap \(namespace)/\(ref.name) does not exist"))
            }
            switch CertificateCheck.checkBundle(configMap) {
            case .success(let pem): bundle += pem
            case .failure(let problem): return .failure(CertificateProblem("\(name): \(problem.message)"))
            }
        }
        return .success(
            Resolved(
                policy: entry.key,
                tls: UpstreamTLSPlan(
                    sni: validation.hostname, subjectAltNames: sans, caSecret: "\(namespace)/\(entry.key.name)/ca"),
                caSecret: .trustedCA(bundlePEM: bundle)))
    }

    /// TLS to the backend cannot be verified when its policy's CAs are unusable: fail
    /// closed.
    static func refusal(of target: ServicePort, context: Context) -> Verdict? {
        guard case .failure(let problem)? = resolve(target, context: context) else { return nil }
        return Verdict(false, .invalidBackendTLSPolicy, problem.message)
    }

    /// The cluster speaks TLS to its endpoints as the policy says; the policy's CA bundle
    /// is served as a secret.
    static func apply(to cluster: inout ClusterPlan, for target: ServicePort, secrets: inout [String: SecretPlan], context: Context) {
        guard case .success(let resolved)? = resolve(target, context: context) else { return }
        cluster.settings.tls = resolved.tls
        cluster.origins.insert(resolved.policy)
        // Several policies may name one secret (the system CAs): it comes from all of them.
        let name = resolved.tls.caSecret
        var secret = secrets[name] ?? SecretPlan(name: name, content: resolved.caSecret, origins: [])
        secret.origins.insert(resolved.policy)
        secrets[name] = secret
    }

    /// Chancery recognises no `options`: any given are named as having no effect.
    static func ignoredOptions(_ options: [String: String]?) -> String {
        guard let keys = options?.keys.sorted(), !keys.isEmpty else { return "" }
        return "; options \(keys.joined(separator: ", ")) are not recognised and have no effect"
    }

    /// Each policy's status towards every Gateway whose routes send to a Service port it
    /// targets (the spec's "ancestors"), or were refused because of it.
    static func statuses(in world: World) -> [ObjectKey: ObjectStatus] {
        let context = world.context
        guard !context.backendTLS.isEmpty else { return [:] }
        var used: [ObjectKey: Set<ServicePort>] = [:]
        for (gateway, listeners) in world.attachments.routes {
            for attached in listeners.values.joined() { used[gateway, default: []].formUnion(attached.policyTargets) }
        }
        var targeted: [ObjectKey: (entry: PolicyIndex<BackendTLSPolicy>.Entry, gateways: [ObjectKey: Set<ServicePort>])] = [:]
        for (gateway, targets) in used {
            for target in targets {
                for entry in candidates(for: target, context: context) {
                    targeted[entry.key, default: (entry, [:])].gateways[gateway, default: []].insert(target)
                }
            }
        }
        var ancestry = PolicyAncestry()
        for (key, use) in targeted {
            let generation = use.entry.metadata.generation
            guard let resolved = context.backendTLSResolved[key] else { continue }
            for (gateway, targets) in use.gateways {
                let sorted = targets.sorted()
                let applies = sorted.allSatisfy { target in
                    context.backendTLS.effective(along: levels(for: target, context: context))?.key == key
                }
                var conditions: [Condition] = []
                switch resolved {
                case .failure(let problem):
                    conditions.append(
                        Condition(.accepted, false, reason: .noValidCACertificate, message: problem.message, generation: generation))
                    conditions.append(
                        Condition(
                            .resolvedRefs, false, reason: problem.kind == .notAConfigMap ? .invalidKind : .invalidCACertificateRef,
                            message: problem.message, generation: generation))
                case .success:
                    if applies {
                        conditions.append(
                            Condition(
                                .accepted, true, reason: .accepted,
                                message: "TLS to \(sorted.map(\.name).joined(separator: ", ")) is verified"
                                    + Self.ignoredOptions(use.entry.policy.spec.options), generation: generation))
                    } else {
                        conditions.append(
                            Condition(
                                .accepted, false, reason: .conflicted,
                                message: "another BackendTLSPolicy (naming the port, or older) applies to the same Service port",
                                generation: generation))
                    }
                    conditions.append(
                        Condition(.resolvedRefs, true, reason: .resolvedRefs, message: "CA certificates resolved", generation: generation))
                }
                ancestry.record(key, ancestor: gateway, conditions: conditions)
            }
        }
        return ancestry.statuses
    }
}
