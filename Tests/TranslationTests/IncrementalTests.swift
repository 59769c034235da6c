import EnvoyBuild
import Foundation
import GatewayModel
import Testing
import TestSupport
import Translation
import XDS

/// Building with an ``EnvoyCache`` and snapshots from a ``SnapshotEncoder`` give
/// exactly what building and serialising from scratch gives, whatever the previous world
/// was: every golden world, and each of them with one object removed at a time (a
/// Service, a Secret, a ReferenceGrant, a policy, a route, …) after the whole world was
/// cached. The cache is keyed on plan elements, so this also checks that every input of
/// an Envoy message is in the plan element it is reused for.
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
            for: group, listeners: proxy.listeners, scopedRoutes: proxy.scopedRoutes, routes: proxy.routes, clusters: proxy.clusters,
            endpoints: proxy.endpoints, secrets: proxy.secrets)
    }

    /// Translates `set` with the cache and the encoder, and from scratch, and expects
    /// the same statuses, resources and snapshot bytes. Returns how many scopes the
    /// build made (in the scoped layout).
    @discardableResult
    static func expectSame(
        _ set: ResourceSet, plans: PlanCache, cache: EnvoyCache, encoder: SnapshotEncoder, _ what: String,
        layout: RouteLayout = .single
    ) throws -> Int {
        let result = Translator(now: now).translate(set)
        let planned = Translator(now: now, cache: plans).translate(set)
        #expect(planned == result, "\(what): translation with the plan cache differs")
        let cached = EnvoyBuilder(cache: cache, routeLayout: layout).build(planned.plans, identical: planned.identical)
        let fresh = EnvoyBuilder(routeLayout: layout).build(result.plans, identical: result.identical)
        #expect(cached == fresh, "\(what): building with the cache differs")
        for (group, proxy) in fresh.sorted(by: { $0.key < $1.key }) {
            let expected = try? Snapshot(
                listeners: proxy.listeners, scopedRoutes: proxy.scopedRoutes, routes: proxy.routes,
                clusters: proxy.clusters, endpoints: proxy.endpoints, secrets: proxy.secrets)
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
        return fresh.values.reduce(0) { $0 + $1.scopedRoutes.count }
    }

    @Test(arguments: GoldenTests.cases)
    func sameResultAfterEveryRemoval(_ name: String) throws {
        let full = try Self.world(name)
        let plans = PlanCache()
        let cache = EnvoyCache()
        let encoder = SnapshotEncoder()
        try Self.expectSame(full, plans: plans, cache: cache, encoder: encoder, "\(name)")
        for key in full.manifests.keys.sorted() {
            let without = ResourceSet(manifests: full.manifests.values.filter { $0.object.key != key }, errors: full.errors)
            try Self.expectSame(without, plans: plans, cache: cache, encoder: encoder, "\(name) without \(key)")
            try Self.expectSame(full, plans: plans, cache: cache, encoder: encoder, "\(name) with \(key) back")
        }
    }

    /// Every object of every golden world, by key: the worlds share names (Gateway
    /// `infra/gw`, Services `app/a` and `app/b`, GatewayClass `chancery`, …) with other
    /// contents, so putting another world's variant in place is an edit.
    static let variants: [ObjectKey: [(world: String, manifest: Manifest)]] = {
        var variants: [ObjectKey: [(world: String, manifest: Manifest)]] = [:]
        for name in GoldenTests.cases {
            guard let world = try? world(name) else { continue }
            for key in world.manifests.keys.sorted() { variants[key, default: []].append((name, world.manifests[key]!)) }
        }
        return variants
    }()

    /// The golden worlds the scoped layout makes scopes of.
    static let scopedWorlds: Set<String> = Set(
        GoldenTests.cases.filter { name in
            guard let set = try? world(name) else { return false }
            let result = Translator(now: now).translate(set)
            return EnvoyBuilder(routeLayout: .scoped).build(result.plans).values.contains { !$0.scopedRoutes.isEmpty }
        })

    /// After any sequence of changes, the caches give what a translation from scratch
    /// gives, byte for byte: a world starts as one golden world, and each step puts in
    /// place, changes (another world's object of the same name) or removes one to three
    /// objects, chosen among the objects of three golden worlds. The caches persist
    /// through the sequence, so a value reused from any earlier state is checked.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6], RouteLayout.allCases)
    func randomChangesGiveWhatATranslationFromScratchGives(seed: UInt64, layout: RouteLayout) throws {
        var random = SplitMix(seed: seed)
        #expect(Self.variants.count > 100, "the golden worlds were not read")
        var candidates = GoldenTests.cases.shuffled(using: &random)
        if layout == .scoped {
            // Worlds the scoped layout makes scopes of come first, so the sequence has some.
            candidates = candidates.filter(Self.scopedWorlds.contains) + candidates.filter { !Self.scopedWorlds.contains($0) }
        }
        let worlds = Array(candidates.prefix(3))
        var keys: [ObjectKey] = []
        for name in worlds { keys += try Self.world(name).manifests.keys }
        keys = Set(keys).sorted()
        // Changed in place, as sources change their sets (so a translation can tell
        // what changed from the set's revisions), and read whole again now and then.
        var set = ResourceSet(manifests: Array(try Self.world(worlds[0]).manifests.values))
        let plans = PlanCache()
        let cache = EnvoyCache()
        let encoder = SnapshotEncoder()
        var scopes = try Self.expectSame(set, plans: plans, cache: cache, encoder: encoder, "seed \(seed), \(worlds[0])", layout: layout)
        var changes: [String] = []
        for step in 0..<50 {
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let key = keys.randomElement(using: &random)!
                if set[key] != nil, Int.random(in: 0..<3, using: &random) == 0 {
                    set.replace(key, with: nil)
                    changes.append("-\(key)")
                } else {
                    let variant = Self.variants[key]!.randomElement(using: &random)!
                    set.replace(key, with: variant.manifest)
                    changes.append("+\(key) from \(variant.world)")
                }
            }
            if step % 10 == 9 {
                set = ResourceSet(manifests: set.manifests.values.sorted { $0.object.key < $1.object.key })
                changes.append("(read whole)")
            }
            scopes += try Self.expectSame(
                set, plans: plans, cache: cache, encoder: encoder,
                "seed \(seed) (\(worlds.joined(separator: ", "))), step \(step) after \(changes.suffix(3).joined(separator: " "))",
                layout: layout)
        }
        // Not vacuous: the scoped layout's sequences build scopes (and the single one none).
        #expect(layout == .scoped ? scopes > 0 : scopes == 0, "seed \(seed): \(scopes) scopes built")
    }

    @Test func aSecondBuildOfTheSameWorldBuildsNothing() throws {
        let set = try Self.world("filters")
        let cache = EnvoyCache()
        let builder = EnvoyBuilder(cache: cache)
        let planCache = PlanCache()
        let result = Translator(now: Self.now, cache: planCache).translate(set)
        #expect(planCache.lastTranslation.built > 0)
        #expect(planCache.lastTranslation.reused == 0)
        _ = Translator(now: Self.now, cache: planCache).translate(set)
        #expect(planCache.lastTranslation.built == 0)
        #expect(planCache.lastTranslation.reused > 0)
        let first = builder.build(result.plans, identical: result.identical)
        #expect(cache.lastBuild.built > 0)
        #expect(cache.lastBuild.reused == 0)
        let second = builder.build(Translator(now: Self.now).translate(set).plans, identical: result.identical)
        #expect(second == first)
        #expect(cache.lastBuild.built == 0)
        #expect(cache.lastBuild.reused > 0)

        let encoder = SnapshotEncoder()
        let group = try #require(second.keys.sorted().first)
        _ = try Self.encode(second[group]!, for: "g", with: encoder)
        #expect(encoder.lastBuild.reused == 0)
        let again = builder.build(Translator(now: Self.now).translate(set).plans, identical: result.identical)[group]!
        _ = try Self.encode(again, for: "g", with: encoder)
        #expect(encoder.lastBuild.encoded == 0)
        #expect(encoder.lastBuild.reused > 0)
    }
}
