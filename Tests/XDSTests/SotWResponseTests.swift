import EnvoyAPI
import Foundation
import GRPCNIOTransportHTTP2
import NIOCore
import SwiftProtobuf
import Testing
import TestSupport

@testable import XDS

/// A state-of-the-world push of a whole type is written as the snapshot's encoding of
/// it; it must be the very bytes the message would have been, and shared, not copied.
@Suite struct SotWResponseTests {
    static let snapshot: Snapshot = try! Fixtures.httpSnapshot(
        port: 8080,
        routes: [.init(prefix: "/a", cluster: "a"), .init(prefix: "/b", cluster: "b")],
        backends: ["a": [1, 2], "b": [3]])

    /// The message a stream would write for the push.
    static func message(_ type: ResourceType, nonce: String) -> DiscoveryResponse {
        var response = DiscoveryResponse()
        response.versionInfo = snapshot.versions[type]!
        response.typeURL = type.typeURL
        response.nonce = nonce
        response.resources = snapshot.sorted(type).map(\.body)
        return response
    }

    @Test func sharedBytesEqualTheMessagesBytes() throws {
        for type in ResourceType.allCases {
            let response = try #require(Self.snapshot.wholeResponse(type))
            let expected: [UInt8] = try Self.message(type, nonce: Self.snapshot.sharedNonce(type)).serializedBytes()
            #expect(Array(response.readableBytesView) == expected, "\(type)")
            let written: [UInt8] = try SotWSerializer().serialize(.shared(response))
            #expect(written == expected, "\(type)")
        }
        #expect(Self.snapshot[.secret].isEmpty)  // an empty type has one too
    }

    @Test func theTransportIsHandedTheSnapshotsBufferNotACopy() throws {
        #expect(SotWSerializer.sharingHolds)
        let response = try #require(Self.snapshot.wholeResponse(.cluster))
        var written: GRPCNIOTransportBytes = try SotWSerializer().serialize(.shared(response))
        let address = response.withUnsafeReadableBytes { $0.baseAddress }
        #expect(written.withUnsafeBytes { $0.baseAddress } == address)
        #expect(written.withUnsafeBytes { Array($0) } == Array(response.readableBytesView))
        // Writing through it copies first: the snapshot's bytes stay as they were.
        let before = Array(response.readableBytesView)
        written.withUnsafeMutableBytes { $0[0] ^= 0xFF }
        #expect(Array(response.readableBytesView) == before)
        #expect(Self.snapshot.wholeResponse(.cluster).map { Array($0.readableBytesView) } == before)
    }

    @Test func aMessageIsWrittenAsItIs() throws {
        let message = Self.message(.cluster, nonce: "7")
        let written: [UInt8] = try SotWSerializer().serialize(.message(message))
        #expect(written == (try message.serializedBytes() as [UInt8]))
        let transported: GRPCNIOTransportBytes = try SotWSerializer().serialize(.message(message))
        #expect(transported.withUnsafeBytes { Array($0) } == written)
    }

    /// Shared nonces name the snapshot and the type: no two snapshots or types share
    /// one, and none is a number, as a stream's own nonces are.
    @Test func sharedNoncesAreDistinct() throws {
        let other = try Fixtures.httpSnapshot(
            port: 8080, routes: [.init(prefix: "/a", cluster: "a")], backends: ["a": [1]])
        let again = try Fixtures.httpSnapshot(
            port: 8080, routes: [.init(prefix: "/a", cluster: "a")], backends: ["a": [1]])
        #expect(other.version == again.version)
        let nonces = [Self.snapshot, other, again].flatMap { snapshot in ResourceType.allCases.map(snapshot.sharedNonce) }
        #expect(Set(nonces).count == nonces.count)
        #expect(nonces.allSatisfy { UInt64($0) == nil })
    }

    /// A group's earlier snapshots (kept for inspection) do not keep their encodings
    /// or their numbering of names.
    @Test func aReplacedSnapshotLetsGoOfItsEnvelopes() throws {
        let cache = SnapshotCache()
        let first = try Fixtures.httpSnapshot(port: 8080, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [1]])
        let second = try Fixtures.httpSnapshot(port: 8080, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [2]])
        let clusters = Array(first[.cluster].keys)
        cache.setSnapshot(first, for: "g")
        #expect(first.wholeResponse(.cluster) != nil)
        #expect(first.namesExactly(clusters, .cluster))
        cache.setSnapshot(second, for: "g")
        #expect(first.wholeResponse(.cluster) == nil)
        #expect(!first.namesExactly(clusters, .cluster))  // its streams build their own set
        #expect(second.wholeResponse(.cluster) != nil)
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
        #expect(everything.nonce == snapshot.sharedNonce(.endpoint))
        #expect(everything.version == snapshot.versions[.endpoint])
        #expect(everything.resources.map(\.name) == snapshot.sorted(.endpoint).map(\.name))
        // Asked again (a subscription change that comes back to every name), the same
        // list goes with a nonce of the stream's own: no two pushes share a nonce.
        let fewer = try #require(all.request(.endpoint, [clusters[0]], answering: everything).1.first)
        #expect(!fewer.whole)
        let again = try #require(all.request(.endpoint, clusters, answering: fewer).1.first)
        #expect(!again.whole)
        #expect(again.nonce != everything.nonce)
        #expect(again.resources.map(\.name) == everything.resources.map(\.name))
        // The next snapshot's whole list is shared again, with its own nonce.
        let next = try Fixtures.httpSnapshot(
            port: 8080,
            routes: [.init(prefix: "/a", cluster: "a"), .init(prefix: "/b", cluster: "b")],
            backends: ["a": [7], "b": [3]])
        #expect(next[.endpoint].keys.sorted() == clusters)
        _ = all.request(.endpoint, clusters, answering: again)
        let fresh = try #require(all.update(next).first { $0.type == .endpoint })
        #expect(fresh.whole)
        #expect(fresh.nonce == next.sharedNonce(.endpoint))

        var some = StreamSession(mode: .stateOfTheWorld, snapshot: snapshot)
        let part = try #require(some.request(.endpoint, [clusters[0]]).1.first)
        #expect(!part.whole)
        #expect(part.resources.map(\.name) == [clusters[0]])

        var delta = StreamSession(mode: .delta, snapshot: snapshot)
        let deltaPush = try #require(delta.delta(.endpoint, subscribe: clusters).1.first)
        #expect(!deltaPush.whole)
    }
}
