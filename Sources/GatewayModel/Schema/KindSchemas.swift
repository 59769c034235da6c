import Yams

/// The schema of each Gateway API kind Chancery reads, per served version, as the
/// experimental-channel CRDs of Gateway API v1.6.1 declare them (the standard channel's
/// are a subset), and the check ``ManifestDecoder`` runs on every object before it
/// decodes it. The core kinds (Service, EndpointSlice, Secret, Namespace, ConfigMap)
/// get the object-name rules only (``ObjectNames``).
///
/// What is checked is the object as the API server checks it: the root needs `spec`;
/// `spec` is walked; `status` is not (the API server ignores it on create and update
/// of the main resource), nor are `apiVersion`, `kind` and `metadata` (checked by the
/// decoder and ``ObjectNames``).
enum KindSchemas {
    /// A root schema: an object whose `spec` is required.
    private static func root(_ spec: Schema) -> Schema { .object(["spec": spec], required: ["spec"]) }

    static let gatewayClass = root(Schemas.gatewayClassSpec)
    static let gateway = root(Schemas.gatewaySpec)
    static let listenerSet = root(Schemas.listenerSetSpec)
    static let httpRoute = root(Schemas.httpRouteSpec)
    static let grpcRoute = root(Schemas.grpcRouteSpec)
    static let tlsRoute = root(Schemas.tlsRouteSpec)
    static let tlsRouteV1alpha2 = root(Schemas.tlsRouteSpecV1alpha2)
    static let l4Route = root(Schemas.l4RouteSpec)
    static let l4RouteV1alpha2 = root(Schemas.l4RouteSpecV1alpha2)
    static let backendTLSPolicy = root(Schemas.backendTLSPolicySpec)
    static let referenceGrant = root(Schemas.referenceGrantSpec)
    static let securityPolicy = root(Schemas.securityPolicySpec)
    static let backendTrafficPolicy = root(Schemas.backendTrafficPolicySpec)
    static let clientTrafficPolicy = root(Schemas.clientTrafficPolicySpec)

    /// The schema for `kind` at `apiVersion` (`gateway.networking.k8s.io/v1`, …); nil for
    /// the core kinds.
    ///
    /// Versions whose schema is the same in v1.6.1 share it: GatewayClass, Gateway and
    /// HTTPRoute v1beta1 are v1's; ReferenceGrant v1beta1 is v1's; BackendTLSPolicy
    /// v1alpha3 is v1's; TLSRoute v1alpha3 is v1's. TLSRoute, TCPRoute and UDPRoute
    /// v1alpha2 differ from v1 (up to 16 rules with unique names; TLSRoute hostnames
    /// optional and unchecked by CEL). GRPCRoute v1alpha2 is no longer served by
    /// v1.6.1's CRD; Chancery reads it with v1's schema.
    static func schema(for kind: Kind, apiVersion: String) -> Schema? {
        let alpha2 = apiVersion.hasSuffix("/v1alpha2")
        switch kind {
        case .gatewayClass: return gatewayClass
        case .gateway: return gateway
        case .listenerSet: return listenerSet
        case .httpRoute: return httpRoute
        case .grpcRoute: return grpcRoute
        case .tlsRoute: return alpha2 ? tlsRouteV1alpha2 : tlsRoute
        case .tcpRoute, .udpRoute: return alpha2 ? l4RouteV1alpha2 : l4Route
        case .backendTLSPolicy: return backendTLSPolicy
        case .referenceGrant: return referenceGrant
        case .securityPolicy: return securityPolicy
        case .backendTrafficPolicy: return backendTrafficPolicy
        case .clientTrafficPolicy: return clientTrafficPolicy
        case .service, .endpointSlice, .secret, .namespace, .configMap, .ingress, .ingressClass, .pod, .ciliumNetworkPolicy, .authorizationPolicy: return nil
        }
    }

    /// Every schema, with the kind and the versions it serves, in the order of the table
    /// in docs/gateway-api.md.
    static let all: [(kind: Kind, versions: String, schema: Schema)] = [
        (.gatewayClass, "v1, v1beta1", gatewayClass),
        (.gateway, "v1, v1beta1", gateway),
        (.listenerSet, "v1", listenerSet),
        (.httpRoute, "v1, v1beta1", httpRoute),
        (.grpcRoute, "v1", grpcRoute),
        (.tlsRoute, "v1, v1alpha3", tlsRoute),
        (.tlsRoute, "v1alpha2", tlsRouteV1alpha2),
        (.tcpRoute, "v1", l4Route),
        (.tcpRoute, "v1alpha2", l4RouteV1alpha2),
        (.udpRoute, "v1", l4Route),
        (.udpRoute, "v1alpha2", l4RouteV1alpha2),
        (.backendTLSPolicy, "v1, v1alpha3", backendTLSPolicy),
        (.referenceGrant, "v1, v1beta1", referenceGrant),
    ]

    /// Envoy Gateway's policy kinds' schemas (the fields Chancery reads; listed in
    /// docs/policies.md rather than in docs/gateway-api.md's counts).
    static let policies: [(kind: Kind, versions: String, schema: Schema)] = [
        (.securityPolicy, "v1alpha1", securityPolicy),
        (.backendTrafficPolicy, "v1alpha1", backendTrafficPolicy),
        (.clientTrafficPolicy, "v1alpha1", clientTrafficPolicy),
    ]

    /// The first problem of an object (its whole node) against its kind's schema.
    static func firstProblem(of node: Node, kind: Kind, apiVersion: String) -> SchemaProblem? {
        guard let schema = schema(for: kind, apiVersion: apiVersion) else { return nil }
        return SchemaValidator.problems(of: node, schema: schema, firstOnly: true).first
    }

    /// Every problem the metadata rules and the schema find in one object given as YAML
    /// or JSON (nil when it is not an object of a kind Chancery reads). For tests and
    /// tools; decoding stops at the first.
    static func problems(in text: String, runAllRules: Bool = false) throws -> [SchemaProblem]? {
        guard let node = try Yams.compose(yaml: text, Resolver.basic.appending(.merge)), case .mapping(let mapping) = node,
            let kind = JSONType.value(of: "kind", in: mapping)?.scalar.flatMap({ Kind(rawValue: $0.string) }),
            let apiVersion = JSONType.value(of: "apiVersion", in: mapping)?.scalar?.string
        else { return nil }
        let metadata = JSONType.value(of: "metadata", in: mapping)
        let name = metadata?.mapping.flatMap { JSONType.value(of: "name", in: $0) }?.scalar?.string ?? ""
        var problems = name.isEmpty ? [] : [ObjectNames.firstProblem(of: metadata, kind: kind, name: name)].compactMap { $0 }
        if let schema = schema(for: kind, apiVersion: apiVersion) {
            problems += SchemaValidator.problems(of: node, schema: schema, runAllRules: runAllRules)
        }
        return problems
    }
}

// MARK: counting

extension Schema {
    /// The kinds of constraint the docs count, in the docs' column order.
    enum Constraint: String, CaseIterable, Sendable {
        case type, required, `enum`, minLength, maxLength, pattern, minItems, maxItems, minimum, maximum, maxProperties
        case format, `default`, listType, oneOf, cel
    }

    /// Every constraint of this schema and the schemas under it, one per field path (a
    /// shared schema counts at each place it is used, as the CRD repeats it): the path
    /// (`spec.rules[*].name`, `{*}` for a map's values), the constraint, and its value.
    func constraints(at path: String = "") -> [(path: String, constraint: Constraint, detail: String)] {
        var result: [(String, Constraint, String)] = []
        func add(_ constraint: Constraint, _ detail: String) { result.append((path, constraint, detail)) }
        add(.type, type.rawValue)
        for name in required { add(.required, name) }
        if let enumStrings { add(.enum, enumStrings.joined(separator: ",")) }
        if let enumIntegers { add(.enum, enumIntegers.map(String.init).joined(separator: ",")) }
        if let minLength { add(.minLength, String(minLength)) }
        if let maxLength { add(.maxLength, String(maxLength)) }
        if let pattern { add(.pattern, pattern.regex) }
        if let minItems { add(.minItems, String(minItems)) }
        if let maxItems { add(.maxItems, String(maxItems)) }
        if let minimum { add(.minimum, String(minimum)) }
        if let maximum { add(.maximum, String(maximum)) }
        if let maxProperties { add(.maxProperties, String(maxProperties)) }
        if let format { add(.format, format.rawValue) }
        if let defaultValue { add(.default, defaultValue.json) }
        switch listType {
        case .atomic: break
        case .set: add(.listType, "set")
        case .map(let keys): add(.listType, "map:" + keys.joined(separator: ","))
        }
        for rule in rules {
            switch rule.kind {
            case .oneOf: add(.oneOf, "")
            case .cel, .transition: add(.cel, rule.message)
            }
        }
        let prefix = path.isEmpty ? "" : path + "."
        for (name, schema) in zip(propertyNames, propertySchemas) {
            result += schema.constraints(at: prefix + name)
        }
        if let items { result += items.constraints(at: path + "[*]") }
        if let values { result += values.constraints(at: path + "{*}") }
        return result.map { (path: $0.0, constraint: $0.1, detail: $0.2) }
    }
}
