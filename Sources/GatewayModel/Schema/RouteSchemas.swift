/// The route kinds' schemas: HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute.
extension Schemas {
    // MARK: HTTPRoute

    /// `HTTPPathModifier` of a redirect or a rewrite.
    static let pathModifier = Schema.object(
        [
            "replaceFullPath": .string(maxLength: 1024),
            "replacePrefixMatch": .string(maxLength: 1024),
            "type": .string(enum: ["ReplaceFullPath", "ReplacePrefixMatch"]),
        ], required: ["type"],
        rules: Rule.unionMember("replaceFullPath", when: "type", is: "ReplaceFullPath")
            + Rule.unionMember("replacePrefixMatch", when: "type", is: "ReplacePrefixMatch"))

    /// `HTTPCORSFilter` (GEP-1767)
    static let cors = Schema.object([
        "allowCredentials": .boolean,
        "allowHeaders": .array(
            headerName, maxItems: 64, list: .set,
            rules: [
                Rule("AllowHeaders cannot contain '*' alongside other methods") { !($0.contains("*") && $0.count > 1) }
            ]),
        "allowMethods": .array(
            .string(enum: ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*"]),
            maxItems: 9, list: .set,
            rules: [
                Rule("AllowMethods cannot contain '*' alongside other methods") { !($0.contains("*") && $0.count > 1) }
            ]),
        "allowOrigins": .array(
            .string(minLength: 1, maxLength: 253, pattern: .corsOrigin), maxItems: 64, list: .set,
            rules: [
                Rule("AllowOrigins cannot contain '*' alongside other origins") { !($0.contains("*") && $0.count > 1) }
            ]),
        "exposeHeaders": .array(headerName, maxItems: 64, list: .set),
        "maxAge": .integer(format: .int32, minimum: 1, default: 5),
    ])

    /// `HTTPExternalAuthFilter` (GEP-1494, experimental)
    static let externalAuth = Schema.object(
        [
            "backendRef": backendObjectReference,
            "forwardBody": .object(["maxSize": .integer()]),
            "grpc": .object(["allowedHeaders": .array(.string(), maxItems: 64, list: .set)]),
            "http": .object([
                "allowedHeaders": .array(.string(), maxItems: 64, list: .set),
                "allowedResponseHeaders": .array(.string(), maxItems: 64, list: .set),
                "path": .string(maxLength: 1024, pattern: .path),
            ]),
            "protocol": .string(enum: ["HTTP", "GRPC"]),
        ], required: ["backendRef", "protocol"],
        rules: Rule.unionMember("grpc", when: "protocol", is: "GRPC") + Rule.unionMember("http", when: "protocol", is: "HTTP"))

    /// `HTTPRouteFilter`, the same in a rule and in a backendRef.
    static let httpRouteFilter = Schema.object(
        [
            "cors": cors,
            "extensionRef": localObjectReference,
            "externalAuth": externalAuth,
            "requestHeaderModifier": headerModifier,
            "requestMirror": requestMirror,
            "requestRedirect": .object([
                "hostname": preciseHostname,
                "path": pathModifier,
                "port": port,
                "scheme": .string(enum: ["http", "https"]),
                "statusCode": .integer(enum: [301, 302, 303, 307, 308], default: 302),
            ]),
            "responseHeaderModifier": headerModifier,
            "type": .string(enum: [
                "RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "RequestRedirect", "URLRewrite",
                "ExtensionRef", "CORS", "ExternalAuth",
            ]),
            "urlRewrite": .object([
                "hostname": preciseHostname,
                "path": pathModifier,
            ]),
        ], required: ["type"],
        rules: filterTypeRules([
            ("cors", "CORS"), ("requestHeaderModifier", "RequestHeaderModifier"),
            ("responseHeaderModifier", "ResponseHeaderModifier"), ("requestMirror", "RequestMirror"),
            ("requestRedirect", "RequestRedirect"), ("urlRewrite", "URLRewrite"), ("extensionRef", "ExtensionRef"),
            ("externalAuth", "ExternalAuth"),
        ]))

    /// An HTTPRoute rule's or backendRef's `filters`.
    static let httpRouteFilters = Schema.array(
        httpRouteFilter, maxItems: 16,
        rules: [
            Rule("May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both") {
                filters in
                !(filters.elements.contains { $0["type"].string == "RequestRedirect" }
                    && filters.elements.contains { $0["type"].string == "URLRewrite" })
            },
            notRepeated("CORS"), notRepeated("RequestHeaderModifier"), notRepeated("ResponseHeaderModifier"),
            notRepeated("RequestRedirect"), notRepeated("URLRewrite"),
        ])

    /// `HTTPBackendRef`
    static let httpBackendRef = backendRef(filters: httpRouteFilters)

    /// `HTTPPathMatch`: the CRD's rules on Exact and PathPrefix values.
    static let httpPathMatch = Schema.object(
        [
            "type": .string(enum: ["Exact", "PathPrefix", "RegularExpression"], default: "PathPrefix"),
            "value": .string(maxLength: 1024, default: "/"),
        ], default: ["type": "PathPrefix", "value": "/"],
        rules: [
            pathRule("value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']") {
                $0.hasPrefix("/")
            },
            pathRule("must not contain '//' when type one of ['Exact', 'PathPrefix']") { !Bytes.contains($0, "//") },
            pathRule("must not contain '/./' when type one of ['Exact', 'PathPrefix']") { !Bytes.contains($0, "/./") },
            pathRule("must not contain '/../' when type one of ['Exact', 'PathPrefix']") { !Bytes.contains($0, "/../") },
            pathRule("must not contain '%2f' when type one of ['Exact', 'PathPrefix']") { !Bytes.contains($0, "%2f") },
            pathRule("must not contain '%2F' when type one of ['Exact', 'PathPrefix']") { !Bytes.contains($0, "%2F") },
            pathRule("must not contain '#' when type one of ['Exact', 'PathPrefix']") { !Bytes.contains($0, "#") },
            pathRule("must not end with '/..' when type one of ['Exact', 'PathPrefix']") { !$0.hasSuffix("/..") },
            pathRule("must not end with '/.' when type one of ['Exact', 'PathPrefix']") { !$0.hasSuffix("/.") },
            Rule("type must be one of ['Exact', 'PathPrefix', 'RegularExpression']") { match in
                ["Exact", "PathPrefix", "RegularExpression"].contains(match["type"].string ?? "")
            },
            pathRule(
                #"must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']"#
            ) { Pattern.path.matches($0) },
        ])

    /// `(self.type in ['Exact','PathPrefix']) ? holds(self.value) : true`
    private static func pathRule(_ message: String, _ holds: @escaping @Sendable (String) -> Bool) -> Rule {
        Rule(message) { match in
            let type = match["type"].string
            guard type == "Exact" || type == "PathPrefix" else { return true }
            return holds(match["value"].string ?? "")
        }
    }

    /// `HTTPHeaderMatch` and `HTTPQueryParamMatch` (whose value has no pattern).
    private static func httpValueMatch(value: Schema) -> Schema {
        .object(
            [
                "name": headerName,
                "type": .string(enum: ["Exact", "RegularExpression"], default: "Exact"),
                "value": value,
            ], required: ["name", "value"])
    }

    static let httpRouteMatch = Schema.object([
        "headers": .array(
            httpValueMatch(value: .string(minLength: 1, maxLength: 4096, pattern: .headerValue)), maxItems: 16,
            list: .map(keys: ["name"])),
        "method": .string(enum: ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]),
        "path": httpPathMatch,
        "queryParams": .array(
            httpValueMatch(value: .string(minLength: 1, maxLength: 1024)), maxItems: 16, list: .map(keys: ["name"])),
    ])

    /// A filter (of the rule's, or of one of its backendRefs') that replaces a prefix
    /// with `field` (`requestRedirect` or `urlRewrite`).
    private static func replacesPrefix(_ filter: Value, _ field: String) -> Bool {
        let modifier = filter[field]["path"]
        return filter.has(field) && modifier.exists && modifier["type"].string == "ReplacePrefixMatch"
            && modifier.has("replacePrefixMatch")
    }

    /// `size(self.matches) == 1 && has(self.matches[0].path) && self.matches[0].path.type == 'PathPrefix'`
    private static func onePrefixMatch(_ rule: Value) -> Bool {
        let matches = rule["matches"]
        guard matches.count == 1 else { return false }
        let path = matches.elements[0]["path"]
        return path.exists && path["type"].string == "PathPrefix"
    }

    static let httpRouteRule = Schema.object(
        [
            "backendRefs": .array(httpBackendRef, maxItems: 16),
            "filters": httpRouteFilters,
            "matches": .array(httpRouteMatch, maxItems: 64, default: [["path": ["type": "PathPrefix", "value": "/"]]]),
            "name": sectionName,
            "retry": .object([
                "attempts": .integer(minimum: 1),
                "backoff": duration,
                "codes": .array(.integer(minimum: 400, maximum: 599), list: .set),
            ]),
            "sessionPersistence": sessionPersistence,
            "timeouts": .object(
                [
                    "backendRequest": duration,
                    "request": duration,
                ],
                rules: [
                    Rule("backendRequest timeout cannot be longer than request timeout") { timeouts in
                        guard let request = timeouts["request"].string.flatMap(GatewayDuration.milliseconds(in:)),
                            let backend = timeouts["backendRequest"].string.flatMap(GatewayDuration.milliseconds(in:))
                        else { return true }
                        return !(request != 0 && backend > request)
                    }
                ]),
        ],
        rules: [
            Rule("RequestRedirect filter must not be used together with backendRefs") { rule in
                rule["backendRefs"].count > 0
                    ? rule["filters"].elements.allSatisfy { !$0.has("requestRedirect") } : true
            },
            Rule("When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified") {
                rule in
                rule["filters"].elements.count { replacesPrefix($0, "requestRedirect") } == 1 ? onePrefixMatch(rule) : true
            },
            Rule("When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified") {
                rule in
                rule["filters"].elements.count { replacesPrefix($0, "urlRewrite") } == 1 ? onePrefixMatch(rule) : true
            },
            Rule(
                "Within backendRefs, when using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"
            ) { rule in
                rule["backendRefs"].elements.count { backend in
                    backend["filters"].elements.count { replacesPrefix($0, "requestRedirect") } == 1
                } == 1 ? onePrefixMatch(rule) : true
            },
            Rule(
                "Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"
            ) { rule in
                rule["backendRefs"].elements.count { backend in
                    backend["filters"].elements.count { replacesPrefix($0, "urlRewrite") } == 1
                } == 1 ? onePrefixMatch(rule) : true
            },
        ])

    /// At most 128 matches over the first 16 rules. A rule without `matches` counts its
    /// default: one match in an HTTPRoute, none in a GRPCRoute (whose CRD has no default).
    static func matchCountRule() -> Rule {
        Rule(
            "While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128"
        ) { rules in
            rules.elements.prefix(16).reduce(0) { $0 + $1["matches"].count } <= 128
        }
    }

    static let httpRouteSpec = Schema.object([
        "hostnames": routeHostnames,
        "parentRefs": parentRefs,
        "rules": .array(
            httpRouteRule, minItems: 1, maxItems: 16,
            default: [["matches": [["path": ["type": "PathPrefix", "value": "/"]]]]],
            rules: [matchCountRule(), uniqueRuleNames]),
        "useDefaultGateways": useDefaultGateways,
    ])

    // MARK: GRPCRoute

    /// `GRPCRouteFilter`: header modifiers, mirror, extensionRef.
    static let grpcRouteFilter = Schema.object(
        [
            "extensionRef": localObjectReference,
            "requestHeaderModifier": headerModifier,
            "requestMirror": requestMirror,
            "responseHeaderModifier": headerModifier,
            "type": .string(enum: ["ResponseHeaderModifier", "RequestHeaderModifier", "RequestMirror", "ExtensionRef"]),
        ], required: ["type"],
        rules: filterTypeRules([
            ("requestHeaderModifier", "RequestHeaderModifier"), ("responseHeaderModifier", "ResponseHeaderModifier"),
            ("requestMirror", "RequestMirror"), ("extensionRef", "ExtensionRef"),
        ]))

    static let grpcRouteFilters = Schema.array(
        grpcRouteFilter, maxItems: 16, rules: [notRepeated("RequestHeaderModifier"), notRepeated("ResponseHeaderModifier")])

    static let grpcMethodMatch = Schema.object(
        [
            "method": .string(maxLength: 1024),
            "service": .string(maxLength: 1024),
            "type": .string(enum: ["Exact", "RegularExpression"], default: "Exact"),
        ],
        rules: [
            Rule("One or both of 'service' or 'method' must be specified") { method in
                method.has("type") ? method.has("service") || method.has("method") : true
            },
            Rule(#"service must only contain valid characters (matching ^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$)"#) {
                method in
                (!method.has("type") || method["type"].string == "Exact") && method.has("service")
                    ? Pattern.grpcService.matches(method["service"].string ?? "") : true
            },
            Rule("method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)") { method in
                (!method.has("type") || method["type"].string == "Exact") && method.has("method")
                    ? Pattern.grpcMethod.matches(method["method"].string ?? "") : true
            },
        ])

    static let grpcRouteRule = Schema.object([
        "backendRefs": .array(backendRef(filters: grpcRouteFilters), maxItems: 16),
        "filters": grpcRouteFilters,
        "matches": .array(
            .object([
                "headers": .array(
                    httpValueMatch(value: .string(minLength: 1, maxLength: 4096)), maxItems: 16, list: .map(keys: ["name"])),
                "method": grpcMethodMatch,
            ]), maxItems: 64),
        "name": sectionName,
        "sessionPersistence": sessionPersistence,
    ])

    static let grpcRouteSpec = Schema.object([
        "hostnames": routeHostnames,
        "parentRefs": parentRefs,
        "rules": .array(grpcRouteRule, maxItems: 16, rules: [matchCountRule(), uniqueRuleNames]),
        "useDefaultGateways": useDefaultGateways,
    ])

    // MARK: TLSRoute, TCPRoute, UDPRoute

    /// A TLS, TCP or UDP route rule: 1–16 backends, a name.
    static let streamRouteRule = Schema.object(
        [
            "backendRefs": .array(backendRef, minItems: 1, maxItems: 16),
            "name": sectionName,
        ], required: ["backendRefs"])

    /// `spec.rules` of a v1 TLS, TCP or UDP route: exactly one rule.
    static let oneStreamRule = Schema.array(streamRouteRule, minItems: 1, maxItems: 1)
    /// `spec.rules` of a v1alpha2 TLS, TCP or UDP route: 1–16 rules with unique names.
    static let streamRulesV1alpha2 = Schema.array(streamRouteRule, minItems: 1, maxItems: 16, rules: [uniqueRuleNames])

    /// TLSRoute v1 (and v1alpha3): 1–1024 hostnames, none an IP, one rule.
    static let tlsRouteSpec = Schema.object(
        [
            "hostnames": .array(
                hostname, minItems: 1, maxItems: 1024,
                rules: [
                    .each("Hostnames cannot contain an IP") { host, _ in !isIP(host.string ?? "") },
                    .each("Hostnames must be valid based on RFC-1123") { host, _ in
                        let text = host.string ?? ""
                        return !Bytes.contains(text, "*") ? Pattern.dnsSubdomain.matches(text) : true
                    },
                    .each(
                        "Wildcards on hostnames must be the first label, and the rest of hostname must be valid based on RFC-1123"
                    ) { host, _ in
                        let text = host.string ?? ""
                        return Bytes.contains(text, "*")
                            ? text.hasPrefix("*.") && Pattern.dnsSubdomain.matches(String(text.dropFirst(2))) : true
                    },
                ]),
            "parentRefs": parentRefs,
            "rules": oneStreamRule,
            "useDefaultGateways": useDefaultGateways,
        ], required: ["hostnames", "rules"])

    /// TLSRoute v1alpha2: hostnames optional, up to 16 rules.
    static let tlsRouteSpecV1alpha2 = Schema.object(
        [
            "hostnames": .array(hostname, maxItems: 1024),
            "parentRefs": parentRefs,
            "rules": streamRulesV1alpha2,
            "useDefaultGateways": useDefaultGateways,
        ], required: ["rules"])

    /// TCPRoute and UDPRoute v1.
    static let l4RouteSpec = Schema.object(
        [
            "parentRefs": parentRefs,
            "rules": oneStreamRule,
            "useDefaultGateways": useDefaultGateways,
        ], required: ["rules"])

    /// TCPRoute and UDPRoute v1alpha2.
    static let l4RouteSpecV1alpha2 = Schema.object(
        [
            "parentRefs": parentRefs,
            "rules": streamRulesV1alpha2,
            "useDefaultGateways": useDefaultGateways,
        ], required: ["rules"])

    /// CEL's `isIP()`: an IPv4 or IPv6 address (no zone).
    static func isIP(_ text: String) -> Bool {
        !Bytes.contains(text, "%") && AddressRange.bytes(of: text) != nil
    }
}
