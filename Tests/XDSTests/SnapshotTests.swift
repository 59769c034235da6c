import EnvoyAPI
import EnvoyBuild
import TestSupport
import Testing

@testable import XDS

@Suite struct SnapshotTests {
    @Test func consistentSnapshotHasEveryType() throws {
        let snapshot = try Fixtures.httpSnapshot(
            port: 8080, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [9000]])
        #expect(snapshot[.listener].keys.sorted() == ["http-8080"])
        #expect(snapshot[.route].keys.sorted() == ["routes"])
        #expect(snapshot[.cluster].keys.sorted() == ["a"])
        #expect(snapshot[.endpoint].keys.sorted() == ["a"])
        #expect(snapshot.edsServiceNames == ["a": "a"])
        #expect(snapshot.resourceCount == 4)
    }

    @Test func versionsFollowContent() throws {
        let a = try Fixtures.httpSnapshot(port: 8080, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [9000]])
        let same = try Fixtures.httpSnapshot(
            port: 8080, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [9000]])
        let moved = try Fixtures.httpSnapshot(
            port: 8080, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [9001]])
        #expect(a.version == same.version)
        #expect(a.version != moved.version)
        #expect(a.versions[.endpoint] != moved.versions[.endpoint])
        #expect(a.versions[.listener] == moved.versions[.listener])
        #expect(a.versions[.cluster] == moved.versions[.cluster])
    }

    @Test func listenerNamingAMissingRouteIsRefused() throws {
        let error = #expect(throws: SnapshotError.self) {
            try Snapshot(listeners: [Fixtures.httpListener(port: 8080, routeConfig: "missing")])
        }
        #expect(
            error?.problems == [
                "listener \"http-8080\" names route configuration \"missing\", which the snapshot does not contain"
            ])
    }

    @Test func routeNamingAMissingClusterIsRefused() throws {
        let error = #expect(throws: SnapshotError.self) {
            try Snapshot(
                listeners: [Fixtures.httpListener(port: 8080, routeConfig: "r")],
                routes: [Fixtures.routes("r", [.init(prefix: "/", cluster: "ghost")])])
        }
        #expect(error?.description.contains("route configuration \"r\" names cluster \"ghost\"") == true)
    }

    @Test func edsClusterWithoutEndpointsIsRefused() throws {
        let error = #expect(throws: SnapshotError.self) {
            try Snapshot(clusters: [Fixtures.cluster("lonely")])
        }
        #expect(
            error?.problems == [
                "cluster \"lonely\" names cluster load assignment \"lonely\", which the snapshot does not contain"
            ])
    }

    @Test func tcpProxyAndSdsReferencesAreChecked() throws {
        var proxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy()
        proxy.statPrefix = "tcp"
        proxy.cluster = "db"
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.tcp_proxy"
        filter.typedConfig = try .packing(proxy)
        var tls = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext()
        var sds = Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig()
        sds.name = "cert"
        sds.sdsConfig = Fixtures.configSource(.ads)
        tls.commonTlsContext.tlsCertificateSdsSecretConfigs = [sds]
        var socket = Envoy_Config_Core_V3_TransportSocket()
        socket.name = "envoy.transport_sockets.tls"
        socket.typedConfig = try .packing(tls)
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.filters = [filter]
        chain.transportSocket = socket
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = "tls"
        listener.address = Fixtures.socketAddress(8443)
        listener.filterChains = [chain]
        let error = #expect(throws: SnapshotError.self) { try Snapshot(listeners: [listener]) }
        #expect(
            error?.problems.sorted() == [
                "listener \"tls\" names cluster \"db\", which the snapshot does not contain",
                "listener \"tls\" names secret \"cert\", which the snapshot does not contain",
            ])
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = "cert"
        _ = try Snapshot(
            listeners: [listener], clusters: [Fixtures.cluster("db")], endpoints: [Fixtures.endpoints("db", ports: [1])],
            secrets: [secret])
    }

    @Test func namesExactlyAreEachNameOnceInAnyOrder() throws {
        let snapshot = try Snapshot(routes: ["a", "b", "c"].map { Fixtures.routes($0, []) })
        #expect(snapshot.namesExactly(["a", "b", "c"], .route))
        #expect(snapshot.namesExactly(["c", "a", "b"], .route))
        #expect(!snapshot.namesExactly(["a", "a", "b"], .route))  // as many names, one missing
        #expect(!snapshot.namesExactly(["a", "b"], .route))
        #expect(!snapshot.namesExactly(["a", "b", "c", "d"], .route))
        #expect(!snapshot.namesExactly(["a", "b", "d"], .route))
        #expect(!snapshot.namesExactly([], .route))
        #expect(!snapshot.namesExactly(["a", "b", "c"], .cluster))
        #expect(!Snapshot.empty.namesExactly([], .route))
    }

    @Test func duplicateNamesAreRefused() throws {
        let error = #expect(throws: SnapshotError.self) {
            try Snapshot(
                clusters: [Fixtures.cluster("a"), Fixtures.cluster("a", source: .perTypeGRPC)],
                endpoints: [Fixtures.endpoints("a", ports: [1])])
        }
        #expect(error?.problems == ["two clusters are named \"a\""])
    }
}

@Suite struct SnapshotCacheTests {
    @Test func watchersSeeTheCurrentSnapshotThenChanges() async throws {
        let cache = SnapshotCache()
        let first = try Fixtures.httpSnapshot(port: 1, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [2]])
        let second = try Fixtures.httpSnapshot(port: 1, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [3]])
        cache.setSnapshot(first, for: "g")
        var updates = cache.updates(for: "g").makeAsyncIterator()
        #expect(await updates.next()?.version == first.version)
        cache.setSnapshot(first, for: "g")  // same content: nobody is woken
        cache.setSnapshot(second, for: "g")
        #expect(await updates.next()?.version == second.version)
        cache.setSnapshot(first, for: "other")
        cache.removeSnapshot(for: "g")
        #expect(await updates.next()?.version == Snapshot.empty.version)
        #expect(cache.groups == ["other"])
    }

    @Test func unknownGroupGetsAnEmptySnapshot() async {
        let cache = SnapshotCache()
        var updates = cache.updates(for: "nobody/here").makeAsyncIterator()
        let snapshot = await updates.next()
        #expect(snapshot?.resourceCount == 0)
        #expect(cache.snapshot(for: "nobody/here").version == Snapshot.empty.version)
    }
}
