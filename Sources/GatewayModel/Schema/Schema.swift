import Yams

/// One node of a CRD's structural schema, as Chancery describes it: the type of the
/// value, and what the API server checks of it — required fields, enums, lengths,
/// patterns, item counts, ranges, list keys, defaults and the CEL rules
/// (`x-kubernetes-validations`), each CEL rule written as a Swift closure carrying the
/// CRD's message.
///
/// Schemas are built once (``KindSchemas``) and shared: a ParentReference is one value
/// used by every route kind. `SchemaValidator` walks a manifest's YAML nodes with them.
final class Schema: Sendable {
    enum ValueType: String, Sendable {
        case object, array, string, integer, number, boolean
    }

    /// `x-kubernetes-list-type`: `set` items are unique, `map` items are unique by their
    /// key fields; `atomic` asks nothing.
    enum ListType: Sendable, Equatable {
        case atomic
        case set
        case map(keys: [String])
    }

    enum Format: String, Sendable {
        /// The value fits in 32 bits. (The API server stores any integer here, but the
        /// Gateway API's Go types, and Envoy's fields, are 32-bit.)
        case int32
    }

    let type: ValueType
    // object
    let propertyNames: [String]
    let propertySchemas: [Schema]
    let propertyIndex: [String: Int]
    let required: [String]
    /// Indices (in `propertyNames`) of the required fields.
    let requiredIndices: [Int]
    /// The schema of every value of a map (`additionalProperties`).
    let values: Schema?
    let maxProperties: Int?
    // array
    let items: Schema?
    let minItems: Int?
    let maxItems: Int?
    let listType: ListType
    // string
    let minLength: Int?
    let maxLength: Int?
    let pattern: Pattern?
    let enumStrings: [String]?
    // integer
    let enumIntegers: [Int]?
    let format: Format?
    let minimum: Int?
    let maximum: Int?
    // any
    let defaultValue: Literal?
    let rules: [Rule]

    private init(
        type: ValueType, properties: [(key: String, value: Schema)] = [], required: [String] = [], values: Schema? = nil,
        maxProperties: Int? = nil, items: Schema? = nil, minItems: Int? = nil, maxItems: Int? = nil,
        listType: ListType = .atomic, minLength: Int? = nil, maxLength: Int? = nil, pattern: Pattern? = nil,
        enumStrings: [String]? = nil, enumIntegers: [Int]? = nil, format: Format? = nil, minimum: Int? = nil,
        maximum: Int? = nil, defaultValue: Literal? = nil, rules: [Rule] = []
    ) {
        self.type = type
        propertyNames = properties.map(\.key)
        propertySchemas = properties.map(\.value)
        var index: [String: Int] = [:]
        for (i, name) in propertyNames.enumerated() { index[name] = i }
        propertyIndex = index
        precondition(propertyNames.count <= 64, "a schema object has at most 64 properties (a bit each)")
        self.required = required
        requiredIndices = required.map { name in
            guard let i = index[name] else { preconditionFailure("required field \(name) is not a property") }
            return i
        }
        self.values = values
        self.maxProperties = maxProperties
        self.items = items
        self.minItems = minItems
        self.maxItems = maxItems
        self.listType = listType
        self.minLength = minLength
        self.maxLength = maxLength
        self.pattern = pattern
        self.enumStrings = enumStrings
        self.enumIntegers = enumIntegers
        self.format = format
        self.minimum = minimum
        self.maximum = maximum
        self.defaultValue = defaultValue
        self.rules = rules
    }

    /// The schema of property `name`, nil when the object has none by that name.
    func property(_ name: String) -> Schema? {
        index(of: name).map { propertySchemas[$0] }
    }

    /// The index of property `name`: compared one by one (cheaper than hashing the key
    /// for the few properties most objects have).
    func index(of name: String) -> Int? {
        guard propertyNames.count > 12 else { return propertyNames.firstIndex(of: name) }
        return propertyIndex[name]
    }

    // MARK: building

    static func object(
        _ properties: KeyValuePairs<String, Schema>, required: [String] = [], default: Literal? = nil, rules: [Rule] = []
    ) -> Schema {
        Schema(type: .object, properties: Array(properties), required: required, defaultValue: `default`, rules: rules)
    }

    /// An object whose properties are put together from lists (a schema that extends
    /// another's fields).
    static func object(fields: [(key: String, value: Schema)], required: [String] = [], rules: [Rule] = []) -> Schema {
        Schema(type: .object, properties: fields, required: required, rules: rules)
    }

    /// An object whose keys are free and whose values all follow `values`.
    static func map(_ values: Schema, maxProperties: Int? = nil, rules: [Rule] = []) -> Schema {
        Schema(type: .object, values: values, maxProperties: maxProperties, rules: rules)
    }

    static func array(
        _ items: Schema, minItems: Int? = nil, maxItems: Int? = nil, list: ListType = .atomic, default: Literal? = nil,
        rules: [Rule] = []
    ) -> Schema {
        Schema(
            type: .array, items: items, minItems: minItems, maxItems: maxItems, listType: list, defaultValue: `default`,
            rules: rules)
    }

    static func string(
        minLength: Int? = nil, maxLength: Int? = nil, pattern: Pattern? = nil, enum values: [String]? = nil,
        default: String? = nil, rules: [Rule] = []
    ) -> Schema {
        Schema(
            type: .string, minLength: minLength, maxLength: maxLength, pattern: pattern, enumStrings: values,
            defaultValue: `default`.map(Literal.string), rules: rules)
    }

    static func integer(
        format: Format? = nil, minimum: Int? = nil, maximum: Int? = nil, enum values: [Int]? = nil, default: Int? = nil
    ) -> Schema {
        Schema(
            type: .integer, enumIntegers: values, format: format, minimum: minimum, maximum: maximum,
            defaultValue: `default`.map(Literal.integer))
    }

    static let boolean = Schema(type: .boolean)

    /// A number (integer or not) between the bounds.
    static func number(minimum: Int? = nil, maximum: Int? = nil) -> Schema {
        Schema(type: .number, minimum: minimum, maximum: maximum)
    }
}

/// A default value, as a CRD writes it.
enum Literal: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case array([Literal])
    case object([String: Literal])

    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .integer(value) }
    init(arrayLiteral elements: Literal...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, Literal)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }

    /// JSON, keys sorted, `", "` and `": "` between items (as the docs print defaults).
    var json: String {
        switch self {
        case .string(let value): return quoted(value)
        case .integer(let value): return String(value)
        case .boolean(let value): return value ? "true" : "false"
        case .array(let items): return "[" + items.map(\.json).joined(separator: ", ") + "]"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { "\(quoted($0)): \(fields[$0]!.json)" }.joined(separator: ", ") + "}"
        }
    }
}

/// A CEL rule of the CRD (`x-kubernetes-validations`), or another check the schema makes
/// of a whole node (`oneOf`).
struct Rule: Sendable {
    enum Kind: Sendable {
        /// A CEL rule: when it fails the node is reported as the API server does,
        /// `<path>: Invalid value: "<type>": <message>`.
        case cel
        /// A CEL transition rule (`oldSelf`): it compares an update with the stored
        /// object, which a file does not have; never fails here.
        case transition
        /// The schema's `oneOf`: the failure carries its own path and message.
        case oneOf
    }

    /// Where below the rule's node the failure is (empty: the node itself), and for a
    /// `oneOf`, the whole message.
    struct Failure {
        var at: [PathComponent] = []
        var message: String? = nil
    }

    let kind: Kind
    let message: String
    let check: @Sendable (Value) -> Failure?

    /// A CEL rule: `holds` says whether the node (defaults applied) satisfies it.
    init(_ message: String, _ holds: @escaping @Sendable (Value) -> Bool) {
        kind = .cel
        self.message = message
        check = { holds($0) ? nil : Failure() }
    }

    private init(kind: Kind, message: String, check: @escaping @Sendable (Value) -> Failure?) {
        self.kind = kind
        self.message = message
        self.check = check
    }

    /// The two CEL rules of a union member: `field` is set exactly when `discriminator`
    /// is `value` (`replaceFullPath must be specified when type is set to
    /// 'ReplaceFullPath'`, `type must be 'ReplaceFullPath' when replaceFullPath is set`).
    static func unionMember(_ field: String, when discriminator: String, is value: String) -> [Rule] {
        [
            Rule("\(field) must be specified when \(discriminator) is set to '\(value)'") { node in
                node[discriminator].string == value ? node.has(field) : true
            },
            Rule("\(discriminator) must be '\(value)' when \(field) is set") { node in
                node.has(field) ? node[discriminator].string == value : true
            },
        ]
    }

    /// A CEL rule of the form `self.all(x, P(x))` on a list: the failure's line is the
    /// first item for which `holds(item, list)` is false — or the last, for the rules
    /// that ask items to be unique (`exists_one`), so that the line is the duplicate's.
    static func each(
        _ message: String, locateLast: Bool = false,
        _ holds: @escaping @Sendable (_ item: Value, _ list: Value) -> Bool
    ) -> Rule {
        Rule(kind: .cel, message: message) { list in
            let items = list.elements
            let failing =
                locateLast
                ? items.indices.last { !holds(items[$0], list) } : items.indices.first { !holds(items[$0], list) }
            return failing.map { Failure(at: [.index($0)]) }
        }
    }

    /// A CEL rule on a map, `self.all(key, P(key))`: the failure's line is the first key
    /// for which `holds` is false.
    static func eachKey(_ message: String, _ holds: @escaping @Sendable (String) -> Bool) -> Rule {
        Rule(kind: .cel, message: message) { map in
            for key in map.keys where !holds(key) { return Failure(at: [.key(key)]) }
            return nil
        }
    }

    static func transition(_ message: String) -> Rule {
        Rule(kind: .transition, message: message) { _ in nil }
    }

    static func oneOf(_ description: String, _ check: @escaping @Sendable (Value) -> Failure?) -> Rule {
        Rule(kind: .oneOf, message: description, check: check)
    }
}

/// Go's `%q` of a string, enough for messages: quotes, backslashes and control
/// characters escaped.
func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        case "\r": result += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                result += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}
