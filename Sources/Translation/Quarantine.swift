import Foundation
import GatewayModel
import IR

/// What a proxy rejected, as the quarantine needs it: the resources of one type in the
/// rejected push and what the proxy had accepted of that type before.
public struct ProxyRejection: Sendable, Equatable {
    public var proxy: String
    public var group: String
    public var kind: ResourceKind
    /// Envoy's error text.
    public var message: String
    /// Name → version of each resource in the rejected push (delta: only those it changed).
    public var pushed: [String: String]
    /// Name → version of what the proxy last accepted of this type (empty if nothing, or
    /// on delta streams, where the push holds only changes).
    public var accepted: [String: String]

    public init(
        proxy: String, group: String, kind: ResourceKind, message: String, pushed: [String: String],
        accepted: [String: String]
    ) {
        self.proxy = proxy
        self.group = group
        self.kind = kind
        self.message = message
        self.pushed = pushed
        self.accepted = accepted
    }

    /// The resources that most likely caused the rejection: those Envoy's message names
    /// (`Error adding/updating listener(s) 0.0.0.0:8080: …`), else those this push
    /// changed, else every resource in it.
    public var suspects: [ResourceKey] {
        let named = pushed.keys.filter { Self.message(message, names: $0) }
        if !named.isEmpty { return named.sorted().map { ResourceKey(kind, $0) } }
        let changed = pushed.filter { accepted[$0.key] != $0.value }.keys
        return (changed.isEmpty ? Array(pushed.keys) : Array(changed)).sorted().map { ResourceKey(kind, $0) }
    }

    /// Whether `name` appears in the text as a whole name (`0.0.0.0:80` is not named by
    /// `0.0.0.0:8080`).
    static func message(_ text: String, names name: String) -> Bool {
        let text = Array(text.utf8)
        let name = Array(name.utf8)
        guard !name.isEmpty, text.count >= name.count else { return false }
        for start in 0...(text.count - name.count) where text[start..<start + name.count].elementsEqual(name) {
            let before = start > 0 ? text[start - 1] : nil
            let end = start + name.count
            let after = end < text.count ? text[end] : nil
            // Punctuation right after a name ends it when no name character follows
            // (`listener(s) 0.0.0.0:8080: cannot bind`).
            let afterEnds = !isNameByte(after) || (!isWordByte(after) && !isNameByte(end + 1 < text.count ? text[end + 1] : nil))
            if !isNameByte(before), afterEnds { return true }
        }
        return false
    }

    /// Letters, digits, `-` and `_`.
    private static func isWordByte(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }

    /// Any byte of a resource name: word bytes and `.`, `:`, `/`.
    private static func isNameByte(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return isWordByte(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "/")
    }
}

/// Objects whose resources a proxy rejected, set aside so that everything else keeps
/// reaching the fleet.
///
/// When a proxy NACKs a push, the objects behind the rejected resources (their
/// `origins`) that changed since the whole fleet last held everything are the cause. Each is quarantined at its current version: translation then sees it as it
/// was before that change (or not at all, if it is new), its status says
/// `Programmed=False` with Envoy's message, and it leaves quarantine when it changes
/// again. One version is quarantined once, so there is nothing to oscillate: translating
/// without it gives other content, and the same version is never tried again.
///
/// When none of the objects behind the rejected resources changed since the fleet was
/// last in sync (after a restart, say), none is set aside, even a single one: the proxy
/// keeps what it had and the NACK is reported. Setting an unchanged Gateway aside would
/// take away every listener Envoy did accept along with the one it refused.
public struct Quarantine: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: ObjectKey
        /// The proxy group whose proxy rejected it.
        public var group: String
        /// The version set aside: the entry holds while the source still has exactly this.
        public var object: KubeObject
        /// What translation sees instead: the object as the fleet last held it, or nil.
        public var fallback: Manifest?
        /// Which proxy rejected what, in Envoy's words.
        public var message: String
        /// The object's status when it was last translated as it is.
        public var status: ObjectStatus?
        /// When the rejection arrived.
        public var since: Date
    }

    public private(set) var entries: [ObjectKey: Entry] = [:]
    /// Objects changed since the whole fleet last held everything, each as it was then
    /// (nil: it did not exist).
    public private(set) var priors: [ObjectKey: Manifest?] = [:]

    public init() {}

    /// Records the objects that change between `previous` (what translation last saw)
    /// and the next set: for each, the value the fleet was last known to hold.
    public mutating func noteChanges(_ keys: some Sequence<ObjectKey>, previous: ResourceSet) {
        for key in keys where priors[key] == nil {
            priors[key] = .some(previous[key])
        }
    }

    /// Every proxy holds the current snapshot: nothing changed since.
    public mutating func fleetInSync() { priors = [:] }

    /// The objects to quarantine for a rejection, given where each resource came from:
    /// those behind the suspect resources that changed since the fleet was in sync.
    public func culprits(
        of rejection: ProxyRejection, origins: [ResourceKey: Set<ObjectKey>], in set: ResourceSet
    ) -> [ObjectKey] {
        var objects: Set<ObjectKey> = []
        for resource in rejection.suspects { objects.formUnion(origins[resource] ?? []) }
        return objects.filter { set[$0] != nil && priors[$0] != nil }.sorted()
    }

    /// Quarantines the culprits of `rejection` not already quarantined at their current
    /// version; returns the keys newly set aside.
    public mutating func reject(
        _ rejection: ProxyRejection, origins: [ResourceKey: Set<ObjectKey>], in set: ResourceSet,
        statuses: [ObjectKey: ObjectStatus], at time: Date
    ) -> [ObjectKey] {
        var added: [ObjectKey] = []
        for key in culprits(of: rejection, origins: origins, in: set) {
            guard let manifest = set[key], entries[key]?.object != manifest.object else { continue }
            entries[key] = Entry(
                key: key, group: rejection.group, object: manifest.object, fallback: priors[key] ?? nil,
                message:
                    "proxy \(rejection.proxy) (group \(rejection.group)) rejected \(rejection.kind.rawValue) "
                    + "\(rejection.suspects.map(\.name).joined(separator: ", ")): \(rejection.message)",
                status: statuses[key], since: time)
            added.append(key)
        }
        return added
    }

    /// What translation should see: `set` with each quarantined object replaced by its
    /// fallback. Entries whose object changed or went away leave the quarantine; their
    /// keys are returned.
    public mutating func apply(to set: ResourceSet) -> (set: ResourceSet, released: [ObjectKey]) {
        var effective = set
        var released: [ObjectKey] = []
        for (key, entry) in entries.sorted(by: { $0.key < $1.key }) {
            guard set[key]?.object == entry.object else {
                entries.removeValue(forKey: key)
                released.append(key)
                continue
            }
            effective.replace(key, with: entry.fallback)
        }
        return (effective, released)
    }

    /// The statuses to report: each quarantined object's own status (as translated
    /// when it was last seen as it is) with `Programmed=False` and Envoy's message; for
    /// routes, in each parent's conditions too.
    public func patch(_ statuses: inout [ObjectKey: ObjectStatus]) {
        for (key, entry) in entries {
            var status = entry.status ?? statuses[key] ?? ObjectStatus()
            let generation = entry.object.metadata.generation
            let condition = Condition(
                .programmed, false, reason: .quarantined,
                message: "quarantined until it changes: \(entry.message)", generation: generation)
            status.conditions.removeAll { $0.type == .programmed }
            status.conditions.append(condition)
            if var parents = status.parents {
                for index in parents.indices {
                    parents[index].conditions.removeAll { $0.type == .programmed }
                    parents[index].conditions.append(condition)
                }
                status.parents = parents
            }
            statuses[key] = status
        }
    }
}
