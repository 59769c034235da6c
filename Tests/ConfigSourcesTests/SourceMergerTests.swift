import Foundation
import GatewayModel
import Synchronization
import Testing

@testable import ConfigSources

/// Several sources as one: nothing before every source delivered, earlier sources win a
/// clash, and each merged set says which source changed and which objects.
@Suite struct SourceMergerTests {
    /// A source whose sets the test hands over.
    final class Scripted: ConfigSource {
        let name: String
        let initial: ResourceSet?
        private let streams = Mutex<[AsyncStream<SourceUpdate>.Continuation]>([])

        init(name: String, initial: ResourceSet? = nil) {
            self.name = name
            self.initial = initial
        }

        func readNow() -> ResourceSet? { initial }

        func changes() -> AsyncStream<SourceUpdate> {
            let (stream, continuation) = AsyncStream<SourceUpdate>.makeStream()
            streams.withLock { $0.append(continuation) }
            return stream
        }

        var notReadyReason: String? { streams.withLock { $0.isEmpty } ? "\(name) not started" : nil }

        func send(_ set: ResourceSet) {
            for stream in streams.withLock({ $0 }) { stream.yield(SourceUpdate(set: set, seenAt: Date())) }
        }

        /// The source stops: its streams end.
        func end() {
            for stream in streams.withLock({ $0 }) { stream.finish() }
        }

        var listening: Bool { streams.withLock { !$0.isEmpty } }
    }

    static func set(_ yaml: String, file: String) -> ResourceSet {
        let decoded = ManifestDecoder.decode(file: file, contents: yaml)
        return ResourceSet(manifests: decoded.manifests)
    }

    static func service(_ name: String, port: Int) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: app}
        spec: {ports: [{port: \(port)}]}
        ---

        """
    }

    @Test func mergesOnceEverySourceHasDeliveredAndEarlierSourcesWin() async throws {
        let files = Scripted(name: "files")
        let cluster = Scripted(name: "kubernetes")
        let merger = SourceMerger([files, cluster])
        var updates = merger.changes().makeAsyncIterator()
        while !(files.listening && cluster.listening) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(merger.readNow() == nil, "a source that cannot be read at once makes the merge wait")

        files.send(Self.set(Self.service("shared", port: 1) + Self.service("a", port: 80), file: "local.yaml"))
        cluster.send(Self.set(Self.service("b", port: 80) + Self.service("shared", port: 2), file: "kubernetes"))
        let first = try #require(await updates.next())
        #expect(first.set.services.map(\.metadata.name) == ["a", "b", "shared"])
        let shared = try #require(first.set.services.first { $0.metadata.name == "shared" })
        #expect(shared.spec.ports?.first?.port == 1, "the file's definition wins")
        #expect(first.set.errors.contains { $0.message.contains("defined again") })

        cluster.send(Self.set(Self.service("b", port: 81) + Self.service("shared", port: 2), file: "kubernetes"))
        let second = try #require(await updates.next())
        #expect(second.source == "kubernetes")
        #expect(second.set.changedKeys(since: first.set) == [ObjectKey(.service, namespace: "app", name: "b")])

        files.send(Self.set(Self.service("shared", port: 1), file: "local.yaml"))
        let third = try #require(await updates.next())
        #expect(third.source == "files")
        #expect(third.set.changedKeys(since: second.set) == [ObjectKey(.service, namespace: "app", name: "a")], "a removal is a change")
    }

    /// A source that stops keeps its last set in the merge; the others go on.
    @Test func aSourceThatEndsLeavesTheOthersRunning() async throws {
        let files = Scripted(name: "files")
        let cluster = Scripted(name: "kubernetes")
        var updates = SourceMerger([files, cluster]).changes().makeAsyncIterator()
        while !(files.listening && cluster.listening) { try await Task.sleep(for: .milliseconds(5)) }
        files.send(Self.set(Self.service("a", port: 80), file: "local.yaml"))
        cluster.send(Self.set(Self.service("b", port: 80), file: "kubernetes"))
        _ = try #require(await updates.next())
        files.end()
        cluster.send(Self.set(Self.service("b", port: 81), file: "kubernetes"))
        let after = try #require(await updates.next())
        #expect(after.set.services.map(\.metadata.name) == ["a", "b"])
        #expect(after.set.services.last?.spec.ports?.first?.port == 81)
    }

    @Test func sourcesThatCanBeReadAtOnceAreMergedAtOnce() {
        let a = Scripted(name: "a", initial: Self.set(Self.service("x", port: 80), file: "a.yaml"))
        let b = Scripted(name: "b", initial: Self.set(Self.service("y", port: 80), file: "b.yaml"))
        #expect(SourceMerger([a, b]).readNow()?.services.count == 2)
        #expect(SourceMerger([a, b]).notReadyReason == "a not started; b not started")
    }
}
