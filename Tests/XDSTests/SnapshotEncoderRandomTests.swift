import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing
import TestSupport

@testable import XDS

/// Random runs of changes to a proxy group's resources: listeners naming route
/// configurations, scopes naming them, route configurations naming clusters, EDS clusters
/// naming endpoints (by their own name or a service name), static clusters naming none,
/// and secrets. After every change the encoder's snapshot, made from its last one and
/// what changed, must equal a snapshot made from every resource: the same tables,
/// versions, references and EDS names, or the same refusal with the same problems.
@Suite struct SnapshotEncoderRandomTests {
    /// What each resource is made from; a resource's content is a number.
    struct World {
        enum ClusterKind: CaseIterable { case eds, edsService, statically }
        var clusters: [Int: (kind: ClusterKind, content: Int)] = [:]
        /// Endpoints by EDS name.
        var endpoints: [String: Int] = [:]
        /// Route configuration → the clusters its hosts send to.
        var routes: [Int: [Int]] = [:]
        /// Listener port → its route configuration.
        var listeners: [Int: Int] = [:]
        /// Scope → its route configuration.
        var scopes: [Int: Int] = [:]
        var secrets: [Int: Int] = [:]

        static func edsName(_ id: Int, _ kind: ClusterKind) -> String? {
            switch kind {
            case .eds: "c\(id)"
            case .edsService: "svc-\(id)"
            case .statically: nil
            }
        }

        /// Mostly a name that exists, sometimes one that does not (a dangling reference).
        /// (From the keys sorted: a dictionary's order differs from one process to the
        /// next, and a seed must replay.)
        static func pick(_ keys: some Collection<Int>, within: Int, _ random: inout SplitMix) -> Int {
            if keys.isEmpty || Int.random(in: 0..<10, using: &random) == 0 { return Int.random(in: 0..<within, using: &random) }
            return keys.sorted().randomElement(using: &random)!
        }

        mutating func change(_ random: inout SplitMix) {
            let id = Int.random(in: 0..<40, using: &random)
            switch Int.random(in: 0..<9, using: &random) {
            case 0:  // a cluster added, or changed
                let kind = ClusterKind.allCases.randomElement(using: &random)!
                if let old = clusters[id], let name = Self.edsName(id, old.kind), Bool.random(using: &random) {
                    endpoints.removeValue(forKey: name)
                }
                clusters[id] = (kind, Int.random(in: 0..<3, using: &random))
                if let name = Self.edsName(id, kind), Int.random(in: 0..<8, using: &random) != 0 {
                    endpoints[name] = endpoints[name] ?? Int.random(in: 1..<4, using: &random)
                }
            case 1:  // a cluster removed, with or without its endpoints
                if let old = clusters.removeValue(forKey: id), let name = Self.edsName(id, old.kind),
                    Int.random(in: 0..<4, using: &random) != 0
                {
                    endpoints.removeValue(forKey: name)
                }
            case 2:  // endpoints changed, added or removed
                let name = Bool.random(using: &random) ? "c\(id)" : "svc-\(id)"
                if Int.random(in: 0..<5, using: &random) == 0 {
                    endpoints.removeValue(forKey: name)
                } else {
                    endpoints[name] = Int.random(in: 1..<4, using: &random)
                }
            case 3, 4:  // a route configuration added or changed
                routes[id] = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                    Self.pick(clusters.keys, within: 40, &random)
                }
            case 5:
                routes.removeValue(forKey: id)
            case 6:
                if Bool.random(using: &random) {
                    listeners[8000 + id] = Self.pick(routes.keys, within: 40, &random)
                } else {
                    listeners.removeValue(forKey: 8000 + id)
                }
            case 7:
                if Bool.random(using: &random) {
                    scopes[id] = Self.pick(routes.keys, within: 40, &random)
                } else {
                    scopes.removeValue(forKey: id)
                }
            default:
                if Bool.random(using: &random) {
                    secrets[id] = Int.random(in: 0..<3, using: &random)
                } else {
                    secrets.removeValue(forKey: id)
                }
            }
        }

        /// Mends every dangling reference: routes to missing clusters are dropped, EDS
        /// clusters get endpoints, listeners and scopes of missing route configurations go.
        mutating func mend() {
            for id in routes.keys.sorted() {
                let kept = routes[id]!.filter { clusters[$0] != nil }
                routes[id] = kept.isEmpty ? nil : kept
            }
            for id in clusters.keys.sorted() {
                if let name = Self.edsName(id, clusters[id]!.kind), endpoints[name] == nil { endpoints[name] = 1 }
            }
            listeners = listeners.filter { routes[$0.value] != nil }
            scopes = scopes.filter { routes[$0.value] != nil }
        }

        /// Every message, each type sorted by name, except that sometimes one type comes
        /// shuffled, or one or two types with one resource twice.
        func messages(_ random: inout SplitMix) throws -> Messages {
            var out = Messages()
            out.listeners = try listeners.keys.sorted().map { port in
                try Fixtures.httpListener(port: port, routeConfig: "r\(listeners[port]!)")
            }
            out.scopedRoutes = scopes.keys.sorted().map { id in
                var scope = Envoy_Config_Route_V3_ScopedRouteConfiguration()
                scope.name = "s\(id)"
                scope.routeConfigurationName = "r\(scopes[id]!)"
                var fragment = Envoy_Config_Route_V3_ScopedRouteConfiguration.Key.Fragment()
                fragment.stringKey = "host-\(id)"
                scope.key.fragments = [fragment]
                return scope
            }.sorted { $0.name < $1.name }
            out.routes = routes.keys.map { id in
                Fixtures.routes(
                    "r\(id)", routes[id]!.enumerated().map { .init(prefix: "/\($0.offset)", cluster: "c\($0.element)") })
            }.sorted { $0.name < $1.name }
            out.clusters = clusters.keys.map { id in
                let (kind, content) = clusters[id]!
                var cluster: Envoy_Config_Cluster_V3_Cluster
                switch kind {
                case .eds: cluster = Fixtures.cluster("c\(id)")
                case .edsService:
                    cluster = Fixtures.cluster("c\(id)")
                    cluster.edsClusterConfig.serviceName = "svc-\(id)"
                case .statically:
                    cluster = Envoy_Config_Cluster_V3_Cluster()
                    cluster.name = "c\(id)"
                    cluster.type = .static
                    cluster.loadAssignment = Fixtures.endpoints("c\(id)", ports: [9000 + content])
                }
                cluster.connectTimeout = .init(seconds: Int64(1 + content))
                return cluster
            }.sorted { $0.name < $1.name }
            out.endpoints = endpoints.keys.sorted().map { name in
                Fixtures.endpoints(name, ports: (0..<endpoints[name]!).map { 9100 + $0 })
            }
            out.secrets = secrets.keys.map { id in
                var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
                secret.name = "sec\(id)"
                var context = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
                context.trustedCa.inlineString = "ca \(secrets[id]!)"
                secret.validationContext = context
                return secret
            }.sorted { $0.name < $1.name }
            func twice<M>(_ list: inout [M], _ random: inout SplitMix, change: (inout M) -> Void) {
                guard let first = list.first else { return }
                var twin = first
                change(&twin)
                list.insert(twin, at: Int.random(in: 0...list.count, using: &random))
            }
            switch Int.random(in: 0..<14, using: &random) {
            case 0: out.listeners.shuffle(using: &random)
            case 1: out.clusters.shuffle(using: &random)
            case 2: out.routes.shuffle(using: &random)
            case 3: twice(&out.endpoints, &random) { $0.endpoints = [] }
            case 4: twice(&out.routes, &random) { $0.virtualHosts = [] }
            case 5:
                // Two types named twice: the refusal lists them in the order of the types.
                twice(&out.listeners, &random) { $0.address = Fixtures.socketAddress(1) }
                twice(&out.clusters, &random) { $0.connectTimeout = .init(seconds: 9) }
            default: break
            }
            return out
        }
    }

    struct Messages {
        var listeners: [Envoy_Config_Listener_V3_Listener] = []
        var scopedRoutes: [Envoy_Config_Route_V3_ScopedRouteConfiguration] = []
        var routes: [Envoy_Config_Route_V3_RouteConfiguration] = []
        var clusters: [Envoy_Config_Cluster_V3_Cluster] = []
        var endpoints: [Envoy_Config_Endpoint_V3_ClusterLoadAssignment] = []
        var secrets: [Envoy_Extensions_TransportSockets_Tls_V3_Secret] = []
    }

    @Test(arguments: 0..<12)
    func randomChangesGiveTheWholeSnapshot(seed: UInt64) throws {
        var random = SplitMix(seed: seed)
        var world = World()
        let encoder = SnapshotEncoder()
        var built = 0
        var refused = 0
        /// The last snapshot the encoder made.
        var last: Snapshot?
        for step in 0..<150 {
            for _ in 0..<Int.random(in: 1...4, using: &random) { world.change(&random) }
            // Mostly consistent sets, so that most builds are made from the last one.
            if Int.random(in: 0..<4, using: &random) != 0 { world.mend() }
            let m = try world.messages(&random)
            let whole = Result {
                try Snapshot(
                    listeners: m.listeners, scopedRoutes: m.scopedRoutes, routes: m.routes, clusters: m.clusters,
                    endpoints: m.endpoints, secrets: m.secrets)
            }
            let encoded = Result {
                try encoder.snapshot(
                    for: "g", listeners: m.listeners, scopedRoutes: m.scopedRoutes, routes: m.routes,
                    clusters: m.clusters, endpoints: m.endpoints, secrets: m.secrets)
            }
            switch (whole, encoded) {
            case (.success(let whole), .success(let encoded)):
                built += 1
                // Only what changed was checked: the references are counted exactly.
                #expect(!encoder.lastBuildCheckedWhole, "seed \(seed), step \(step)")
                #expect(encoder.referrerCounts(of: "g") == whole.referrers, "seed \(seed), step \(step)")
                #expect(encoded.version == whole.version, "seed \(seed), step \(step)")
                #expect(encoded.versions == whole.versions, "seed \(seed), step \(step)")
                #expect(encoded.edsServiceNames == whole.edsServiceNames, "seed \(seed), step \(step)")
                for type in ResourceType.allCases {
                    #expect(
                        encoded[type].mapValues(\.version) == whole[type].mapValues(\.version),
                        "seed \(seed), step \(step), \(type)")
                    #expect(
                        encoded[type].mapValues(\.references) == whole[type].mapValues(\.references),
                        "seed \(seed), step \(step), \(type)")
                    #expect(encoded.sorted(type).map(\.body) == whole.sorted(type).map(\.body))
                }
                last = encoded
            case (.failure(let whole), .failure(let encoded)):
                refused += 1
                #expect(encoder.lastBuildCheckedWhole, "seed \(seed), step \(step)")
                // The group keeps its last snapshot's state, counts included.
                if let last {
                    #expect(encoder.referrerCounts(of: "g") == last.referrers, "seed \(seed), step \(step)")
                }
                #expect(encoded as? SnapshotError == whole as? SnapshotError, "seed \(seed), step \(step)")
            default:
                Issue.record("seed \(seed), step \(step): a whole build gave \(whole), the encoder \(encoded)")
            }
        }
        // The runs exercise both outcomes.
        #expect(built > 60, "seed \(seed): \(built) built")
        #expect(refused > 5, "seed \(seed): \(refused) refused")
    }
}
