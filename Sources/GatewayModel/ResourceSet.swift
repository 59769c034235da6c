/// Every object Chancery knows, by kind, namespace and name, with where each came from,
/// plus the objects that were rejected while reading and why.
///
/// This is the translator's whole input: a plain value, so translation is a pure
/// function of it.
public struct ResourceSet: Sendable, Hashable {
    public private(set) var manifests = ManifestTable()
    /// Objects (or whole files) that could not be read.
    public private(set) var errors: [ManifestError] = []
    /// The keys of each kind, sorted, kept in step with `manifests` (derived: not part of
    /// equality), so that reading one kind neither walks every object nor sorts.
    private var keysByKind: [Kind: [ObjectKey]] = [:]
    /// Each kind's revision (derived: not part of equality): replaced whenever an object
    /// of the kind is added, replaced or removed, and naming the keys that change touched,
    /// so that a set tells what changed since a set it was made from without comparing
    /// every object (``changedKeys(since:)``, ``sameObjects(as:ofKinds:)``).
    private var revisions: [Kind: Revision] = [:]

    public static func == (a: ResourceSet, b: ResourceSet) -> Bool {
        a.manifests == b.manifests && a.errors == b.errors
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(manifests)
        hasher.combine(errors)
    }

    public init() {}

    /// Builds a set; an object defined twice keeps its first definition (in the given
    /// order) and the second is reported.
    public init(manifests: [Manifest], errors: [ManifestError] = []) {
        self.errors = errors
        for manifest in manifests { add(manifest) }
        sortKeys()
        for kind in keysByKind.keys { revisions[kind] = Revision() }
    }

    public mutating func insert(_ manifest: Manifest) {
        guard add(manifest) else { return }
        let key = manifest.object.key
        revisions[key.kind] = Revision(after: revisions[key.kind], changing: key)
        // Kept sorted: appended when it comes last (as when copying a set kind by kind),
        // else moved into place — taken out while it changes, so that it changes in place.
        let outOfOrder = keysByKind[key.kind].map { $0.count > 1 && key < $0[$0.count - 2] } ?? false
        guard outOfOrder, var keys = keysByKind.removeValue(forKey: key.kind) else { return }
        keys.removeLast()
        keys.insert(key, at: keys.sortedPosition(of: key))
        keysByKind[key.kind] = keys
    }

    /// Adds `manifest` with its key at the end of its kind's keys (the caller sorts
    /// them), or reports it if its object is defined already. Whether it was added.
    @discardableResult
    private mutating func add(_ manifest: Manifest) -> Bool {
        let key = manifest.object.key
        if let existing = manifests[key] {
            errors.append(
                ManifestError(
                    file: manifest.origin.file, line: manifest.origin.line, object: key,
                    message: "defined again; the definition at \(existing.origin) is used"))
            return false
        }
        manifests.updateValue(manifest, forKey: key)
        keysByKind[key.kind, default: []].append(key)
        return true
    }

    /// Sorts every kind's keys (a sort of sorted runs: linear for keys added in order).
    private mutating func sortKeys() {
        for kind in Array(keysByKind.keys) { keysByKind[kind]!.sort() }
    }

    public mutating func report(_ error: ManifestError) { errors.append(error) }

    /// Puts `errors` in place of every error the set reports.
    public mutating func replaceErrors(with errors: [ManifestError]) { self.errors = errors }

    /// Puts `manifest` in place of the object at `key`, or removes it (nil).
    public mutating func replace(_ key: ObjectKey, with manifest: Manifest?) {
        defer { revisions[key.kind] = Revision(after: revisions[key.kind], changing: key) }
        if let manifest {
            precondition(manifest.object.key == key, "a manifest replaces only the object of its own key")
            if manifests.updateValue(manifest, forKey: key) == nil {
                var keys = keysByKind.removeValue(forKey: key.kind) ?? []
                keys.insert(key, at: keys.sortedPosition(of: key))
                keysByKind[key.kind] = keys
            }
        } else if manifests.removeValue(forKey: key) != nil, var keys = keysByKind.removeValue(forKey: key.kind) {
            keys.remove(at: keys.sortedPosition(of: key))
            keysByKind[key.kind] = keys
        }
    }

    /// This set with another's objects and errors added; where both define an object,
    /// this set's definition is kept and the other one reported.
    public func merging(_ other: ResourceSet) -> ResourceSet {
        var merged = self
        for key in other.manifests.keys.sorted() { merged.add(other.manifests[key]!) }
        merged.sortKeys()
        for kind in other.keysByKind.keys { merged.revisions[kind] = Revision() }
        for error in other.errors { merged.report(error) }
        return merged
    }

    public subscript(key: ObjectKey) -> Manifest? { manifests[key] }

    /// The objects added, changed (object or origin) or removed since `previous`.
    ///
    /// A kind whose revision is `previous`'s has not changed; one a few changes apart
    /// from it compares only the keys those changes touched; any other kind compares all
    /// its objects.
    public func changedKeys(since previous: ResourceSet) -> Set<ObjectKey> {
        var changed: Set<ObjectKey> = []
        for kind in Set(keysByKind.keys).union(previous.keysByKind.keys) {
            if let touched = touched(kind, since: previous) {
                for key in touched where manifests[key] != previous.manifests[key] { changed.insert(key) }
                continue
            }
            for key in keysByKind[kind] ?? [] where manifests[key] != previous.manifests[key] { changed.insert(key) }
            for key in previous.keysByKind[kind] ?? [] where manifests[key] == nil { changed.insert(key) }
        }
        return changed
    }

    /// The objects of the kinds `kinds` accepts that were added, changed or removed
    /// since `previous` (wherever they were read from), when the two sets are a few
    /// changes of those kinds apart; nil when only comparing every object would tell.
    public func changedObjects(since previous: ResourceSet, ofKinds kinds: some Sequence<Kind>) -> Set<ObjectKey>? {
        objects(changedSince: previous, ofKinds: kinds, comparingAll: false)
    }

    /// The objects of the kinds `kinds` accepts that were added, changed or removed
    /// since `previous` (wherever they were read from): those the revisions name when
    /// the two sets are a few changes apart, else found by comparing every object of
    /// the kind (objects that share storage compare in a few pointer comparisons).
    public func differingObjects(from previous: ResourceSet, ofKinds kinds: some Sequence<Kind>) -> Set<ObjectKey> {
        objects(changedSince: previous, ofKinds: kinds, comparingAll: true)!
    }

    private func objects(
        changedSince previous: ResourceSet, ofKinds kinds: some Sequence<Kind>, comparingAll: Bool
    ) -> Set<ObjectKey>? {
        var changed: Set<ObjectKey> = []
        for kind in kinds {
            if let touched = touched(kind, since: previous) {
                for key in touched where manifests[key]?.object != previous.manifests[key]?.object { changed.insert(key) }
                continue
            }
            guard comparingAll else { return nil }
            for key in keysByKind[kind] ?? [] where manifests[key]?.object != previous.manifests[key]?.object { changed.insert(key) }
            for key in previous.keysByKind[kind] ?? [] where manifests[key] == nil { changed.insert(key) }
        }
        return changed
    }

    /// The keys of `kind` that changes since `previous` may have touched (a superset of
    /// those that differ), or nil when the two sets are not a few changes of the kind
    /// apart: one made from the other, or both from a third (the last revision their
    /// chains share), or both from no objects of the kind.
    private func touched(_ kind: Kind, since previous: ResourceSet) -> Set<ObjectKey>? {
        if revisions[kind] === previous.revisions[kind] { return [] }
        let mine = Revision.chain(from: revisions[kind])
        let theirs = Revision.chain(from: previous.revisions[kind])
        var touched: Set<ObjectKey> = []
        for (j, shared) in theirs.enumerated() {
            guard let i = mine.firstIndex(where: { $0 === shared }) else { continue }
            for step in mine[..<i] + theirs[..<j] { if let key = step.changed { touched.insert(key) } }
            return touched
        }
        // No revision in common: both chains must begin with the kind empty (or have
        // never had it), and then every step of each counts.
        guard mine.last?.fromEmpty ?? true, theirs.last?.fromEmpty ?? true else { return nil }
        for step in mine + theirs { if let key = step.changed { touched.insert(key) } }
        return touched
    }

    /// Whether `other` holds exactly this set's objects of every kind `kinds` accepts,
    /// wherever they were read from (an edit higher up a file moves the objects below
    /// it, which changes no object). Objects that share storage compare in a few
    /// pointer comparisons.
    public func sameObjects(as other: ResourceSet, ofKinds kinds: (Kind) -> Bool) -> Bool {
        for kind in Kind.allCases where kinds(kind) {
            if let touched = touched(kind, since: other) {
                for key in touched where manifests[key]?.object != other.manifests[key]?.object { return false }
                continue
            }
            let keys = keysByKind[kind] ?? []
            guard keys == other.keysByKind[kind] ?? [] else { return false }
            for key in keys where manifests[key]?.object != other.manifests[key]?.object { return false }
        }
        return true
    }

    /// How many objects of a kind there are.
    public func count(of kind: Kind) -> Int { keysByKind[kind]?.count ?? 0 }

    /// Objects of a kind, ordered by namespace and name.
    public func manifests(of kind: Kind) -> [Manifest] {
        (keysByKind[kind] ?? []).map { manifests[$0]! }
    }

    public var gatewayClasses: [GatewayClass] {
        manifests(of: .gatewayClass).compactMap { if case .gatewayClass(let o) = $0.object { o } else { nil } }
    }
    public var gateways: [Gateway] {
        manifests(of: .gateway).compactMap { if case .gateway(let o) = $0.object { o } else { nil } }
    }
    public var listenerSets: [ListenerSet] {
        manifests(of: .listenerSet).compactMap { if case .listenerSet(let o) = $0.object { o } else { nil } }
    }
    public var httpRoutes: [HTTPRoute] {
        manifests(of: .httpRoute).compactMap { if case .httpRoute(let o) = $0.object { o } else { nil } }
    }
    public var referenceGrants: [ReferenceGrant] {
        manifests(of: .referenceGrant).compactMap { if case .referenceGrant(let o) = $0.object { o } else { nil } }
    }
    public var services: [Service] {
        manifests(of: .service).compactMap { if case .service(let o) = $0.object { o } else { nil } }
    }
    public var endpointSlices: [EndpointSlice] {
        manifests(of: .endpointSlice).compactMap { if case .endpointSlice(let o) = $0.object { o } else { nil } }
    }
    public var secrets: [Secret] {
        manifests(of: .secret).compactMap { if case .secret(let o) = $0.object { o } else { nil } }
    }
    public var namespaces: [Namespace] {
        manifests(of: .namespace).compactMap { if case .namespace(let o) = $0.object { o } else { nil } }
    }
    public var grpcRoutes: [GRPCRoute] {
        manifests(of: .grpcRoute).compactMap { if case .grpcRoute(let o) = $0.object { o } else { nil } }
    }
    public var tlsRoutes: [TLSRoute] {
        manifests(of: .tlsRoute).compactMap { if case .tlsRoute(let o) = $0.object { o } else { nil } }
    }
    public var tcpRoutes: [TCPRoute] {
        manifests(of: .tcpRoute).compactMap { if case .tcpRoute(let o) = $0.object { o } else { nil } }
    }
    public var udpRoutes: [UDPRoute] {
        manifests(of: .udpRoute).compactMap { if case .udpRoute(let o) = $0.object { o } else { nil } }
    }
    public var backendTLSPolicies: [BackendTLSPolicy] {
        manifests(of: .backendTLSPolicy).compactMap { if case .backendTLSPolicy(let o) = $0.object { o } else { nil } }
    }
    public var configMaps: [ConfigMap] {
        manifests(of: .configMap).compactMap { if case .configMap(let o) = $0.object { o } else { nil } }
    }

    public var pods: [Pod] {
        manifests(of: .pod).compactMap { if case .pod(let o) = $0.object { o } else { nil } }
    }

    public var authorizationPolicies: [AuthorizationPolicy] {
        manifests(of: .authorizationPolicy).compactMap { if case .authorizationPolicy(let o) = $0.object { o } else { nil } }
    }

    public var ciliumNetworkPolicies: [CiliumNetworkPolicy] {
        manifests(of: .ciliumNetworkPolicy).compactMap { if case .ciliumNetworkPolicy(let o) = $0.object { o } else { nil } }
    }

    public var ingresses: [Ingress] {
        manifests(of: .ingress).compactMap { if case .ingress(let o) = $0.object { o } else { nil } }
    }

    public var ingressClasses: [IngressClass] {
        manifests(of: .ingressClass).compactMap { if case .ingressClass(let o) = $0.object { o } else { nil } }
    }

    public var securityPolicies: [SecurityPolicy] {
        manifests(of: .securityPolicy).compactMap { if case .securityPolicy(let o) = $0.object { o } else { nil } }
    }

    public var backendTrafficPolicies: [BackendTrafficPolicy] {
        manifests(of: .backendTrafficPolicy).compactMap { if case .backendTrafficPolicy(let o) = $0.object { o } else { nil } }
    }

    public var clientTrafficPolicies: [ClientTrafficPolicy] {
        manifests(of: .clientTrafficPolicy).compactMap { if case .clientTrafficPolicy(let o) = $0.object { o } else { nil } }
    }

    /// A namespace's labels; a namespace with no Namespace object has only the
    /// `kubernetes.io/metadata.name` label Kubernetes sets on every namespace.
    public func labels(ofNamespace name: String) -> [String: String] {
        var labels = manifests[ObjectKey(.namespace, namespace: "", name: name)]?.object.metadata.labels ?? [:]
        labels["kubernetes.io/metadata.name"] = name
        return labels
    }
}

/// A revision of one kind's objects in a ``ResourceSet``. Sets that hold the same
/// revision of a kind hold the same objects of it: every change makes a new one, naming
/// the key it touched and the revision it changed, so walking back from one revision to
/// another names every key changed between them. The chain is cut after
/// ``Revision/reach`` steps, so a set keeps only a few revisions alive; a set read
/// whole starts an opaque one. Past a cut or an opaque revision the kind's objects are
/// compared.
final class Revision: Sendable {
    /// The key this change touched (nil: an opaque revision, a kind read whole).
    let changed: ObjectKey?
    let parent: Revision?
    /// Whether this change was the first to a kind without objects (no parent, and
    /// none cut off).
    let fromEmpty: Bool
    /// How many steps back the chain reaches.
    let depth: Int

    static let reach = 64

    /// `revision` and those before it, newest first, back to where its chain begins.
    static func chain(from revision: Revision?) -> [Revision] {
        var chain: [Revision] = []
        var step = revision
        while let current = step {
            chain.append(current)
            step = current.parent
        }
        return chain
    }

    /// An opaque revision: objects read whole, compared to anything else in full.
    init() {
        changed = nil
        parent = nil
        fromEmpty = false
        depth = 0
    }

    /// The change of `key` made to the objects at `parent` (nil: a kind without objects).
    init(after parent: Revision?, changing key: ObjectKey) {
        changed = key
        if let parent, parent.depth < Self.reach {
            self.parent = parent
            depth = parent.depth + 1
            fromEmpty = false
        } else {
            self.parent = nil
            depth = 0
            fromEmpty = parent == nil
        }
    }
}

extension Array where Element: Comparable {
    /// Where `element` belongs in this array, sorted: the first index whose element is
    /// not smaller (a binary search).
    public func sortedPosition(of element: Element) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if self[middle] < element { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
