import Foundation

/// How much Chancery reads, so that one oversized file or a flood of objects cannot take
/// its memory or its proxies down. Over a limit, what was read stays: a file keeps its
/// previous objects, an object is refused by itself, the objects of a kind beyond the
/// cap are refused by name.
public struct SourceLimits: Sendable, Hashable {
    /// A manifest file larger than this is not read.
    public var maxFileBytes: Int
    /// An object whose text (the scalars of its YAML or JSON) is larger than this is
    /// refused. The default is etcd's request limit, which a cluster enforces too.
    public var maxObjectBytes: Int
    /// Objects of one kind beyond this many are refused (by namespace and name, the last
    /// ones), from files and from the cluster alike.
    public var maxObjectsPerKind: Int

    public init(maxFileBytes: Int, maxObjectBytes: Int, maxObjectsPerKind: Int) {
        self.maxFileBytes = maxFileBytes
        self.maxObjectBytes = maxObjectBytes
        self.maxObjectsPerKind = maxObjectsPerKind
    }

    public static let defaults = SourceLimits(
        maxFileBytes: 64 << 20, maxObjectBytes: 1_572_864, maxObjectsPerKind: 100_000)

    /// `1572864`, `512KiB`, `16MiB`, `1GiB` → bytes.
    public static func bytes(_ text: String) -> Int? {
        let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1), ("", 1)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let value = Int(text.dropLast(suffix.count)), value > 0 else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? nil : product
        }
        return nil
    }

    /// Bytes as people read them: `64 MiB`, `1.5 MiB`, `900 B`.
    public static func describe(_ bytes: Int) -> String {
        for (unit, factor) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes >= factor {
            let value = Double(bytes) / Double(factor)
            let text = value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
            return "\(text) \(unit)"
        }
        return "\(bytes) B"
    }
}

extension ResourceSet {
    /// This set with at most `limit` objects of each kind: beyond it, the last objects by
    /// namespace and name are refused, each named with where it came from.
    public func capped(perKind limit: Int) -> ResourceSet {
        guard Kind.allCases.contains(where: { count(of: $0) > limit }) else { return self }
        var capped = ResourceSet()
        for error in errors { capped.report(error) }
        for kind in Kind.allCases {
            for (index, manifest) in manifests(of: kind).enumerated() {
                if index < limit {
                    capped.insert(manifest)
                } else {
                    capped.report(
                        ManifestError(
                            file: manifest.origin.file, line: manifest.origin.line, object: manifest.object.key,
                            message:
                                "not read: there are more than \(limit) \(kind.rawValue) objects (--max-objects-per-kind)"))
                }
            }
        }
        return capped
    }
}
