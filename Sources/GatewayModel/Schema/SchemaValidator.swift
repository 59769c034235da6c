import Yams

/// What a schema finds wrong with a manifest: the field path and the message the API
/// server would give, plus where the line is (a list rule's failing item, below `path`).
struct SchemaProblem: Sendable, Equatable {
    var path: [PathComponent]
    var message: String
    var locate: [PathComponent]

    var problem: Validation.Problem { Validation.Problem(path: path, message: message) }
}

/// Walks a manifest's YAML nodes with a ``Schema``, as the API server validates a custom
/// resource: fields it does not know are ignored (pruned), null fields are absent, a
/// missing field with a default takes it; then types, required fields, enums, lengths,
/// patterns, item counts, ranges and list keys; then the CEL rules of each node whose
/// own subtree is valid, on the node with defaults applied.
struct SchemaValidator {
    private(set) var problems: [SchemaProblem] = []
    private var path: [PathComponent] = []
    /// What the rules read: the walked fields.
    private let tree = Tree()
    /// Stop at the first problem (the decoder reports one per object).
    private let firstOnly: Bool
    /// Run a node's rules even when its subtree has problems (tests: a few CEL rules can
    /// only fail where a simpler check fails first).
    private let runAllRules: Bool

    private init(firstOnly: Bool, runAllRules: Bool) {
        self.firstOnly = firstOnly
        self.runAllRules = runAllRules
        path.reserveCapacity(16)
    }

    /// The problems of `node` (a whole object) against `schema`.
    static func problems(of node: Node, schema: Schema, firstOnly: Bool = false, runAllRules: Bool = false)
        -> [SchemaProblem]
    {
        var validator = SchemaValidator(firstOnly: firstOnly, runAllRules: runAllRules)
        _ = validator.validate(node, schema)
        return validator.problems
    }

    private var done: Bool { firstOnly && !problems.isEmpty }

    private mutating func report(_ message: String, below: [PathComponent] = [], locate: [PathComponent]? = nil) {
        let at = path + below
        problems.append(SchemaProblem(path: at, message: message, locate: locate ?? at))
    }

    /// Validates `node` and adds it to the tree; its entry there, or -1.
    private mutating func validate(_ node: Node, _ schema: Schema) -> Int32 {
        guard !done else { return -1 }
        let before = problems.count
        let entry: Int32
        switch node {
        case .mapping(let mapping) where schema.type == .object:
            entry = tree.add(.object)
            object(mapping, schema, entry)
        case .sequence(let sequence) where schema.type == .array:
            entry = tree.add(.array)
            array(sequence, schema, entry)
        case .scalar(let scalar):
            let actual = JSONType.of(scalar)
            switch (schema.type, actual) {
            case (.string, .string):
                string(scalar.string, schema)
            case (.integer, .integer):
                integer(Int(scalar.string) ?? 0, schema)
            case (.boolean, .boolean):
                break
            case (.number, .integer), (.number, .number):
                number(Double(scalar.string) ?? 0, text: scalar.string, schema)
            default:
                typeMismatch(actual, schema)
                return -1
            }
            entry = tree.add(actual, text: scalar.string)
        case .alias:
            return -1
        default:
            typeMismatch(JSONType.of(node) ?? .null, schema)
            return -1
        }
        guard problems.count == before || runAllRules, !schema.rules.isEmpty else { return entry }
        let value = Value(storage: .tree(tree, entry), schema: schema)
        for rule in schema.rules {
            guard let failure = rule.check(value) else { continue }
            switch rule.kind {
            case .cel, .transition:
                report("Invalid value: \(quoted(schema.type.rawValue)): \(rule.message)", locate: path + failure.at)
            case .oneOf:
                report(failure.message ?? rule.message, below: failure.at)
            }
            if done { break }
        }
        return entry
    }

    private mutating func typeMismatch(_ actual: JSONType, _ schema: Schema) {
        report(
            "Invalid value: \(quoted(actual.rawValue)): \(ManifestDecoder.format(path)) in body must be of type \(schema.type.rawValue)"
        )
    }

    private mutating func object(_ mapping: Node.Mapping, _ schema: Schema, _ entry: Int32) {
        var seen: UInt64 = 0
        let slots = tree.reserveChildren(mapping.count, of: entry)
        // By index: `Node.Mapping`'s iterator copies all its pairs into a new array.
        for index in mapping.startIndex..<mapping.endIndex {
            let pair = mapping[index]
            guard case .scalar(let key) = pair.key else { continue }
            // A null field is dropped before validation: absent.
            if JSONType.isNull(pair.value) { continue }
            let child: Schema
            if let property = schema.index(of: key.string) {
                seen |= 1 << UInt64(property)
                child = schema.propertySchemas[property]
            } else if let values = schema.values {
                child = values
            } else {
                continue  // unknown: pruned
            }
            path.append(.key(key.string))
            let walked = validate(pair.value, child)
            path.removeLast()
            if done { return }
            tree.set(slots + Int32(index - mapping.startIndex), key: key.string, to: walked)
        }
        if let max = schema.maxProperties, mapping.count > max {
            report("Too many: \(mapping.count): must have at most \(max) items")
        }
        for index in schema.requiredIndices where seen & (1 << UInt64(index)) == 0 {
            guard schema.propertySchemas[index].defaultValue == nil else { continue }
            report("Required value", below: [.key(schema.propertyNames[index])])
            if done { return }
        }
    }

    private mutating func array(_ sequence: Node.Sequence, _ schema: Schema, _ entry: Int32) {
        let count = sequence.count
        if let max = schema.maxItems, count > max {
            report("Too many: \(count): must have at most \(max) items")
            if done { return }
        }
        if let min = schema.minItems, count < min {
            report("Invalid value: \(count): should have at least \(min) items")
            if done { return }
        }
        guard let items = schema.items else { return }
        let slots = tree.reserveChildren(count, of: entry)
        let before = problems.count
        for (i, item) in sequence.enumerated() {
            path.append(.index(i))
            let walked = validate(item, items)
            path.removeLast()
            if done { return }
            tree.set(slots + Int32(i), key: "", to: walked)
        }
        guard problems.count == before, count > 1 else { return }
        let list = Value(storage: .tree(tree, entry), schema: schema).elements
        switch schema.listType {
        case .atomic: break
        case .set:
            var seen: Set<String> = []
            for (i, item) in list.enumerated() {
                guard let text = item.string, !seen.insert(text).inserted else { continue }
                let shown = items.type == .string ? quoted(text) : text
                report("Duplicate value: \(shown)", below: [.index(i)])
                if done { return }
            }
        case .map(let keys):
            var seen: Set<[String]> = []
            for (i, item) in list.enumerated() {
                let key = keys.map { item[$0].string ?? "" }
                if !seen.insert(key).inserted {
                    let fields = zip(keys, key).map { "\(quoted($0)): \(quoted($1))" }.joined(separator: ", ")
                    report("Duplicate value: {\(fields)}", below: [.index(i)])
                    if done { return }
                }
            }
        }
    }

    private mutating func string(_ text: String, _ schema: Schema) {
        if let values = schema.enumStrings, !values.contains(text) {
            report("Unsupported value: \(quoted(text)): supported values: \(values.map(quoted).joined(separator: ", "))")
            return
        }
        // Lengths count characters (Unicode scalars), as the API server does; a string
        // has at least as many UTF-8 bytes as scalars.
        if let max = schema.maxLength, text.utf8.count > max, text.unicodeScalars.count > max {
            report("Too long: may not be more than \(max) bytes")
            return
        }
        if let min = schema.minLength, min > 0, text.utf8.count < min || text.unicodeScalars.count < min {
            report("Invalid value: \(quoted(text)): should be at least \(min) chars long")
            return
        }
        if let pattern = schema.pattern, !pattern.matches(text) {
            report("Invalid value: \(quoted(text)): should match '\(pattern.regex)'")
        }
    }

    /// The value as written (`-1`, `12.5`), as the API server prints it.
    private mutating func number(_ number: Double, text: String, _ schema: Schema) {
        if let min = schema.minimum, number < Double(min) {
            report("Invalid value: \(text): should be greater than or equal to \(min)")
        } else if let max = schema.maximum, number > Double(max) {
            report("Invalid value: \(text): should be less than or equal to \(max)")
        }
    }

    private mutating func integer(_ number: Int, _ schema: Schema) {
        if let values = schema.enumIntegers, !values.contains(number) {
            report("Unsupported value: \(number): supported values: \(values.map { "\"\($0)\"" }.joined(separator: ", "))")
            return
        }
        if let min = schema.minimum, number < min {
            report("Invalid value: \(number): should be greater than or equal to \(min)")
            return
        }
        if let max = schema.maximum, number > max {
            report("Invalid value: \(number): should be less than or equal to \(max)")
            return
        }
        if schema.format == .int32, Int32(exactly: number) == nil {
            report("Invalid value: \(number): must fit in 32 bits (format int32)")
        }
    }
}
