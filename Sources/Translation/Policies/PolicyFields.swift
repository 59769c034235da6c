import GatewayModel

/// The fields of a policy's spec that Chancery carries out, as a tree of names. A field
/// written in a policy but absent from its kind's tree is not carried out: the policy is
/// not accepted, and its status names the field. `docs/policies.md` lists the same tree
/// (a test compares them).
struct PolicyFields: Sendable {
    /// Nil for a field taken whole (a value, or a list of values).
    let children: [String: PolicyFields]?

    static let leaf = PolicyFields(children: nil)

    init(children: [String: PolicyFields]?) { self.children = children }

    /// An object whose listed fields are supported (each a leaf unless given).
    init(_ leaves: [String], _ objects: [String: PolicyFields] = [:]) {
        var children = objects
        for name in leaves { children[name] = .leaf }
        self.children = children
    }

    /// The paths (`spec.authorization.rules[0].principal.jwt`) of every field in `value`
    /// that the tree does not have, in the order written (keys sorted).
    func unsupported(in value: JSONValue, at path: String) -> [String] {
        // Most policies have nothing unsupported: look first, spell paths only then.
        guard hasUnsupported(in: value) else { return [] }
        var result: [String] = []
        collect(in: value, at: path, into: &result)
        return result
    }

    private func hasUnsupported(in value: JSONValue) -> Bool {
        guard let children else { return false }
        switch value {
        case .object(let fields):
            for (name, inner) in fields {
                guard let child = children[name] else { return true }
                if child.hasUnsupported(in: inner) { return true }
            }
            return false
        case .array(let items): return items.contains { hasUnsupported(in: $0) }
        default: return false
        }
    }

    private func collect(in value: JSONValue, at path: String, into result: inout [String]) {
        guard let children else { return }
        switch value {
        case .object(let fields):
            for name in fields.keys.sorted() {
                guard let child = children[name] else {
                    result.append("\(path).\(name)")
                    continue
                }
                child.collect(in: fields[name]!, at: "\(path).\(name)", into: &result)
            }
        case .array(let items):
            for (index, item) in items.enumerated() { collect(in: item, at: "\(path)[\(index)]", into: &result) }
        default:
            break
        }
    }

    /// Every supported field's path (`spec.authorization.rules[*].action`), sorted.
    func paths(at path: String = "spec") -> [String] {
        guard let children else { return [path] }
        return children.keys.sorted().flatMap { name in children[name]!.paths(at: "\(path).\(name)") }
    }

    /// The fields every policy kind shares: what it attaches to.
    static let targets: [String: PolicyFields] = [
        "targetRef": PolicyFields(["group", "kind", "name", "sectionName"]),
        "targetRefs": PolicyFields(["group", "kind", "name", "sectionName"]),
        "targetSelectors": PolicyFields(["group", "kind", "matchLabels", "matchExpressions"]),
    ]

    static func spec(_ features: [String: PolicyFields]) -> PolicyFields {
        PolicyFields(children: targets.merging(features) { _, feature in feature })
    }

    private static let pathMatch = PolicyFields(["type", "value", "invert"])

    static let securityPolicy = spec([
        "authorization": PolicyFields(
            ["defaultAction"],
            [
                "rules": PolicyFields(
                    ["name", "action"],
                    [
                        "operation": PolicyFields(["methods"], ["path": pathMatch]),
                        "principal": PolicyFields(
                            ["clientCIDRs"],
                            [
                                "headers": PolicyFields(["name", "values"]),
                                "jwt": PolicyFields(["provider", "scopes"], ["claims": PolicyFields(["name", "valueType", "values"])]),
                            ]),
                    ])
            ]),
        "cors": PolicyFields(["allowOrigins", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge", "allowCredentials"]),
        "jwt": PolicyFields(
            ["optional"],
            [
                "providers": PolicyFields(
                    ["name", "issuer", "audiences", "recomputeRoute"],
                    [
                        "remoteJWKS": PolicyFields(["uri", "cacheDuration"]),
                        "localJWKS": PolicyFields(["type", "inline"], ["valueRef": PolicyFields(["group", "kind", "name"])]),
                        "claimToHeaders": PolicyFields(["header", "claim"]),
                        "extractFrom": PolicyFields(["cookies", "params"], ["headers": PolicyFields(["name", "valuePrefix"])]),
                    ])
            ]),
        "basicAuth": PolicyFields([], ["users": PolicyFields(["group", "kind", "name", "namespace"])]),
        "apiKeyAuth": PolicyFields(
            ["forwardClientIDHeader", "sanitize"],
            [
                "credentialRefs": PolicyFields(["group", "kind", "name", "namespace"]),
                "extractFrom": PolicyFields(["headers", "params", "cookies"]),
            ]),
    ])

    static let backendTrafficPolicy = spec([
        "rateLimit": PolicyFields(
            ["type"],
            [
                "local": PolicyFields(
                    [],
                    [
                        "rules": PolicyFields(
                            [],
                            [
                                "clientSelectors": PolicyFields(
                                    [],
                                    [
                                        "headers": PolicyFields(["name", "type", "value", "invert"]),
                                        "methods": PolicyFields(["value", "invert"]),
                                        "path": pathMatch,
                                        "sourceCIDR": PolicyFields(["type", "value"]),
                                    ]),
                                "limit": PolicyFields(["requests", "unit"]),
                            ])
                    ])
            ]),
        "retry": PolicyFields(
            ["numRetries"],
            [
                "retryOn": PolicyFields(["triggers", "httpStatusCodes"]),
                "perRetry": PolicyFields(["timeout"], ["backOff": PolicyFields(["baseInterval", "maxInterval"])]),
            ]),
        "timeout": PolicyFields(
            [], ["http": PolicyFields(["requestTimeout", "connectionIdleTimeout"]), "tcp": PolicyFields(["connectTimeout"])]),
        "loadBalancer": PolicyFields(
            ["type"],
            ["consistentHash": PolicyFields(["type", "tableSize"], ["header": PolicyFields(["name"]), "cookie": PolicyFields(["name", "ttl"])])]
        ),
        "circuitBreaker": PolicyFields(["maxConnections", "maxPendingRequests", "maxParallelRequests", "maxParallelRetries"]),
        "healthCheck": PolicyFields(
            [],
            [
                "passive": PolicyFields([
                    "splitExternalLocalOriginErrors", "interval", "consecutiveLocalOriginFailures", "consecutiveGatewayErrors",
                    "consecutive5XxErrors", "baseEjectionTime", "maxEjectionPercent",
                ]),
                "active": PolicyFields(
                    ["type", "timeout", "interval", "unhealthyThreshold", "healthyThreshold"],
                    [
                        "http": PolicyFields(["hostname", "path", "method", "expectedStatuses"]),
                        "tcp": PolicyFields(
                            [], ["send": PolicyFields(["type", "text", "binary"]), "receive": PolicyFields(["type", "text", "binary"])]),
                    ]),
            ]),
        "faultInjection": PolicyFields(
            [], ["delay": PolicyFields(["fixedDelay", "percentage"]), "abort": PolicyFields(["httpStatus", "grpcStatus", "percentage"])]),
    ])

    static let clientTrafficPolicy = spec([
        "clientIPDetection": PolicyFields(
            [], ["xForwardedFor": PolicyFields(["numTrustedHops", "trustedCIDRs"]), "customHeader": PolicyFields(["name", "failClosed"])]),
        "timeout": PolicyFields([], ["http": PolicyFields(["requestReceivedTimeout", "idleTimeout"])]),
        "connection": PolicyFields(["bufferLimit"], ["connectionLimit": PolicyFields(["value", "closeDelay"])]),
        "http1": PolicyFields(["enableTrailers", "preserveHeaderCase"], ["http10": PolicyFields(["useDefaultHost"])]),
        "headers": PolicyFields(
            ["requestID", "preserveXRequestID", "withUnderscoresAction"],
            ["xForwardedClientCert": PolicyFields(["mode", "certDetailsToAdd"])]),
        "tls": PolicyFields(
            ["minVersion", "maxVersion", "ciphers", "ecdhCurves", "signatureAlgorithms", "alpnProtocols"],
            ["clientValidation": PolicyFields(["optional"], ["caCertificateRefs": PolicyFields(["group", "kind", "name", "namespace"])])]),
    ])
}
