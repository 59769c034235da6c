import Foundation
import GatewayModel
import IR

/// SecurityPolicy (Envoy Gateway's field names and semantics): authorization by client
/// address, headers, method and path; basic auth from an htpasswd Secret; API keys from
/// Secrets; CORS. A policy that cannot be used (a field Chancery does not carry out, a
/// missing or malformed Secret) fails closed: the routes it governs answer 500.
enum SecurityPolicies: RoutePolicyKind {
    static let kind = Kind.securityPolicy
    static let targetKinds: [Kind] = [.gateway, .listenerSet, .httpRoute, .grpcRoute, .tcpRoute]

    static func resolveAll(in set: ResourceSet) -> [ResolvedRoutePolicy] {
        set.securityPolicies.map { policy in
            resolve(policy, fields: .securityPolicy, in: set) { (policy, namespace) throws(PolicyProblem) in
                try effects(of: policy, namespace: namespace, set: set)
            }
        }
    }

    static func effects(of policy: SecurityPolicy, namespace: String, set: ResourceSet) throws(PolicyProblem)
        -> [String: RouteEffect]
    {
        let key = ObjectKey(kind, namespace: namespace, name: policy.metadata.name)
        var result: [String: RouteEffect] = [:]
        if let authorization = policy.spec.authorization {
            result["authorization"] = .authorization(try authorizationPlan(authorization, policy: key, jwt: policy.spec.jwt))
        }
        if let jwt = policy.spec.jwt { result["jwt"] = .jwt(try jwtPlan(jwt, policy: key, set: set)) }
        if let cors = policy.spec.cors { result["cors"] = .cors(corsPlan(cors)) }
        if let basicAuth = policy.spec.basicAuth {
            result["basicAuth"] = .basicAuth(try basicAuthPlan(basicAuth, policy: key, set: set))
        }
        if let apiKeyAuth = policy.spec.apiKeyAuth {
            result["apiKeyAuth"] = .apiKeyAuth(try apiKeyAuthPlan(apiKeyAuth, policy: key, set: set))
        }
        return result
    }

    // MARK: authorization

    /// Rules in order, first match wins; Deny when nothing matches unless
    /// `defaultAction` says Allow (so `authorization: {}` denies every request).
    static func authorizationPlan(
        _ authorization: SecurityPolicy.Authorization, policy: ObjectKey, jwt: SecurityPolicy.JWT?
    ) throws(PolicyProblem) -> AuthorizationPlan {
        var rules: [AuthorizationRulePlan] = []
        for (index, rule) in (authorization.rules ?? []).enumerated() {
            let path = "spec.authorization.rules[\(index)]"
            var plan = AuthorizationRulePlan(
                name: rule.name ?? "securitypolicy/\(policy.namespace)/\(policy.name)/authorization/rule/\(index)",
                allow: rule.action == .allow)
            plan.methods = rule.operation?.methods ?? []
            if let match = rule.operation?.path {
                plan.path = PathCondition(match: try pathMatch(match.type, match.value, at: "\(path).operation.path"), invert: match.invert ?? false)
            }
            plan.clientAddresses = (rule.principal?.clientCIDRs ?? []).compactMap(AddressRange.init)
            plan.headers = (rule.principal?.headers ?? []).map { HeaderValuesPlan(name: $0.name.lowercased(), values: $0.values) }
            if let condition = rule.principal?.jwt {
                guard (jwt?.providers ?? []).contains(where: { $0.name == condition.provider }) else {
                    throw PolicyProblem("\(path).principal.jwt.provider: this policy's jwt has no provider \(condition.provider)")
                }
                plan.jwt = JWTConditionPlan(
                    provider: providerName(condition.provider, policy: policy),
                    claims: (condition.claims ?? []).map { claim in
                        JWTConditionPlan.Claim(
                            path: claim.name.split(separator: ".").map(String.init), values: claim.values,
                            isList: claim.valueType == "StringArray")
                    }, scopes: condition.scopes ?? [])
            }
            rules.append(plan)
        }
        return AuthorizationPlan(rules: rules, defaultAllow: authorization.defaultAction == .allow)
    }

    /// Envoy Gateway's path match: PathPrefix (whole segments, the default), Exact or
    /// RegularExpression (RE2, over the whole path).
    static func pathMatch(_ type: String?, _ value: String?, at path: String) throws(PolicyProblem) -> PathMatch {
        let value = value ?? "/"
        switch type ?? "PathPrefix" {
        case "Exact": return .exact(value)
        case "RegularExpression":
            if let problem = value.isEmpty ? "an empty regular expression" : RE2.problem(value) {
                throw PolicyProblem("\(path).value: \(problem)")
            }
            return .regex(value)
        default: return .segmentPrefix(normalizing: value)
        }
    }

    // MARK: JWT

    /// A provider's name in the proxy: unique across policies.
    static func providerName(_ name: String, policy: ObjectKey) -> String { "\(policy.namespace)/\(policy.name)/\(name)" }

    /// The cluster remote JWKS are fetched through: one per scheme, host and port.
    static func jwksCluster(_ endpoint: JWKSEndpoint) -> String { "chancery/jwks/\(endpoint.secure ? "https" : "http")/\(endpoint.host):\(endpoint.port)" }

    static func jwtPlan(_ jwt: SecurityPolicy.JWT, policy: ObjectKey, set: ResourceSet) throws(PolicyProblem) -> JWTPlan {
        var providers: [JWTProviderPlan] = []
        for (index, provider) in jwt.providers.enumerated() {
            let field = "spec.jwt.providers[\(index)]"
            let keys: JWTProviderPlan.Keys
            if let remote = provider.remoteJWKS {
                guard let endpoint = JWKSEndpoint(uri: remote.uri) else {
                    throw PolicyProblem("\(field).remoteJWKS.uri: \(remote.uri) is not an http or https URI")
                }
                keys = .remote(
                    uri: remote.uri, cluster: jwksCluster(endpoint),
                    cacheSeconds: remote.cacheDuration.flatMap(GatewayDuration.milliseconds(in:)).map { max(1, $0 / 1000) })
            } else if let local = provider.localJWKS {
                keys = .local(try localJWKS(local, field: "\(field).localJWKS", namespace: policy.namespace, set: set))
            } else {
                throw PolicyProblem("\(field): either remoteJWKS or localJWKS must be specified")
            }
            providers.append(
                JWTProviderPlan(
                    name: providerName(provider.name, policy: policy), issuer: provider.issuer.flatMap { $0.isEmpty ? nil : $0 },
                    audiences: provider.audiences ?? [], keys: keys,
                    claimToHeaders: (provider.claimToHeaders ?? []).map { HeaderValue(name: $0.header, value: $0.claim, append: false) },
                    headers: (provider.extractFrom?.headers ?? []).map { .init(name: $0.name, valuePrefix: $0.valuePrefix) },
                    cookies: provider.extractFrom?.cookies ?? [], params: provider.extractFrom?.params ?? [],
                    recomputeRoute: provider.recomputeRoute ?? false))
        }
        let names = jwt.providers.map(\.name)
        if let repeated = names.first(where: { name in names.count { $0 == name } > 1 }) {
            throw PolicyProblem("spec.jwt.providers: the name \(repeated) is used twice")
        }
        return JWTPlan(policy: policy, providers: providers, optional: jwt.optional ?? false)
    }

    /// A JWKS document given inline, or in a ConfigMap of the policy's namespace (its
    /// `jwks` key, or its only key); it must be a JSON object with `keys`.
    static func localJWKS(_ local: SecurityPolicy.LocalJWKS, field: String, namespace: String, set: ResourceSet) throws(PolicyProblem)
        -> String
    {
        let text: String
        if local.type == "ValueRef" {
            guard let ref = local.valueRef, ref.group == "", ref.kind == Kind.configMap.rawValue else {
                throw PolicyProblem("\(field).valueRef: a ConfigMap is required")
            }
            guard case .configMap(let configMap)? = set[ObjectKey(.configMap, namespace: namespace, name: ref.name)]?.object else {
                throw PolicyProblem("\(field).valueRef: ConfigMap \(namespace)/\(ref.name) does not exist")
            }
            let data = configMap.data ?? [:]
            guard let value = data["jwks"] ?? (data.count == 1 ? data.values.first : nil) else {
                throw PolicyProblem("\(field).valueRef: ConfigMap \(namespace)/\(ref.name) has no jwks key")
            }
            text = value
        } else {
            guard let inline = local.inline else { throw PolicyProblem("\(field).inline: required for type Inline") }
            text = inline
        }
        guard case .object(let document)? = try? JSONValue.parse(text), case .array(let keys)? = document["keys"], !keys.isEmpty else {
            throw PolicyProblem("\(field): not a JWKS document (a JSON object with a non-empty keys list)")
        }
        return text
    }

    // MARK: CORS

    /// As the HTTPRoute CORS filter's (an HTTPRoute's own CORS filter wins over it); `*`
    /// in a list allows anything; `maxAge` 5 s unless given.
    static func corsPlan(_ cors: SecurityPolicy.CORS) -> CORSPlan {
        func list(_ values: [String]?) -> [String] { (values ?? []).contains("*") ? ["*"] : values ?? [] }
        let maxAge = cors.maxAge.flatMap(GatewayDuration.milliseconds(in:)).map { Int($0 / 1000) }
        return CORSPlan(
            allowOrigins: (cors.allowOrigins ?? []).map(HTTPRoutePlanner.originMatch),
            allowMethods: list(cors.allowMethods), allowHeaders: list(cors.allowHeaders),
            exposeHeaders: list(cors.exposeHeaders), maxAgeSeconds: maxAge ?? 5, allowCredentials: cors.allowCredentials ?? false)
    }

    // MARK: basic auth

    /// The users of an htpasswd file in the Secret's `.htpasswd` key: `user:{SHA}hash`
    /// lines, the only scheme Envoy checks.
    static func basicAuthPlan(_ basicAuth: SecurityPolicy.BasicAuth, policy: ObjectKey, set: ResourceSet) throws(PolicyProblem)
        -> BasicAuthPlan
    {
        let secret = try secret(basicAuth.users, field: "spec.basicAuth.users", policy: policy, set: set)
        guard let file = CertificateCheck.value(secret, ".htpasswd"), !file.isEmpty else {
            throw PolicyProblem("spec.basicAuth.users: Secret \(secret.metadata.namespace ?? policy.namespace)/\(secret.metadata.name) has no .htpasswd key")
        }
        var lines: [String] = []
        var users: Set<Substring> = []
        for line in file.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].hasPrefix("{SHA}"),
                let hash = Data(base64Encoded: String(parts[1].dropFirst(5))), hash.count == 20
            else {
                throw PolicyProblem(
                    "spec.basicAuth.users: the .htpasswd line of user \(parts.first.map(String.init) ?? "") is not user:{SHA}<base64 SHA-1>: unsupported htpasswd format: please use {SHA}"
                )
            }
            guard users.insert(parts[0]).inserted else {
                throw PolicyProblem("spec.basicAuth.users: user \(parts[0]) is listed twice in the .htpasswd file")
            }
            lines.append(text)
        }
        guard !lines.isEmpty else { throw PolicyProblem("spec.basicAuth.users: the .htpasswd file lists no users") }
        return BasicAuthPlan(policy: policy, htpasswd: lines.joined(separator: "\n"))
    }

    // MARK: API keys

    /// Every Secret's keys are client IDs and their values API keys; a client listed
    /// twice keeps its first key; two clients with one key are refused.
    static func apiKeyAuthPlan(_ apiKeyAuth: SecurityPolicy.APIKeyAuth, policy: ObjectKey, set: ResourceSet) throws(PolicyProblem)
        -> APIKeyAuthPlan
    {
        var credentials: [APIKeyAuthPlan.Credential] = []
        var clients: Set<String> = []
        var owners: [String: String] = [:]
        for (index, ref) in apiKeyAuth.credentialRefs.enumerated() {
            let secret = try secret(ref, field: "spec.apiKeyAuth.credentialRefs[\(index)]", policy: policy, set: set)
            let names = Set((secret.data ?? [:]).keys).union((secret.stringData ?? [:]).keys).sorted()
            for client in names {
                guard let key = CertificateCheck.value(secret, client), !key.isEmpty else { continue }
                guard clients.insert(client).inserted else { continue }
                if let other = owners[key] {
                    throw PolicyProblem(
                        "spec.apiKeyAuth.credentialRefs[\(index)]: clients \(other) and \(client) have the same API key")
                }
                owners[key] = client
                credentials.append(APIKeyAuthPlan.Credential(client: client, key: key))
            }
        }
        guard !credentials.isEmpty else { throw PolicyProblem("spec.apiKeyAuth.credentialRefs: the Secrets hold no API keys") }
        var sources: [APIKeyAuthPlan.Source] = []
        for source in apiKeyAuth.extractFrom {
            sources += (source.headers ?? []).map { .header($0) }
            sources += (source.params ?? []).map { .query($0) }
            sources += (source.cookies ?? []).map { .cookie($0) }
        }
        return APIKeyAuthPlan(
            credentials: credentials, sources: sources, forwardClientIDHeader: apiKeyAuth.forwardClientIDHeader,
            sanitize: apiKeyAuth.sanitize ?? false)
    }

    /// A Secret a policy names: in its namespace, or in another one whose ReferenceGrant
    /// lets SecurityPolicies of the policy's namespace name it.
    static func secret(_ ref: SecretObjectReference, field: String, policy: ObjectKey, set: ResourceSet) throws(PolicyProblem)
        -> Secret
    {
        guard (ref.group ?? "").isEmpty, (ref.kind ?? "Secret") == "Secret" else {
            throw PolicyProblem("\(field): \(ref.group ?? "")/\(ref.kind ?? "") \(ref.name) is not a Secret")
        }
        let namespace = ref.namespace ?? policy.namespace
        let key = ObjectKey(.secret, namespace: namespace, name: ref.name)
        if namespace != policy.namespace {
            let grants = set.referenceGrants.filter { ($0.metadata.namespace ?? "default") == namespace }
            guard Context.granted(by: grants, from: kind, namespace: policy.namespace, to: key) else {
                throw PolicyProblem("\(field): no ReferenceGrant in namespace \(namespace) lets this policy use Secret \(namespace)/\(ref.name)")
            }
        }
        guard case .secret(let secret)? = set[key]?.object else {
            throw PolicyProblem("\(field): Secret \(namespace)/\(ref.name) does not exist")
        }
        return secret
    }
}

/// Where remote JWKS are fetched from: an http or https URI's host and port.
struct JWKSEndpoint: Hashable, Sendable {
    let secure: Bool
    let host: String
    let port: Int

    init?(uri: String) {
        let secure: Bool
        let rest: Substring
        if uri.hasPrefix("https://") {
            secure = true
            rest = uri.dropFirst(8)
        } else if uri.hasPrefix("http://") {
            secure = false
            rest = uri.dropFirst(7)
        } else {
            return nil
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var host = authority
        var port = secure ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let parsed = Int(after.dropFirst()), (1...65535).contains(parsed) else { return nil }
                port = parsed
            }
        } else if let colon = authority.lastIndex(of: ":") {
            guard let parsed = Int(authority[authority.index(after: colon)...]), (1...65535).contains(parsed) else { return nil }
            host = authority[..<colon]
            port = parsed
        }
        guard !host.isEmpty else { return nil }
        self.secure = secure
        self.host = String(host)
        self.port = port
    }
}
