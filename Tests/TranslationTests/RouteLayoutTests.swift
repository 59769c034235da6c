import EnvoyAPI
import EnvoyBuild
import Foundation
import GatewayModel
import Testing
import Translation
import XDS

/// The scoped route layout says what the single layout says, split by hostname: for every
/// golden world, each proxy group's scopes are exactly the virtual hosts with routes of
/// one plain-HTTP route table whose such hosts are all exact hostnames, each keyed on its
/// hostname; everything else is built as in the single layout.
@Suite struct RouteLayoutTests {
    typealias ConnectionManager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    static func connectionManagers(_ listener: Envoy_Config_Listener_V3_Listener) throws -> [ConnectionManager] {
        try listener.filterChains.flatMap(\.filters).compactMap { filter in
            guard case .typedConfig(let any)? = filter.configType, any.isA(ConnectionManager.self) else { return nil }
            return try ConnectionManager(unpackingAny: any)
        }
    }

    @Test func scopesAreTheSingleLayoutsHostsOfOneTable() throws {
        var scopedGroups = 0
        for name in GoldenTests.cases {
            let result = Translator(now: IncrementalTests.now).translate(try IncrementalTests.world(name))
            let single = EnvoyBuilder().build(result.plans, identical: result.identical)
            let scoped = EnvoyBuilder(routeLayout: .scoped).build(result.plans, identical: result.identical)
            #expect(single.keys.sorted() == scoped.keys.sorted(), "\(name)")
            for (group, one) in single.sorted(by: { $0.key < $1.key }) {
                let split = try #require(scoped[group])
                let what = "\(name), group \(group)"
                #expect(one.scopedRoutes.isEmpty)
                #expect(split.clusters == one.clusters && split.endpoints == one.endpoints && split.secrets == one.secrets, "\(what)")
                // The tables the scoped layout still sends are the single layout's.
                let kept = Set(split.routes.map(\.name))
                #expect(split.routes == one.routes.filter { kept.contains($0.name) }, "\(what)")
                let missing = one.routes.filter { !kept.contains($0.name) }
                #expect(missing.count <= 1, "\(what): more than one table scoped")
                guard let table = missing.first else {
                    #expect(split.scopedRoutes.isEmpty, "\(what)")
                    #expect(split.listeners == one.listeners, "\(what)")
                    continue
                }
                scopedGroups += 1
                // Its hosts with routes, one scope each, keyed on the one exact hostname.
                let hosts = table.virtualHosts.filter { !$0.routes.isEmpty }
                #expect(split.scopedRoutes.map(\.name) == hosts.flatMap(\.domains), "\(what)")
                for (scope, host) in zip(split.scopedRoutes, hosts) {
                    #expect(host.domains.count == 1 && !host.domains[0].contains("*"), "\(what): \(host.domains)")
                    #expect(scope.key.fragments.map(\.stringKey) == host.domains, "\(what)")
                    #expect(scope.routeConfiguration.virtualHosts == [host], "\(what)")
                    #expect(scope.routeConfiguration.ignorePortInHostMatching == table.ignorePortInHostMatching)
                    #expect(scope.routeConfiguration.validateClusters == table.validateClusters)
                }
                // The one connection manager that named the table now finds its routes by scope.
                var managers = 0
                for (before, after) in zip(one.listeners, split.listeners) {
                    #expect(before.name == after.name)
                    for (old, new) in zip(try Self.connectionManagers(before), try Self.connectionManagers(after)) {
                        if case .rds(let rds)? = old.routeSpecifier, rds.routeConfigName == table.name {
                            managers += 1
                            #expect(new.scopedRoutes.name == table.name, "\(what)")
                            #expect(new.scopedRoutes.scopeKeyBuilder.fragments.first?.headerValueExtractor.name == ":authority")
                            var unscoped = new
                            unscoped.rds = rds
                            #expect(unscoped == old, "\(what): the connection manager changed beyond its routes")
                        } else {
                            #expect(new == old, "\(what)")
                        }
                    }
                }
                #expect(managers == 1, "\(what)")
                // A consistent snapshot: every scope's clusters are in it.
                do {
                    _ = try Snapshot(
                        listeners: split.listeners, scopedRoutes: split.scopedRoutes, routes: split.routes,
                        clusters: split.clusters, endpoints: split.endpoints, secrets: split.secrets)
                } catch {
                    Issue.record("\(what): \(error)")
                }
            }
        }
        // Not vacuous: most golden worlds have a listener of exact hostnames.
        #expect(scopedGroups >= 10, "only \(scopedGroups) groups had a table scoped")
    }

    /// Among eligible tables the first by address and port is scoped, however many hosts
    /// the others have; a listener with a wildcard hostname's routes is never scoped.
    @Test func theFirstExactTableIsScoped() throws {
        let world = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: chancery}
            spec: {controllerName: chancery.dev/gateway-controller}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: edge, namespace: apps}
            spec:
              gatewayClassName: chancery
              listeners:
              - {name: small, protocol: HTTP, port: 8001}
              - {name: large, protocol: HTTP, port: 8002}
              - {name: wild, protocol: HTTP, port: 8003, hostname: "*.wild.example"}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: app, namespace: apps}
            spec: {ports: [{port: 80}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: s, namespace: apps}
            spec:
              parentRefs: [{name: edge, sectionName: small}]
              hostnames: [s.example]
              rules: [{backendRefs: [{name: app, port: 80}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: l, namespace: apps}
            spec:
              parentRefs: [{name: edge, sectionName: large}]
              hostnames: [l1.example, l2.example]
              rules: [{backendRefs: [{name: app, port: 80}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: w, namespace: apps}
            spec:
              parentRefs: [{name: edge, sectionName: wild}]
              hostnames: [a.wild.example, b.wild.example, c.wild.example, "*.wild.example"]
              rules: [{backendRefs: [{name: app, port: 80}]}]
            """
        let decoded = ManifestDecoder.decode(file: "layout.yaml", contents: world)
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let result = Translator(now: IncrementalTests.now).translate(ResourceSet(manifests: decoded.manifests))
        let config = try #require(EnvoyBuilder(routeLayout: .scoped).build(result.plans, identical: result.identical)["apps/edge"])
        #expect(config.scopedRoutes.map { $0.key.fragments.map(\.stringKey) } == [["s.example"]])
        #expect(config.scopedRoutes.map(\.name) == ["s.example"])
        #expect(config.routes.map(\.name).sorted() == ["0.0.0.0:8002", "0.0.0.0:8003"])
    }
}
