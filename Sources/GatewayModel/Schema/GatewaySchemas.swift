/// GatewayClass, Gateway and ListenerSet, BackendTLSPolicy and ReferenceGrant.
extension Schemas {
    // MARK: GatewayClass

    static let gatewayClassSpec = Schema.object(
        [
            "controllerName": .string(
                minLength: 1, maxLength: 253, pattern: .controllerName, rules: [.transition("Value is immutable")]),
            "description": .string(maxLength: 64),
            "parametersRef": parametersReference,
        ], required: ["controllerName"])

    // MARK: listeners (Gateway and ListenerSet)

    /// `GatewayTLSConfig` of a listener: certificates unless it passes TLS through.
    static let listenerTLS = Schema.object(
        [
            "certificateRefs": .array(secretObjectReference, maxItems: 64),
            "mode": .string(enum: ["Terminate", "Passthrough"], default: "Terminate"),
            "options": .map(annotationValue, maxProperties: 16),
        ],
        rules: [
            Rule("certificateRefs or options must be specified when mode is Terminate") { tls in
                tls["mode"].string == "Terminate" ? tls["certificateRefs"].count > 0 || tls["options"].count > 0 : true
            }
        ])

    /// `Listener` (a Gateway's) and `ListenerEntry` (a ListenerSet's): the same fields.
    static let listener = Schema.object(
        [
            "allowedRoutes": .object(
                [
                    "kinds": .array(
                        .object(["group": group(default: gatewayGroup), "kind": kind()], required: ["kind"]), maxItems: 8),
                    "namespaces": .object(
                        [
                            "from": .string(enum: ["All", "Selector", "Same"], default: "Same"),
                            "selector": labelSelector,
                        ], default: ["from": "Same"]),
                ], default: ["namespaces": ["from": "Same"]]),
            "hostname": hostname,
            "name": sectionName,
            "port": port,
            "protocol": .string(minLength: 1, maxLength: 255, pattern: .listenerProtocol),
            "tls": listenerTLS,
        ], required: ["name", "port", "protocol"])

    /// The CEL rules both kinds put on their listener list; `portOptional` is the
    /// ListenerSet's variant of the last one (`!has(l1.port) || …`).
    static func listenerRules(portOptional: Bool) -> [Rule] {
        [
            .each("tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']") { l, _ in
                ["HTTP", "TCP", "UDP"].contains(l["protocol"].string ?? "") ? !l.has("tls") : true
            },
            .each("tls mode must be Terminate for protocol HTTPS") { l, _ in
                guard l["protocol"].string == "HTTPS", l.has("tls") else { return true }
                let mode = l["tls"]["mode"].string
                return mode == "" || mode == "Terminate"
            },
            .each("tls mode must be set for protocol TLS") { l, _ in
                l["protocol"].string == "TLS" ? l.has("tls") && l["tls"].has("mode") && l["tls"]["mode"].string != "" : true
            },
            .each("hostname must not be specified for protocols ['TCP', 'UDP']") { l, _ in
                ["TCP", "UDP"].contains(l["protocol"].string ?? "") ? l.isUnsetOrEmpty("hostname") : true
            },
            .each("Listener name must be unique within the Gateway", locateLast: true) { l1, list in
                list.elements.count { $0["name"].string == l1["name"].string } == 1
            },
            .each("Combination of port, protocol and hostname must be unique for each listener", locateLast: true) { l1, list in
                if portOptional, !l1.has("port") { return true }
                return list.elements.count { l2 in
                    (!portOptional || l2.has("port")) && l1["port"].int == l2["port"].int
                        && l1["protocol"].string == l2["protocol"].string && l1["hostname"].same(as: l2["hostname"])
                } == 1
            },
        ]
    }

    // MARK: Gateway

    /// `GatewaySpecAddress`: IP addresses must be IPs; hostnames must be hostnames.
    static let gatewayAddress = Schema.object(
        [
            "type": .string(minLength: 1, maxLength: 253, pattern: .addressType, default: "IPAddress"),
            "value": .string(maxLength: 253),
        ],
        rules: [
            Rule(
                #"Hostname value must be empty or contain only valid characters (matching ^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)"#
            ) { address in
                address["type"].string == "Hostname"
                    ? !address.has("value") || Pattern.hostname.matches(address["value"].string ?? "") : true
            },
            // oneOf: [{type: IPAddress, value: ipv4 or ipv6}, {type: not IPAddress}]
            .oneOf("an IPAddress address's value is an IPv4 or IPv6 address") { address in
                guard address["type"].string == "IPAddress", let value = address["value"].string, !value.isEmpty,
                    AddressRange.bytes(of: value) == nil
                else { return nil }
                return Rule.Failure(
                    at: [.key("value")],
                    message: "Invalid value: \(quoted(value)): must be an IPv4 or IPv6 address (format ipv4 or ipv6) when type is IPAddress"
                )
            },
        ])

    /// `self.all(a1, a1.type == T && has(a1.value) ? self.exists_one(a2, a2.type == a1.type && has(a2.value) && a2.value == a1.value) : true)`
    private static func uniqueAddresses(_ type: String) -> Rule {
        .each("\(type) values must be unique", locateLast: true) { a1, list in
            guard a1["type"].string == type, a1.has("value") else { return true }
            return list.elements.count { a2 in
                a2["type"].string == type && a2.has("value") && a2["value"].string == a1["value"].string
            } == 1
        }
    }

    /// `FrontendTLSValidation`: 1–16 CA references.
    static let frontendValidation = Schema.object(
        [
            "caCertificateRefs": .array(objectReference, minItems: 1, maxItems: 16),
            "mode": .string(enum: ["AllowValidOnly", "AllowInsecureFallback"], default: "AllowValidOnly"),
        ], required: ["caCertificateRefs"])

    /// Label and annotation keys of `spec.infrastructure`.
    private static func keyRules(_ noun: String, _ capitalized: String) -> [Rule] {
        [
            .eachKey(
                "\(capitalized) keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters."
            ) { Pattern.labelKey.matches($0) },
            .eachKey("If specified, the \(noun) key's prefix must be a DNS subdomain not longer than 253 characters in total.") {
                key in
                (key.split(separator: "/", omittingEmptySubsequences: false).first.map { $0.unicodeScalars.count } ?? 0) < 253
            },
        ]
    }

    static let gatewaySpec = Schema.object(
        [
            "addresses": .array(
                gatewayAddress, maxItems: 16, rules: [uniqueAddresses("IPAddress"), uniqueAddresses("Hostname")]),
            "allowedListeners": .object([
                "namespaces": .object(
                    [
                        "from": .string(enum: ["All", "Selector", "Same", "None"], default: "None"),
                        "selector": labelSelector,
                    ], default: ["from": "None"])
            ]),
            "defaultScope": .string(enum: ["All", "None"]),
            "gatewayClassName": objectName,
            "infrastructure": .object([
                "annotations": .map(annotationValue, maxProperties: 16, rules: keyRules("annotation", "Annotation")),
                "labels": .map(
                    .string(minLength: 0, maxLength: 63, pattern: .labelValue), maxProperties: 8,
                    rules: keyRules("label", "Label")),
                "parametersRef": localObjectReference,
            ]),
            "listeners": .array(
                listener, minItems: 1, maxItems: 64, list: .map(keys: ["name"]), rules: listenerRules(portOptional: false)),
            "tls": .object([
                "backend": .object(["clientCertificateRef": secretObjectReference]),
                "frontend": .object(
                    [
                        "default": .object(["validation": frontendValidation]),
                        "perPort": .array(
                            .object(
                                [
                                    "port": port,
                                    "tls": .object(["validation": frontendValidation]),
                                ], required: ["port", "tls"]), maxItems: 64, list: .map(keys: ["port"]),
                            rules: [
                                .each("Port for TLS configuration must be unique within the Gateway", locateLast: true) { t1, list in
                                    list.elements.count { $0["port"].int == t1["port"].int } == 1
                                }
                            ]),
                    ], required: ["default"]),
            ]),
        ], required: ["gatewayClassName", "listeners"])

    // MARK: ListenerSet

    static let listenerSetSpec = Schema.object(
        [
            "listeners": .array(
                listener, minItems: 1, maxItems: 64, list: .map(keys: ["name"]), rules: listenerRules(portOptional: true)),
            "parentRef": .object(
                [
                    "group": group(default: gatewayGroup),
                    "kind": kind(default: "Gateway"),
                    "name": objectName,
                    "namespace": namespace,
                ], required: ["name"]),
        ], required: ["listeners", "parentRef"])

    // MARK: BackendTLSPolicy

    static let backendTLSPolicySpec = Schema.object(
        [
            "options": .map(annotationValue, maxProperties: 16),
            "targetRefs": .array(
                .object(
                    [
                        "group": group(),
                        "kind": kind(),
                        "name": objectName,
                        "sectionName": sectionName,
                    ], required: ["group", "kind", "name"]), minItems: 1, maxItems: 16,
                rules: [
                    .each("sectionName must be specified when targetRefs includes 2 or more references to the same target") {
                        p1, list in
                        list.elements.allSatisfy { p2 in
                            sameTarget(p1, p2) ? p1.isUnsetOrEmpty("sectionName") == p2.isUnsetOrEmpty("sectionName") : true
                        }
                    },
                    .each("sectionName must be unique when targetRefs includes 2 or more references to the same target", locateLast: true) {
                        p1, list in
                        list.elements.count { p2 in
                            sameTarget(p1, p2)
                                && ((p1.isUnsetOrEmpty("sectionName") && p2.isUnsetOrEmpty("sectionName"))
                                    || (p1.has("sectionName") && p2.has("sectionName")
                                        && p1["sectionName"].string == p2["sectionName"].string))
                        } == 1
                    },
                ]),
            "validation": .object(
                [
                    "caCertificateRefs": .array(localObjectReference, maxItems: 8),
                    "hostname": preciseHostname,
                    "subjectAltNames": .array(
                        .object(
                            [
                                "hostname": hostname,
                                "type": .string(enum: ["Hostname", "URI"]),
                                "uri": .string(minLength: 1, maxLength: 253, pattern: .uri),
                            ], required: ["type"],
                            rules: [
                                Rule("SubjectAltName element must contain Hostname, if Type is set to Hostname") { san in
                                    !(san["type"].string == "Hostname" && san.isUnsetOrEmpty("hostname"))
                                },
                                Rule("SubjectAltName element must not contain Hostname, if Type is not set to Hostname") { san in
                                    !(san["type"].string != "Hostname" && !san.isUnsetOrEmpty("hostname"))
                                },
                                Rule("SubjectAltName element must contain URI, if Type is set to URI") { san in
                                    !(san["type"].string == "URI" && san.isUnsetOrEmpty("uri"))
                                },
                                Rule("SubjectAltName element must not contain URI, if Type is not set to URI") { san in
                                    !(san["type"].string != "URI" && !san.isUnsetOrEmpty("uri"))
                                },
                            ]), maxItems: 5),
                    "wellKnownCACertificates": .string(minLength: 1, maxLength: 253, pattern: .wellKnownCACertificates),
                ], required: ["hostname"],
                rules: [
                    Rule("must not contain both CACertificateRefs and WellKnownCACertificates") { validation in
                        !(validation["caCertificateRefs"].count > 0 && !validation.isUnsetOrEmpty("wellKnownCACertificates"))
                    },
                    Rule("must specify either CACertificateRefs or WellKnownCACertificates") { validation in
                        validation["caCertificateRefs"].count > 0 || !validation.isUnsetOrEmpty("wellKnownCACertificates")
                    },
                ]),
        ], required: ["targetRefs", "validation"])

    private static func sameTarget(_ p1: Value, _ p2: Value) -> Bool {
        p1["group"].string == p2["group"].string && p1["kind"].string == p2["kind"].string
            && p1["name"].string == p2["name"].string
    }

    // MARK: ReferenceGrant

    static let referenceGrantSpec = Schema.object(
        [
            "from": .array(
                .object(["group": group(), "kind": kind(), "namespace": namespace], required: ["group", "kind", "namespace"]),
                minItems: 1, maxItems: 16),
            "to": .array(
                .object(["group": group(), "kind": kind(), "name": objectName], required: ["group", "kind"]),
                minItems: 1, maxItems: 16),
        ], required: ["from", "to"])
}
