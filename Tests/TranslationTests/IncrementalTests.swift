import Foundation
import GatewayModel
import Testing
import Translation
import XDS

/// Translation with a ``TranslationCache`` and snapshots from a ``SnapshotEncoder``
/// give exactly what translating and serialising from scratch gives, whatever the
/// previous world was: every golden world, and each of them with one object removed
/// at a time (a Service, a Secret, a ReferenceGrant, a policy, a route, …) after the
/// whole world was cached.
@Suite struct IncrementalTests {
    static let now = GoldenTests.goldenNow

    static func world(_ name: String) throws -> ResourceSet {
        let input = try String(
            contentsOf: GoldenTests.root.appendingPathComponent(name).appendingPathComponent("input.yaml"), encoding: .utf8)
        let decoded = ManifestDecoder.decode(file: "input.yaml", contents: input)
        return ResourceSet(manifests: decoded.manifests, errors: decoded.errors)
    }

    static func encode(_ proxy: ProxyConfig, for group: String, with encoder: SnapshotEncoder) throws -> Snapshot {
        try encoder.snapshot(
            for: group, listeners: proxy.listeners, routes: proxy.routes, clusters: proxy.clusters,
            endpoints: proxy.endpoints, secrets: proxy.secrets)
    }

    /// Translates `set` with the cache and the encoder, and from scratch, and expects
    /// the same statuses, resources and snapshot bytes.
    static func expectSame(
        _ set: ResourceSet, cache: TranslationCache, encoder: SnapshotEncoder, _ what: String
    ) throws {
        let cached = Translator(now: now, cache: cache).translate(set)
        let fresh = Translator(now: now).translate(set)
        #expect(cached == fresh, "\(what): translation with the cache differs")
        for (group, proxy) in fresh.proxies.sorted(by: { $0.key < $1.key }) {
            let expected = try? Snapshot(
                listeners: proxy.listeners, routes: proxy.routes, clusters: proxy.clusters, endpoints: proxy.endpoints,
                secrets: proxy.secrets)
            let encoded = try? Self.encode(proxy, for: group, with: encoder)
            #expect(encoded?.version == expected?.version, "\(what), group \(group): encoder's snapshot differs")
            for type in ResourceType.allCases {
                for (name, resource) in expected?[type] ?? [:] {
                    #expect(
                        encoded?[type][name]?.body.value == resource.body.value,
                        "\(what), group \(group): \(type) \(name) has other bytes")
                }
            }
        }
    }

    @Test(arguments: GoldenTests.cases)
    func sameResultAfterEveryRemoval(_ name: String) throws {
        let full = try Self.world(name)
        let cache = TranslationCache()
        let encoder = SnapshotEncoder()
        try Self.expectSame(full, cache: cache, encoder: encoder, "\(name)")
        for key in full.manifests.keys.sorted() {
            let without = ResourceSet(manifests: full.manifests.values.filter { $0.object.key != key }, errors: full.errors)
            try Self.expectSame(without, cache: cache, encoder: encoder, "\(name) without \(key)")
            try Self.expectSame(full, cache: cache, encoder: encoder, "\(name) with \(key) back")
        }
    }

    @Test func aSecondTranslationOfTheSameWorldBuildsNothing() throws {
        let set = try Self.world("filters")
        let cache = TranslationCache()
        let first = Translator(now: Self.now, cache: cache).translate(set)
        #expect(cache.lastTranslation.built > 0)
        #expect(cache.lastTranslation.reused == 0)
        let second = Translator(now: Self.now, cache: cache).translate(set)
        #expect(second == first)
        #expect(cache.lastTranslation.built == 0)
        #expect(cache.lastTranslation.reused > 0)

        let encoder = SnapshotEncoder()
        let proxy = try #require(second.proxies.values.first)
        _ = try Self.encode(proxy, for: "g", with: encoder)
        #expect(encoder.lastBuild.reused == 0)
        let again = Translator(now: Self.now, cache: cache).translate(set).proxies[second.proxies.keys.first!]!
        _ = try Self.encode(again, for: "g", with: encoder)
        #expect(encoder.lastBuild.encoded == 0)
        #expect(encoder.lastBuild.reused > 0)
    }
}
