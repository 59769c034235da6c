import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing
import TestSupport
import XDS

/// The node → group function: the xDS server serves each Envoy the snapshot of the group
/// its grouping picks, here from node metadata rather than `node.cluster` (as mesh
/// proxies will announce their Pod).
@Suite struct NodeGroupingTests {
    /// Proxies that announce a Pod get that Pod's group; others their `node.cluster`.
    struct PodGrouping: NodeGrouping {
        func group(of node: Envoy_Config_Core_V3_Node) -> String {
            if case .stringValue(let pod)? = node.metadata.fields["chancery.dev/pod"]?.kind { return "pod/" + pod }
            return node.cluster
        }
    }

    /// A bootstrap whose node carries the Pod in its metadata, with a cluster that is the
    /// same for every proxy.
    static func bootstrap(_ harness: ChanceryHarness, pod: String, nodeID: String) -> String {
        let yaml = harness.bootstrap(group: "fleet", nodeID: nodeID).yaml
        return yaml.replacingOccurrences(
            of: "  cluster: \"fleet\"\n", with: "  cluster: \"fleet\"\n  metadata: {\"chancery.dev/pod\": \"\(pod)\"}\n")
    }

    @Test func envoysWithOneClusterGetTheGroupTheirMetadataNames() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let harness = ChanceryHarness(grouping: PodGrouping())
        try await harness.start()
        let portA = try freePort()
        let portB = try freePort()
        harness.cache.setSnapshot(
            try Fixtures.httpSnapshot(port: portA, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [a.port]]),
            for: "pod/app/a")
        harness.cache.setSnapshot(
            try Fixtures.httpSnapshot(port: portB, routes: [.init(prefix: "/", cluster: "b")], backends: ["b": [b.port]]),
            for: "pod/app/b")
        let envoyA = try await EnvoyProcess.start(yaml: Self.bootstrap(harness, pod: "app/a", nodeID: "pa"), name: "pa")
        defer { envoyA.stop() }
        let envoyB = try await EnvoyProcess.start(yaml: Self.bootstrap(harness, pod: "app/b", nodeID: "pb"), name: "pb")
        defer { envoyB.stop() }
        #expect(await eventually { try await httpGet(port: portA).backend == "a" })
        #expect(await eventually { try await httpGet(port: portB).backend == "b" })
        let listenersA = try await envoyA.admin("/listeners")
        #expect(listenersA.contains("http-\(portA)") && !listenersA.contains("http-\(portB)"))
        #expect(harness.registry.clients(inGroup: "pod/app/a").map(\.nodeID) == ["pa"])
        #expect(harness.registry.clients(inGroup: "pod/app/b").map(\.nodeID) == ["pb"])
        #expect(harness.registry.clients(inGroup: "fleet").isEmpty)
        envoyA.stop()
        envoyB.stop()
        await a.stop()
        await b.stop()
        await harness.stop()
    }
}
