import EnvoyAPI
import Testing
import TestSupport

@testable import XDS

/// Drives a session the way Envoy drives a stream.
extension StreamSession {
    mutating func request(
        _ type: ResourceType, _ names: [String] = [], answering push: Push? = nil, error: String? = nil
    ) -> (RequestOutcome, [Push]) {
        receive(
            typeURL: type.typeURL, versionInfo: error == nil ? (push?.version ?? "") : "", nonce: push?.nonce ?? "",
            names: names, errorMessage: error)
    }

    mutating func delta(
        _ type: ResourceType, subscribe: [String] = [], unsubscribe: [String] = [],
        initial: [String: String] = [:], answering push: Push? = nil, nonce: String? = nil, error: String? = nil
    ) -> (RequestOutcome, [Push]) {
        receiveDelta(
            typeURL: type.typeURL, nonce: nonce ?? push?.nonce ?? "", subscribe: subscribe, unsubscribe: unsubscribe,
            initialVersions: initial, errorMessage: error)
    }
}

private func world(_ routes: [Fixtures.Route], _ backends: [String: [Int]]) throws -> Snapshot {
    try Fixtures.httpSnapshot(port: 8080, routes: routes, backends: backends)
}

private func only(_ pushes: [Push], _ type: ResourceType, sourceLocation: SourceLocation = #_sourceLocation) -> Push? {
    #expect(pushes.map(\.type) == [type], sourceLocation: sourceLocation)
    return pushes.first
}

/// A session that has gone through Envoy's whole start-up and ACKed everything:
/// each push is answered in turn, as Envoy does.
private func settledSession(_ snapshot: Snapshot, mode: StreamSession.Mode = .stateOfTheWorld) -> StreamSession {
    var session = StreamSession(mode: mode, snapshot: snapshot)
    let names: [ResourceType: [String]] = [
        .cluster: [], .listener: [], .scopedRoute: [],
        .endpoint: snapshot[.cluster].keys.sorted(), .route: snapshot[.route].keys.sorted(),
    ]
    func ask(_ type: ResourceType, answering push: Push? = nil) -> [Push] {
        switch mode {
        case .stateOfTheWorld: session.request(type, names[type]!, answering: push).1
        case .delta: push == nil ? session.delta(type, subscribe: names[type]!).1 : session.delta(type, answering: push).1
        }
    }
    var queue: [Push] = []
    // Scopes are asked for when a listener finds its routes by scope, as Envoy does.
    let types: [ResourceType] =
        [.cluster, .endpoint, .listener] + (snapshot[.scopedRoute].isEmpty ? [] : [.scopedRoute]) + [.route]
    for type in types {
        queue += ask(type)
        while !queue.isEmpty {
            let push = queue.removeFirst()
            queue += ask(push.type, answering: push)
        }
    }
    precondition(ResourceType.allCases.allSatisfy { session.pendingNonce($0) == nil }, "session did not settle")
    return session
}

/// The scoped layout (docs/xds.md): listener `http-8080` finds its routes by scope, one
/// scope per host, each carrying a route to cluster a.
private func scopedWorld(_ hosts: [String]) throws -> Snapshot {
    var listener = Envoy_Config_Listener_V3_Listener()
    listener.name = "http-8080"
    listener.address = Fixtures.socketAddress(8080)
    let scopes = hosts.map { host in
        var scope = Envoy_Config_Route_V3_ScopedRouteConfiguration()
        scope.name = host
        var fragment = Envoy_Config_Route_V3_ScopedRouteConfiguration.Key.Fragment()
        fragment.stringKey = host
        scope.key.fragments = [fragment]
        scope.routeConfiguration = Fixtures.routes(host, [.init(prefix: "/", cluster: "a")])
        return scope
    }
    return try Snapshot(
        listeners: [listener], scopedRoutes: scopes, clusters: [Fixtures.cluster("a")],
        endpoints: [Fixtures.endpoints("a", ports: [1])])
}

/// A listener leaving the scoped layout keeps its scopes until its new connection
/// manager has the route configuration it names: Envoy serves from the old one, and so
/// from the scopes, while the new one warms.
@Suite struct ScopedRoutesTests {
    @Test func scopesStayUntilTheListenerThatReplacesThemHasItsRoutes() throws {
        var session = settledSession(try scopedWorld(["a.example", "b.example"]))
        let single = try world([.init(prefix: "/", cluster: "a")], ["a": [1]])
        let lds = try #require(only(session.update(single), .listener), "the scopes are not removed yet")
        #expect(session.request(.listener, answering: lds).1.isEmpty, "the new listener's routes are not held yet")
        let rds = try #require(only(session.request(.route, ["routes"]).1, .route))
        let srds = try #require(only(session.request(.route, ["routes"], answering: rds).1, .scopedRoute))
        #expect(srds.resources.isEmpty, "now the scopes go")
        #expect(session.request(.scopedRoute, answering: srds).1.isEmpty)
        #expect(session.isInSync)
    }

    @Test func deltaRemovesScopesOnlyOnceTheNewListenerHasItsRoutes() throws {
        var session = settledSession(try scopedWorld(["a.example", "b.example"]), mode: .delta)
        let single = try world([.init(prefix: "/", cluster: "a")], ["a": [1]])
        let lds = try #require(only(session.update(single), .listener))
        #expect(session.delta(.listener, answering: lds).1.isEmpty)
        let rds = try #require(only(session.delta(.route, subscribe: ["routes"]).1, .route))
        let srds = try #require(only(session.delta(.route, answering: rds).1, .scopedRoute))
        #expect(srds.resources.isEmpty)
        #expect(srds.removed == ["a.example", "b.example"])
    }

    /// A scope that changes while nothing else does goes at once, and so does a removed
    /// one: holding is only for listeners in flight.
    @Test func scopeChangesAloneAreNotHeld() throws {
        var session = settledSession(try scopedWorld(["a.example", "b.example"]))
        let fewer = try #require(only(session.update(try scopedWorld(["a.example"])), .scopedRoute))
        #expect(fewer.resources.map(\.name) == ["a.example"])
    }
}

@Suite struct StateOfTheWorldTests {
    @Test func firstRequestIsAnsweredEvenWhenThereIsNothing() {
        var session = StreamSession(mode: .stateOfTheWorld)
        let (outcome, pushes) = session.request(.cluster)
        #expect(outcome == .subscribed)
        let push = only(pushes, .cluster)
        #expect(push?.resources.isEmpty == true)
        #expect(push?.version == Snapshot.empty.versions[.cluster])
    }

    @Test func ackedContentIsNotSentAgain() throws {
        var session = StreamSession(mode: .stateOfTheWorld, snapshot: try world([.init(prefix: "/", cluster: "a")], ["a": [1]]))
        let push = try #require(session.request(.cluster).1.first)
        #expect(push.resources.map(\.name) == ["a"])
        let (outcome, pushes) = session.request(.cluster, answering: push)
        #expect(outcome == .ack(nonce: push.nonce, version: push.version))
        #expect(pushes.isEmpty)
        // The same snapshot again wakes nothing.
        #expect(session.update(try world([.init(prefix: "/", cluster: "a")], ["a": [1]])).isEmpty)
    }

    @Test func changeSendsOnlyTheTypesThatChanged() throws {
        var session = settledSession(try world([.init(prefix: "/", cluster: "a")], ["a": [1]]))
        let pushes = session.update(try world([.init(prefix: "/", cluster: "a")], ["a": [2]]))
        let eds = only(pushes, .endpoint)
        #expect(eds?.resources.map(\.name) == ["a"])
    }

    @Test func onePushInFlightPerType() throws {
        var session = StreamSession(mode: .stateOfTheWorld, snapshot: try world([.init(prefix: "/", cluster: "a")], ["a": [1]]))
        let first = try #require(session.request(.cluster).1.first)
        let next = try world([.init(prefix: "/", cluster: "b")], ["b": [1]])
        #expect(session.update(next).isEmpty, "CDS is un-ACKed: the change waits")
        let (_, pushes) = session.request(.cluster, answering: first)
        let second = only(pushes, .cluster)
        #expect(second?.resources.map(\.name) == ["b"])
        #expect(second?.nonce != first.nonce)
    }

    @Test func nackIsRecordedAndTheRejectedContentIsNotResent() throws {
        let bad = try world([.init(regex: "(", cluster: "a")], ["a": [1]])
        var session = settledSession(try world([.init(prefix: "/", cluster: "a")], ["a": [1]]))
        let rds = try #require(only(session.update(bad), .route))
        let (outcome, pushes) = session.request(.route, ["routes"], answering: rds, error: "invalid regex")
        #expect(outcome == .nack(nonce: rds.nonce, version: rds.version, message: "invalid regex"))
        #expect(pushes.isEmpty, "never resend a rejected version")
        #expect(session.update(bad).isEmpty)
        let fixed = try world([.init(prefix: "/fixed", cluster: "a")], ["a": [1]])
        let retry = only(session.update(fixed), .route)
        #expect(retry != nil && retry?.version != rds.version)
    }

    @Test func staleNonceIsNotAnAck() throws {
        var session = StreamSession(mode: .stateOfTheWorld, snapshot: try world([.init(prefix: "/", cluster: "a")], ["a": [1]]))
        let first = try #require(session.request(.cluster).1.first)
        _ = session.request(.cluster, answering: first)
        let second = try #require(session.update(try world([.init(prefix: "/", cluster: "b")], ["b": [1]])).first)
        let (outcome, pushes) = session.request(.cluster, answering: first)
        #expect(outcome == .stale(nonce: first.nonce))
        #expect(pushes.isEmpty)
        #expect(session.pendingNonce(.cluster) == second.nonce)
    }

    /// Start-up on ADS: clusters, then endpoints, and only then listeners and routes,
    /// so no route ever names a cluster Envoy does not have warm.
    @Test func adsOrderIsClustersEndpointsListenersRoutes() throws {
        var session = StreamSession(mode: .stateOfTheWorld, snapshot: try world([.init(prefix: "/", cluster: "a")], ["a": [1]]))
        let (_, first) = session.request(.cluster)
        let cds = try #require(only(first, .cluster))
        // Envoy asks for listeners before it has subscribed to the cluster's endpoints.
        #expect(session.request(.listener).1.isEmpty, "LDS waits for CDS to be ACKed")
        #expect(session.request(.cluster, answering: cds).1.isEmpty, "LDS waits for the EDS subscription")
        let eds = try #require(only(session.request(.endpoint, ["a"]).1, .endpoint))
        #expect(eds.resources.map(\.name) == ["a"])
        let lds = try #require(only(session.request(.endpoint, ["a"], answering: eds).1, .listener))
        #expect(lds.resources.map(\.name) == ["http-8080"])
        let rds = try #require(only(session.request(.route, ["routes"]).1, .route))
        #expect(rds.resources.map(\.name) == ["routes"])
    }

    /// A new route to a new cluster: the cluster and its endpoints land first.
    @Test func newClusterLandsBeforeTheRouteThatNamesIt() throws {
        var session = settledSession(try world([.init(prefix: "/", cluster: "a")], ["a": [1]]))
        let next = try world([.init(prefix: "/b", cluster: "b"), .init(prefix: "/", cluster: "a")], ["a": [1], "b": [2]])
        let cds = try #require(only(session.update(next), .cluster))
        #expect(cds.resources.map(\.name) == ["a", "b"])
        #expect(session.request(.cluster, answering: cds).1.isEmpty, "routes wait for b's endpoints")
        let eds = try #require(only(session.request(.endpoint, ["a", "b"]).1, .endpoint))
        let rds = try #require(only(session.request(.endpoint, ["a", "b"], answering: eds).1, .route))
        #expect(rds.resources.first?.name == "routes")
    }

    /// A route stops naming a cluster that goes away: the cluster stays until the
    /// routes without it are ACKed.
    @Test func removedClusterStaysUntilRoutesAreAcked() throws {
        var session = settledSession(
            try world([.init(prefix: "/b", cluster: "b"), .init(prefix: "/", cluster: "a")], ["a": [1], "b": [2]]))
        let next = try world([.init(prefix: "/", cluster: "a")], ["a": [1]])
        let rds = try #require(only(session.update(next), .route), "routes change first; b is held")
        let (_, after) = session.request(.route, ["routes"], answering: rds)
        let cds = try #require(only(after, .cluster))
        #expect(cds.resources.map(\.name) == ["a"])
        // A state-of-the-world EDS response lacking b would not delete it: nothing to send
        // until Envoy drops b from its subscription.
        #expect(session.request(.cluster, answering: cds).1.isEmpty)
    }

    /// A listener moved to another port (so another name): the old one stays in the set
    /// until Envoy ACKs the new one, then goes.
    @Test func aReplacedListenerStaysUntilItsReplacementIsAcked() throws {
        var session = settledSession(try world([.init(prefix: "/", cluster: "a")], ["a": [1]]))
        let moved = try Fixtures.httpSnapshot(port: 9090, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [1]])
        let first = try #require(only(session.update(moved), .listener))
        #expect(first.resources.map(\.name) == ["http-8080", "http-9090"], "made before the old one is broken")
        #expect(!session.isInSync)
        let (_, after) = session.request(.listener, answering: first)
        let second = try #require(only(after, .listener))
        #expect(second.resources.map(\.name) == ["http-9090"])
        #expect(session.request(.listener, answering: second).1.isEmpty)
        #expect(session.isInSync)
    }

    /// The new listener is rejected (a port in use on the proxy's host): the old one is
    /// never taken away, and nothing is re-sent until the set changes.
    @Test func aRejectedReplacementNeverCostsTheOldListener() throws {
        var session = settledSession(try world([.init(prefix: "/", cluster: "a")], ["a": [1]]))
        let moved = try Fixtures.httpSnapshot(port: 9090, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [1]])
        let first = try #require(only(session.update(moved), .listener))
        #expect(first.resources.map(\.name) == ["http-8080", "http-9090"])
        let (outcome, pushes) = session.request(.listener, answering: first, error: "cannot bind: Address already in use")
        #expect(outcome == .nack(nonce: first.nonce, version: first.version, message: "cannot bind: Address already in use"))
        #expect(pushes.isEmpty, "the old listener stays: nothing without it is sent")
        // An unrelated change elsewhere still leaves the old listener in place.
        let other = try Fixtures.httpSnapshot(port: 9090, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [2]])
        let eds = try #require(only(session.update(other), .endpoint))
        #expect(session.request(.endpoint, ["a"], answering: eds).1.isEmpty)
        // Back to the old port (what quarantine does): the rejected listener goes.
        let back = try #require(only(session.update(try world([.init(prefix: "/", cluster: "a")], ["a": [2]])), .listener))
        #expect(back.resources.map(\.name) == ["http-8080"])
    }

    /// Delta: the new listener is added, and the old one removed only after the ACK.
    @Test func deltaRemovesAReplacedListenerOnlyAfterTheAck() throws {
        var session = settledSession(try world([.init(prefix: "/", cluster: "a")], ["a": [1]]), mode: .delta)
        let moved = try Fixtures.httpSnapshot(port: 9090, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [1]])
        let first = try #require(only(session.update(moved), .listener))
        #expect(first.resources.map(\.name) == ["http-9090"])
        #expect(first.removed.isEmpty)
        let second = try #require(only(session.delta(.listener, answering: first).1, .listener))
        #expect(second.resources.isEmpty)
        #expect(second.removed == ["http-8080"])
    }

    /// A changed EDS cluster is re-created by Envoy and warms until it gets endpoints.
    @Test func changedClusterIsSentItsEndpointsAgain() throws {
        var session = settledSession(try world([.init(prefix: "/", cluster: "a")], ["a": [1]]))
        var changed = Fixtures.cluster("a")
        changed.connectTimeout = .init(seconds: 3)
        let next = try Snapshot(
            listeners: [Fixtures.httpListener(port: 8080, routeConfig: "routes")],
            routes: [Fixtures.routes("routes", [.init(prefix: "/", cluster: "a")])],
            clusters: [changed], endpoints: [Fixtures.endpoints("a", ports: [1])])
        let pushes = session.update(next)
        #expect(pushes.map(\.type) == [.cluster, .endpoint])
        #expect(pushes.last?.resources.map(\.name) == ["a"])
    }

    @Test func requestedNamesThatAreMissingAreSentWhenTheyAppear() throws {
        var session = StreamSession(mode: .stateOfTheWorld, served: [.route])
        let empty = try #require(only(session.request(.route, ["later"]).1, .route))
        #expect(empty.resources.isEmpty)
        _ = session.request(.route, ["later"], answering: empty)
        let later = try Snapshot(routes: [Fixtures.routes("later", [])])
        let push = try #require(only(session.update(later), .route))
        #expect(push.resources.map(\.name) == ["later"])
    }

    @Test func changedSubscriptionIsAnsweredEvenIfNothingChanged() throws {
        var session = StreamSession(
            mode: .stateOfTheWorld, served: [.route], snapshot: try Snapshot(routes: [Fixtures.routes("r", [])]))
        let first = try #require(session.request(.route, ["r"]).1.first)
        let (_, pushes) = session.request(.route, ["r", "s"], answering: first)
        #expect(only(pushes, .route)?.resources.map(\.name) == ["r"])
    }

    @Test func aSubscriptionIsWhatItNamesWhateverTheOrderOrRepeats() throws {
        let snapshot = try Snapshot(routes: ["r", "s"].map { Fixtures.routes($0, []) })
        var session = StreamSession(mode: .stateOfTheWorld, served: [.route], snapshot: snapshot)
        // As many names as the snapshot has routes, but one named twice: only it.
        let first = try #require(only(session.request(.route, ["r", "r"]).1, .route))
        #expect(first.resources.map(\.name) == ["r"])
        let (_, both) = session.request(.route, ["s", "r"], answering: first)
        let second = try #require(only(both, .route))
        #expect(second.resources.map(\.name) == ["r", "s"])
        #expect(session.types[.route]?.subscription.names == ["r", "s"])
        // An ACK naming them again changes nothing and is not answered.
        let (outcome, none) = session.request(.route, ["r", "s"], answering: second)
        #expect(outcome == .ack(nonce: second.nonce, version: second.version))
        #expect(none.isEmpty)
        let (_, again) = session.request(.route, ["r", "r"], answering: second)
        #expect(only(again, .route)?.resources.map(\.name) == ["r"])
    }

    /// A snapshot that comes back to a stream (`Snapshot.empty` when its group is
    /// removed, or one shared with another group) does not bring its shared nonce back.
    @Test func aSnapshotComingBackGetsTheStreamsOwnNonce() throws {
        var session = StreamSession(mode: .stateOfTheWorld, served: [.listener], snapshot: .empty)
        let first = try #require(only(session.request(.listener).1, .listener))
        #expect(first.whole)
        #expect(first.nonce == Snapshot.empty.sharedNonce(.listener))
        let world = try Fixtures.httpSnapshot(port: 8080, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [1]])
        _ = session.request(.listener, answering: first)
        let second = try #require(only(session.update(world), .listener))
        #expect(second.nonce == world.sharedNonce(.listener))
        _ = session.request(.listener, answering: second)
        let third = try #require(only(session.update(.empty), .listener))
        #expect(third.resources.isEmpty)
        #expect(!third.whole)
        #expect(Set([first.nonce, second.nonce, third.nonce]).count == 3)
    }

    @Test func perTypeStreamRefusesOtherTypes() {
        var session = StreamSession(mode: .stateOfTheWorld, served: [.listener])
        let (outcome, pushes) = session.request(.cluster)
        #expect(outcome == .unsupportedType(ResourceType.cluster.typeURL))
        #expect(pushes.isEmpty)
    }
}

@Suite struct DeltaTests {
    @Test func reconnectSendsOnlyWhatDiffers() throws {
        let before = try world([.init(prefix: "/", cluster: "a")], ["a": [1], "b": [2]])
        let after = try world([.init(prefix: "/", cluster: "a")], ["a": [1], "b": [3], "c": [4]])
        var session = StreamSession(mode: .delta, snapshot: after)
        // Envoy reconnects holding the versions it had before.
        let initial = before[.endpoint].mapValues(\.version)
        let (_, pushes) = session.delta(.endpoint, subscribe: ["a", "b", "c"], initial: initial)
        let push = try #require(only(pushes, .endpoint))
        #expect(push.resources.map(\.name) == ["b", "c"])
        #expect(push.removed.isEmpty)
    }

    @Test func reconnectWithEverythingCurrentGetsAnEmptyAnswer() throws {
        let snapshot = try world([.init(prefix: "/", cluster: "a")], ["a": [1]])
        var session = StreamSession(mode: .delta, snapshot: snapshot)
        let (_, pushes) = session.delta(.cluster, initial: snapshot[.cluster].mapValues(\.version))
        let push = try #require(only(pushes, .cluster))
        #expect(push.resources.isEmpty && push.removed.isEmpty)
    }

    @Test func removalsGoInRemovedResources() throws {
        var session = settledSession(
            try world([.init(prefix: "/b", cluster: "b"), .init(prefix: "/", cluster: "a")], ["a": [1], "b": [2]]),
            mode: .delta)
        let next = try world([.init(prefix: "/", cluster: "a")], ["a": [1]])
        let rds = try #require(only(session.update(next), .route))
        #expect(rds.resources.map(\.name) == ["routes"])
        let cds = try #require(only(session.delta(.route, answering: rds).1, .cluster))
        #expect(cds.resources.isEmpty)
        #expect(cds.removed == ["b"])
        // b's endpoints go once the cluster removal is ACKed.
        let eds = try #require(only(session.delta(.cluster, answering: cds).1, .endpoint))
        #expect(eds.removed == ["b"])
    }

    @Test func missingSubscribedNameIsAnnouncedAsRemoved() throws {
        var session = StreamSession(mode: .delta, served: [.route], snapshot: try Snapshot(routes: [Fixtures.routes("r", [])]))
        let push = try #require(only(session.delta(.route, subscribe: ["r", "nope"]).1, .route))
        #expect(push.resources.map(\.name) == ["r"])
        #expect(push.removed == ["nope"])
        _ = session.delta(.route, answering: push)
        let later = try Snapshot(routes: [Fixtures.routes("r", []), Fixtures.routes("nope", [])])
        #expect(only(session.update(later), .route)?.resources.map(\.name) == ["nope"])
    }

    @Test func subscriptionChangesCountEvenWithAStaleNonce() throws {
        let snapshot = try Snapshot(routes: [Fixtures.routes("r", []), Fixtures.routes("s", [])])
        var session = StreamSession(mode: .delta, served: [.route], snapshot: snapshot)
        let first = try #require(session.delta(.route, subscribe: ["r"]).1.first)
        let (outcome, pushes) = session.delta(.route, subscribe: ["s"], nonce: "999")
        #expect(outcome == .stale(nonce: "999"))
        #expect(pushes.isEmpty, "one push in flight")
        let (_, afterAck) = session.delta(.route, answering: first)
        #expect(only(afterAck, .route)?.resources.map(\.name) == ["s"])
    }

    @Test func unsubscribedNamesAreForgotten() throws {
        let snapshot = try Snapshot(routes: [Fixtures.routes("r", []), Fixtures.routes("s", [])])
        var session = StreamSession(mode: .delta, served: [.route], snapshot: snapshot)
        let first = try #require(session.delta(.route, subscribe: ["r", "s"]).1.first)
        #expect(first.resources.map(\.name) == ["r", "s"])
        _ = session.delta(.route, answering: first)
        _ = session.delta(.route, unsubscribe: ["s"])
        let next = try Snapshot(routes: [Fixtures.routes("r", []), Fixtures.routes("s", [.init(prefix: "/", cluster: "x")])].map {
            $0
        }.filter { $0.name == "r" } + [Fixtures.routes("s", [])])
        #expect(session.update(next).isEmpty, "s is no longer subscribed")
    }

    /// A rejected delta response is not applied, so a cluster it removed may still be held:
    /// the removal is not repeated at once (the rejected content is not sent again), but it
    /// goes with the type's next content.
    @Test func deltaRemovalTheClientRejectedIsSentAgainWithTheNextContent() throws {
        func clusters(_ names: [String]) throws -> Snapshot {
            try Snapshot(clusters: names.map { Fixtures.cluster($0) }, endpoints: names.map { Fixtures.endpoints($0, ports: [1]) })
        }
        var session = StreamSession(mode: .delta, served: [.cluster], snapshot: try clusters(["a", "b"]))
        let first = try #require(only(session.delta(.cluster, subscribe: ["*"]).1, .cluster))
        #expect(first.resources.map(\.name) == ["a", "b"])
        #expect(session.delta(.cluster, answering: first).1.isEmpty)
        let removal = try #require(only(session.update(try clusters(["a"])), .cluster))
        #expect(removal.resources.isEmpty)
        #expect(removal.removed == ["b"])
        let (outcome, pushes) = session.delta(.cluster, answering: removal, error: "rejected")
        #expect(outcome == .nack(nonce: removal.nonce, version: removal.version, message: "rejected"))
        #expect(pushes.isEmpty)
        let next = try #require(
            only(session.update(try clusters(["a", "c"])), .cluster))
        #expect(next.resources.map(\.name) == ["c"])
        #expect(next.removed == ["b"])
        #expect(session.delta(.cluster, answering: next).1.isEmpty)
        #expect(session.isInSync)
    }

    @Test func deltaNackHoldsTheRejectedVersion() throws {
        var session = settledSession(try world([.init(prefix: "/", cluster: "a")], ["a": [1]]), mode: .delta)
        let bad = try world([.init(regex: "(", cluster: "a")], ["a": [1]])
        let rds = try #require(only(session.update(bad), .route))
        let (outcome, pushes) = session.delta(.route, answering: rds, error: "regex")
        #expect(outcome == .nack(nonce: rds.nonce, version: rds.version, message: "regex"))
        #expect(pushes.isEmpty)
        #expect(session.update(bad).isEmpty)
    }
}
