import Yams

/// The fields of one object that its schema knows, as the validator walked them: a
/// compact copy (types, scalar texts, children) that the CEL rules read. A field the
/// schema does not know (pruned) or that is null is not in it.
///
/// CEL rules look fields up many times (a filter's sixteen rules each read its `type`);
/// looking them up in Yams nodes copied every pair of the mapping each time, which cost
/// three times the walk itself.
final class Tree {
    struct Entry {
        var type: JSONType
        /// A scalar's text; empty for a container.
        var text: String
        /// A container's children: `slots[start..<start + count]`.
        var start: Int32 = 0
        var count: Int32 = 0
    }

    struct Slot {
        /// The field's name (empty in a list).
        var key: String
        /// The child's entry; -1 when it is not there (pruned, null, or not walked).
        var entry: Int32
    }

    var entries: [Entry] = []
    var slots: [Slot] = []

    init() {
        entries.reserveCapacity(64)
        slots.reserveCapacity(64)
    }

    func add(_ type: JSONType, text: String = "") -> Int32 {
        entries.append(Entry(type: type, text: text))
        return Int32(entries.count - 1)
    }

    /// Room for `count` children of `entry`, filled by ``set(_:of:key:to:)``.
    func reserveChildren(_ count: Int, of entry: Int32) -> Int32 {
        let start = Int32(slots.count)
        entries[Int(entry)].start = start
        entries[Int(entry)].count = Int32(count)
        slots.append(contentsOf: repeatElement(Slot(key: "", entry: -1), count: count))
        return start
    }

    func set(_ slot: Int32, key: String, to child: Int32) {
        slots[Int(slot)] = Slot(key: key, entry: child)
    }
}

/// A node of a manifest as a CEL rule sees it: the walked node, with the schema's
/// defaults applied to the fields it lacks (the API server defaults an object before it
/// runs the rules, so `self.tls.mode` of a listener without `mode` is `Terminate`).
///
/// Reading a field that is not there (and has no default) gives an absent value, whose
/// `string` and `int` are nil and whose `count` is 0.
struct Value {
    enum Storage {
        case tree(Tree, Int32)
        case literal(Literal)
        case absent
    }

    let storage: Storage
    let schema: Schema?

    init(storage: Storage, schema: Schema?) {
        self.storage = storage
        self.schema = schema
    }

    /// CEL's `has()`: the field is set, or defaulted.
    var exists: Bool {
        if case .absent = storage { return false }
        return true
    }

    /// Field `key`, or its default, or absent.
    subscript(key: String) -> Value {
        let child = schema?.property(key) ?? schema?.values
        switch storage {
        case .tree(let tree, let index):
            let entry = tree.entries[Int(index)]
            if entry.type == .object {
                for slot in entry.start..<entry.start + entry.count {
                    let field = tree.slots[Int(slot)]
                    if field.entry >= 0, field.key == key { return Value(storage: .tree(tree, field.entry), schema: child) }
                }
            }
        case .literal(.object(let fields)):
            if let value = fields[key] { return Value(storage: .literal(value), schema: child) }
        default:
            return Value(storage: .absent, schema: child)
        }
        if let fallback = child?.defaultValue { return Value(storage: .literal(fallback), schema: child) }
        return Value(storage: .absent, schema: child)
    }

    func has(_ key: String) -> Bool { self[key].exists }

    /// `!has(self.key) || self.key == ''`: the field is absent or empty.
    func isUnsetOrEmpty(_ key: String) -> Bool {
        let value = self[key]
        return !value.exists || value.string == ""
    }

    /// A scalar's text (for an integer, its digits).
    var string: String? {
        switch storage {
        case .tree(let tree, let index):
            let entry = tree.entries[Int(index)]
            return entry.type == .object || entry.type == .array ? nil : entry.text
        case .literal(.string(let text)): return text
        case .literal(.integer(let number)): return String(number)
        default: return nil
        }
    }

    var int: Int? {
        switch storage {
        case .tree(let tree, let index): Int(tree.entries[Int(index)].text)
        case .literal(.integer(let number)): number
        default: nil
        }
    }

    /// A list's items (each with the item schema); empty for anything else.
    var elements: Elements { Elements(value: self) }

    /// The number of items of a list, or of keys of a map.
    var count: Int {
        switch storage {
        case .tree(let tree, let index):
            let entry = tree.entries[Int(index)]
            return (entry.start..<entry.start + entry.count).count { tree.slots[Int($0)].entry >= 0 }
        case .literal(.array(let items)): return items.count
        case .literal(.object(let fields)): return fields.count
        default: return 0
        }
    }

    /// A map's keys, in order.
    var keys: [String] {
        switch storage {
        case .tree(let tree, let index):
            let entry = tree.entries[Int(index)]
            guard entry.type == .object else { return [] }
            return (entry.start..<entry.start + entry.count).compactMap {
                let slot = tree.slots[Int($0)]
                return slot.entry >= 0 ? slot.key : nil
            }
        case .literal(.object(let fields)): return fields.keys.sorted()
        default: return []
        }
    }

    /// Whether a list of strings holds `text` (CEL `text in self`).
    func contains(_ text: String) -> Bool { elements.contains { $0.string == text } }

    /// Scalars equal by text, or both absent.
    func same(as other: Value) -> Bool {
        switch (exists, other.exists) {
        case (false, false): true
        case (true, true): string == other.string
        default: false
        }
    }

    /// A list's items. (Every item of a walked list is in the tree: a null item is a
    /// type error, and rules do not run on a node with errors below it.)
    struct Elements: RandomAccessCollection {
        let value: Value
        var startIndex: Int { 0 }
        var endIndex: Int {
            switch value.storage {
            case .tree(let tree, let index):
                let entry = tree.entries[Int(index)]
                return entry.type == .array ? Int(entry.count) : 0
            case .literal(.array(let items)): return items.count
            default: return 0
            }
        }
        subscript(position: Int) -> Value {
            let items = value.schema?.items
            switch value.storage {
            case .tree(let tree, let index):
                let slot = tree.slots[Int(tree.entries[Int(index)].start) + position]
                return Value(storage: slot.entry >= 0 ? .tree(tree, slot.entry) : .absent, schema: items)
            case .literal(.array(let list)): return Value(storage: .literal(list[position]), schema: items)
            default: return Value(storage: .absent, schema: items)
            }
        }
    }
}

/// The JSON type of a YAML node, as the API server would receive it (`kubectl` turns
/// YAML into JSON first; the Kubernetes source's objects are JSON already).
enum JSONType: String {
    case object, array, string, integer, number, boolean, null

    /// Nil for an alias (the parser resolves aliases; none reach here in practice).
    static func of(_ node: Node) -> JSONType? {
        switch node {
        case .mapping: return .object
        case .sequence: return .array
        case .alias: return nil
        case .scalar(let scalar): return of(scalar)
        }
    }

    /// YAML 1.2's core schema: a plain scalar is null, a boolean, an integer or a
    /// float when its text says so; a quoted or block scalar is a string; an explicit
    /// standard tag wins.
    static func of(_ scalar: Node.Scalar) -> JSONType {
        let tag = scalar.tag.rawValue
        if tag.hasPrefix("tag:yaml.org,2002:") {
            switch tag.dropFirst(18) {
            case "str": return .string
            case "int": return .integer
            case "float": return .number
            case "bool": return .boolean
            case "null": return .null
            default: break
            }
        }
        guard scalar.style == .plain || scalar.style == .any else { return .string }
        return plain(scalar.string)
    }

    static func plain(_ text: String) -> JSONType {
        var utf8 = text.utf8.makeIterator()
        guard let first = utf8.next() else { return .null }
        // Most strings start with a letter that no other type can start with.
        switch first {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."):
            break
        case UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "n"), UInt8(ascii: "N"),
            UInt8(ascii: "~"):
            switch text {
            case "null", "Null", "NULL", "~": return .null
            case "true", "True", "TRUE", "false", "False", "FALSE": return .boolean
            default: return .string
            }
        default:
            return .string
        }
        if isInteger(text) { return Int(text) != nil ? .integer : .number }
        return isFloat(text) ? .number : .string
    }

    /// `[-+]?[0-9]+`
    private static func isInteger(_ text: String) -> Bool {
        var digits = 0
        for (i, byte) in text.utf8.enumerated() {
            if i == 0, byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") { continue }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return false }
            digits += 1
        }
        return digits > 0
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf`, `.nan`
    private static func isFloat(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.first == "-" || rest.first == "+" { rest = rest.dropFirst() }
        if [".inf", ".Inf", ".INF"].contains(rest) || [".nan", ".NaN", ".NAN"].contains(text) { return true }
        let bytes = Array(rest.utf8)
        var i = 0
        func digits() -> Int {
            let start = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") { i += 1 }
            return i - start
        }
        let whole = digits()
        var fraction = 0
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            fraction = digits()
        }
        guard whole > 0 || fraction > 0 else { return false }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == bytes.count
    }

    /// A null value: the API server drops an object's null fields before it defaults and
    /// validates, so a null field is an absent one.
    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return of(scalar) == .null
    }

    /// The value of field `key` of a mapping (nil when it is absent or null), without
    /// building a node for the key as `Node.Mapping`'s subscript does.
    static func value(of key: String, in mapping: Node.Mapping) -> Node? {
        // By index: `Node.Mapping`'s iterator copies all its pairs into a new array.
        var index = mapping.startIndex
        while index < mapping.endIndex {
            let pair = mapping[index]
            if case .scalar(let scalar) = pair.key, scalar.string == key {
                return isNull(pair.value) ? nil : pair.value
            }
            index += 1
        }
        return nil
    }
}
