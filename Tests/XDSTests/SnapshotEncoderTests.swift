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
