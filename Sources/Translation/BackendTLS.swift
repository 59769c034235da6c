import EnvoyAPI
import GatewayModel
import SwiftProtobuf

/// TLS from Envoy to a backend, as a BackendTLSPolicy asks: the policy's hostname as
/// SNI, the backend's certificate verified against the CA bundle from ConfigMaps (or
/// the system's CAs) and required to carry the hostname (or the listed subjectAltNames).
struct UpstreamTLS: Hashable, Sendable {
    let policy: ObjectKey
    let hostname: String
    let subjectAltNames: [BackendTLSPolicy.SubjectAltName]
    /// SDS name of the validation context (CA bundle).
    let caSecret: String
    /// The PEM bundle, or nil for the system's CAs.
    let bundle: String?
}

enum BackendTLS {
    /// Where Debian, Ubuntu and the Envoy images keep the system's CA bundle.
    static let systemCAFile = "/etc/ssl/certs/ca-certificates.crt"
    static let systemCASecret = "chancery/system-ca"

    /// The policy that governs a Service port: one naming the port (by name) beats one
    /// naming the whole Service; among equals the oldest wins.
    static func policy(for backend: BackendCluster, context: Context) -> BackendTLSPolicy? {
        candidates(for: backend, context: context).first
    }

    static func candidates(for backend: BackendCluster, context: Context) -> [BackendTLSPolicy] {
        guard let policies = context.backendTLS[Context.ServiceKey(namespace: backend.namespace, name: backend.service)]
        else { return [] }
        let service: Service? =
            if case .service(let s)? = context.set[ObjectKey(.service, namespace: backend.namespace, name: backend.service)]?.object {
                s
            } else { nil }
        let portName = service?.spec.ports?.first(where: { $0.port == backend.port })?.name
        func specificity(_ policy: BackendTLSPolicy) -> Int? {
            var best: Int?
            for target in policy.spec.targetRefs where target.group == "" && target.kind == "Service" && target.name == backend.service {
                if target.sectionName == nil {
                    best = max(best ?? 0, 0)
                } else if target.sectionName == portName {
                    best = 1
                }
            }
            return best
        }
        return policies.compactMap { policy in specificity(policy).map { (policy, $0) } }
            .sorted { a, b in
                if a.1 != b.1 { return a.1 > b.1 }
                return Ordering.older(a.0.metadata, than: b.0.metadata)
            }
            .map(\.0)
    }

    /// nil when no policy applies; a problem when one applies but its CAs are unusable.
    static func resolve(_ backend: BackendCluster, context: Context) -> Result<UpstreamTLS, CertificateProblem>? {
        guard let policy = policy(for: backend, context: context) else { return nil }
        return resolve(policy, context: context)
    }

    static func resolve(_ policy: BackendTLSPolicy, context: Context) -> Result<UpstreamTLS, CertificateProblem> {
        let namespace = policy.metadata.namespace ?? "default"
        let key = ObjectKey(.backendTLSPolicy, namespace: namespace, name: policy.metadata.name)
        let validation = policy.spec.validation
        if validation.wellKnownCACertificates == "System" {
            return .success(
                UpstreamTLS(
                    policy: key, hostname: validation.hostname, subjectAltNames: validation.subjectAltNames ?? [],
                    caSecret: systemCASecret, bundle: nil))
        }
        var bundle = ""
        for ref in validation.caCertificateRefs ?? [] {
            guard ref.group == "", ref.kind == "ConfigMap" else {
                return .failure(
                    CertificateProblem(
                        "BackendTLSPolicy \(namespace)/\(policy.metadata.name): caCertificateRef \(ref.group)/\(ref.kind) \(ref.name) is not a ConfigMap"))
            }
            guard case .configMap(let configMap)? = context.set[ObjectKey(.configMap, namespace: namespace, name: ref.name)]?.object
            else {
                return .failure(
                    CertificateProblem(
                        "BackendTLSPolicy \(namespace)/\(policy.metadata.name): ConfigMap \(namespace)/\(ref.name) does not exist"))
            }
            switch CertificateCheck.checkBundle(configMap) {
            case .success(let pem): bundle += pem
            case .failure(let problem):
                return .failure(CertificateProblem("BackendTLSPolicy \(namespace)/\(policy.metadata.name): \(problem.message)"))
            }
        }
        return .success(
            UpstreamTLS(
                policy: key, hostname: validation.hostname, subjectAltNames: validation.subjectAltNames ?? [],
                caSecret: "\(namespace)/\(policy.metadata.name)/ca", bundle: bundle))
    }

    static func transportSocket(_ tls: UpstreamTLS, http2: Bool) -> Envoy_Config_Core_V3_TransportSocket {
        var defaults = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
        let sans: [BackendTLSPolicy.SubjectAltName] =
            tls.subjectAltNames.isEmpty
            ? [BackendTLSPolicy.SubjectAltName(type: "Hostname", hostname: tls.hostname, uri: nil)] : tls.subjectAltNames
        defaults.matchTypedSubjectAltNames = sans.map { san in
            var matcher = Envoy_Extensions_TransportSockets_Tls_V3_SubjectAltNameMatcher()
            var string = Envoy_Type_Matcher_V3_StringMatcher()
            if san.type == "URI" {
                matcher.sanType = .uri
                string.exact = san.uri ?? ""
            } else {
                matcher.sanType = .dns
                string.exact = san.hostname ?? ""
            }
            matcher.matcher = string
            return matcher
        }
        var combined = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext.CombinedCertificateValidationContext()
        combined.defaultValidationContext = defaults
        combined.validationContextSdsSecretConfig = Secrets.sdsConfig(tls.caSecret)
        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        common.combinedValidationContext = combined
        if http2 { common.alpnProtocols = ["h2"] }
        var upstream = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext()
        upstream.commonTlsContext = common
        upstream.sni = tls.hostname
        var socket = Envoy_Config_Core_V3_TransportSocket()
        socket.name = "envoy.transport_sockets.tls"
        socket.typedConfig = try! .packing(upstream)
        return socket
    }

    /// The validation-context secret a cluster's TLS names.
    static func caSecret(_ tls: UpstreamTLS) -> Envoy_Extensions_TransportSockets_Tls_V3_Secret {
        var context = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
        var source = Envoy_Config_Core_V3_DataSource()
        if let bundle = tls.bundle { source.inlineString = bundle } else { source.filename = systemCAFile }
        context.trustedCa = source
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = tls.caSecret
        secret.validationContext = context
        return secret
    }

    /// Each policy's status towards every Gateway whose routes send to a Service it
    /// targets (the spec's "ancestors").
    static func statuses(prepared: [PreparedGateway], attachments: Attachments, context: Context) -> [ObjectKey: ObjectStatus] {
        guard !context.backendTLS.isEmpty else { return [:] }
        var ancestors: [ObjectKey: [ObjectKey: Set<BackendCluster>]] = [:]  // policy → gateway → backends
        var policies: [ObjectKey: BackendTLSPolicy] = [:]
        for gateway in prepared {
            for attached in (attachments.routes[gateway.key] ?? [:]).values.joined() {
                for backend in attached.policyTargets {
                    for policy in candidates(for: backend, context: context) {
                        let key = ObjectKey(
                            .backendTLSPolicy, namespace: policy.metadata.namespace ?? "default", name: policy.metadata.name)
                        policies[key] = policy
                        ancestors[key, default: [:]][gateway.key, default: []].insert(backend)
                    }
                }
            }
        }
        var result: [ObjectKey: ObjectStatus] = [:]
        for (key, byGateway) in ancestors {
            let policy = policies[key]!
            let generation = policy.metadata.generation
            let resolved = resolve(policy, context: context)
            var parents: [RouteParentStatus] = []
            for gatewayKey in byGateway.keys.sorted() {
                let backends = byGateway[gatewayKey]!.sorted()
                let winner = backends.allSatisfy { backend in
                    self.policy(for: backend, context: context).map { $0.metadata == policy.metadata } ?? false
                }
                var conditions: [Condition] = []
                switch resolved {
                case .failure(let problem):
                    conditions.append(
                        Condition("Accepted", false, reason: "NoValidCACertificate", message: problem.message, generation: generation))
                    let reason = problem.message.contains("is not a ConfigMap") ? "InvalidKind" : "InvalidCACertificateRef"
                    conditions.append(Condition("ResolvedRefs", false, reason: reason, message: problem.message, generation: generation))
                case .success:
                    if winner {
                        conditions.append(
                            Condition(
                                "Accepted", true, reason: "Accepted",
                                message: "TLS to \(backends.map(\.name).joined(separator: ", ")) is verified", generation: generation))
                    } else {
                        conditions.append(
                            Condition(
                                "Accepted", false, reason: "Conflicted",
                                message: "another BackendTLSPolicy (naming the port, or older) applies to the same Service port",
                                generation: generation))
                    }
                    conditions.append(
                        Condition("ResolvedRefs", true, reason: "ResolvedRefs", message: "CA certificates resolved", generation: generation))
                }
                var ref = ParentReference(name: gatewayKey.name, namespace: gatewayKey.namespace)
                ref.group = gatewayGroup
                ref.kind = "Gateway"
                parents.append(RouteParentStatus(parentRef: ref, controllerName: Translator.controllerName, conditions: conditions))
            }
            result[key] = ObjectStatus(ancestors: parents)
        }
        return result
    }
}

/// SDS secrets: listener certificates from Secrets, CA bundles for backends.
enum Secrets {
    /// The SDS name of a Secret's certificate: `namespace/name`.
    static func certificateName(_ key: ObjectKey) -> String { "\(key.namespace)/\(key.name)" }

    static func sdsConfig(_ name: String) -> Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig {
        var config = Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig()
        config.name = name
        var source = Envoy_Config_Core_V3_ConfigSource()
        source.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        source.resourceApiVersion = .v3
        config.sdsConfig = source
        return config
    }

    static func certificate(_ name: String, _ checked: CheckedCertificate) -> Envoy_Extensions_TransportSockets_Tls_V3_Secret {
        var certificate = Envoy_Extensions_TransportSockets_Tls_V3_TlsCertificate()
        var chain = Envoy_Config_Core_V3_DataSource()
        chain.inlineString = checked.chainPEM
        certificate.certificateChain = chain
        var key = Envoy_Config_Core_V3_DataSource()
        key.inlineString = checked.keyPEM
        certificate.privateKey = key
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = name
        secret.tlsCertificate = certificate
        return secret
    }

    /// A downstream TLS context serving the named certificates (Envoy picks among them by
    /// SNI and key type), offering HTTP/2 and HTTP/1.1 when `alpn` is set.
    static func downstream(_ certificates: [ObjectKey], alpn: [String]) -> Envoy_Config_Core_V3_TransportSocket {
        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        common.tlsCertificateSdsSecretConfigs = certificates.map { sdsConfig(certificateName($0)) }
        common.alpnProtocols = alpn
        var downstream = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext()
        downstream.commonTlsContext = common
        var socket = Envoy_Config_Core_V3_TransportSocket()
        socket.name = "envoy.transport_sockets.tls"
        socket.typedConfig = try! .packing(downstream)
        return socket
    }
}
