import Foundation
import GatewayModel
import Testing

@testable import Translation

/// A route's rules are resolved against the objects that are not routes (Services,
/// ReferenceGrants, policies, …): the plan cache reuses them for an unchanged route
/// while none of those objects changed, and resolves every route again when one did.
@Suite struct RuleReuseTests {
    static let granted = ObjectKey(.httpRoute, namespace: "web", name: "granted")
    static let refused = ObjectKey(.httpRoute, namespace: "other", name: "refused")

    /// `set` with the route at `key` labelled (a change to the route alone).
    static func labelled(_ set: ResourceSet, _ key: ObjectKey, _ value: String) throws -> ResourceSet {
        var manifest = try #require(set[key])
        guard case .httpRoute(var route) = manifest.object else { throw Failure("\(key) is not an HTTPRoute") }
        route.metadata.labels = ["edit": value]
        manifest.object = .httpRoute(route)
        var edited = set
        edited.replace(key, with: manifest)
        return edited
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Translates with the cache and from scratch, expects the same result, and returns
    /// the rules resolved and reused.
    static func translate(_ set: ResourceSet, with cache: PlanCache, _ what: String) -> (built: Int, reused: Int) {
        let cached = Translator(now: IncrementalTests.now, cache: cache).translate(set)
        #expect(cached == Translator(now: IncrementalTests.now).translate(set), "\(what): differs from a translation from scratch")
        let round = cache.resolvedRules.lastRound
        return (round.built, round.reused)
    }

    @Test func rulesAreResolvedAgainOnlyForTheChangedRouteOrAfterAnyOtherObjectChanged() throws {
        let world = try IncrementalTests.world("cross-namespace")
        let cache = PlanCache()
        #expect(Self.translate(world, with: cache, "first") == (2, 0))
        #expect(Self.translate(world, with: cache, "again") == (0, 2))
        // One route edited: only its rules are resolved.
        let edited = try Self.labelled(world, Self.refused, "1")
        #expect(Self.translate(edited, with: cache, "refused edited") == (1, 1))
        // The ReferenceGrant removed: web/granted's backend in another namespace is now
        // refused, so every route is resolved again (reused, it would still be granted).
        let grant = try #require(world.manifests.keys.first { $0.kind == .referenceGrant })
        var ungranted = edited
        ungranted.replace(grant, with: nil)
        #expect(Self.translate(ungranted, with: cache, "grant removed") == (2, 0))
        let result = Translator(now: IncrementalTests.now, cache: cache).translate(ungranted)
        #expect(result.statuses[Self.granted] != Translator(now: IncrementalTests.now).translate(edited).statuses[Self.granted])
        // Objects read from other lines (an edit higher up their file) are the same
        // objects: a route that moved keeps its rules, and so does every route when a
        // Service moved.
        var moved = ungranted
        var manifest = try #require(moved[Self.granted])
        manifest.origin.line += 1
        moved.replace(Self.granted, with: manifest)
        #expect(Self.translate(moved, with: cache, "route moved") == (0, 2))
        let service = try #require(moved.manifests.keys.first { $0.kind == .service })
        var serviceManifest = try #require(moved[service])
        serviceManifest.origin.line += 1
        moved.replace(service, with: serviceManifest)
        #expect(Self.translate(moved, with: cache, "Service moved") == (0, 2))
    }
}
