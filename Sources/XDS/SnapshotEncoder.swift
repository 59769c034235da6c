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
/// had anything to reuse. A type whose resources are all kept keeps its version.
///
/// Each build keeps what it used and drops the rest, per group.
public final class SnapshotEncoder: Sendable {
    private struct Kept: @unchecked Sendable {
        // `any Message` is not Sendable-annotated in every SwiftProtobuf; the values are
        // immutable messages, kept under the lock.
        let message: any SwiftProtobuf.Message
        let resource: Resource
    }

    private struct KeptHost: Sendable {
        let host: Envoy_Config_Route_V3_VirtualHost
        let bytes: Data
        let references: [ResourceReference]
    }

    private struct Group: Sendable {
        var resources: [ResourceType: [String: Kept]] = [:]
        /// The per-type versions of the group's last snapshot.
        var versions: [ResourceType: String] = [:]
        /// Route configuration name → virtual host name → what it was serialised as.
        var hosts: [String: [String: KeptHost]] = [:]
        /// Route configuration name → the configuration and its resource.
        var routes: [String: KeptRoute] = [:]
    }

    private struct KeptRoute: Sendable {
        let config: Envoy_Config_Route_V3_RouteConfiguration
        let resource: Resource
    }

    private let groups = Mutex<[String: Group]>([:])
    private let counts = Mutex((reused: 0, encoded: 0))

    public init() {}

    /// Resources (and virtual hosts) the last build kept and serialised anew.
    public var lastBuild: (reused: Int, encoded: Int) { counts.withLock { $0 } }

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
        let previous = groups.withLock { $0[group] } ?? Group()
        var next = Group()
        var reused = 0
        var encoded = 0
        var list: [Resource] = []
        list.reserveCapacity(
            listeners.count + scopedRoutes.count + routes.count + clusters.count + endpoints.count + secrets.count)
        // Types whose resources are all the previous snapshot's, and all of them: their
        // versions are the previous ones, not hashed again.
        var known: [ResourceType: String] = [:]

        func add<M: ResourceMessage & Equatable>(_ messages: [M]) throws {
            let type = M.resourceType
            let kept = previous.resources[type] ?? [:]
            var now: [String: Kept] = [:]
            now.reserveCapacity(messages.count)
            var allKept = true
            for message in messages {
                let name = message.resourceName
                let resource: Resource
                if let old = kept[name], let oldMessage = old.message as? M, oldMessage == message {
                    resource = old.resource
                    reused += 1
                } else {
                    resource = try Resource(message)
                    encoded += 1
                    allKept = false
                }
                now[name] = Kept(message: message, resource: resource)
                list.append(resource)
            }
            // Every resource kept, under distinct names, as many as before: the same set.
            if allKept, now.count == messages.count, now.count == kept.count, let version = previous.versions[type] {
                known[type] = version
            }
            next.resources[type] = now
        }

        try add(listeners)
        try add(scopedRoutes)
        // A route configuration equal to the one it was last built from keeps its
        // resource (with its serialised hosts); another is serialised host by host. With
        // a route configuration per hostname, most are kept.
        var allRoutesKept = true
        next.routes.reserveCapacity(routes.count)
        for config in routes {
            let resource: Resource
            if let old = previous.routes[config.name], old.config == config {
                resource = old.resource
                next.hosts[config.name] = previous.hosts[config.name]
                reused += config.virtualHosts.count
            } else {
                resource = try routeConfiguration(
                    config, kept: previous.hosts[config.name] ?? [:], into: &next, reused: &reused, encoded: &encoded)
                allRoutesKept = false
            }
            next.routes[config.name] = KeptRoute(config: config, resource: resource)
            list.append(resource)
        }
        if allRoutesKept, next.routes.count == routes.count, next.routes.count == previous.routes.count,
            let version = previous.versions[.route]
        {
            known[.route] = version
        }
        try add(clusters)
        try add(endpoints)
        try add(secrets)
        let snapshot = try Snapshot(list, knownVersions: known)
        next.versions = snapshot.versions
        groups.withLock { $0[group] = next }
        counts.withLock { $0 = (reused, encoded) }
        return snapshot
    }

    /// Forgets a group (it has no snapshot any more).
    public func forget(group: String) {
        _ = groups.withLock { $0.removeValue(forKey: group) }
    }

    /// A route configuration's bytes: the fields before `virtual_hosts` (its name), each
    /// virtual host as a length-delimited field 2, then the fields after — the order a
    /// deterministic serialisation of the whole message writes them in.
    private func routeConfiguration(
        _ config: Envoy_Config_Route_V3_RouteConfiguration, kept: [String: KeptHost], into next: inout Group,
        reused: inout Int, encoded: inout Int
    ) throws -> Resource {
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
        next.hosts[config.name] = now
        return Resource(type: .route, name: config.name, bytes: bytes, references: references)
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
