/// The objects of a ``ResourceSet`` by key: a dictionary split into buckets, so that a
/// set made from another by changing a few objects copies only the buckets those
/// objects are in.
///
/// A set is a value shared by whoever holds it (the source keeps the last one, the
/// translator the one it read last), so changing one object of a plain dictionary
/// copied every object: at 10,000 routes about 3 ms of every file change, before
/// translation could start. Here a change copies the array of buckets (64 references)
/// and one bucket.
public struct ManifestTable: Sendable, Hashable {
    /// Empty until the first object, so that an empty set allocates nothing.
    private var buckets: [[ObjectKey: Manifest]] = []
    public private(set) var count = 0

    static let bucketCount = 64

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// The bucket of a key: a hash of its name (FNV-1a), cheaper than hashing the whole
    /// key again, and as spread for objects of one kind and namespace.
    private static func bucket(of key: ObjectKey) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in key.name.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int(hash % UInt32(bucketCount))
    }

    public subscript(key: ObjectKey) -> Manifest? {
        buckets.isEmpty ? nil : buckets[Self.bucket(of: key)][key]
    }

    /// Puts `manifest` at `key`; returns what was there.
    @discardableResult
    public mutating func updateValue(_ manifest: Manifest, forKey key: ObjectKey) -> Manifest? {
        if buckets.isEmpty { buckets = Array(repeating: [:], count: Self.bucketCount) }
        let old = buckets[Self.bucket(of: key)].updateValue(manifest, forKey: key)
        if old == nil { count += 1 }
        return old
    }

    /// Removes the object at `key`; returns it.
    @discardableResult
    public mutating func removeValue(forKey key: ObjectKey) -> Manifest? {
        guard !buckets.isEmpty, let old = buckets[Self.bucket(of: key)].removeValue(forKey: key) else { return nil }
        count -= 1
        return old
    }

    /// Every key, in no particular order.
    public var keys: [ObjectKey] { buckets.flatMap(\.keys) }
    /// Every object, in no particular order.
    public var values: [Manifest] { buckets.flatMap(\.values) }

    public static func == (a: ManifestTable, b: ManifestTable) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        // Both non-empty: the same keys fall in the same buckets.
        for (x, y) in zip(a.buckets, b.buckets) where x != y { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        // An emptied table keeps its buckets, and equals one that never had any.
        guard count > 0 else { return }
        for bucket in buckets { hasher.combine(bucket) }
    }
}
