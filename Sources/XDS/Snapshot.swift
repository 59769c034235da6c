import EnvoyAPI
import Foundation
import NIOCore
import Synchronization

/// A consistent set of xDS resources for one proxy group.
///
/// Consistent means every listener, route configuration and cluster finds the resources
/// it names over xDS in the same snapshot; an inconsistent set is refused when the
/// snapshot is built, so that no Envoy is ever sent a route to a cluster it lacks.
public struct Snapshot: Sendable, Equatable {
    /// Resources by type, then by name.
    public let resources: [ResourceType: [String: Resource]]
    /// Per-type versions: a hash of the names and versions of that type's resources
    /// (``ContentHash/of(resources:)``).
    public let versions: [ResourceType: String]
    /// Each type's version as a number: the sum of its resources' pair hashes
    /// (``ContentHash/of(resources:)``), which a change updates.
    private let sums: [ResourceType: UInt64]
    /// A hash over every type's version: equal snapshots have equal versions.
    public let version: String
    /// Names of the EDS resources each cluster waits for (cluster name → service name).
    public let edsServiceNames: [String: String]
    /// The snapshot this one was made from (``serial``), when it was, and the names each
    /// type added, changed or removed since: what lets a stream that holds that snapshot
    /// look at those names alone (``changedNames(since:)``).
    private let predecessor: UInt64?
    private let changed: [ResourceType: [String]]
    /// Per-type lists made on first use and shared by every stream that sends the
    /// whole type (state of the world).
    private let derived = Derived()

    public static let empty = try! Snapshot([Resource]())

    /// Builds a snapshot, refusing it when a resource names one that is missing or
    /// when two resources of one type share a name.
    public init(_ list: [Resource]) throws(SnapshotError) {
        var byType: [ResourceType: [String: Resource]] = [:]
        var problems: [String] = []
        for resource in list {
            if byType[resource.type, default: [:]].updateValue(resource, forKey: resource.name) != nil {
                problems.append("two \(resource.type.noun)s are named \"\(resource.name)\"")
            }
        }
        var eds: [String: String] = [:]
        var dangling = false
        for type in Self.referring {
            for resource in (byType[type] ?? [:]).values {
                for reference in resource.references {
                    if type == .cluster, reference.type == .endpoint { eds[resource.name] = reference.name }
                    if byType[reference.type]?[reference.name] == nil { dangling = true }
                }
            }
        }
        if dangling { problems += Self.dangling(byType) }
        guard problems.isEmpty else { throw SnapshotError(problems: problems) }
        // Each type's version, from its resources in any order (a sum).
        var sums: [ResourceType: UInt64] = [:]
        for type in ResourceType.allCases { sums[type] = ContentHash.sum(byType[type]?.values ?? [:].values) }
        self.init(resources: byType, sums: sums, edsServiceNames: eds)
    }

    private init(
        resources: [ResourceType: [String: Resource]], sums: [ResourceType: UInt64], edsServiceNames: [String: String],
        predecessor: UInt64? = nil, changed: [ResourceType: [String]] = [:]
    ) {
        self.resources = resources
        self.sums = sums
        self.versions = sums.mapValues(ContentHash.hex(sum:))
        self.version = ContentHash.of(versions: versions.map { ($0.key.shortName, $0.value) })
        self.edsServiceNames = edsServiceNames
        self.predecessor = predecessor
        self.changed = changed
    }

    /// How many names of a type a snapshot lists as changed since its predecessor; a
    /// type with more is read whole by the streams (its list would cost more to keep, in
    /// every snapshot of the history, than it saves).
    static let changedNamesLimit = 256

    /// The names of each type that were added, changed or removed since `earlier`, when
    /// this snapshot was made from it and says so; for a type whose version differs
    /// from `earlier`'s but that is not listed, or when this returns nil, every name may
    /// have changed.
    public func changedNames(since earlier: Snapshot) -> [ResourceType: [String]]? {
        predecessor == earlier.serial ? changed : nil
    }

    /// The types whose resources name others.
    private static let referring: [ResourceType] = [.listener, .scopedRoute, .route, .cluster]

    /// Every reference that finds nothing, named in a fixed order: by type, then by name
    /// (sorted only when there is something to say, not for every snapshot).
    private static func dangling(_ byType: [ResourceType: [String: Resource]]) -> [String] {
        var problems: [String] = []
        for type in referring {
            for resource in (byType[type] ?? [:]).values.sorted(by: { $0.name < $1.name }) {
                for reference in resource.references where byType[reference.type]?[reference.name] == nil {
                    problems.append(
                        "\(type.noun) \"\(resource.name)\" names \(reference), which the snapshot does not contain")
                }
            }
        }
        return problems
    }

    /// How one type's resources differ from the previous snapshot's
    /// (``init(previous:changes:referrers:)``).
    struct TypeChange {
        /// Resources under new names, and new versions of resources kept under their names.
        var added: [Resource] = []
        /// The previous resources those new versions replace.
        var replaced: [Resource] = []
        /// The previous resources whose names are gone.
        var removed: [Resource] = []
        var isEmpty: Bool { added.isEmpty && removed.isEmpty }
    }

    /// The snapshot that differs from `previous` by `changes` (a type not listed is
    /// unchanged): an unchanged type keeps its table and version; a changed type's table
    /// is a copy of the previous one (no name hashed again) with the changes applied, and
    /// only changed resources' references are looked up. `referrers` counts, for every resource named, how many resources of
    /// `previous` name it; it is updated to count this snapshot's, so that a removed
    /// resource still named by a kept one is found without reading every kept one. The
    /// result equals ``init(_:)`` given every resource. Nil when a reference finds
    /// nothing (then `referrers` counts neither snapshot): ``init(_:)`` given every
    /// resource names every problem.
    init?(previous: Snapshot, changes: [ResourceType: TypeChange], referrers: inout [ResourceReference: Int]) {
        var byType = previous.resources
        var eds = previous.edsServiceNames
        var sums = previous.sums
        func count(_ resource: Resource, _ delta: Int) {
            for reference in resource.references {
                let count = referrers[reference, default: 0] + delta
                referrers[reference] = count == 0 ? nil : count
            }
        }
        for (type, change) in changes where !change.isEmpty {
            var table = byType.removeValue(forKey: type) ?? [:]
            for resource in change.removed {
                table.removeValue(forKey: resource.name)
                count(resource, -1)
                if type == .cluster { eds.removeValue(forKey: resource.name) }
            }
            for resource in change.replaced { count(resource, -1) }
            for resource in change.added {
                table[resource.name] = resource
                count(resource, 1)
                if type == .cluster {
                    eds.removeValue(forKey: resource.name)
                    for reference in resource.references where reference.type == .endpoint {
                        eds[resource.name] = reference.name
                    }
                }
            }
            if !table.isEmpty { byType[type] = table }
            // The type's version follows the change: the hashes of what went out taken
            // away, those of what came in added.
            var sum = sums[type] ?? 0
            for resource in change.removed { sum &-= resource.pairHash }
            for resource in change.replaced { sum &-= resource.pairHash }
            for resource in change.added { sum &+= resource.pairHash }
            sums[type] = sum
        }
        // A new resource names one that is missing, or a resource that is gone is still
        // named.
        for (type, change) in changes {
            for resource in change.added where Self.referring.contains(type) {
                for reference in resource.references where byType[reference.type]?[reference.name] == nil {
                    return nil
                }
            }
            for resource in change.removed where referrers[ResourceReference(type: type, name: resource.name)] != nil {
                return nil
            }
        }
        var changed: [ResourceType: [String]] = [:]
        for (type, change) in changes where !change.isEmpty && change.added.count + change.removed.count <= Self.changedNamesLimit {
            changed[type] = change.added.map(\.name) + change.removed.map(\.name)
        }
        self.init(resources: byType, sums: sums, edsServiceNames: eds, predecessor: previous.serial, changed: changed)
    }

    /// For every resource named, how many of this snapshot's resources name it (what
    /// ``init(previous:changes:referrers:)`` keeps up to date).
    var referrers: [ResourceReference: Int] {
        var counts: [ResourceReference: Int] = [:]
        for table in resources.values {
            for resource in table.values {
                for reference in resource.references { counts[reference, default: 0] += 1 }
            }
        }
        return counts
    }

    /// Convenience for building a snapshot from Envoy messages.
    public init(
        listeners: [Envoy_Config_Listener_V3_Listener] = [],
        scopedRoutes: [Envoy_Config_Route_V3_ScopedRouteConfiguration] = [],
        routes: [Envoy_Config_Route_V3_RouteConfiguration] = [],
        clusters: [Envoy_Config_Cluster_V3_Cluster] = [],
        endpoints: [Envoy_Config_Endpoint_V3_ClusterLoadAssignment] = [],
        secrets: [Envoy_Extensions_TransportSockets_Tls_V3_Secret] = []
    ) throws {
        var list: [Resource] = []
        list += try listeners.map(Resource.init)
        list += try scopedRoutes.map(Resource.init)
        list += try routes.map(Resource.init)
        list += try clusters.map(Resource.init)
        list += try endpoints.map(Resource.init)
        list += try secrets.map(Resource.init)
        try self.init(list)
    }

    public subscript(type: ResourceType) -> [String: Resource] { resources[type] ?? [:] }

    /// A type's resources sorted by name (computed once per snapshot).
    public func sorted(_ type: ResourceType) -> [Resource] {
        derived.sorted.value(type) { self[type].values.sorted { $0.name < $1.name } }
    }

    /// A type's names (computed once per snapshot). Streams whose subscription names
    /// exactly these share this set instead of holding a copy each.
    public func names(_ type: ResourceType) -> Set<String> {
        derived.names.value(type) { Set(self[type].keys) }
    }

    /// Whether `names` lists each of a type's resources exactly once and nothing else:
    /// what Envoy's acknowledgements of endpoints and routes name. Checked against a
    /// numbering of the type's names made once per snapshot, so a stream's ACK is read
    /// without building a set of its names (ten thousand of them, a thousand streams).
    public func namesExactly(_ names: [String], _ type: ResourceType) -> Bool {
        // A snapshot no longer current keeps no numbering: its few streams build a set.
        guard !names.isEmpty, names.count == self[type].count, !derived.retired.load(ordering: .acquiring) else {
            return false
        }
        let ordinals = derived.ordinals.value(type) {
            Dictionary(uniqueKeysWithValues: sorted(type).enumerated().map { ($1.name, $0) })
        }
        var seen = [UInt64](repeating: 0, count: (names.count + 63) / 64)
        for name in names {
            guard let ordinal = ordinals[name] else { return false }
            let bit = UInt64(1) << UInt64(ordinal % 64)
            if seen[ordinal / 64] & bit != 0 { return false }  // named twice: some other name is missing
            seen[ordinal / 64] |= bit
        }
        return true
    }

    /// A type's versions by name (computed once per snapshot).
    public func versionsByName(_ type: ResourceType) -> [String: String] {
        derived.versions.value(type) { self[type].mapValues(\.version) }
    }

    /// The nonce of a type's whole-list response (``wholeResponse(_:)``): the same for
    /// every stream sent it, never the same for two snapshots made by this process,
    /// and never a stream's own (those are numbers).
    public func sharedNonce(_ type: ResourceType) -> String { "\(type.shortName)-\(derived.serial)" }

    /// Which snapshot this is, among those this process made.
    var serial: UInt64 { derived.serial }

    /// A type's whole list as a state-of-the-world response — `version_info`,
    /// `resources`, `type_url` and the ``sharedNonce(_:)`` — encoded once per snapshot,
    /// on first use. Every stream sent the whole type writes this buffer itself, not a
    /// copy (``SotWSerializer``). Nil if it cannot be encoded, and once the snapshot is
    /// no longer its group's current one (``retire()``): the few streams still
    /// sending it encode their own.
    public func wholeResponse(_ type: ResourceType) -> ByteBuffer? {
        if derived.retired.load(ordering: .acquiring) { return nil }
        return derived.wholeResponses.value(type) {
            guard let bytes: [UInt8] = try? wholeMessage(type).serializedBytes() else { return nil }
            return ByteBuffer(bytes: bytes)
        }
    }

    /// The message ``wholeResponse(_:)`` encodes.
    func wholeMessage(_ type: ResourceType) -> Envoy_Service_Discovery_V3_DiscoveryResponse {
        var response = Envoy_Service_Discovery_V3_DiscoveryResponse()
        response.versionInfo = versions[type] ?? ""
        response.typeURL = type.typeURL
        response.nonce = sharedNonce(type)
        response.resources = sorted(type).map(\.body)
        return response
    }

    /// Frees the whole-list responses (and the numbering of names) when the snapshot
    /// stops being current, so that the versions kept for inspection
    /// (``SnapshotCache/historyLength``) do not each hold a copy of their encoding.
    func retire() {
        derived.retired.store(true, ordering: .releasing)
        derived.wholeResponses.close()
        derived.ordinals.close()
    }

    public var resourceCount: Int { resources.values.reduce(0) { $0 + $1.count } }

    public static func == (lhs: Snapshot, rhs: Snapshot) -> Bool { lhs.version == rhs.version }
}

private final class Derived: Sendable {
    let sorted = PerType<[Resource]>()
    let versions = PerType<[String: String]>()
    let names = PerType<Set<String>>()
    let ordinals = PerType<[String: Int]>()
    let wholeResponses = PerType<ByteBuffer?>()
    let retired = Atomic<Bool>(false)
    /// Tells this snapshot's shared nonces from every other's.
    let serial = Derived.serials.add(1, ordering: .relaxed).newValue

    private static let serials = Atomic<UInt64>(0)
}

/// One value per resource type, made on first use.
private final class PerType<Value: Sendable>: Sendable {
    private let values = Mutex<(closed: Bool, made: [ResourceType: Value])>((false, [:]))

    func value(_ type: ResourceType, make: () -> Value) -> Value {
        if let value = values.withLock({ $0.made[type] }) { return value }
        let value = make()
        values.withLock { if !$0.closed { $0.made[type] = value } }
        return value
    }

    /// Drops every value, and keeps none made from now on (one being made while the
    /// snapshot is retired included).
    func close() {
        values.withLock {
            $0.closed = true
            $0.made.removeAll()
        }
    }
}

/// Why a snapshot was refused: every missing reference or duplicate, one a line.
public struct SnapshotError: Error, CustomStringConvertible, Equatable {
    public let problems: [String]
    public var description: String {
        "inconsistent snapshot: " + problems.joined(separator: "; ")
    }
}
