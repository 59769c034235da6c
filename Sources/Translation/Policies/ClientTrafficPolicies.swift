import GatewayModel
import IR

/// A client CA bundle a ClientTrafficPolicy asks clients' certificates to chain to.
struct ClientCAPlan: Hashable, Sendable {
    let secretName: String
    let bundlePEM: String
    let required: Bool
    let policy: ObjectKey
}

/// ClientTrafficPolicy (Envoy Gateway's field names and semantics): on a Gateway, a
/// ListenerSet or one listener, how clients are treated — where their address comes
/// from, timeouts, connection limits, HTTP/1 options, request headers, TLS and client
/// certificates. A policy that cannot be used makes the listener's routes answer 500.
enum ClientTrafficPolicies: RoutePolicyKind {
    static let kind = Kind.clientTrafficPolicy
    static let targetKinds: [Kind] = [.gateway, .listenerSet]

    static func resolveAll(in set: ResourceSet) -> [ResolvedRoutePolicy] {
        set.clientTrafficPolicies.map { policy in
            resolve(policy, fields: .clientTrafficPolicy, in: set) { (policy, namespace) throws(PolicyProblem) in
                try effects(of: policy, namespace: namespace, set: set)
            }
        }
    }

    static func effects(of policy: ClientTrafficPolicy, namespace: String, set: ResourceSet) throws(PolicyProblem)
        -> [String: RouteEffect]
    {
        let spec = policy.spec
        let key = ObjectKey(kind, namespace: namespace, name: policy.metadata.name)
        var result: [String: RouteEffect] = [:]
        if let detection = spec.clientIPDetection {
            if let xff = detection.xForwardedFor {
                if let cidrs = xff.trustedCIDRs {
                    result["clientIPDetection"] = .clientAddress(.forwardedForFrom(cidrs.compactMap(AddressRange.init)))
                } else {
                    result["clientIPDetection"] = .clientAddress(.forwardedFor(trustedHops: xff.numTrustedHops ?? 0))
                }
            } else if let header = detection.customHeader {
                result["clientIPDetection"] = .clientAddress(.header(name: header.name.lowercased(), failClosed: header.failClosed ?? false))
            }
        }
        if let http = spec.timeout?.http {
            result["timeout"] = .clientTimeouts(
                requestReceived: try duration(http.requestReceivedTimeout, at: "spec.timeout.http.requestReceivedTimeout"),
                idle: try duration(http.idleTimeout, at: "spec.timeout.http.idleTimeout"))
        }
        if let connection = spec.connection {
            result["connection"] = .connection(
                limit: connection.connectionLimit?.value,
                delay: try duration(connection.connectionLimit?.closeDelay, at: "spec.connection.connectionLimit.closeDelay"),
                bufferBytes: connection.bufferLimit.flatMap(ByteQuantity.bytes(in:)))
        }
        if let http1 = spec.http1 {
            result["http1"] = .http1(
                trailers: http1.enableTrailers ?? false, preserveCase: http1.preserveHeaderCase ?? false,
                http10: http1.http10 != nil, http10DefaultHost: http1.http10?.useDefaultHost ?? false)
        }
        if let headers = spec.headers {
            var requestID: ClientSettingsPlan.RequestID?
            switch headers.requestID {
            case "PreserveOrGenerate"?: requestID = .preserveOrGenerate
            case "Preserve"?: requestID = .preserve
            case "Generate"?: requestID = .generate
            case "Disable"?: requestID = .disable
            default: requestID = headers.preserveXRequestID == true ? .preserveOrGenerate : nil
            }
            var underscores: ClientSettingsPlan.Underscores?
            switch headers.withUnderscoresAction {
            case "Allow"?: underscores = .allow
            case "RejectRequest"?: underscores = .reject
            case "DropHeader"?: underscores = .drop
            default: underscores = nil
            }
            let xfcc = headers.xForwardedClientCert.map { xfcc in
                ClientSettingsPlan.ForwardClientCert(mode: xfcc.mode ?? "Sanitize", details: xfcc.certDetailsToAdd ?? [])
            }
            result["headers"] = .requestHeaders(requestID: requestID, underscores: underscores, forwardClientCert: xfcc)
        }
        if let tls = spec.tls {
            var validation: ClientCAPlan?
            if let client = tls.clientValidation {
                validation = try clientCA(client, policy: key, set: set)
            }
            func version(_ text: String?) -> String? { text == "Auto" ? nil : text }
            try TLSNames.check(tls.ciphers ?? [], known: TLSNames.ciphers, at: "spec.tls.ciphers", groups: true)
            try TLSNames.check(tls.ecdhCurves ?? [], known: TLSNames.curves, at: "spec.tls.ecdhCurves")
            try TLSNames.check(tls.signatureAlgorithms ?? [], known: TLSNames.signatureAlgorithms, at: "spec.tls.signatureAlgorithms")
            result["tls"] = .tls(
                DownstreamTLSPlan(
                    minVersion: version(tls.minVersion), maxVersion: version(tls.maxVersion), ciphers: tls.ciphers ?? [],
                    ecdhCurves: tls.ecdhCurves ?? [], signatureAlgorithms: tls.signatureAlgorithms ?? [],
                    alpnProtocols: tls.alpnProtocols),
                clientCA: validation)
        }
        return result
    }

    /// The CA certificates of ConfigMaps or Secrets (key `ca.crt`) in the policy's
    /// namespace, one bundle.
    static func clientCA(_ validation: ClientTrafficPolicy.ClientValidation, policy: ObjectKey, set: ResourceSet) throws(PolicyProblem)
        -> ClientCAPlan
    {
        var bundle = ""
        let refs = validation.caCertificateRefs ?? []
        guard !refs.isEmpty else { throw PolicyProblem("spec.tls.clientValidation.caCertificateRefs: at least one CA is required") }
        for (index, ref) in refs.enumerated() {
            let field = "spec.tls.clientValidation.caCertificateRefs[\(index)]"
            let namespace = ref.namespace ?? policy.namespace
            guard namespace == policy.namespace else {
                throw PolicyProblem("\(field): CA certificates from another namespace (\(namespace)) are not supported")
            }
            let checked: Result<String, CertificateProblem>
            switch (ref.group ?? "", ref.kind ?? "Secret") {
            case ("", "ConfigMap"):
                guard case .configMap(let found)? = set[ObjectKey(.configMap, namespace: namespace, name: ref.name)]?.object else {
                    throw PolicyProblem("\(field): ConfigMap \(namespace)/\(ref.name) does not exist")
                }
                checked = CertificateCheck.checkBundle(found)
            case ("", "Secret"):
                guard case .secret(let secret)? = set[ObjectKey(.secret, namespace: namespace, name: ref.name)]?.object else {
                    throw PolicyProblem("\(field): Secret \(namespace)/\(ref.name) does not exist")
                }
                checked = CertificateCheck.checkBundle(CertificateCheck.value(secret, "ca.crt"), of: "Secret \(namespace)/\(ref.name)")
            default:
                throw PolicyProblem("\(field): \(ref.group ?? "")/\(ref.kind ?? "") is neither a ConfigMap nor a Secret")
            }
            switch checked {
            case .success(let pem): bundle += pem
            case .failure(let problem): throw PolicyProblem("\(field): \(problem.message)")
            }
        }
        return ClientCAPlan(
            secretName: "\(policy.namespace)/\(policy.name)/client-ca", bundlePEM: bundle, required: !(validation.optional ?? false),
            policy: policy)
    }
}

/// What the ClientTrafficPolicies in effect on one Gateway listener ask.
struct ListenerClient: Hashable {
    var settings: ClientSettingsPlan?
    var tls: DownstreamTLSPlan?
    var clientCA: ClientCAPlan?
}

extension RoutePolicies {
    /// The levels a Gateway listener is governed from, most specific first.
    static func levels(gateway: ObjectKey, listener: PreparedListener) -> [PolicyTarget] {
        var levels: [PolicyTarget] = []
        if let listenerSet = listener.listenerSet {
            levels.append(PolicyTarget(listenerSet, section: listener.spec.name))
            levels.append(PolicyTarget(listenerSet))
        } else {
            levels.append(PolicyTarget(gateway, section: listener.spec.name))
        }
        levels.append(PolicyTarget(gateway))
        return levels
    }

    /// The client settings of a Gateway listener (nil when no ClientTrafficPolicy
    /// applies, or the one that does cannot be used: its routes answer 500 then).
    static func client(gateway: ObjectKey, listener: PreparedListener, context: Context) -> ListenerClient? {
        guard let index = context.routePolicies.byKind.first(where: { $0.kind == .clientTrafficPolicy })?.index, !index.isEmpty
        else { return nil }
        let winners = winners(along: levels(gateway: gateway, listener: listener), in: index)
        guard !winners.isEmpty else { return nil }
        var client = ListenerClient()
        var settings = ClientSettingsPlan()
        for (feature, policy) in assignment(of: winners) {
            guard policy.problem == nil, let effect = policy.effects[feature] else { return nil }
            if !settings.origins.contains(policy.key) { settings.origins.append(policy.key) }
            switch effect {
            case .clientAddress(let source): settings.clientAddress = source
            case .clientTimeouts(let requestReceived, let idle):
                settings.requestReceivedTimeoutMilliseconds = requestReceived
                settings.idleTimeoutMilliseconds = idle
            case .connection(let limit, let delay, let bufferBytes):
                settings.connectionLimit = limit
                settings.connectionLimitDelayMilliseconds = delay
                settings.bufferLimitBytes = bufferBytes
            case .http1(let trailers, let preserveCase, let http10, let defaultHost):
                settings.enableTrailers = trailers
                settings.preserveHeaderCase = preserveCase
                // The listener's hostname is the default Host, unless it is a wildcard.
                if http10 {
                    settings.http10DefaultHost = defaultHost ? listener.spec.hostname.flatMap { $0.hasPrefix("*") ? nil : $0 } ?? "" : ""
                }
            case .requestHeaders(let requestID, let underscores, let forwardClientCert):
                settings.requestID = requestID
                settings.underscores = underscores
                settings.forwardClientCert = forwardClientCert
            case .tls(let tls, let clientCA):
                client.tls = tls
                client.clientCA = clientCA
            default: break
            }
        }
        settings.origins.sort()
        client.settings = settings
        return client
    }
}

/// The TLS names Envoy (BoringSSL) knows: a listener naming another is refused by the
/// proxy, so a policy naming one is not used.
enum TLSNames {
    static let ciphers: Set<String> = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-PSK-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-PSK-AES128-CBC-SHA",
        "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-PSK-AES256-CBC-SHA", "AES128-GCM-SHA256", "AES256-GCM-SHA384",
        "AES128-SHA", "AES256-SHA", "PSK-AES128-CBC-SHA", "PSK-AES256-CBC-SHA", "DES-CBC3-SHA",
    ]
    static let curves: Set<String> = ["X25519", "P-256", "P-384", "P-521", "X25519MLKEM768"]
    static let signatureAlgorithms: Set<String> = [
        "rsa_pkcs1_sha1", "rsa_pkcs1_sha256", "rsa_pkcs1_sha384", "rsa_pkcs1_sha512", "ecdsa_sha1", "ecdsa_secp256r1_sha256",
        "ecdsa_secp384r1_sha384", "ecdsa_secp521r1_sha512", "rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384", "rsa_pss_rsae_sha512",
        "ed25519",
    ]

    /// With `groups`, an entry may be a group of equally preferred names, `[A|B]`.
    static func check(_ names: [String], known: Set<String>, at path: String, groups: Bool = false) throws(PolicyProblem) {
        for (index, name) in names.enumerated() {
            let members =
                groups && name.hasPrefix("[") && name.hasSuffix("]")
                ? name.dropFirst().dropLast().split(separator: "|").map(String.init) : [name]
            for member in members where !known.contains(member) {
                throw PolicyProblem("\(path)[\(index)]: \(member) is not a name Envoy knows (\(known.sorted().joined(separator: ", ")))")
            }
        }
    }
}
