import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing
import TestSupport

@testable import XDS

@Suite struct SnapshotEncoderTests {
    /// A route configuration with fields before and after `virtual_hosts`.
    static func routes(hosts: Int, edited: Int? = nil) -> Envoy_Config_Route_V3_RouteConfiguration {
        var config = Envoy_Config_Route_V3_RouteConfiguration()
        config.name = "routes"
        config.validateClusters = Google_Protobuf_BoolValue(false)
        config.internalOnlyHeaders = ["x-internal"]
        var header = Envoy_Config_Core_V3_HeaderValueOption()
        header.header.key = "x-by"
        header.header.value = "chancery"
        config.responseHeadersToAdd = [header]
        config.virtualHosts = (0..<hosts).map { i in
            var host = Envoy_Config_Route_V3_VirtualHost()
            host.name = "host-\(i)"
            host.domains = ["host-\(i).example.com"]
            var route = Envoy_Config_Route_V3_Route()
            route.match.prefix = i == edited ? "/edited" : "/"
            route.route.cluster = "c"
            // Long enough that some hosts need a two-byte length.
            route.name = String(repeating: "r", count: i * 7)
            host.routes = [route]
            return host
        }
        return config
    }

    static func build(_ encoder: SnapshotEncoder, _ config: Envoy_Config_Route_V3_RouteConfiguration) throws -> Snapshot {
        try encoder.snapshot(
            for: "g", routes: [config], clusters: [Fixtures.cluster("c")], endpoints: [Fixtures.endpoints("c", ports: [1])])
    }

    @Test func routeConfigurationBytesAreThoseOfTheWholeMessage() throws {
        let encoder = SnapshotEncoder()
        let config = Self.routes(hosts: 40)
        let snapshot = try Self.build(encoder, config)
        let whole: Data = try config.serializedBytes(options: deterministicEncoding)
        #expect(snapshot[.route]["routes"]?.body.value == whole)
        #expect(snapshot[.route]["routes"]?.version == ContentHash.of(whole))
        #expect(try snapshot[.route]["routes"]?.decode(as: Envoy_Config_Route_V3_RouteConfiguration.self) == config)
        #expect(snapshot[.route]["routes"]?.references == [ResourceReference](
            repeating: ResourceReference(type: .cluster, name: "c"), count: 40))
    }

    @Test func anEditReEncodesOnlyWhatChanged() throws {
        let encoder = SnapshotEncoder()
        _ = try Self.build(encoder, Self.routes(hosts: 40))
        // 40 hosts and the cluster and endpoints, all new.
        #expect(encoder.lastBuild == (reused: 0, encoded: 42))

        let edited = Self.routes(hosts: 40, edited: 17)
        let snapshot = try Self.build(encoder, edited)
        // Equal messages are recognised even when rebuilt (here nothing shares storage).
        #expect(encoder.lastBuild == (reused: 41, encoded: 1))
        let fresh = try Snapshot(
            routes: [edited], clusters: [Fixtures.cluster("c")], endpoints: [Fixtures.endpoints("c", ports: [1])])
        #expect(snapshot.version == fresh.version)
        #expect(snapshot[.route]["routes"]?.body.value == fresh[.route]["routes"]?.body.value)

        // A host removed and one added.
        var changed = edited
        changed.virtualHosts.removeFirst()
        changed.virtualHosts.append(Self.routes(hosts: 41).virtualHosts[40])
        let next = try Self.build(encoder, changed)
        #expect(encoder.lastBuild == (reused: 41, encoded: 1))
        #expect(try next[.route]["routes"]?.decode(as: Envoy_Config_Route_V3_RouteConfiguration.self) == changed)
    }

    /// Clusters sorted by name, with a few put in, taken out and changed: the kept lists
    /// are edited where they differ, not listed again, and the snapshot is a whole one's.
    @Test func aFewResourcesInAndOutEditTheKeptLists() throws {
        let encoder = SnapshotEncoder()
        func clusters(_ ids: [Int], timeout: [Int: Int64] = [:]) -> [Envoy_Config_Cluster_V3_Cluster] {
            ids.map { id in
                var cluster = Fixtures.cluster("c\(id)")
                cluster.connectTimeout = .init(seconds: timeout[id] ?? 1)
                return cluster
            }.sorted { $0.name < $1.name }
        }
        func build(_ list: [Envoy_Config_Cluster_V3_Cluster]) throws -> Snapshot {
            try encoder.snapshot(for: "g", clusters: list, endpoints: list.map { Fixtures.endpoints($0.name, ports: [1]) })
        }
        _ = try build(clusters(Array(0..<200)))
        #expect(encoder.lastBuildListedAgain == [.cluster, .endpoint], "the first build lists every type it has")
        // In: 200, 201 (after every name), 1000 (between c100 and c101); out: c0 (the
        // first), c57; changed: c150; the endpoints follow.
        let ids = Array(1..<200).filter { $0 != 57 } + [200, 201, 1000]
        let list = clusters(ids, timeout: [150: 9])
        let edited = try build(list)
        #expect(encoder.lastBuildListedAgain.isEmpty)
        #expect(encoder.lastBuild == (reused: 2 * 201 - 7, encoded: 4 + 3), "c150 and three new clusters, three new assignments")
        let whole = try Snapshot(clusters: list, endpoints: list.map { Fixtures.endpoints($0.name, ports: [1]) })
        #expect(edited.versions == whole.versions)
        #expect(edited.sorted(.cluster).map(\.body) == whole.sorted(.cluster).map(\.body))
        #expect(edited.sorted(.endpoint).map(\.body) == whole.sorted(.endpoint).map(\.body))
        // The next build walks the edited lists: nothing changed, nothing encoded.
        _ = try build(list)
        #expect(encoder.lastBuildListedAgain.isEmpty)
        #expect(encoder.lastBuild == (reused: 2 * 201, encoded: 0))
        // Out of order: listed again, with the same snapshot.
        let shuffled = try build(list.reversed())
        #expect(encoder.lastBuildListedAgain == [.cluster, .endpoint])
        #expect(shuffled.versions == whole.versions)
    }

    @Test func anInconsistentSetIsStillRefused() throws {
        let encoder = SnapshotEncoder()
        #expect(throws: SnapshotError.self) {
            try encoder.snapshot(for: "g", routes: [Self.routes(hosts: 2)])
        }
    }

    @Test func groupsAreKeptApart() throws {
        let encoder = SnapshotEncoder()
        _ = try Self.build(encoder, Self.routes(hosts: 3))
        let other = try encoder.snapshot(
            for: "other", routes: [Self.routes(hosts: 3)], clusters: [Fixtures.cluster("c")],
            endpoints: [Fixtures.endpoints("c", ports: [1])])
        #expect(encoder.lastBuild.reused == 0)
        #expect(other.version == (try Self.build(SnapshotEncoder(), Self.routes(hosts: 3))).version)
        encoder.forget(group: "g")
        _ = try Self.build(encoder, Self.routes(hosts: 3))
        #expect(encoder.lastBuild.reused == 0)
    }
}
