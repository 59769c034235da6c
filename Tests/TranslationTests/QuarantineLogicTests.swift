import Foundation
import GatewayModel
import IR
import Testing

@testable import Translation

/// Which objects a rejection blames, what translation sees instead, and when they leave.
@Suite struct QuarantineLogicTests {
    static func manifest(_ yaml: String) throws -> Manifest {
        let result = ManifestDecoder.decode(file: "test.yaml", contents: yaml)
        return try #require(result.manifests.first, "\(result.errors)")
    }

    static func route(_ name: String, path: String) throws -> Manifest {
        try manifest(
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: \(name), namespace: app}
            spec:
              parentRefs: [{name: gw, namespace: infra}]
              rules: [{matches: [{path: {type: PathPrefix, value: \(path)}}]}]
            """)
    }

    static func gateway(port: Int) throws -> Manifest {
        try manifest(
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: gw, namespace: infra}
            spec:
              gatewayClassName: chancery
              listeners: [{name: http, protocol: HTTP, port: \(port)}]
            """)
    }

    static let gw = ObjectKey(.gateway, namespace: "infra", name: "gw")
    static let a = ObjectKey(.httpRoute, namespace: "app", name: "a")
    static let b = ObjectKey(.httpRoute, namespace: "app", name: "b")
    static let origins: [ResourceKey: Set<ObjectKey>] = [
        ResourceKey(.listener, "0.0.0.0:8080"): [gw],
        ResourceKey(.listener, "0.0.0.0:80"): [gw],
        ResourceKey(.route, "0.0.0.0:8080"): [gw, a, b],
    ]

    static func rejection(_ kind: ResourceKind, _ message: String, pushed: [String: String], accepted: [String: String] = [:])
        -> ProxyRejection
    {
        ProxyRejection(proxy: "p1", group: "infra/gw", kind: kind, message: message, pushed: pushed, accepted: accepted)
    }

    @Test func suspectsAreTheResourcesEnvoyNamesElseThoseThePushChanged() {
        let named = Self.rejection(
            .listener, "Error adding/updating listener(s) 0.0.0.0:8080: cannot bind: Address already in use",
            pushed: ["0.0.0.0:80": "1", "0.0.0.0:8080": "1"])
        #expect(named.suspects == [ResourceKey(.listener, "0.0.0.0:8080")], "0.0.0.0:80 is not named by 0.0.0.0:8080")
        let changed = Self.rejection(
            .route, "invalid perl operator: (?!", pushed: ["r1": "2", "r2": "1"], accepted: ["r1": "1", "r2": "1"])
        #expect(changed.suspects == [ResourceKey(.route, "r1")])
        let unknown = Self.rejection(.route, "something", pushed: ["r1": "1", "r2": "1"], accepted: ["r1": "1", "r2": "1"])
        #expect(unknown.suspects.count == 2)
    }

    @Test func theObjectThatChangedIsBlamedAndSeenAsItWasBefore() throws {
        let before = ResourceSet(manifests: [try Self.gateway(port: 8080), try Self.route("a", path: "/a")])
        let after = ResourceSet(manifests: [
            try Self.gateway(port: 8080), try Self.route("a", path: "/a2"), try Self.route("b", path: "/b"),
        ])
        var quarantine = Quarantine()
        quarantine.noteChanges(after.changedKeys(since: before), previous: before)
        let rejection = Self.rejection(.route, "invalid", pushed: ["0.0.0.0:8080": "2"], accepted: ["0.0.0.0:8080": "1"])
        // The Gateway did not change: only the two routes are blamed.
        #expect(quarantine.culprits(of: rejection, origins: Self.origins, in: after) == [Self.a, Self.b])
        let added = quarantine.reject(rejection, origins: Self.origins, in: after, statuses: [:], at: Date())
        #expect(added == [Self.a, Self.b])
        // The same versions are never quarantined twice: nothing to oscillate.
        #expect(quarantine.reject(rejection, origins: Self.origins, in: after, statuses: [:], at: Date()).isEmpty)

        let (effective, released) = quarantine.apply(to: after)
        #expect(released.isEmpty)
        #expect(effective[Self.a] == before[Self.a], "a is seen as the fleet last held it")
        #expect(effective[Self.b] == nil, "b is new: it is left out")
        #expect(effective[Self.gw] == after[Self.gw])
        #expect(effective.count(of: .httpRoute) == 1)

        var statuses: [ObjectKey: ObjectStatus] = [:]
        quarantine.patch(&statuses)
        let programmed = try #require(statuses[Self.b]?.conditions.first { $0.type == .programmed })
        #expect(!programmed.isTrue && programmed.reason == .quarantined)
        #expect(programmed.message.contains("proxy p1 (group infra/gw) rejected route 0.0.0.0:8080: invalid"))

        // b changes: it leaves quarantine; a stays.
        var edited = after
        edited.replace(Self.b, with: try Self.route("b", path: "/b2"))
        let (second, left) = quarantine.apply(to: edited)
        #expect(left == [Self.b])
        #expect(second[Self.b] == edited[Self.b])
        #expect(second[Self.a] == before[Self.a])
        #expect(quarantine.entries.keys.sorted() == [Self.a])
    }

    @Test func withoutAChangeToBlameNothingIsQuarantined() throws {
        let set = ResourceSet(manifests: [
            try Self.gateway(port: 8080), try Self.route("a", path: "/a"), try Self.route("b", path: "/b"),
        ])
        var quarantine = Quarantine()
        // Nothing changed since the fleet was in sync (or Chancery just started).
        let routes = Self.rejection(.route, "invalid", pushed: ["0.0.0.0:8080": "2"])
        #expect(quarantine.culprits(of: routes, origins: Self.origins, in: set).isEmpty, "three origins: no guess")
        let listener = Self.rejection(
            .listener, "Error adding/updating listener(s) 0.0.0.0:8080: cannot bind", pushed: ["0.0.0.0:8080": "2"])
        // Not even the one Gateway behind a listener: Envoy kept its other listeners.
        #expect(quarantine.culprits(of: listener, origins: Self.origins, in: set).isEmpty)
        // Once the fleet is in sync, earlier changes are forgotten.
        quarantine.noteChanges([Self.a], previous: set)
        #expect(quarantine.culprits(of: routes, origins: Self.origins, in: set) == [Self.a])
        quarantine.fleetInSync()
        #expect(quarantine.culprits(of: routes, origins: Self.origins, in: set).isEmpty)
    }
}
