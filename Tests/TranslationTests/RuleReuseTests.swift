import Foundation
import GatewayModel
import TestSupport
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

    /// A Service port's endpoints read only Services, EndpointSlices and Pods: they are
    /// built once while no object other than a route changes, and again after one did.
    /// So is a Service port's cluster, while the routes that use it are the same.
    @Test func endpointsAreBuiltAgainOnlyAfterAnObjectOtherThanARouteChanged() throws {
        let world = try IncrementalTests.world("cross-namespace")
        let cache = PlanCache()
        func translate(_ set: ResourceSet, _ what: String) -> (
            result: TranslationResult, built: Int, reused: Int, clusters: (kept: Int, planned: Int)
        ) {
            let cached = Translator(now: IncrementalTests.now, cache: cache).translate(set)
            #expect(cached == Translator(now: IncrementalTests.now).translate(set), "\(what): differs from a translation from scratch")
            let round = cache.endpoints.lastRound
            return (cached, round.built, round.reused, cache.lastServiceClusters)
        }
        let first = translate(world, "first")
        #expect(first.built > 0)
        #expect(first.clusters.kept == 0 && first.clusters.planned > 0)
        let edited = try Self.labelled(world, Self.refused, "1")
        let routeEdited = translate(edited, "route edited")
        #expect(routeEdited.built == 0)
        // A label changes no cluster: each is taken whole, its endpoints not asked for.
        #expect(routeEdited.clusters.kept == first.clusters.planned)
        #expect(routeEdited.clusters.planned == 0)
        #expect(routeEdited.reused == 0)
        // An endpoint of Service a becomes ready: built again, and served.
        let sliceKey = ObjectKey(.endpointSlice, namespace: "app", name: "a-1")
        var manifest = try #require(edited[sliceKey])
        guard case .endpointSlice(var slice) = manifest.object else { throw Failure("\(sliceKey) is not an EndpointSlice") }
        slice.endpoints = slice.endpoints?.map { var endpoint = $0; endpoint.conditions = nil; return endpoint }
        manifest.object = .endpointSlice(slice)
        var ready = edited
        ready.replace(sliceKey, with: manifest)
        let sliceEdited = translate(ready, "EndpointSlice edited")
        #expect(sliceEdited.built > 0)
        #expect(sliceEdited.clusters.kept == 0, "a cluster kept across an EndpointSlice's change")
        #expect(sliceEdited.result.plans != routeEdited.result.plans, "the new endpoint is not in any plan")
    }

    /// Route policies may pick routes by label (`targetSelectors`), so they are resolved
    /// every translation, not once per environment: a route that loses the label a
    /// SecurityPolicy selects loses the policy, and one that gains it gains it, with
    /// nothing but the route changed.
    @Test func aRouteLabelledIntoOrOutOfAPolicysSelectorChangesWhatIsServed() throws {
        let world = try IncrementalTests.world("security-policies")
        let cache = PlanCache()
        _ = Self.translate(world, with: cache, "first")
        let selected = try #require(
            world.manifests.values.first { manifest in
                guard case .httpRoute(let route) = manifest.object else { return false }
                return route.metadata.labels?["tier"] == "public"
            }?.object.key, "no route carries the label the policy selects")
        // Labelled out (the edit replaces its labels), then back in.
        let out = try Self.labelled(world, selected, "1")
        _ = Self.translate(out, with: cache, "label removed")
        let plain = Translator(now: IncrementalTests.now)
        #expect(plain.translate(out).plans != plain.translate(world).plans, "the policy made no difference to what is served")
        _ = Self.translate(world, with: cache, "label back")
    }

    /// With a cache, the routes of the last translation are kept in order and only
    /// those that changed are put in their places: the order is what sorting every
    /// route gives, through additions, removals, and edits that make a route older or
    /// newer (its creation timestamp) or move it to another kind.
    @Test(arguments: [UInt64(1), 2, 3])
    func routesKeptInOrderAreWhatSortingEveryRouteGives(seed: UInt64) throws {
        var random = SplitMix(seed: seed)
        func route(_ kind: String, _ name: Int, age: Int?) throws -> Manifest {
            let stamp = age.map { "2026-01-01T00:00:\(String(format: "%02d", $0))Z" }
            let metadata = "{name: r\(name), namespace: ns\(name % 3)\(stamp.map { ", creationTimestamp: \"\($0)\"" } ?? "")}"
            let yaml =
                "apiVersion: gateway.networking.k8s.io/\(kind == "TCPRoute" ? "v1alpha2" : "v1")\nkind: \(kind)\nmetadata: \(metadata)\n"
                + "spec: {parentRefs: [{name: gw}]\(kind == "TCPRoute" ? ", rules: [{backendRefs: [{name: s, port: 80}]}]" : "")}\n"
            let decoded = ManifestDecoder.decode(file: "r.yaml", contents: yaml)
            return try #require(decoded.manifests.first, "\(decoded.errors)")
        }
        let kinds = ["HTTPRoute", "GRPCRoute", "TCPRoute"]
        var set = ResourceSet()
        let cache = PlanCache()
        for step in 0..<300 {
            let manifest = try route(
                kinds.randomElement(using: &random)!, Int.random(in: 0..<40, using: &random),
                age: Int.random(in: 0..<4, using: &random) == 0 ? nil : Int.random(in: 0..<20, using: &random))
            if Int.random(in: 0..<4, using: &random) == 0 {
                set.replace(manifest.object.key, with: nil)
            } else {
                set.replace(manifest.object.key, with: manifest)
            }
            if step % 50 == 49 { set = ResourceSet(manifests: Array(set.manifests.values)) }
            let kept = RouteObject.all(in: set, cache: cache).map(\.key)
            #expect(kept == RouteObject.all(in: set).routes.map(\.key), "step \(step)")
        }
        #expect(set.count(of: .httpRoute) + set.count(of: .grpcRoute) + set.count(of: .tcpRoute) > 20)
    }
}
