import EnvoyAPI
import EnvoyBuild
import Foundation
import SwiftProtobuf
import TestSupport
import Testing

@testable import XDS

@Suite struct ContentHashTests {
    @Test func sameBytesGiveTheSameVersion() throws {
        let a = try Resource(Fixtures.cluster("shop"))
        let b = try Resource(Fixtures.cluster("shop"))
        #expect(a.version == b.version)
        #expect(a.version.count == 16)
        let c = try Resource(Fixtures.cluster("shop-v2"))
        #expect(a.version != c.version)
    }

    /// Pinned so that a change of hashing or encoding — which would make every Envoy
    /// re-download everything after an upgrade, and two replicas disagree — is noticed.
    @Test func versionsArePinnedAcrossProcesses() throws {
        // The same Cluster built and serialised by Python's protobuf (deterministic) hashes
        // to this: our bytes are canonical protobuf, not an accident of this process.
        let resource = try Resource(Fixtures.cluster("shop"))
        #expect(resource.version == "f4c91c716195fef7")
        #expect(resource.version == ContentHash.of(resource.body.value))
        #expect(ContentHash.of(Data("chancery".utf8)) == "73171cc77f145e57")
        #expect(ContentHash.of(Data()) == "e3b0c44298fc1c14")
    }

    /// Maps (here `filter_metadata` and a Struct) serialise in key order, whatever order
    /// the keys were inserted in, nested `Any`s included.
    @Test func mapsSerialiseDeterministically() throws {
        func cluster(_ keys: [String]) throws -> Envoy_Config_Cluster_V3_Cluster {
            var cluster = Fixtures.cluster("meta")
            var metadata = Envoy_Config_Core_V3_Metadata()
            for key in keys {
                var fields = Google_Protobuf_Struct()
                for inner in keys { fields.fields[inner] = Google_Protobuf_Value(stringValue: key + inner) }
                metadata.filterMetadata[key] = fields
                metadata.typedFilterMetadata[key] = try .packing(fields)
            }
            cluster.metadata = metadata
            return cluster
        }
        let keys = (0..<40).map { "key-\($0)" }
        let forward = try Resource(cluster(keys))
        for _ in 0..<5 {
            #expect(try Resource(cluster(keys.shuffled())).version == forward.version)
        }
    }

    @Test func setVersionsIgnoreOrder() {
        let one = ContentHash.of(versions: [("a", "1"), ("b", "2")])
        let two = ContentHash.of(versions: [("b", "2"), ("a", "1")])
        #expect(one == two)
        #expect(one != ContentHash.of(versions: [("a", "2"), ("b", "1")]))
        // A name/version boundary cannot be shifted to forge the same hash.
        #expect(ContentHash.of(versions: [("ab", "c")]) != ContentHash.of(versions: [("a", "bc")]))
    }

    /// A set's version, pinned as Python's hashlib computes it: the sum modulo 2^64 of
    /// the first 64 bits (big-endian) of each `name NUL version LF`'s SHA-256.
    @Test func setVersionsArePinnedAcrossProcesses() {
        #expect(ContentHash.of(versions: [("a", "1"), ("b", "2")]) == "1e515eedd841f10f")
        #expect(ContentHash.of(versions: [(String, String)]()) == "0000000000000000")
    }

    /// Resources' own pair hashes give the version their names and versions give, and a
    /// version taken apart by a change (one out, one in) is the version of what is left.
    @Test func resourcesCarryWhatTheyAddToTheirTypesVersion() throws {
        let resources = try ["a", "b", "c"].map { try Resource(Fixtures.cluster($0)) }
        #expect(
            ContentHash.of(resources: resources) == ContentHash.of(versions: resources.map { ($0.name, $0.version) }))
        let replacement = try Resource(Fixtures.cluster("d"))
        let changed = ContentHash.sum(resources) &- resources[1].pairHash &+ replacement.pairHash
        #expect(ContentHash.hex(sum: changed) == ContentHash.of(resources: [resources[0], replacement, resources[2]]))
        #expect(ContentHash.hex(sum: changed) != ContentHash.of(resources: resources))
    }
}
