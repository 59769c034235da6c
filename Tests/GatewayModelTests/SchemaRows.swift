@testable import GatewayModel

/// The rows of `SchemaTests`: one per constraint of every kind's schema, at every field
/// path the CRD has it. Each row is a minimal valid object with one mutation that breaks
/// that constraint, the field path the problem must name, and a fragment of the API
/// server's message.
///
/// Rows for types, required fields, enums, lengths, patterns, item counts, ranges,
/// formats and list keys are made from the schema: the mutation follows from the
/// constraint (a string one character too long, a list one item too long, …). Rows for
/// the CEL rules come from ``SchemaRows/celViolations``: for each rule, written by hand,
/// a value of the rule's node that breaks it; the row puts that value at every path
/// where the node occurs (a filter's rules are checked in a rule's filters and in each
/// backendRef's).
struct SchemaRow: CustomStringConvertible, Sendable {
    var kind: Kind
    var apiVersion: String
    /// The constraint's path in the schema (`spec.rules[*].name`).
    var schemaPath: String
    var constraint: Schema.Constraint
    var detail: String
    /// The object, as JSON.
    var object: String
    /// The field path the problem names (`spec.rules[0].name`).
    var path: String
    var message: String
    /// The rule can only fail where a simpler check fails first: run it anyway.
    var runAllRules = false

    var description: String { "\(kind.rawValue) \(apiVersion.split(separator: "/").last ?? "") \(schemaPath) \(constraint.rawValue) \(detail.prefix(60))" }
}

/// A JSON value, for building objects.
indirect enum JSON: Sendable, Equatable {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case integer(Int)
    case boolean(Bool)

    static func == (a: JSON, b: JSON) -> Bool { a.text == b.text }

    var text: String {
        switch self {
        case .object(let fields): "{" + fields.map { "\(Self.quote($0.0)): \($0.1.text)" }.joined(separator: ", ") + "}"
        case .array(let items): "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .string(let value): Self.quote(value)
        case .integer(let value): String(value)
        case .boolean(let value): value ? "true" : "false"
        }
    }

    static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    var fields: [(String, JSON)]? { if case .object(let fields) = self { fields } else { nil } }
    var items: [JSON]? { if case .array(let items) = self { items } else { nil } }

    func setting(_ key: String, to value: JSON?) -> JSON {
        var fields = self.fields ?? []
        if let index = fields.firstIndex(where: { $0.0 == key }) {
            if let value { fields[index].1 = value } else { fields.remove(at: index) }
        } else if let value {
            fields.append((key, value))
        }
        return .object(fields)
    }

    /// Parses a JSON text made of objects, arrays, strings, integers and booleans (the
    /// CEL rows are written as JSON).
    static func parse(_ text: String) -> JSON {
        var scalars = Array(text.unicodeScalars)[...]
        func skip() { while let c = scalars.first, c == " " || c == "\n" { scalars.removeFirst() } }
        func value() -> JSON {
            skip()
            switch scalars.first! {
            case "{":
                scalars.removeFirst()
                var fields: [(String, JSON)] = []
                skip()
                if scalars.first == "}" {
                    scalars.removeFirst()
                    return .object(fields)
                }
                while true {
                    guard case .string(let key) = value() else { fatalError("a key must be a string") }
                    skip()
                    scalars.removeFirst()  // :
                    fields.append((key, value()))
                    skip()
                    if scalars.removeFirst() == "}" { return .object(fields) }
                }
            case "[":
                scalars.removeFirst()
                var items: [JSON] = []
                skip()
                if scalars.first == "]" {
                    scalars.removeFirst()
                    return .array(items)
                }
                while true {
                    items.append(value())
                    skip()
                    if scalars.removeFirst() == "]" { return .array(items) }
                }
            case "\"":
                scalars.removeFirst()
                var result = ""
                while let c = scalars.popFirst(), c != "\"" {
                    if c == "\\" {
                        let escaped = scalars.removeFirst()
                        if escaped == "u" {
                            let hex = String(String.UnicodeScalarView(scalars.prefix(4)))
                            scalars.removeFirst(4)
                            result.unicodeScalars.append(Unicode.Scalar(UInt32(hex, radix: 16)!)!)
                        } else {
                            result.unicodeScalars.append(escaped)
                        }
                    } else {
                        result.unicodeScalars.append(c)
                    }
                }
                return .string(result)
            case "t", "f":
                let word = scalars.first == "t" ? 4 : 5
                let isTrue = scalars.first == "t"
                scalars.removeFirst(word)
                return .boolean(isTrue)
            default:
                var digits = ""
                while let c = scalars.first, c == "-" || ("0"..."9").contains(c) { digits.unicodeScalars.append(scalars.removeFirst()) }
                return .integer(Int(digits)!)
            }
        }
        return value()
    }
}

enum SchemaRows {
    /// A value for each pattern that matches it.
    static let examples: [String: String] = [
        Pattern.dnsLabel.regex: "a",
        Pattern.dnsSubdomain.regex: "a.example.com",
        Pattern.hostname.regex: "a.example.com",
        Pattern.group.regex: "",
        Pattern.kind.regex: "Kind",
        Pattern.controllerName.regex: "example.com/controller",
        Pattern.listenerProtocol.regex: "HTTP",
        Pattern.addressType.regex: "IPAddress",
        Pattern.headerName.regex: "x-h",
        Pattern.headerValue.regex: "v",
        Pattern.duration.regex: "1s",
        Pattern.path.regex: "/p",
        Pattern.corsOrigin.regex: "https://a.example.com",
        Pattern.grpcService.regex: "svc.Echo",
        Pattern.grpcMethod.regex: "Get",
        Pattern.labelValue.regex: "v",
        Pattern.labelKey.regex: "k",
        Pattern.wellKnownCACertificates.regex: "System",
        Pattern.uri.regex: "spiffe://a/b",
    ]

    /// Optional fields the minimal value sets: a Service reference needs its port, and a
    /// BackendTLSPolicy names a CA source.
    static let alwaysSet: Set<String> = ["port", "wellKnownCACertificates"]

    /// Lists the minimal value gives one item: a policy names at least one target.
    static let oneItem: Set<String> = ["targetRefs"]

    /// The smallest valid value of a schema (required fields, one item where one is
    /// required, the first enum value, a pattern's example).
    static func minimal(_ schema: Schema) -> JSON {
        switch schema.type {
        case .object:
            if schema.values != nil { return .object([]) }
            let names = schema.propertyNames.filter { schema.required.contains($0) || alwaysSet.contains($0) || oneItem.contains($0) }
            return .object(
                names.map { name in
                    let property = schema.property(name)!
                    return (name, oneItem.contains(name) ? .array([minimal(property.items!)]) : minimal(property))
                })
        case .array:
            return .array((schema.minItems ?? 0) > 0 ? [minimal(schema.items!)] : [])
        case .string:
            if let first = schema.enumStrings?.first { return .string(first) }
            if let pattern = schema.pattern { return .string(examples[pattern.regex]!) }
            return .string(String(repeating: "a", count: max(1, schema.minLength ?? 0)))
        case .integer, .number:
            if let first = schema.enumIntegers?.first { return .integer(first) }
            return .integer(min(max(schema.minimum ?? 1, 1), schema.maximum ?? Int.max))
        case .boolean:
            return .boolean(true)
        }
    }

    enum Step: Equatable { case key(String), item, value }

    static func steps(_ path: String) -> [Step] {
        var steps: [Step] = []
        var word = ""
        var rest = Substring(path)
        while let c = rest.first {
            if rest.hasPrefix("[*]") {
                if !word.isEmpty { steps.append(.key(word)) }
                word = ""
                steps.append(.item)
                rest = rest.dropFirst(3)
            } else if rest.hasPrefix("{*}") {
                if !word.isEmpty { steps.append(.key(word)) }
                word = ""
                steps.append(.value)
                rest = rest.dropFirst(3)
            } else if c == "." {
                if !word.isEmpty { steps.append(.key(word)) }
                word = ""
                rest = rest.dropFirst()
            } else {
                word.append(c)
                rest = rest.dropFirst()
            }
        }
        if !word.isEmpty { steps.append(.key(word)) }
        return steps
    }

    /// The concrete path of schema steps: the first item of each list, key `k` of each map.
    static func concrete(_ steps: [Step]) -> String {
        var text = ""
        for step in steps {
            switch step {
            case .key(let key): text += text.isEmpty ? key : "." + key
            case .item: text += "[0]"
            case .value: text += ".k"
            }
        }
        return text
    }

    /// `base` (or the minimal value) with the node at `steps` replaced by `leaf(schema,
    /// current)`; lists keep one item, maps one key (`k`).
    static func build(
        _ schema: Schema, _ base: JSON?, _ steps: ArraySlice<Step>, _ leaf: (Schema, JSON) -> JSON?
    ) -> JSON? {
        let current = base ?? minimal(schema)
        guard let step = steps.first else { return leaf(schema, current) }
        switch step {
        case .key(let name):
            let child = schema.property(name)!
            let existing = current.fields?.first { $0.0 == name }?.1
            return current.setting(name, to: build(child, existing, steps.dropFirst(), leaf))
        case .item:
            let item = build(schema.items!, current.items?.first, steps.dropFirst(), leaf)
            return .array(item.map { [$0] } ?? [])
        case .value:
            let value = build(schema.values!, nil, steps.dropFirst(), leaf)
            return .object(value.map { [("k", $0)] } ?? [])
        }
    }

    /// The whole object: apiVersion, kind, metadata and the root schema's fields.
    static func document(_ kind: Kind, _ apiVersion: String, _ root: JSON) -> String {
        let metadata: JSON = kind.isNamespaced ? .object([("name", .string("x")), ("namespace", .string("ns"))]) : .object([("name", .string("x"))])
        return JSON.object([("apiVersion", .string(apiVersion)), ("kind", .string(kind.rawValue)), ("metadata", metadata)] + (root.fields ?? [])).text
    }

    static func apiVersion(_ kind: Kind, _ versions: String) -> String {
        "\(kind.group)/\(versions.split(separator: ",")[0].trimmingCharacters(in: .whitespaces))"
    }

    /// Every schema the rows break: the Gateway API kinds' and the policy kinds'.
    static var schemas: [(kind: Kind, versions: String, schema: Schema)] { KindSchemas.all + KindSchemas.policies }

    /// The minimal valid object of each schema of ``schemas``.
    static func bases() -> [(kind: Kind, apiVersion: String, object: String)] {
        schemas.map { ($0.kind, apiVersion($0.kind, $0.versions), document($0.kind, apiVersion($0.kind, $0.versions), minimal($0.schema))) }
    }

    /// Constraints no object can break: `minLength: 0`; `format: int32` on a field whose
    /// `maximum` is smaller; a CEL transition rule (it compares with the stored object);
    /// a default (not a check); the root's type (a document that is not an object is
    /// refused before its kind is known).
    static func unbreakable(_ schema: Schema, _ constraint: Schema.Constraint, _ detail: String, path: String) -> Bool {
        switch constraint {
        case .minLength: return detail == "0"
        case .format: return (schema.maximum ?? Int.max) <= Int(Int32.max)
        case .cel: return detail == "Value is immutable"
        case .default: return true
        case .type: return path.isEmpty
        default: return false
        }
    }

    /// Every row: one per constraint of every schema, at every path.
    static func all() -> [SchemaRow] {
        var rows: [SchemaRow] = []
        for entry in schemas {
            let apiVersion = apiVersion(entry.kind, entry.versions)
            for constraint in entry.schema.constraints() {
                let steps = steps(constraint.path)
                var node = entry.schema
                for step in steps {
                    switch step {
                    case .key(let name): node = node.property(name)!
                    case .item: node = node.items!
                    case .value: node = node.values!
                    }
                }
                guard !unbreakable(node, constraint.constraint, constraint.detail, path: constraint.path),
                    let (leaf, below, message) = violation(node, constraint.constraint, constraint.detail)
                else { continue }
                let root = build(entry.schema, nil, steps[...]) { schema, current in leaf(schema, current) }!
                var path = concrete(steps)
                if let below { path += path.isEmpty ? below : (below.hasPrefix("[") ? below : "." + below) }
                rows.append(
                    SchemaRow(
                        kind: entry.kind, apiVersion: apiVersion, schemaPath: constraint.path,
                        constraint: constraint.constraint, detail: constraint.detail,
                        object: document(entry.kind, apiVersion, root), path: path, message: message,
                        runAllRules: constraint.constraint == .cel && shadowed.contains(constraint.detail)))
            }
        }
        return rows
    }

    /// How to break a constraint of `schema`: the node's new value, the path below the
    /// node the problem names, and a fragment of the message.
    static func violation(_ schema: Schema, _ constraint: Schema.Constraint, _ detail: String)
        -> ((Schema, JSON) -> JSON?, String?, String)?
    {
        switch constraint {
        case .type:
            // The message names the path: `Invalid value: "integer": spec.x in body must be of type string`.
            let wrong: JSON = schema.type == .string ? .integer(1) : .string("x")
            let actual = schema.type == .string ? "integer" : "string"
            return ({ _, _ in wrong }, nil, "Invalid value: \"\(actual)\": ")
        case .required:
            return ({ _, current in current.setting(detail, to: nil) }, detail, "Required value")
        case .enum:
            let wrong: JSON = schema.type == .string ? .string("NotInTheEnum") : .integer(1)
            return ({ _, _ in wrong }, nil, "Unsupported value: ")
        case .minLength:
            let n = Int(detail)!
            return ({ _, _ in .string(String(repeating: "a", count: n - 1)) }, nil, "should be at least \(n) chars long")
        case .maxLength:
            let n = Int(detail)!
            return ({ _, _ in .string(String(repeating: "a", count: n + 1)) }, nil, "Too long: may not be more than \(n) bytes")
        case .pattern:
            return ({ _, _ in .string("\u{7}") }, nil, "should match '\(schema.pattern!.regex)'")
        case .minItems:
            let n = Int(detail)!
            return ({ schema, _ in .array(Array(repeating: minimal(schema.items!), count: n - 1)) }, nil, "should have at least \(n) items")
        case .maxItems:
            let n = Int(detail)!
            return ({ schema, _ in .array(Array(repeating: minimal(schema.items!), count: n + 1)) }, nil, "Too many: \(n + 1): must have at most \(n) items")
        case .minimum:
            let n = Int(detail)!
            return ({ _, _ in .integer(n - 1) }, nil, "Invalid value: \(n - 1): should be greater than or equal to \(n)")
        case .maximum:
            let n = Int(detail)!
            return ({ _, _ in .integer(n + 1) }, nil, "Invalid value: \(n + 1): should be less than or equal to \(n)")
        case .maxProperties:
            let n = Int(detail)!
            return (
                { schema, _ in .object((0...n).map { ("k\($0)", minimal(schema.values!)) }) }, nil,
                "Too many: \(n + 1): must have at most \(n) items"
            )
        case .format:
            return ({ _, _ in .integer(Int(Int32.max) + 1) }, nil, "must fit in 32 bits")
        case .listType:
            return (
                { schema, current in
                    let item = current.items?.first ?? minimal(schema.items!)
                    return .array([item, item])
                }, "[1]", "Duplicate value: "
            )
        case .oneOf:
            return (
                { _, _ in .object([("type", .string("IPAddress")), ("value", .string("not-an-ip"))]) }, "value",
                "must be an IPv4 or IPv6 address"
            )
        case .cel:
            guard let example = celViolations[detail] else {
                return ({ _, _ in nil }, nil, "no row for the CEL rule: \(detail)")
            }
            return ({ _, _ in JSON.parse(example) }, nil, "Invalid value: \"\(schema.type.rawValue)\": \(detail)")
        case .default:
            return nil
        }
    }

    /// For each CEL rule (by its message), a value of the rule's node that breaks it and
    /// nothing else. JSON.
    static let celViolations: [String: String] = [
        // Envoy Gateway's policy kinds (every kind's spec)
        "either targetRef or targetRefs must be used":
            #"{"targetRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "g"}, "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "g"}]}"#,
        "one of targetRef, targetRefs or targetSelectors must be given": "{}",
        "matchExpressions or matchLabels must be specified": #"{"kind": "HTTPRoute"}"#,
        // SecurityPolicy
        "at least one of principal or cel must be specified": #"{"action": "Allow"}"#,
        "at least one of methods or path must be specified": "{}",
        "at least one of clientCIDRs, headers, jwt or clientIPGeoLocations must be specified": "{}",
        "at least one of claims or scopes must be specified": #"{"provider": "p"}"#,
        "exactly one of headers, params or cookies must be specified": "{}",
        "Exactly one of inline or valueRef must be set with correct type.": #"{"type": "Inline"}"#,
        "claimToHeaders must be specified if recomputeRoute is enabled.":
            #"{"name": "p", "localJWKS": {"inline": "{}"}, "recomputeRoute": true}"#,
        "either remoteJWKS or localJWKS must be specified.": #"{"name": "p"}"#,
        // BackendTrafficPolicy
        "local must be set when type is Local": #"{"type": "Local"}"#,
        "value is required unless type is Distinct": #"{"name": "a"}"#,
        "Delay and abort faults are set at least one.": "{}",
        "only one of grpcStatus or httpStatus can be set": #"{"httpStatus": 500, "grpcStatus": 14}"#,
        "one of grpcStatus or httpStatus must be set": "{}",
        "If LoadBalancer type is consistentHash, consistentHash field needs to be set.": #"{"type": "ConsistentHash"}"#,
        "If consistent hash type is header, the header field must be set.": #"{"type": "Header"}"#,
        "If consistent hash type is cookie, the cookie field must be set.": #"{"type": "Cookie"}"#,
        "If Health Checker type is HTTP, http field needs to be set.": #"{"type": "HTTP"}"#,
        "If Health Checker type is TCP, tcp field needs to be set.": #"{"type": "TCP"}"#,
        "If payload type is Text, text field needs to be set.": #"{"type": "Text"}"#,
        "If payload type is Binary, binary field needs to be set.": #"{"type": "Binary"}"#,
        // ClientTrafficPolicy
        "only one of numTrustedHops or trustedCIDRs must be set": #"{"numTrustedHops": 1, "trustedCIDRs": ["10.0.0.0/8"]}"#,
        "customHeader cannot be used in conjunction with xForwardedFor":
            #"{"xForwardedFor": {"numTrustedHops": 1}, "customHeader": {"name": "x-real-ip"}}"#,
        "minVersion must be smaller or equal to maxVersion": #"{"minVersion": "1.3", "maxVersion": "1.2"}"#,
        "setting ciphers has no effect if the minimum possible TLS version is 1.3": #"{"minVersion": "1.3", "ciphers": ["AES128-SHA"]}"#,

        // ParentReference lists (every route kind)
        "sectionName or port must be specified when parentRefs includes 2 or more references to the same parent":
            #"[{"name": "gw", "sectionName": "a"}, {"name": "gw"}]"#,
        "sectionName or port must be unique when parentRefs includes 2 or more references to the same parent":
            #"[{"name": "gw", "sectionName": "a"}, {"name": "gw", "sectionName": "a"}]"#,
        // backendRefs, mirror and external auth backends
        "Must have port for Service reference": #"{"name": "s"}"#,
        // route rules
        "Rule name must be unique within the route":
            #"[{"name": "a", "backendRefs": [{"name": "s", "port": 80}]}, {"name": "a", "backendRefs": [{"name": "s", "port": 80}]}]"#,
        "While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128":
            "[" + Array(repeating: #"{"matches": ["# + Array(repeating: "{}", count: 64).joined(separator: ", ") + "]}", count: 3)
            .joined(separator: ", ") + "]",
        "RequestRedirect filter must not be used together with backendRefs":
            #"{"filters": [{"type": "RequestRedirect", "requestRedirect": {}}], "backendRefs": [{"name": "s", "port": 80}]}"#,
        "When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified":
            #"{"matches": [{"path": {"type": "Exact", "value": "/a"}}], "filters": [{"type": "RequestRedirect", "requestRedirect": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/b"}}}]}"#,
        "When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified":
            #"{"matches": [{"path": {"type": "PathPrefix", "value": "/a"}}, {"path": {"type": "PathPrefix", "value": "/c"}}], "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/b"}}}]}"#,
        "Within backendRefs, when using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified":
            #"{"matches": [{"path": {"type": "Exact", "value": "/a"}}], "backendRefs": [{"name": "s", "port": 80, "filters": [{"type": "RequestRedirect", "requestRedirect": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/b"}}}]}]}"#,
        "Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified":
            #"{"matches": [{"path": {"type": "RegularExpression", "value": "/a.*"}}], "backendRefs": [{"name": "s", "port": 80, "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/b"}}}]}]}"#,
        "backendRequest timeout cannot be longer than request timeout": #"{"request": "1s", "backendRequest": "2s"}"#,
        "AbsoluteTimeout must be specified when cookie lifetimeType is Permanent": #"{"cookieConfig": {"lifetimeType": "Permanent"}}"#,
        "cookieConfig can only be set with type Cookie": #"{"type": "Header", "cookieConfig": {}}"#,
        // path matches
        "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']": #"{"type": "Exact", "value": "a"}"#,
        "must not contain '//' when type one of ['Exact', 'PathPrefix']": #"{"value": "/a//b"}"#,
        "must not contain '/./' when type one of ['Exact', 'PathPrefix']": #"{"value": "/a/./b"}"#,
        "must not contain '/../' when type one of ['Exact', 'PathPrefix']": #"{"value": "/a/../b"}"#,
        "must not contain '%2f' when type one of ['Exact', 'PathPrefix']": #"{"value": "/a%2fb"}"#,
        "must not contain '%2F' when type one of ['Exact', 'PathPrefix']": #"{"value": "/a%2Fb"}"#,
        "must not contain '#' when type one of ['Exact', 'PathPrefix']": #"{"value": "/a#b"}"#,
        "must not end with '/..' when type one of ['Exact', 'PathPrefix']": #"{"value": "/a/.."}"#,
        "must not end with '/.' when type one of ['Exact', 'PathPrefix']": #"{"value": "/a/."}"#,
        #"must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']"#:
            #"{"value": "/a b"}"#,
        // filter lists
        "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both":
            #"[{"type": "RequestRedirect", "requestRedirect": {}}, {"type": "URLRewrite", "urlRewrite": {}}]"#,
        "CORS filter cannot be repeated": #"[{"type": "CORS", "cors": {}}, {"type": "CORS", "cors": {}}]"#,
        "RequestHeaderModifier filter cannot be repeated":
            #"[{"type": "RequestHeaderModifier", "requestHeaderModifier": {}}, {"type": "RequestHeaderModifier", "requestHeaderModifier": {}}]"#,
        "ResponseHeaderModifier filter cannot be repeated":
            #"[{"type": "ResponseHeaderModifier", "responseHeaderModifier": {}}, {"type": "ResponseHeaderModifier", "responseHeaderModifier": {}}]"#,
        "RequestRedirect filter cannot be repeated":
            #"[{"type": "RequestRedirect", "requestRedirect": {}}, {"type": "RequestRedirect", "requestRedirect": {}}]"#,
        "URLRewrite filter cannot be repeated": #"[{"type": "URLRewrite", "urlRewrite": {}}, {"type": "URLRewrite", "urlRewrite": {}}]"#,
        // filters: the field that goes with the type
        "filter.cors must be nil if the filter.type is not CORS":
            #"{"type": "RequestHeaderModifier", "requestHeaderModifier": {}, "cors": {}}"#,
        "filter.cors must be specified for CORS filter.type": #"{"type": "CORS"}"#,
        "filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier":
            #"{"type": "ResponseHeaderModifier", "responseHeaderModifier": {}, "requestHeaderModifier": {}}"#,
        "filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type": #"{"type": "RequestHeaderModifier"}"#,
        "filter.responseHeaderModifier must be nil if the filter.type is not ResponseHeaderModifier":
            #"{"type": "RequestHeaderModifier", "requestHeaderModifier": {}, "responseHeaderModifier": {}}"#,
        "filter.responseHeaderModifier must be specified for ResponseHeaderModifier filter.type":
            #"{"type": "ResponseHeaderModifier"}"#,
        "filter.requestMirror must be nil if the filter.type is not RequestMirror":
            #"{"type": "RequestHeaderModifier", "requestHeaderModifier": {}, "requestMirror": {"backendRef": {"name": "m", "port": 80}}}"#,
        "filter.requestMirror must be specified for RequestMirror filter.type": #"{"type": "RequestMirror"}"#,
        "filter.requestRedirect must be nil if the filter.type is not RequestRedirect":
            #"{"type": "RequestHeaderModifier", "requestHeaderModifier": {}, "requestRedirect": {}}"#,
        "filter.requestRedirect must be specified for RequestRedirect filter.type": #"{"type": "RequestRedirect"}"#,
        "filter.urlRewrite must be nil if the filter.type is not URLRewrite":
            #"{"type": "RequestHeaderModifier", "requestHeaderModifier": {}, "urlRewrite": {}}"#,
        "filter.urlRewrite must be specified for URLRewrite filter.type": #"{"type": "URLRewrite"}"#,
        "filter.extensionRef must be nil if the filter.type is not ExtensionRef":
            #"{"type": "RequestHeaderModifier", "requestHeaderModifier": {}, "extensionRef": {"group": "x.io", "kind": "K", "name": "e"}}"#,
        "filter.extensionRef must be specified for ExtensionRef filter.type": #"{"type": "ExtensionRef"}"#,
        "filter.externalAuth must be nil if the filter.type is not ExternalAuth":
            #"{"type": "RequestHeaderModifier", "requestHeaderModifier": {}, "externalAuth": {"protocol": "HTTP", "http": {}, "backendRef": {"name": "a", "port": 80}}}"#,
        "filter.externalAuth must be specified for ExternalAuth filter.type": #"{"type": "ExternalAuth"}"#,
        // filter settings
        "AllowHeaders cannot contain '*' alongside other methods": #"["*", "x-a"]"#,
        "AllowMethods cannot contain '*' alongside other methods": #"["*", "GET"]"#,
        "AllowOrigins cannot contain '*' alongside other origins": #"["*", "https://a.example.com"]"#,
        "grpc must be specified when protocol is set to 'GRPC'": #"{"protocol": "GRPC", "backendRef": {"name": "a", "port": 80}}"#,
        "protocol must be 'GRPC' when grpc is set": #"{"protocol": "HTTP", "http": {}, "grpc": {}, "backendRef": {"name": "a", "port": 80}}"#,
        "http must be specified when protocol is set to 'HTTP'": #"{"protocol": "HTTP", "backendRef": {"name": "a", "port": 80}}"#,
        "protocol must be 'HTTP' when http is set": #"{"protocol": "GRPC", "grpc": {}, "http": {}, "backendRef": {"name": "a", "port": 80}}"#,
        "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter":
            #"{"backendRef": {"name": "m", "port": 80}, "percent": 10, "fraction": {"numerator": 1}}"#,
        "numerator must be less than or equal to denominator": #"{"numerator": 101}"#,
        "replaceFullPath must be specified when type is set to 'ReplaceFullPath'": #"{"type": "ReplaceFullPath"}"#,
        "type must be 'ReplaceFullPath' when replaceFullPath is set":
            #"{"type": "ReplacePrefixMatch", "replacePrefixMatch": "/a", "replaceFullPath": "/b"}"#,
        "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'": #"{"type": "ReplacePrefixMatch"}"#,
        "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set":
            #"{"type": "ReplaceFullPath", "replaceFullPath": "/a", "replacePrefixMatch": "/b"}"#,
        // an enum rule the enum already enforces: only a value outside the enum breaks it
        "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']": #"{"type": "Foo", "value": "/"}"#,
        // gRPC method matches
        "One or both of 'service' or 'method' must be specified": #"{"type": "Exact"}"#,
        #"service must only contain valid characters (matching ^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$)"#:
            #"{"service": "a/b"}"#,
        "method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)": #"{"method": "a.b"}"#,
        // TLSRoute hostnames
        "Hostnames cannot contain an IP": #"["1.2.3.4"]"#,
        "Hostnames must be valid based on RFC-1123": #"["A.example.com"]"#,
        "Wildcards on hostnames must be the first label, and the rest of hostname must be valid based on RFC-1123": #"["a.*.example.com"]"#,
        // listeners (Gateway and ListenerSet)
        "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']":
            #"[{"name": "a", "port": 80, "protocol": "HTTP", "tls": {"mode": "Passthrough"}}]"#,
        "tls mode must be Terminate for protocol HTTPS": #"[{"name": "a", "port": 443, "protocol": "HTTPS", "tls": {"mode": "Passthrough"}}]"#,
        "tls mode must be set for protocol TLS": #"[{"name": "a", "port": 443, "protocol": "TLS"}]"#,
        "hostname must not be specified for protocols ['TCP', 'UDP']":
            #"[{"name": "a", "port": 5000, "protocol": "TCP", "hostname": "a.example.com"}]"#,
        "Listener name must be unique within the Gateway": #"[{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "a", "port": 81, "protocol": "HTTP"}]"#,
        "Combination of port, protocol and hostname must be unique for each listener":
            #"[{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "b", "port": 80, "protocol": "HTTP"}]"#,
        "certificateRefs or options must be specified when mode is Terminate": #"{}"#,
        // Gateway
        "IPAddress values must be unique": #"[{"value": "10.0.0.1"}, {"type": "IPAddress", "value": "10.0.0.1"}]"#,
        "Hostname values must be unique": #"[{"type": "Hostname", "value": "a.example.com"}, {"type": "Hostname", "value": "a.example.com"}]"#,
        #"Hostname value must be empty or contain only valid characters (matching ^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)"#:
            #"{"type": "Hostname", "value": "A.example.com"}"#,
        "Annotation keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.":
            #"{"-bad": "v"}"#,
        "If specified, the annotation key's prefix must be a DNS subdomain not longer than 253 characters in total.":
            "{\"" + String(repeating: "a", count: 253) + "\": \"v\"}",
        "Label keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.":
            #"{"-bad": "v"}"#,
        "If specified, the label key's prefix must be a DNS subdomain not longer than 253 characters in total.":
            "{\"" + String(repeating: "a", count: 253) + "\": \"v\"}",
        "Port for TLS configuration must be unique within the Gateway": #"[{"port": 443, "tls": {}}, {"port": 443, "tls": {}}]"#,
        // BackendTLSPolicy
        "sectionName must be specified when targetRefs includes 2 or more references to the same target":
            #"[{"group": "", "kind": "Service", "name": "s", "sectionName": "a"}, {"group": "", "kind": "Service", "name": "s"}]"#,
        "sectionName must be unique when targetRefs includes 2 or more references to the same target":
            #"[{"group": "", "kind": "Service", "name": "s"}, {"group": "", "kind": "Service", "name": "s"}]"#,
        "must not contain both CACertificateRefs and WellKnownCACertificates":
            #"{"hostname": "a", "wellKnownCACertificates": "System", "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "ca"}]}"#,
        "must specify either CACertificateRefs or WellKnownCACertificates": #"{"hostname": "a"}"#,
        "SubjectAltName element must contain Hostname, if Type is set to Hostname": #"{"type": "Hostname"}"#,
        "SubjectAltName element must not contain Hostname, if Type is not set to Hostname":
            #"{"type": "URI", "uri": "spiffe://a/b", "hostname": "a.example.com"}"#,
        "SubjectAltName element must contain URI, if Type is set to URI": #"{"type": "URI"}"#,
        "SubjectAltName element must not contain URI, if Type is not set to URI":
            #"{"type": "Hostname", "hostname": "a.example.com", "uri": "spiffe://a/b"}"#,
    ]

    /// CEL rules that the schema's own checks make unreachable (the API server runs
    /// them, but an object that breaks them breaks a simpler check first, and then the
    /// rules are not run): the enum of path types, the TLSRoute hostname pattern, the
    /// list-map keys of listeners and perPort entries.
    static let shadowed: Set<String> = [
        "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']",
        "Hostnames must be valid based on RFC-1123",
        "Wildcards on hostnames must be the first label, and the rest of hostname must be valid based on RFC-1123",
        "Listener name must be unique within the Gateway",
        "Port for TLS configuration must be unique within the Gateway",
    ]

    /// The problems of an object: nil when the row holds (the expected problem is
    /// there), or what was found instead.
    static func check(_ row: SchemaRow) -> String? {
        let problems: [SchemaProblem]
        do {
            guard let found = try KindSchemas.problems(in: row.object, runAllRules: row.runAllRules) else { return "not read as an object" }
            problems = found
        } catch {
            return "not valid YAML: \(error)"
        }
        let formatted = problems.map { "\(ManifestDecoder.format($0.path)): \($0.message)" }
        if problems.contains(where: { ManifestDecoder.format($0.path) == row.path && $0.message.contains(row.message) }) {
            return nil
        }
        return "expected \(row.path): …\(row.message)…; found \(formatted)"
    }
}

/// Rows read through ``ManifestDecoder``, with the whole error it gives (file, line,
/// object, field path, the API server's message), or nil for an object that must be
/// read: the message formats, the object-name rules, defaults seen by CEL rules, null
/// and unknown fields.
struct DecoderRow: CustomStringConvertible, Sendable {
    var rule: String
    var yaml: String
    var error: String?

    var description: String { rule }

    static let header = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: r, namespace: app}

        """

    static let all: [DecoderRow] = [
        DecoderRow(
            rule: "spec.listeners[*].port minimum 1",
            yaml: """
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: gw, namespace: infra}
                spec:
                  gatewayClassName: c
                  listeners:
                  - {name: http, protocol: HTTP, port: 0}
                """,
            error: "t.yaml:7: Gateway infra/gw: spec.listeners[0].port: Invalid value: 0: should be greater than or equal to 1"),
        DecoderRow(
            rule: "spec.hostnames maxItems 16",
            yaml: header + "spec:\n  hostnames: [" + (0..<17).map { "h\($0).example.com" }.joined(separator: ", ") + "]",
            error: "t.yaml:5: HTTPRoute app/r: spec.hostnames: Too many: 17: must have at most 16 items"),
        DecoderRow(
            rule: "spec required",
            yaml: header,
            error: "t.yaml:1: HTTPRoute app/r: spec: Required value"),
        DecoderRow(
            rule: "spec.rules[*].backendRefs[*].port type integer (JSON, as the Kubernetes source gives objects)",
            yaml: #"{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "app"}, "spec": {"rules": [{"backendRefs": [{"name": "s", "port": "80"}]}]}}"#,
            error:
                #"t.yaml:1: HTTPRoute app/r: spec.rules[0].backendRefs[0].port: Invalid value: "string": spec.rules[0].backendRefs[0].port in body must be of type integer"#
        ),
        DecoderRow(
            rule: "spec.rules[*].filters[*].requestHeaderModifier.set list-map keys [name]",
            yaml: header + """
                spec:
                  rules:
                  - filters:
                    - type: RequestHeaderModifier
                      requestHeaderModifier:
                        set: [{name: x-a, value: "1"}, {name: x-a, value: "2"}]
                """,
            error: #"t.yaml:9: HTTPRoute app/r: spec.rules[0].filters[0].requestHeaderModifier.set[1]: Duplicate value: {"name": "x-a"}"#),
        DecoderRow(
            rule: "spec.rules[*].matches[*].path.type enum",
            yaml: header + "spec:\n  rules: [{matches: [{path: {type: Prefix, value: /}}]}]",
            error:
                #"t.yaml:5: HTTPRoute app/r: spec.rules[0].matches[0].path.type: Unsupported value: "Prefix": supported values: "Exact", "PathPrefix", "RegularExpression""#
        ),
        DecoderRow(
            rule: "spec.rules[*].timeouts.request pattern (Duration)",
            yaml: header + "spec:\n  rules: [{timeouts: {request: 1.5s}}]",
            error: #"t.yaml:5: HTTPRoute app/r: spec.rules[0].timeouts.request: Invalid value: "1.5s": should match '^([0-9]{1,5}(h|m|s|ms)){1,4}$'"#),
        DecoderRow(
            rule: "CEL on a list: the line is the item's, the path the list's",
            yaml: header + """
                spec:
                  rules:
                  - name: a
                  - name: b
                  - name: a
                """,
            error: #"t.yaml:8: HTTPRoute app/r: spec.rules: Invalid value: "array": Rule name must be unique within the route"#),
        // defaults, as the API server applies them before its CEL rules
        DecoderRow(
            rule: "spec.rules[*]: a rule without matches has the default PathPrefix / match, so ReplacePrefixMatch is allowed",
            yaml: header + """
                spec:
                  rules:
                  - filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]
                """,
            error: nil),
        DecoderRow(
            rule: "spec.rules[*].filters[*].requestMirror.fraction: denominator defaults to 100",
            yaml: header + """
                spec:
                  rules:
                  - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, fraction: {numerator: 101}}}]
                """,
            error:
                #"t.yaml:6: HTTPRoute app/r: spec.rules[0].filters[0].requestMirror.fraction: Invalid value: "object": numerator must be less than or equal to denominator"#
        ),
        DecoderRow(
            rule: "spec.listeners[*].tls: mode defaults to Terminate, which needs certificates",
            yaml: """
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: gw, namespace: infra}
                spec:
                  gatewayClassName: c
                  listeners:
                  - {name: https, protocol: HTTPS, port: 443, tls: {}}
                """,
            error:
                #"t.yaml:7: Gateway infra/gw: spec.listeners[0].tls: Invalid value: "object": certificateRefs or options must be specified when mode is Terminate"#
        ),
        // null and unknown fields
        DecoderRow(
            rule: "a null field is absent; an unknown field is pruned",
            yaml: header + "spec:\n  hostnames: null\n  somethingNew: {x: 1}\n  rules: [{backendRefs: [{name: s, port: 80, extra: true}]}]",
            error: nil),
        DecoderRow(
            rule: "a required field that is null is missing",
            yaml: header + "spec:\n  rules: [{backendRefs: [{name: null, port: 80}]}]",
            error: "t.yaml:5: HTTPRoute app/r: spec.rules[0].backendRefs[0].name: Required value"),
        // object names
        DecoderRow(
            rule: "metadata.name: an RFC 1123 subdomain",
            yaml: "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: Edge_1, namespace: infra}\nspec: {gatewayClassName: c, listeners: [{name: a, port: 80, protocol: HTTP}]}",
            error:
                #"t.yaml:3: Gateway infra/Edge_1: metadata.name: Invalid value: "Edge_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
        ),
        DecoderRow(
            rule: "metadata.name: at most 253 characters",
            yaml: "apiVersion: v1\nkind: Secret\nmetadata: {name: \(String(repeating: "a", count: 254)), namespace: infra}",
            error: "t.yaml:3: Secret infra/\(String(repeating: "a", count: 254)): metadata.name: Invalid value: \"\(String(repeating: "a", count: 254))\": must be no more than 253 characters"),
        DecoderRow(
            rule: "metadata.name of a Service: an RFC 1035 label",
            yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: 1web, namespace: app}\nspec: {ports: [{port: 80}]}",
            error:
                #"t.yaml:3: Service app/1web: metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#
        ),
        DecoderRow(
            rule: "metadata.name of a Namespace: an RFC 1123 label (no dots)",
            yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: team.a}",
            error:
                #"t.yaml:3: Namespace/team.a: metadata.name: Invalid value: "team.a": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#
        ),
        DecoderRow(
            rule: "metadata.namespace: an RFC 1123 label",
            yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ca, namespace: Infra}",
            error:
                #"t.yaml:3: ConfigMap Infra/ca: metadata.namespace: Invalid value: "Infra": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#
        ),
        DecoderRow(
            rule: "metadata.labels: values",
            yaml: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {team: -a}",
            error:
                #"t.yaml:5: Namespace/shop: metadata.labels.team: Invalid value: "-a": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#
        ),
        DecoderRow(
            rule: "metadata.labels: keys",
            yaml: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {Example.com/team: a}",
            error:
                #"t.yaml:5: Namespace/shop: metadata.labels: Invalid value: "Example.com/team": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
        ),
    ]

    /// The first error `ManifestDecoder` gives, as text.
    func firstError() -> String? {
        ManifestDecoder.decode(file: "t.yaml", contents: yaml).errors.first?.description
    }
}
