import Foundation
import Testing
import TestSupport
import XDS

/// Envoys configured without ADS use the standalone CDS/EDS/LDS/RDS services.
@Suite(.serialized) struct PerTypeServicesTests {
    @Test(arguments: ["GRPC", "DELTA_GRPC"])
    func envoyWithoutADSIsServed(apiType: String) async throws {
        let a = try await EchoBackend.start(name: "a")
        let harness = ChanceryHarness()
        try await harness.start()
        let port = try freePort()
        let group = "per-type/gw"
        harness.cache.setSnapshot(
            try Fixtures.httpSnapshot(
                port: port, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [a.port]],
                source: apiType == "GRPC" ? .perTypeGRPC : .perTypeDeltaGRPC),
            for: group)
        // The bootstrap `chancery bootstrap` prints, with each type on its own service.
        let source = """
            { api_config_source: { api_type: \(apiType), transport_api_version: V3, \
            grpc_services: [{ envoy_grpc: { cluster_name: chancery_xds } }] }, resource_api_version: V3 }
            """
        let yaml = harness.bootstrap(group: group, nodeID: "pt").yaml
            .replacingOccurrences(of: "cds_config: { ads: {}, resource_api_version: V3 }", with: "cds_config: \(source)")
            .replacingOccurrences(of: "lds_config: { ads: {}, resource_api_version: V3 }", with: "lds_config: \(source)")
        // Without the ads_config block (from its line to the next key at its depth).
        var lines = yaml.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "ads_config:" })
        let depth = lines[start].prefix { $0 == " " }.count
        let end = try #require(
            lines[(start + 1)...].firstIndex { line in
                let indent = line.prefix { $0 == " " }.count
                return !line.trimmingCharacters(in: .whitespaces).hasPrefix("#") && indent <= depth
            })
        lines.removeSubrange(start..<end)
        let withoutADS = lines.joined(separator: "\n")
        let envoy = try await EnvoyProcess.start(yaml: withoutADS, name: "pt")
        defer { envoy.stop() }
        let served = await eventually {
            let result = try await httpGet(port: port)
            return result.status == 200 && result.backend == "a"
        }
        #expect(served, "\(envoy.log.suffix(2000))")
        #expect(
            await eventually {
                Set(harness.registry.clients(inGroup: group).map(\.service)) == ["CDS", "EDS", "LDS", "RDS"]
            })
        let transports = Set(harness.registry.clients(inGroup: group).map(\.transport))
        #expect(transports == [apiType == "GRPC" ? .stateOfTheWorld : .delta])
        await a.stop()
        await harness.stop()
    }
}
