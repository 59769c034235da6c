import Testing
import TestSupport

@testable import XDS

/// Long random runs of snapshots, ACKs, NACKs, stale answers and subscription changes.
/// After every event the session's kept state (views, `synced`, endpoint coverage) must
/// match the same facts worked out from scratch, and at the end a proxy that applied
/// every push it ACKed must hold exactly the snapshot.
@Suite struct StreamSessionRandomTests {
    static let clusterNames = ["a", "b", "c", "d", "e", "f"]

    /// A random snapshot; through `encoder` when given, so that it is made from the
    /// encoder's last one and says which names changed since (what a session then reads
    /// alone).
    private static func snapshot(_ rng: inout SplitMix, encoder: SnapshotEncoder? = nil) throws -> Snapshot {
        var chosen = clusterNames.filter { _ in Bool.random(using: &rng) }
        if chosen.isEmpty { chosen = ["a"] }
        var backends: [String: [Int]] = [:]
        for name in chosen { backends[name] = [Int.random(in: 1...3, using: &rng)] }
        let routes = chosen.filter { _ in Int.random(in: 0..<4, using: &rng) > 0 }.map {
            Fixtures.Route(prefix: "/\($0)", cluster: $0)
        }
        let port = Bool.random(using: &rng) ? 8080 : 8081
        guard let encoder else { return try Fixtures.httpSnapshot(port: port, routes: routes, backends: backends) }
        return try encoder.snapshot(
            for: "g", listeners: [Fixtures.httpListener(port: port, routeConfig: "routes")],
            routes: [Fixtures.routes("routes", routes)], clusters: backends.keys.sorted().map { Fixtures.cluster($0) },
            endpoints: backends.keys.sorted().map { Fixtures.endpoints($0, ports: backends[$0]!) })
    }

    /// What a proxy holds: each type's resources by name, at their versions.
    private struct Proxy {
        var holds: [ResourceType: [String: String]] = [:]

        mutating func apply(_ push: Push, mode: StreamSession.Mode) {
            switch mode {
            case .stateOfTheWorld:
                let names = Dictionary(uniqueKeysWithValues: push.resources.map { ($0.name, $0.version) })
                if push.type == .cluster || push.type == .listener {
                    holds[push.type] = names
                } else {
                    // EDS and RDS responses do not delete what they leave out.
                    holds[push.type, default: [:]].merge(names) { $1 }
                }
            case .delta:
                for resource in push.resources { holds[push.type, default: [:]][resource.name] = resource.version }
                for name in push.removed { holds[push.type]?.removeValue(forKey: name) }
            }
        }
    }

    /// Seeds 1–6 make every snapshot whole; seeds 7–12 make each from the last through a
    /// snapshot encoder, so the session reads only the names that changed.
    @Test(arguments: [StreamSession.Mode.stateOfTheWorld, .delta], [UInt64(1), 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    func keptStateMatchesAFreshReading(mode: StreamSession.Mode, seed: UInt64) throws {
        var rng = SplitMix(state: seed)
        let encoder = seed > 6 ? SnapshotEncoder() : nil
        var session = StreamSession(mode: mode, snapshot: try Self.snapshot(&rng, encoder: encoder))
        var proxy = Proxy()
        var endpointNames = Self.clusterNames
        /// Pushes not yet answered, by type; pushes already answered (for stale answers).
        var unanswered: [ResourceType: Push] = [:]
        var answered: [Push] = []
        var lastSent: [ResourceType: Push] = [:]

        func names(_ type: ResourceType) -> [String] {
            switch type {
            case .endpoint: endpointNames
            case .route: ["routes"]
            default: []
            }
        }
        func take(_ pushes: [Push], step: Int) {
            for push in pushes {
                #expect(unanswered[push.type] == nil, "step \(step): a second \(push.type) push in flight")
                if mode == .stateOfTheWorld {
                    #expect(push.resources.map(\.name) == push.resources.map(\.name).sorted(), "step \(step)")
                    #expect(
                        push.version == ContentHash.of(versions: push.resources.map { ($0.name, $0.version) }),
                        "step \(step): \(push.type) version is not that of what it sends")
                }
                unanswered[push.type] = push
                lastSent[push.type] = push
            }
        }
        func answer(_ type: ResourceType, reject: Bool) -> [Push] {
            let push = unanswered.removeValue(forKey: type)!
            answered.append(push)
            if !reject { proxy.apply(push, mode: mode) }
            let error = reject ? "rejected" : nil
            return switch mode {
            case .stateOfTheWorld: session.request(type, names(type), answering: push, error: error).1
            case .delta: session.delta(type, answering: push, error: error).1
            }
        }
        func check(_ step: Int, _ event: String) {
            let problems = session.cacheViolations()
            #expect(problems.isEmpty, "seed \(seed) step \(step) after \(event): \(problems)")
        }

        for type in [ResourceType.cluster, .endpoint, .listener, .route] {
            take(
                mode == .stateOfTheWorld
                    ? session.request(type, names(type)).1 : session.delta(type, subscribe: names(type)).1, step: 0)
            check(0, "subscribing to \(type)")
        }
        for step in 1...400 {
            let roll = Int.random(in: 0..<10, using: &rng)
            var event = ""
            switch roll {
            case 0, 1:
                event = "a new snapshot"
                take(session.update(try Self.snapshot(&rng, encoder: encoder)), step: step)
            case 2...6:
                guard let type = unanswered.keys.sorted(by: { $0.typeURL < $1.typeURL }).randomElement(using: &rng)
                else { continue }
                let reject = Int.random(in: 0..<8, using: &rng) == 0
                event = reject ? "a NACK of \(type)" : "an ACK of \(type)"
                take(answer(type, reject: reject), step: step)
            case 7:
                let wanted = Self.clusterNames.filter { _ in Int.random(in: 0..<4, using: &rng) > 0 }
                event = "endpoint subscription \(wanted)"
                switch mode {
                case .stateOfTheWorld:
                    endpointNames = wanted
                    if unanswered[.endpoint] != nil {
                        take(answer(.endpoint, reject: false), step: step)
                    } else {
                        take(session.request(.endpoint, wanted, answering: lastSent[.endpoint]).1, step: step)
                    }
                case .delta:
                    let added = wanted.filter { !endpointNames.contains($0) }
                    let dropped = endpointNames.filter { !wanted.contains($0) }
                    endpointNames = wanted
                    for name in dropped { proxy.holds[.endpoint]?.removeValue(forKey: name) }
                    take(session.delta(.endpoint, subscribe: added, unsubscribe: dropped).1, step: step)
                }
            case 8:
                guard let stale = answered.randomElement(using: &rng), stale.nonce != lastSent[stale.type]?.nonce
                else { continue }
                event = "a stale answer for \(stale.type)"
                take(
                    mode == .stateOfTheWorld
                        ? session.request(stale.type, names(stale.type), answering: stale).1
                        : session.delta(stale.type, answering: stale).1, step: step)
            default:
                event = "the same snapshot again"
                take(session.update(session.snapshot), step: step)
            }
            check(step, event)
        }

        // Settle. A rejected version is not sent again until the content differs, so
        // first a snapshot unlike any of the random ones (cluster z, port 9999) is
        // ACKed throughout; then the last snapshot. Envoy subscribes to the endpoints
        // of every cluster, and every push is ACKed until nothing more comes.
        let wanted = Self.clusterNames + ["z"]
        switch mode {
        case .stateOfTheWorld:
            endpointNames = wanted
            if unanswered[.endpoint] != nil {
                take(answer(.endpoint, reject: false), step: 401)
            } else {
                take(session.request(.endpoint, wanted, answering: lastSent[.endpoint]).1, step: 401)
            }
        case .delta:
            let added = wanted.filter { !endpointNames.contains($0) }
            endpointNames = wanted
            take(session.delta(.endpoint, subscribe: added).1, step: 401)
        }
        let final = try Self.snapshot(&rng, encoder: encoder)
        var rounds = 0
        for next in [try Fixtures.httpSnapshot(port: 9999, routes: [.init(prefix: "/z", cluster: "z")], backends: ["z": [9]]), final] {
            take(session.update(next), step: 402)
            while let type = unanswered.keys.first, rounds < 200 {
                take(answer(type, reject: false), step: 403 + rounds)
                check(403 + rounds, "settling")
                rounds += 1
            }
        }
        #expect(unanswered.isEmpty, "seed \(seed): still pushing after 200 ACKs")
        for type in [ResourceType.cluster, .endpoint, .listener, .route] {
            let expected = final[type].mapValues(\.version)
            // State of the world: EDS and RDS answers never delete, so the proxy may
            // still hold names the snapshot dropped; it must hold all the snapshot has.
            let holds = proxy.holds[type] ?? [:]
            if mode == .delta || type == .cluster || type == .listener {
                #expect(holds == expected, "seed \(seed): the proxy's \(type)s are not the snapshot's")
            } else {
                #expect(holds.filter { expected[$0.key] != nil } == expected, "seed \(seed): \(type)s")
            }
        }
        #expect(session.isInSync, "seed \(seed): settled but not in sync")
    }
}
