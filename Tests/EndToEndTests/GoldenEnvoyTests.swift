import Foundation
import Testing
import TestSupport

/// Every golden's xDS resources are accepted by Envoy itself: each proxy group's
/// listeners (their route configurations put inline, so that every route's filter
/// configuration is checked too) and clusters go into a bootstrap that
/// `envoy --mode validate` must accept. Secrets and endpoints stay discovered over ADS,
/// as Chancery serves them.
@Suite struct GoldenEnvoyTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("testdata/translation")

    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }()

    @Test(arguments: cases)
    func envoyAcceptsTheGolden(_ name: String) async throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent(name).appendingPathComponent("expected.json"))
        let groups = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        #expect(!groups.isEmpty)
        for (group, resources) in groups.sorted(by: { $0.key < $1.key }) {
            let bootstrap = try Self.bootstrap(resources)
            let (ok, output) = try await EnvoyProcess.validate(yaml: bootstrap)
            #expect(ok, "\(name), group \(group): Envoy refuses it:\n\(output.suffix(2000))")
        }
    }

    /// A bootstrap holding the group's listeners (route configurations inline) and
    /// clusters, with an ADS source for what stays discovered.
    static func bootstrap(_ resources: [String: Any]) throws -> String {
        let routes = (resources["routes"] as? [[String: Any]] ?? []).reduce(into: [String: Any]()) { byName, route in
            if let name = route["name"] as? String { byName[name] = route }
        }
        let listeners = (resources["listeners"] as? [[String: Any]] ?? []).map { listener in
            var listener = listener
            listener["filter_chains"] = (listener["filter_chains"] as? [[String: Any]] ?? []).map { chain in
                var chain = chain
                chain["filters"] = (chain["filters"] as? [[String: Any]] ?? []).map { filter in
                    guard var config = filter["typed_config"] as? [String: Any], let rds = config["rds"] as? [String: Any],
                        let name = rds["route_config_name"] as? String
                    else { return filter }
                    var filter = filter
                    config["rds"] = nil
                    config["route_config"] = routes[name] ?? ["name": name]
                    filter["typed_config"] = config
                    return filter
                }
                return chain
            }
            return listener
        }
        let xds: [String: Any] = [
            "name": "xds", "type": "STATIC", "connect_timeout": "1s",
            "typed_extension_protocol_options": [
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": [
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": ["http2_protocol_options": [String: Any]()],
                ]
            ],
            "load_assignment": [
                "cluster_name": "xds",
                "endpoints": [["lb_endpoints": [["endpoint": ["address": ["socket_address": ["address": "127.0.0.1", "port_value": 1]]]]]]],
            ],
        ]
        let bootstrap: [String: Any] = [
            "node": ["id": "golden", "cluster": "golden"],
            "dynamic_resources": [
                "ads_config": [
                    "api_type": "GRPC", "transport_api_version": "V3",
                    "grpc_services": [["envoy_grpc": ["cluster_name": "xds"]]],
                ]
            ],
            "static_resources": ["listeners": listeners, "clusters": [xds] + (resources["clusters"] as? [[String: Any]] ?? [])],
        ]
        let json = try JSONSerialization.data(withJSONObject: bootstrap, options: [.sortedKeys])
        return String(decoding: json, as: UTF8.self)
    }
}
