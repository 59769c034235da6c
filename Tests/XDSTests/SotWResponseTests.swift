import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing
import TestSupport

@testable import XDS

/// A state-of-the-world push of a whole type is written as the snapshot's encoding plus
/// the stream's nonce; it must be the very bytes the message would have been.
@Suite struct SotWResponseTests {
    static let snapshot: Snapshot = try! Fixtures.httpSnapshot(
        port: 8080,
        routes: [.init(prefix: "/a", cluster: "a"), .init(prefix: "/b", cluster: "b")],
        backends: ["a": [1, 2], "b": [3]])

    /// The message the stream used to write for the push.
    static func message(_ type: ResourceType, nonce: String) -> DiscoveryResponse {
        var response = DiscoveryResponse()
        response.versionInfo = snapshot.versions[type]!
        response.typeURL = type.typeURL
        response.nonce = nonce
        response.resources = snapshot.sorted(type).map(\.body)
        return response
    }

    @Test(arguments: ["1", "127", "128", "a nonce", String(repeating: "n", count: 300), String(repeating: "é", count: 9000), ""])
    func splicedBytesEqualTheMessagesBytes(nonce: String) throws {
        for type in [ResourceType.listener, .route, .cluster, .endpoint] {
            #expect(!Self.snapshot[type].isEmpty)
            let envelope = try #require(Self.snapshot.envelope(type))
            let spliced: [UInt8] = try SotWSerializer().serialize(.spliced(envelope: envelope, nonce: nonce))
            let expected: [UInt8] = try Self.message(type, nonce: nonce).serializedBytes()
            #expect(spliced == expected, "\(type), nonce of \(nonce.utf8.count) bytes")
            #expect(try DiscoveryResponse(serializedBytes: spliced) == Self.message(type, nonce: nonce))
        }
    }

    @Test func aMessageIsWrittenAsItIs() throws {
        let message = Self.message(.cluster, nonce: "7")
        let written: [UInt8] = try SotWSerializer().serialize(.message(message))
        #expect(written == (try message.serializedBytes() as [UInt8]))
    }

    @Test func anEmptyTypeHasAnEnvelopeToo() throws {
        let envelope = try #require(Self.snapshot.envelope(.secret))
        let spliced: [UInt8] = try SotWSerializer().serialize(.spliced(envelope: envelope, nonce: "3"))
        #expect(try DiscoveryResponse(serializedBytes: spliced) == Self.message(.secret, nonce: "3"))
    }

    /// A group's earlier snapshots (kept for inspection) do not keep their encodings
    /// or their numbering of names.
    @Test func aReplacedSnapshotLetsGoOfItsEnvelopes() throws {
        let cache = SnapshotCache()
        let first = try Fixtures.httpSnapshot(port: 8080, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [1]])
        let second = try Fixtures.httpSnapshot(port: 8080, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [2]])
        let clusters = Array(first[.cluster].keys)
        cache.setSnapshot(first, for: "g")
        #expect(first.envelope(.cluster) != nil)
        #expect(first.namesExactly(clusters, .cluster))
        cache.setSnapshot(second, for: "g")
        #expect(first.envelope(.cluster) == nil)
        #expect(!first.namesExactly(clusters, .cluster))  // its streams build their own set
        #expect(second.envelope(.cluster) != nil)
        #expect(second.namesExactly(clusters, .cluster))
        #expect(cache.history(for: "g").map(\.version) == [first.version, second.version])
    }

    /// Only a push of exactly the snapshot's list of a type, at its version, is whole.
    @Test func pushesAreWholeOnlyWhenTheyAreTheSnapshotsList() throws {
        let snapshot = Self.snapshot
        let clusters = snapshot[.cluster].keys.sorted()
        var all = StreamSession(mode: .stateOfTheWorld, snapshot: snapshot)
        let everything = try #require(all.request(.endpoint, clusters).1.first)
        #expect(everything.whole)
        #expect(everything.version == snapshot.versions[.endpoint])
        #expect(everything.resources.map(\.name) == snapshot.sorted(.endpoint).map(\.name))

        var some = StreamSession(mode: .stateOfTheWorld, snapshot: snapshot)
        let part = try #require(some.request(.endpoint, [clusters[0]]).1.first)
        #expect(!part.whole)
        #expect(part.resources.map(\.name) == [clusters[0]])

        var delta = StreamSession(mode: .delta, snapshot: snapshot)
        let deltaPush = try #require(delta.delta(.endpoint, subscribe: clusters).1.first)
        #expect(!deltaPush.whole)
    }
}
