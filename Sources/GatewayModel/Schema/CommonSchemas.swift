/// The Gateway API's shared types (`apis/v1/shared_types.go`, `object_reference_types.go`,
/// …) as schemas, used by every kind that has them — as the CRDs repeat them.
enum Schemas {
    // MARK: strings

    /// `Hostname`: 1–253 characters, an optional leading `*.`.
    static let hostname = Schema.string(minLength: 1, maxLength: 253, pattern: .hostname)
    /// `PreciseHostname`: a hostname without a wildcard.
    static let preciseHostname = Schema.string(minLength: 1, maxLength: 253, pattern: .dnsSubdomain)
    /// `SectionName` (and listener and rule names): an RFC 1123 subdomain.
    static let sectionName = Schema.string(minLength: 1, maxLength: 253, pattern: .dnsSubdomain)
    /// `ObjectName`
    static let objectName = Schema.string(minLength: 1, maxLength: 253)
    /// `Namespace`: an RFC 1123 label.
    static let namespace = Schema.string(minLength: 1, maxLength: 63, pattern: .dnsLabel)
    /// `PortNumber`
    static let port = Schema.integer(format: .int32, minimum: 1, maximum: 65535)
    /// `Duration` (GEP-2257)
    static let duration = Schema.string(pattern: .duration)
    /// `HTTPHeaderName`
    static let headerName = Schema.string(minLength: 1, maxLength: 256, pattern: .headerName)
    /// A label selector: types only (the CRDs say no more).
    static let labelSelector = Schema.object([
        "matchExpressions": .array(
            .object(
                [
                    "key": .string(),
                    "operator": .string(),
                    "values": .array(.string()),
                ], required: ["key", "operator"])),
        "matchLabels": .map(.string()),
    ])

    /// `Group`, with the default the field has (none, `""` or the Gateway API's group).
    static func group(default value: String? = nil) -> Schema {
        .string(maxLength: 253, pattern: .group, default: value)
    }

    /// `Kind`, with the field's default.
    static func kind(default value: String? = nil) -> Schema {
        .string(minLength: 1, maxLength: 63, pattern: .kind, default: value)
    }

    /// `AnnotationValue` and TLS option values: at most 4096 characters.
    static let annotationValue = Schema.string(minLength: 0, maxLength: 4096)

    // MARK: references

    /// `ParentReference`
    static let parentReference = Schema.object(
        [
            "group": group(default: gatewayGroup),
            "kind": kind(default: "Gateway"),
            "name": objectName,
            "namespace": namespace,
            "port": port,
            "sectionName": sectionName,
        ], required: ["name"])

    /// `CommonRouteSpec.parentRefs`: at most 32, and two references to one parent differ
    /// by sectionName or port.
    static let parentRefs = Schema.array(
        parentReference, maxItems: 32,
        rules: [
            .each("sectionName or port must be specified when parentRefs includes 2 or more references to the same parent") {
                p1, list in
                list.elements.allSatisfy { p2 in
                    guard sameParent(p1, p2) else { return true }
                    return p1.isUnsetOrEmpty("sectionName") == p2.isUnsetOrEmpty("sectionName")
                        && unsetOrZero(p1["port"]) == unsetOrZero(p2["port"])
                }
            },
            .each("sectionName or port must be unique when parentRefs includes 2 or more references to the same parent", locateLast: true) {
                p1, list in
                list.elements.count { p2 in
                    sameParent(p1, p2)
                        && ((p1.isUnsetOrEmpty("sectionName") && p2.isUnsetOrEmpty("sectionName"))
                            || (p1.has("sectionName") && p2.has("sectionName")
                                && p1["sectionName"].string == p2["sectionName"].string))
                        && ((unsetOrZero(p1["port"]) && unsetOrZero(p2["port"]))
                            || (p1.has("port") && p2.has("port") && p1["port"].int == p2["port"].int))
                } == 1
            },
        ])

    /// group, kind and name equal, and the namespace too (both unset or empty, or both
    /// set and equal).
    private static func sameParent(_ p1: Value, _ p2: Value) -> Bool {
        p1["group"].string == p2["group"].string && p1["kind"].string == p2["kind"].string
            && p1["name"].string == p2["name"].string
            && ((p1.isUnsetOrEmpty("namespace") && p2.isUnsetOrEmpty("namespace"))
                || (p1.has("namespace") && p2.has("namespace") && p1["namespace"].string == p2["namespace"].string))
    }

    private static func unsetOrZero(_ port: Value) -> Bool { !port.exists || port.int == 0 }

    /// `(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true`
    static let servicePortRule = Rule("Must have port for Service reference") { ref in
        (ref["group"].string ?? "").isEmpty && ref["kind"].string == "Service" ? ref.has("port") : true
    }

    /// `BackendObjectReference`: a Service by default, which needs a port.
    static let backendObjectReference = Schema.object(
        backendReferenceFields, required: ["name"], rules: [servicePortRule])

    private static let backendReferenceFields: KeyValuePairs<String, Schema> = [
        "group": group(default: ""),
        "kind": kind(default: "Service"),
        "name": objectName,
        "namespace": namespace,
        "port": port,
    ]

    /// `weight`: 0–1,000,000, default 1.
    static let weight = Schema.integer(format: .int32, minimum: 0, maximum: 1_000_000, default: 1)

    /// `BackendRef` of a TLS, TCP or UDP route (no filters).
    static let backendRef = backendRef(filters: nil)

    /// `BackendRef`: a BackendObjectReference with a `weight`; with `filters`, a route
    /// kind's own (`HTTPBackendRef`, `GRPCBackendRef`).
    static func backendRef(filters: Schema?) -> Schema {
        let fields = (filters.map { [(key: "filters", value: $0)] } ?? []) + Array(backendReferenceFields)
        return .object(fields: fields + [(key: "weight", value: weight)], required: ["name"], rules: [servicePortRule])
    }

    /// `SecretObjectReference`: a core Secret by default.
    static let secretObjectReference = Schema.object(
        [
            "group": group(default: ""),
            "kind": kind(default: "Secret"),
            "name": objectName,
            "namespace": namespace,
        ], required: ["name"])

    /// `ObjectReference`: group and kind given.
    static let objectReference = Schema.object(
        [
            "group": group(),
            "kind": kind(),
            "name": objectName,
            "namespace": namespace,
        ], required: ["group", "kind", "name"])

    /// `LocalObjectReference`
    static let localObjectReference = Schema.object(
        [
            "group": group(),
            "kind": kind(),
            "name": objectName,
        ], required: ["group", "kind", "name"])

    /// `ParametersReference` of a GatewayClass (with a namespace) and the Gateway's
    /// `LocalParametersReference` (without).
    static let parametersReference = Schema.object(
        [
            "group": group(),
            "kind": kind(),
            "name": objectName,
            "namespace": namespace,
        ], required: ["group", "kind", "name"])

    // MARK: route parts

    /// `spec.hostnames` of HTTP and gRPC routes.
    static let routeHostnames = Schema.array(hostname, maxItems: 16)

    /// `spec.useDefaultGateways` (GEP-3793, experimental).
    static let useDefaultGateways = Schema.string(enum: ["All", "None"])

    /// `RouteRule.name`-uniqueness: `self.all(l1, !has(l1.name) || self.exists_one(l2, has(l2.name) && l1.name == l2.name))`
    static let uniqueRuleNames = Rule.each("Rule name must be unique within the route", locateLast: true) { l1, list in
        !l1.has("name") || list.elements.count { l2 in l2.has("name") && l1["name"].string == l2["name"].string } == 1
    }

    /// `SessionPersistence` (GEP-1619)
    static let sessionPersistence = Schema.object(
        [
            "absoluteTimeout": duration,
            "cookieConfig": .object([
                "lifetimeType": .string(enum: ["Permanent", "Session"], default: "Session")
            ]),
            "sessionName": .string(maxLength: 128),
            "type": .string(enum: ["Cookie", "Header"], default: "Cookie"),
        ],
        rules: [
            Rule("AbsoluteTimeout must be specified when cookie lifetimeType is Permanent") { session in
                !session.has("cookieConfig") || !session["cookieConfig"].has("lifetimeType")
                    || session["cookieConfig"]["lifetimeType"].string != "Permanent" || session.has("absoluteTimeout")
            },
            Rule("cookieConfig can only be set with type Cookie") { session in
                !session.has("cookieConfig") || session["type"].string == "Cookie"
            },
        ])

    // MARK: filters

    /// `HTTPHeader` of a header modifier: a name and a value.
    private static let header = Schema.object(
        [
            "name": headerName,
            "value": .string(minLength: 1, maxLength: 4096, pattern: .headerValue),
        ], required: ["name", "value"])

    /// `HTTPHeaderFilter`: set, add (unique names) and remove (unique), 16 each.
    static let headerModifier = Schema.object([
        "add": .array(header, maxItems: 16, list: .map(keys: ["name"])),
        "remove": .array(.string(), maxItems: 16, list: .set),
        "set": .array(header, maxItems: 16, list: .map(keys: ["name"])),
    ])

    /// `HTTPRequestMirrorFilter`: a backend, and a percent or a fraction of requests.
    static let requestMirror = Schema.object(
        [
            "backendRef": backendObjectReference,
            "fraction": .object(
                [
                    "denominator": .integer(format: .int32, minimum: 1, default: 100),
                    "numerator": .integer(format: .int32, minimum: 0),
                ], required: ["numerator"],
                rules: [
                    Rule("numerator must be less than or equal to denominator") { fraction in
                        guard let numerator = fraction["numerator"].int, let denominator = fraction["denominator"].int
                        else { return false }
                        return numerator <= denominator
                    }
                ]),
            "percent": .integer(format: .int32, minimum: 0, maximum: 100),
        ], required: ["backendRef"],
        rules: [
            Rule("Only one of percent or fraction may be specified in HTTPRequestMirrorFilter") { mirror in
                !(mirror.has("percent") && mirror.has("fraction"))
            }
        ])

    /// The CEL rules that tie a filter's `type` to the one field it sets, for each
    /// filter kind, in the CRD's order.
    static func filterTypeRules(_ fields: [(field: String, type: String)]) -> [Rule] {
        fields.flatMap { field, type in
            [
                Rule("filter.\(field) must be nil if the filter.type is not \(type)") { filter in
                    !(filter.has(field) && filter["type"].string != type)
                },
                Rule("filter.\(field) must be specified for \(type) filter.type") { filter in
                    !(!filter.has(field) && filter["type"].string == type)
                },
            ]
        }
    }

    /// `<Type> filter cannot be repeated`: `self.filter(f, f.type == '<Type>').size() <= 1`
    static func notRepeated(_ type: String) -> Rule {
        Rule("\(type) filter cannot be repeated") { list in list.elements.count { $0["type"].string == type } <= 1 }
    }
}
