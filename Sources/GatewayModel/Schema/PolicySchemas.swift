/// SecurityPolicy, BackendTrafficPolicy and ClientTrafficPolicy (`gateway.envoyproxy.io/v1alpha1`): the
/// constraints of Envoy Gateway's CRDs on the fields Chancery reads (types, required
/// fields, enums, ranges and the CEL rules among them). Fields Chancery does not carry
/// out are not described here: the translator finds them in the spec as written and
/// names them in the policy's status.
extension Schemas {
    private static let policyTargetRef = Schema.object(
        ["group": group(), "kind": kind(), "name": objectName, "sectionName": sectionName],
        required: ["group", "kind", "name"])

    private static let policyTargetSelector = Schema.object(
        [
            "group": group(default: gatewayGroup),
            "kind": kind(),
            "matchLabels": .map(.string(maxLength: 63)),
            "matchExpressions": labelSelector.property("matchExpressions")!,
        ], required: ["kind"],
        rules: [
            Rule("matchExpressions or matchLabels must be specified") { selector in
                selector.has("matchLabels") || selector.has("matchExpressions")
            }
        ])

    /// targetRef, targetRefs, targetSelectors and the rule that one of them is given.
    private static func policySpec(_ fields: [(key: String, value: Schema)], rules: [Rule] = []) -> Schema {
        .object(
            fields: [
                ("targetRef", policyTargetRef),
                ("targetRefs", .array(policyTargetRef, maxItems: 16)),
                ("targetSelectors", .array(policyTargetSelector, maxItems: 16)),
            ] + fields,
            rules: [
                Rule("either targetRef or targetRefs must be used") { spec in
                    !(spec.has("targetRef") && spec.has("targetRefs"))
                },
                Rule("one of targetRef, targetRefs or targetSelectors must be given") { spec in
                    spec.has("targetRef") || spec["targetRefs"].count > 0 || spec["targetSelectors"].count > 0
                },
            ] + rules)
    }

    private static let action = Schema.string(enum: ["Allow", "Deny"])
    private static let pathMatchType = Schema.string(enum: ["Exact", "PathPrefix", "RegularExpression"], default: "PathPrefix")
    private static let httpMethod = Schema.string(enum: ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"])
    /// Envoy does not probe with CONNECT.
    private static let healthCheckMethod = Schema.string(enum: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"])

    static let securityPolicySpec = policySpec([
        (
            "authorization",
            .object([
                "defaultAction": action,
                "rules": .array(
                    .object(
                        [
                            "name": .string(minLength: 1, maxLength: 253),
                            "action": action,
                            // Not carried out (the policy is Invalid, naming it), but a
                            // rule may have it instead of a principal.
                            "cel": .string(minLength: 1),
                            "operation": .object(
                                [
                                    "methods": .array(httpMethod, minItems: 1, maxItems: 16),
                                    "path": .object(
                                        ["type": pathMatchType, "value": .string(maxLength: 1024, default: "/"), "invert": .boolean]),
                                ],
                                rules: [
                                    Rule("at least one of methods or path must be specified") { operation in
                                        operation["methods"].count > 0 || operation.has("path")
                                    }
                                ]),
                            "principal": .object(
                                [
                                    "clientCIDRs": .array(.string(minLength: 1), minItems: 1),
                                    "headers": .array(
                                        .object(
                                            ["name": .string(minLength: 1, maxLength: 256), "values": .array(.string(), minItems: 1, maxItems: 256)],
                                            required: ["name", "values"]), minItems: 1, maxItems: 256),
                                    "jwt": .object(
                                        [
                                            "provider": .string(minLength: 1, maxLength: 253),
                                            "claims": .array(
                                                .object(
                                                    [
                                                        "name": .string(minLength: 1),
                                                        "valueType": .string(enum: ["String", "StringArray"], default: "String"),
                                                        "values": .array(.string(), minItems: 1, maxItems: 128),
                                                    ], required: ["name", "values"]), minItems: 1, maxItems: 16),
                                            "scopes": .array(.string(minLength: 1), minItems: 1, maxItems: 16),
                                        ], required: ["provider"],
                                        rules: [
                                            Rule("at least one of claims or scopes must be specified") { jwt in
                                                jwt["claims"].count > 0 || jwt["scopes"].count > 0
                                            }
                                        ]),
                                    // Not carried out; it may be a principal's only field.
                                    "clientIPGeoLocations": .array(.object([:]), minItems: 1),
                                ],
                                rules: [
                                    Rule("at least one of clientCIDRs, headers, jwt or clientIPGeoLocations must be specified") {
                                        principal in
                                        principal["clientCIDRs"].count > 0 || principal["headers"].count > 0 || principal.has("jwt")
                                            || principal["clientIPGeoLocations"].count > 0
                                    }
                                ]),
                        ], required: ["action"],
                        rules: [Rule("at least one of principal or cel must be specified") { rule in rule.has("principal") || rule.has("cel") }])),
            ])
        ),
        (
            "cors",
            .object([
                "allowOrigins": .array(.string(minLength: 1, maxLength: 253, pattern: .corsOrigin)),
                "allowMethods": .array(.string(minLength: 1)),
                "allowHeaders": .array(.string(minLength: 1)),
                "exposeHeaders": .array(.string(minLength: 1)),
                "maxAge": .string(pattern: .duration),
                "allowCredentials": .boolean,
            ])
        ),
        (
            "jwt",
            .object(
                [
                    "optional": .boolean,
                    "providers": .array(
                        .object(
                            [
                                "name": .string(minLength: 1, maxLength: 253),
                                "issuer": .string(maxLength: 253),
                                "audiences": .array(.string(), maxItems: 8),
                                "remoteJWKS": .object(
                                    ["uri": .string(minLength: 1, maxLength: 253), "cacheDuration": .string(pattern: .duration)],
                                    required: ["uri"]),
                                "localJWKS": .object(
                                    [
                                        "type": .string(enum: ["Inline", "ValueRef"], default: "Inline"),
                                        "inline": .string(minLength: 1),
                                        "valueRef": localObjectReference,
                                    ],
                                    rules: [
                                        Rule("Exactly one of inline or valueRef must be set with correct type.") { jwks in
                                            jwks["type"].string == "ValueRef" ? jwks.has("valueRef") && !jwks.has("inline")
                                                : jwks.has("inline") && !jwks.has("valueRef")
                                        }
                                    ]),
                                "claimToHeaders": .array(
                                    .object(
                                        ["header": .string(minLength: 1), "claim": .string(minLength: 1)], required: ["header", "claim"])),
                                "recomputeRoute": .boolean,
                                "extractFrom": .object([
                                    "headers": .array(.object(["name": .string(minLength: 1), "valuePrefix": .string()], required: ["name"])),
                                    "cookies": .array(.string(minLength: 1)),
                                    "params": .array(.string(minLength: 1)),
                                ]),
                            ], required: ["name"],
                            rules: [
                                Rule("either remoteJWKS or localJWKS must be specified.") { provider in
                                    provider.has("remoteJWKS") != provider.has("localJWKS")
                                },
                                Rule("claimToHeaders must be specified if recomputeRoute is enabled.") { provider in
                                    provider["recomputeRoute"].string != "true" || provider["claimToHeaders"].count > 0
                                },
                            ]), minItems: 1, maxItems: 16),
                ], required: ["providers"])
        ),
        (
            "basicAuth",
            .object(["users": secretObjectReference], required: ["users"])
        ),
        (
            "apiKeyAuth",
            .object(
                [
                    "credentialRefs": .array(secretObjectReference, minItems: 1),
                    "extractFrom": .array(
                        .object(
                            [
                                "headers": .array(.string(minLength: 1)),
                                "params": .array(.string(minLength: 1)),
                                "cookies": .array(.string(minLength: 1)),
                            ],
                            rules: [
                                Rule("exactly one of headers, params or cookies must be specified") { source in
                                    [source["headers"].count, source["params"].count, source["cookies"].count].filter { $0 > 0 }.count == 1
                                }
                            ]), minItems: 1),
                    "forwardClientIDHeader": .string(minLength: 1),
                    "sanitize": .boolean,
                ], required: ["credentialRefs", "extractFrom"])
        ),
    ])

    private static let rateLimitUnit = Schema.string(enum: ["Second", "Minute", "Hour", "Day", "Week", "Month", "Year"])

    static let backendTrafficPolicySpec = policySpec([
        (
            "rateLimit",
            .object(
                [
                    "type": .string(enum: ["Global", "Local"]),
                    "local": .object([
                        "rules": .array(
                            .object(
                                [
                                    "clientSelectors": .array(
                                        .object([
                                            "headers": .array(
                                                .object(
                                                    [
                                                        "name": .string(minLength: 1, maxLength: 256),
                                                        "type": .string(enum: ["Exact", "RegularExpression", "Distinct"], default: "Exact"),
                                                        "value": .string(maxLength: 1024),
                                                        "invert": .boolean,
                                                    ], required: ["name"],
                                                    rules: [
                                                        Rule("value is required unless type is Distinct") { header in
                                                            header["type"].string == "Distinct" || header.has("value")
                                                        }
                                                    ]), maxItems: 16),
                                            "methods": .array(
                                                .object(["value": httpMethod, "invert": .boolean], required: ["value"]), maxItems: 16),
                                            "path": .object(
                                                ["type": pathMatchType, "value": .string(maxLength: 1024, default: "/"), "invert": .boolean]),
                                            "sourceCIDR": .object(
                                                [
                                                    "type": .string(enum: ["Exact", "Distinct"], default: "Exact"),
                                                    "value": .string(minLength: 1),
                                                ], required: ["value"]),
                                        ]), maxItems: 8),
                                    "limit": .object(
                                        ["requests": .integer(format: .int32, minimum: 0), "unit": rateLimitUnit],
                                        required: ["requests", "unit"]),
                                ], required: ["limit"]), maxItems: 16),
                    ]),
                ],
                rules: [
                    Rule("local must be set when type is Local") { limit in
                        limit["type"].string != "Local" || limit.has("local")
                    }
                ])
        ),
        (
            "retry",
            .object([
                "numRetries": .integer(format: .int32, minimum: 0, default: 2),
                "retryOn": .object([
                    "triggers": .array(
                        .string(enum: [
                            "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx",
                            "refused-stream", "retriable-status-codes", "cancelled", "deadline-exceeded", "internal",
                            "resource-exhausted", "unavailable",
                        ])),
                    "httpStatusCodes": .array(.integer(minimum: 100, maximum: 600)),
                ]),
                "perRetry": .object([
                    "timeout": .string(pattern: .duration),
                    "backOff": .object(["baseInterval": .string(pattern: .duration), "maxInterval": .string(pattern: .duration)]),
                ]),
            ])
        ),
        (
            "timeout",
            .object([
                "http": .object(["requestTimeout": .string(pattern: .duration), "connectionIdleTimeout": .string(pattern: .duration)]),
                "tcp": .object(["connectTimeout": .string(pattern: .duration)]),
            ])
        ),
        (
            "loadBalancer",
            .object(
                [
                    "type": .string(enum: ["ConsistentHash", "LeastRequest", "Random", "RoundRobin"]),
                    "consistentHash": .object(
                        [
                            "type": .string(enum: ["SourceIP", "Header", "Cookie"]),
                            "header": .object(["name": .string(minLength: 1)], required: ["name"]),
                            "cookie": .object(["name": .string(minLength: 1), "ttl": .string(pattern: .duration)], required: ["name"]),
                            "tableSize": .integer(minimum: 2, maximum: 5_000_011),
                        ], required: ["type"],
                        rules: [
                            Rule("If consistent hash type is header, the header field must be set.") { hash in
                                hash["type"].string != "Header" || hash.has("header")
                            },
                            Rule("If consistent hash type is cookie, the cookie field must be set.") { hash in
                                hash["type"].string != "Cookie" || hash.has("cookie")
                            },
                        ]),
                ], required: ["type"],
                rules: [
                    Rule("If LoadBalancer type is consistentHash, consistentHash field needs to be set.") { lb in
                        lb["type"].string != "ConsistentHash" || lb.has("consistentHash")
                    }
                ])
        ),
        (
            "circuitBreaker",
            .object([
                "maxConnections": .integer(minimum: 0, maximum: 4_294_967_295),
                "maxPendingRequests": .integer(minimum: 0, maximum: 4_294_967_295),
                "maxParallelRequests": .integer(minimum: 0, maximum: 4_294_967_295),
                "maxParallelRetries": .integer(minimum: 0, maximum: 4_294_967_295),
            ])
        ),
        (
            "healthCheck",
            .object([
                "passive": .object([
                    "splitExternalLocalOriginErrors": .boolean,
                    "interval": .string(pattern: .duration),
                    "consecutiveLocalOriginFailures": .integer(minimum: 0),
                    "consecutiveGatewayErrors": .integer(minimum: 0),
                    "consecutive5XxErrors": .integer(minimum: 0),
                    "baseEjectionTime": .string(pattern: .duration),
                    "maxEjectionPercent": .integer(minimum: 0, maximum: 100),
                ]),
                "active": .object(
                    [
                        "type": .string(enum: ["HTTP", "TCP", "GRPC"]),
                        "timeout": .string(pattern: .duration),
                        "interval": .string(pattern: .duration),
                        "unhealthyThreshold": .integer(minimum: 0),
                        "healthyThreshold": .integer(minimum: 0),
                        "http": .object(
                            [
                                "path": .string(minLength: 1, maxLength: 1024),
                                "hostname": .string(minLength: 1, maxLength: 253),
                                "method": healthCheckMethod,
                                "expectedStatuses": .array(.integer(minimum: 100, maximum: 599)),
                            ], required: ["path"]),
                        "tcp": .object(["send": healthCheckPayload, "receive": healthCheckPayload]),
                    ], required: ["type"],
                    rules: [
                        Rule("If Health Checker type is HTTP, http field needs to be set.") { check in
                            check["type"].string != "HTTP" || check.has("http")
                        },
                        Rule("If Health Checker type is TCP, tcp field needs to be set.") { check in
                            check["type"].string != "TCP" || check.has("tcp")
                        },
                    ]),
            ])
        ),
        (
            "faultInjection",
            .object(
                [
                    "delay": .object(["fixedDelay": .string(minLength: 1), "percentage": percentage], required: ["fixedDelay"]),
                    "abort": .object(
                        [
                            "httpStatus": .integer(format: .int32, minimum: 200, maximum: 599),
                            "grpcStatus": .integer(format: .int32, minimum: 0, maximum: 16),
                            "percentage": percentage,
                        ],
                        rules: [
                            Rule("only one of grpcStatus or httpStatus can be set") { abort in
                                !(abort.has("httpStatus") && abort.has("grpcStatus"))
                            },
                            Rule("one of grpcStatus or httpStatus must be set") { abort in
                                abort.has("httpStatus") || abort.has("grpcStatus")
                            },
                        ]),
                ],
                rules: [
                    Rule("Delay and abort faults are set at least one.") { fault in fault.has("delay") || fault.has("abort") }
                ])
        ),
    ])

    private static let tlsVersion = Schema.string(enum: ["Auto", "1.0", "1.1", "1.2", "1.3"])

    static let clientTrafficPolicySpec = policySpec([
        (
            "clientIPDetection",
            .object(
                [
                    "xForwardedFor": .object(
                        ["numTrustedHops": .integer(format: .int32, minimum: 0), "trustedCIDRs": .array(.string(minLength: 1), minItems: 1)],
                        rules: [
                            Rule("only one of numTrustedHops or trustedCIDRs must be set") { xff in
                                !(xff.has("numTrustedHops") && xff.has("trustedCIDRs"))
                            }
                        ]),
                    "customHeader": .object(
                        ["name": .string(minLength: 1, maxLength: 255, pattern: .headerName), "failClosed": .boolean],
                        required: ["name"]),
                ],
                rules: [
                    Rule("customHeader cannot be used in conjunction with xForwardedFor") { detection in
                        !(detection.has("xForwardedFor") && detection.has("customHeader"))
                    }
                ])
        ),
        (
            "timeout",
            .object(["http": .object(["requestReceivedTimeout": .string(pattern: .duration), "idleTimeout": .string(pattern: .duration)])])
        ),
        (
            "connection",
            .object([
                "connectionLimit": .object(
                    ["value": .integer(minimum: 1), "closeDelay": .string(pattern: .duration)], required: ["value"])
            ])
        ),
        (
            "http1",
            .object([
                "enableTrailers": .boolean, "preserveHeaderCase": .boolean, "http10": .object(["useDefaultHost": .boolean]),
            ])
        ),
        (
            "headers",
            .object([
                "requestID": .string(enum: ["PreserveOrGenerate", "Preserve", "Generate", "Disable"]),
                "preserveXRequestID": .boolean,
                "withUnderscoresAction": .string(enum: ["Allow", "RejectRequest", "DropHeader"]),
                "xForwardedClientCert": .object([
                    "mode": .string(enum: ["Sanitize", "ForwardOnly", "AppendForward", "SanitizeSet", "AlwaysForwardOnly"]),
                    "certDetailsToAdd": .array(.string(enum: ["Subject", "Cert", "Chain", "DNS", "URI"]), maxItems: 5),
                ]),
            ])
        ),
        (
            "tls",
            .object(
                [
                    "minVersion": tlsVersion,
                    "maxVersion": tlsVersion,
                    "ciphers": .array(.string(minLength: 1)),
                    "ecdhCurves": .array(.string(minLength: 1)),
                    "signatureAlgorithms": .array(.string(minLength: 1)),
                    "alpnProtocols": .array(.string(enum: ["http/1.0", "http/1.1", "h2"])),
                    "clientValidation": .object([
                        "optional": .boolean, "caCertificateRefs": .array(secretObjectReference, maxItems: 8),
                    ]),
                ],
                rules: [
                    Rule("setting ciphers has no effect if the minimum possible TLS version is 1.3") { tls in
                        !(tls["minVersion"].string == "1.3" && tls["ciphers"].count > 0)
                    },
                    Rule("minVersion must be smaller or equal to maxVersion") { tls in
                        let order = ["1.0", "1.1", "1.2", "1.3"]
                        guard let min = tls["minVersion"].string.flatMap(order.firstIndex(of:)),
                            let max = tls["maxVersion"].string.flatMap(order.firstIndex(of:))
                        else { return true }
                        return min <= max
                    },
                ])
        ),
    ])

    private static let healthCheckPayload = Schema.object(
        ["type": .string(enum: ["Text", "Binary"]), "text": .string(), "binary": .string()], required: ["type"],
        rules: [
            Rule("If payload type is Text, text field needs to be set.") { payload in
                payload["type"].string != "Text" || payload.has("text")
            },
            Rule("If payload type is Binary, binary field needs to be set.") { payload in
                payload["type"].string != "Binary" || payload.has("binary")
            },
        ])

    /// A share of requests, 0 to 100; Envoy Gateway's default is 100.
    private static let percentage = Schema.number(minimum: 0, maximum: 100)
}
