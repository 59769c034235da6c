import EnvoyAPI
import Foundation
import SwiftProtobuf
import Synchronization

/// Builds each proxy group's snapshots, serialising and hashing only what changed
/// since that group's previous snapshot.
///
/// A resource whose message equals the one it was last built from keeps its bytes,
/// version and references, and so does a route configuration. Messages that translation
/// reused (``Translation``'s cache) share storage with the previous ones, so that check is
/// a pointer comparison. A route configuration that changed is serialised virtual host
/// by virtual host: its bytes are the bytes of its unchanged hosts, kept, with the
/// changed hosts' new bytes between them, so a one-route edit in a 10,000-host
/// configuration serialises one host. The bytes are exactly those of serialising the
/// whole message (deterministic order), so versions do not depend on whether the encoder
/// had anything to reuse.
///
/// Each type's messages are kept in the order given. Most builds change, add or remove a
/// few resources: the new list and the kept one are walked by position, each message
/// compared with the one kept at its place, and only the few that differ are encoded
/// and edited into the kept lists, with nothing else listed again (``edits``). Otherwise,
/// the translator gives the large types sorted by name, so the new list and the kept one
/// are walked together, name against name, with no lookup; a list out of order is
/// matched by looking names up.
/// The snapshot is then made from the previous one and what changed
/// (``Snapshot/init(previous:changes:referrers:)``): a type whose resources are all kept
/// keeps its table and its version.
///
/// Each build keeps what it used and drops the rest, per group.
public final class SnapshotEncoder: Sendable {
    /// A resource as last built, with the message it was built from. A class, so that
    /// carrying a kept one into the next build's list (most of them, every build) is one
    /// retain, not one per field of the message.
    private final class Kept<M: ResourceMessage & Equatable>: Sendable {
        let message: M
        let resource: Resource

        init(message: M, resource: Resource) {
            self.message = message
            self.resource = resource
        }

        /// Whether it was built from a message equal to `other` (compared where it is:
        /// reading `message` out of the class first copied it, a retain per field).
        func matches(_ other: M) -> Bool { message == other }
    }

    /// One edit of a type's kept lists, at a position of the kept ones.
    private enum Edit<M: ResourceMessage & Equatable> {
        /// A new version of the resource kept there.
        case replace(Kept<M>)
        /// A resource under a new name, before the one kept there (or at the end).
        case insert(Kept<M>, name: String)
        /// The resource kept there is gone.
        case remove
    }

    /// What a type's update found: the kept lists with a few edits (the kept lists are
    /// changed in place once the snapshot is made), or a new list.
    private enum Update<M: ResourceMessage & Equatable> {
        /// Edits by position in the kept lists, ascending (those at one position in the
        /// order they apply: insertions before it, then its own).
        case edited([(position: Int, edit: Edit<M>)])
        case new(KeptType<Kept<M>>)

        /// The type's kept lists after the update. `move` takes the previous lists out of
        /// `previous` (so that a few edits to them copy nothing); without it `previous` is
        /// left as it was, for a build whose snapshot is refused.
        func settle(_ previous: inout KeptType<Kept<M>>, move: Bool) -> KeptType<Kept<M>> {
            switch self {
            case .new(let type): return type
            case .edited(let edits):
                var type = KeptType<Kept<M>>()
                if move { swap(&type, &previous) } else { type = previous }
                // From the last: a position's own edit, then the insertions before it
                // (each at the same place, so they end in their order).
                for (position, edit) in edits.reversed() {
                    switch edit {
                    case .replace(let entry): type.values[position] = entry
                    case .insert(let entry, let name):
                        type.values.insert(entry, at: position)
                        type.names.insert(name, at: position)
                    case .remove:
                        type.values.remove(at: position)
                        type.names.remove(at: position)
                    }
                }
                return type
            }
        }
    }

    /// Edits beyond this many (or one in sixteen resources, if more) are made by listing
    /// the type again: each insertion or removal moves the kept entries after it.
    private static let editLimit = 64

    private struct KeptHost: Sendable {
        let host: Envoy_Config_Route_V3_VirtualHost
        let bytes: Data
        let references: [ResourceReference]
    }

    private struct KeptRoute: Sendable {
        let config: Envoy_Config_Route_V3_RouteConfiguration
        let resource: Resource
        /// Virtual host name → what it was serialised as.
        let hosts: [String: KeptHost]
    }

    /// One type's resources as last built, in the order they were given.
    private struct KeptType<Value: Sendable>: Sendable {
        var names: [String] = []
        var values: [Value] = []
        /// Whether `names` ascend strictly, so that the next build can walk them with its
        /// own names instead of looking each up.
        var ascending = true
    }

    private struct Group: Sendable {
        var listeners = KeptType<Kept<Envoy_Config_Listener_V3_Listener>>()
        var scopedRoutes = KeptType<Kept<Envoy_Config_Route_V3_ScopedRouteConfiguration>>()
        var routes = KeptType<KeptRoute>()
        var clusters = KeptType<Kept<Envoy_Config_Cluster_V3_Cluster>>()
        var endpoints = KeptType<Kept<Envoy_Config_Endpoint_V3_ClusterLoadAssignment>>()
        var secrets = KeptType<Kept<Envoy_Extensions_TransportSockets_Tls_V3_Secret>>()
        /// The snapshot built from them.
        var snapshot = Snapshot.empty
        /// How many of its resources name each resource.
        var referrers: [ResourceReference: Int] = [:]
    }

    private let groups = Mutex<[String: Group]>([:])
    private let counts = Mutex((reused: 0, encoded: 0, checkedWhole: false))

    public init() {}

    /// Resources (and virtual hosts) the last build kept and serialised anew.
    public var lastBuild: (reused: Int, encoded: Int) { counts.withLock { ($0.reused, $0.encoded) } }

    /// For tests: the types (but route configurations) whose lists the last build made
    /// again rather than edited.
    var lastBuildListedAgain: Set<ResourceType> { listedAgain.withLock { $0 } }
    private let listedAgain = Mutex<Set<ResourceType>>([])

    /// Whether the last build checked every resource's references, because the set
    /// named a resource twice or a reference found nothing; otherwise it checked only
    /// what changed.
    var lastBuildCheckedWhole: Bool { counts.withLock { $0.checkedWhole } }

    /// The group's snapshot of these resources (see ``Snapshot/init(_:)`` for what is
    /// refused).
    public func snapshot(
        for group: String,
        listeners: [Envoy_Config_Listener_V3_Listener] = [],
        scopedRoutes: [Envoy_Config_Route_V3_ScopedRouteConfiguration] = [],
        routes: [Envoy_Config_Route_V3_RouteConfiguration] = [],
        clusters: [Envoy_Config_Cluster_V3_Cluster] = [],
        endpoints: [Envoy_Config_Endpoint_V3_ClusterLoadAssignment] = [],
        secrets: [Envoy_Extensions_TransportSockets_Tls_V3_Secret] = []
    ) throws -> Snapshot {
        // Taken out while it is built on, so that its counts are changed in place; a
        // build that throws puts it back as it was.
        var previous = groups.withLock { $0.removeValue(forKey: group) } ?? Group()
        var next = Group()
        var reused = 0
        var encoded = 0
        var duplicates = false
        var changes: [ResourceType: Snapshot.TypeChange] = [:]
        var listed: Set<ResourceType> = []

        /// The edits that make `kept` the new messages' list: walking both, an equal
        /// message is kept where it is; another under the same name replaces it; and,
        /// when both lists ascend by name, one under a name before the kept one's is
        /// inserted, and a kept one whose name the new list passed is removed. Nil when
        /// the new list does not ascend where it differs (then it may name a resource
        /// twice), when a kept list out of order would need more than replacements, or
        /// when the edits are too many (``editLimit``).
        func edits<M: ResourceMessage & Equatable>(
            _ messages: UnsafeBufferPointer<M>, _ kept: KeptType<Kept<M>>
        ) throws -> [(position: Int, edit: Edit<M>)]? {
            try kept.values.withUnsafeBufferPointer { keptValues in
                try kept.names.withUnsafeBufferPointer { keptNames in
                    let limit = max(Self.editLimit, messages.count / 16)
                    var edits: [(position: Int, edit: Edit<M>)] = []
                    var i = 0
                    var j = 0
                    // The name of the new message before `i`: the kept name it matched, or
                    // its own (nil before the first).
                    var previous: String?
                    var previousIsKept = -1
                    func ascends(after name: String) -> Bool {
                        if previousIsKept >= 0 { return keptNames[previousIsKept] < name }
                        return previous.map { $0 < name } ?? true
                    }
                    while i < messages.count || j < keptValues.count {
                        if i < messages.count, j < keptValues.count, keptValues[j].matches(messages[i]) {
                            previousIsKept = j
                            i += 1
                            j += 1
                            continue
                        }
                        guard edits.count < limit else { return nil }
                        if i < messages.count {
                            let name = messages[i].resourceName
                            if j < keptValues.count, name == keptNames[j] {
                                edits.append((j, .replace(Kept(message: messages[i], resource: try Resource(messages[i])))))
                                previousIsKept = j
                                i += 1
                                j += 1
                                continue
                            }
                            guard kept.ascending else { return nil }
                            if j == keptValues.count || name < keptNames[j] {
                                guard ascends(after: name) else { return nil }
                                edits.append(
                                    (j, .insert(Kept(message: messages[i], resource: try Resource(messages[i])), name: name)))
                                previous = name
                                previousIsKept = -1
                                i += 1
                                continue
                            }
                        } else if !kept.ascending {
                            return nil
                        }
                        edits.append((j, .remove))
                        j += 1
                    }
                    return edits
                }
            }
        }

        func update<M: ResourceMessage & Equatable>(_ messages: [M], _ kept: KeptType<Kept<M>>) throws -> Update<M> {
            // Through the lists' buffers: each message is read where it is, not copied out
            // (an array's subscript copied every scope and assignment, a retain per
            // field: a sixth of the encoder's time at 10,000 routes).
            try messages.withUnsafeBufferPointer { messages in
                // Usually a few resources changed, came or went, and the rest are where
                // they were: then each message is compared in place with the one kept at
                // its place, and only the edits are made to the kept lists.
                if let edits = try edits(messages, kept) {
                    var change = Snapshot.TypeChange()
                    for (position, edit) in edits {
                        switch edit {
                        case .replace(let entry):
                            change.added.append(entry.resource)
                            change.replaced.append(kept.values[position].resource)
                        case .insert(let entry, _): change.added.append(entry.resource)
                        case .remove: change.removed.append(kept.values[position].resource)
                        }
                    }
                    reused += messages.count - change.added.count
                    encoded += change.added.count
                    changes[M.resourceType] = change
                    return .edited(edits)
                }
                listed.insert(M.resourceType)
                var names: [String] = []
                names.reserveCapacity(messages.count)
                for index in messages.indices { names.append(messages[index].resourceName) }
                let matching = NameMatching(names, kept: kept.names, keptAscending: kept.ascending)
                duplicates = duplicates || matching.duplicates
                var change = Snapshot.TypeChange()
                var values: [Kept<M>] = []
                values.reserveCapacity(messages.count)
                for index in messages.indices {
                    let old = matching.old[index]
                    let entry: Kept<M>
                    if old >= 0, kept.values[old].matches(messages[index]) {
                        entry = kept.values[old]
                        reused += 1
                    } else {
                        entry = Kept(message: messages[index], resource: try Resource(messages[index]))
                        encoded += 1
                        change.added.append(entry.resource)
                        if old >= 0 { change.replaced.append(kept.values[old].resource) }
                    }
                    values.append(entry)
                }
                change.removed = matching.removed.map { kept.values[$0].resource }
                changes[M.resourceType] = change
                return .new(KeptType(names: names, values: values, ascending: matching.ascending))
            }
        }
        let listenerUpdate: Update<Envoy_Config_Listener_V3_Listener>
        let scopeUpdate: Update<Envoy_Config_Route_V3_ScopedRouteConfiguration>
        let clusterUpdate: Update<Envoy_Config_Cluster_V3_Cluster>
        let endpointUpdate: Update<Envoy_Config_Endpoint_V3_ClusterLoadAssignment>
        let secretUpdate: Update<Envoy_Extensions_TransportSockets_Tls_V3_Secret>
        do {
            listenerUpdate = try update(listeners, previous.listeners)
            scopeUpdate = try update(scopedRoutes, previous.scopedRoutes)
            // A route configuration equal to the one it was last built from keeps its
            // resource (with its serialised hosts); another is serialised host by host.
            // With a route configuration per hostname, most are kept.
            let kept = previous.routes
            let names = routes.map(\.name)
            let matching = NameMatching(names, kept: kept.names, keptAscending: kept.ascending)
            duplicates = duplicates || matching.duplicates
            var change = Snapshot.TypeChange()
            var values: [KeptRoute] = []
            values.reserveCapacity(routes.count)
            for (index, config) in routes.enumerated() {
                let old = matching.old[index]
                let entry: KeptRoute
                if old >= 0, kept.values[old].config == config {
                    entry = kept.values[old]
                    reused += config.virtualHosts.count
                } else {
                    entry = try routeConfiguration(
                        config, kept: old >= 0 ? kept.values[old].hosts : [:], reused: &reused, encoded: &encoded)
                    change.added.append(entry.resource)
                    if old >= 0 { change.replaced.append(kept.values[old].resource) }
                }
                values.append(entry)
            }
            change.removed = matching.removed.map { kept.values[$0].resource }
            next.routes = KeptType(names: names, values: values, ascending: matching.ascending)
            changes[.route] = change
            clusterUpdate = try update(clusters, previous.clusters)
            endpointUpdate = try update(endpoints, previous.endpoints)
            secretUpdate = try update(secrets, previous.secrets)
        } catch {
            groups.withLock { $0[group] = previous }
            counts.withLock { $0 = (reused, encoded, false) }
            throw error
        }
        listedAgain.withLock { $0 = listed }
        var referrers = previous.referrers
        previous.referrers = [:]
        /// Each type's kept list, `move` as in ``Update/settle(_:move:)``.
        func settle(move: Bool) {
            next.listeners = listenerUpdate.settle(&previous.listeners, move: move)
            next.scopedRoutes = scopeUpdate.settle(&previous.scopedRoutes, move: move)
            next.clusters = clusterUpdate.settle(&previous.clusters, move: move)
            next.endpoints = endpointUpdate.settle(&previous.endpoints, move: move)
            next.secrets = secretUpdate.settle(&previous.secrets, move: move)
        }
        if !duplicates, let snapshot = Snapshot(previous: previous.snapshot, changes: changes, referrers: &referrers) {
            settle(move: true)
            next.snapshot = snapshot
            next.referrers = referrers
            counts.withLock { $0 = (reused, encoded, false) }
        } else {
            // A name twice or a reference that finds nothing: the set is checked whole,
            // in the order of the arguments, so that the refusal names every problem as
            // a snapshot of these messages would.
            settle(move: false)
            var list: [Resource] = []
            list += next.listeners.values.map(\.resource)
            list += next.scopedRoutes.values.map(\.resource)
            list += next.routes.values.map(\.resource)
            list += next.clusters.values.map(\.resource)
            list += next.endpoints.values.map(\.resource)
            list += next.secrets.values.map(\.resource)
            counts.withLock { $0 = (reused, encoded, true) }
            do {
                next.snapshot = try Snapshot(list)
                next.referrers = next.snapshot.referrers
            } catch {
                // Refused: the group keeps what it had, its counts made again (the
                // attempt changed them).
                previous.referrers = previous.snapshot.referrers
                groups.withLock { $0[group] = previous }
                throw error
            }
        }
        groups.withLock { $0[group] = next }
        return next.snapshot
    }

    /// For tests: how many of the group's last snapshot's resources name each resource,
    /// as the encoder counts them.
    func referrerCounts(of group: String) -> [ResourceReference: Int]? { groups.withLock { $0[group]?.referrers } }

    /// Forgets a group (it has no snapshot any more).
    public func forget(group: String) {
        _ = groups.withLock { $0.removeValue(forKey: group) }
    }

    /// A route configuration's bytes: the fields before `virtual_hosts` (its name), each
    /// virtual host as a length-delimited field 2, then the fields after — the order a
    /// deterministic serialisation of the whole message writes them in.
    private func routeConfiguration(
        _ config: Envoy_Config_Route_V3_RouteConfiguration, kept: [String: KeptHost], reused: inout Int,
        encoded: inout Int
    ) throws -> KeptRoute {
        var head = Envoy_Config_Route_V3_RouteConfiguration()
        head.name = config.name
        var tail = config
        tail.name = ""
        tail.virtualHosts = []
        var bytes = try head.serializedBytes(options: deterministicEncoding) as Data
        var references: [ResourceReference] = []
        var now: [String: KeptHost] = [:]
        now.reserveCapacity(config.virtualHosts.count)
        for host in config.virtualHosts {
            let entry: KeptHost
            if let old = kept[host.name], old.host == host {
                entry = old
                reused += 1
            } else {
                entry = KeptHost(
                    host: host, bytes: try host.serializedBytes(options: deterministicEncoding),
                    references: ResourceReferences.of(host: host))
                encoded += 1
            }
            now[host.name] = entry
            bytes.append(0x12)  // field 2 (virtual_hosts), length-delimited
            appendVarint(UInt64(entry.bytes.count), to: &bytes)
            bytes.append(entry.bytes)
            references += entry.references
        }
        bytes.append(try tail.serializedBytes(options: deterministicEncoding) as Data)
        return KeptRoute(
            config: config, resource: Resource(type: .route, name: config.name, bytes: bytes, references: references),
            hosts: now)
    }

    private func appendVarint(_ value: UInt64, to data: inout Data) {
        var value = value
        while value >= 0x80 {
            data.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        data.append(UInt8(value))
    }
}

/// Pairs each name of a new list with the same name in the kept list.
struct NameMatching {
    /// For each new name, the index of the same name among the kept ones, or -1.
    var old: [Int]
    /// Indices of the kept names no new name matched, ascending.
    var removed: [Int] = []
    /// Whether the new names ascend strictly.
    var ascending = true
    /// Whether a new name appears twice.
    var duplicates = false

    /// `kept` holds distinct names. When both lists ascend they are walked together;
    /// otherwise the kept names are looked up.
    init(_ names: [String], kept: [String], keptAscending: Bool) {
        old = [Int](repeating: -1, count: names.count)
        for index in names.indices.dropFirst() where !(names[index - 1] < names[index]) {
            ascending = false
            break
        }
        if ascending, keptAscending {
            var next = 0
            for (index, name) in names.enumerated() {
                while next < kept.count {
                    if kept[next] == name {
                        old[index] = next
                        next += 1
                        break
                    }
                    guard kept[next] < name else { break }
                    removed.append(next)
                    next += 1
                }
            }
            removed.append(contentsOf: next..<kept.count)
            return
        }
        var positions: [String: Int] = [:]
        positions.reserveCapacity(kept.count)
        for (index, name) in kept.enumerated() { positions[name] = index }
        var matched = [Bool](repeating: false, count: kept.count)
        var seen = Set<String>()
        for (index, name) in names.enumerated() {
            if !ascending, !seen.insert(name).inserted { duplicates = true }
            if let position = positions[name], !matched[position] {
                old[index] = position
                matched[position] = true
            }
        }
        removed = kept.indices.filter { !matched[$0] }
    }
}
