import Admin
import Foundation
import Testing
import TestSupport
import XDS

/// The admin endpoint of a running `chancery serve`, with real Envoys connected.
@Suite(.serialized) struct AdminTests {
    /// A throwaway private key: its bytes must never appear in any admin answer or log.
    static let privateKeyBody = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCxChanceryKeyMaterialDoNotLeak"

    /// - Parameter busy: a port something else listens on, for a second listener Envoy
    ///   cannot bind (a rejection nothing Chancery checks can foresee).
    static func config(port: Int, backend: Int, route: String, busy: Int? = nil) -> String {
        let second = busy.map { ", {name: busy, protocol: HTTP, port: \($0)}" } ?? ""
        let key = Data("-----BEGIN PRIVATE KEY-----\n\(privateKeyBody)\n-----END PRIVATE KEY-----\n".utf8)
            .base64EncodedString()
        return """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: chancery}
            spec: {controllerName: chancery.dev/gateway-controller}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: gw, namespace: infra}
            spec:
              gatewayClassName: chancery
              addresses: [{type: IPAddress, value: 127.0.0.1}]
              listeners: [{name: http, protocol: HTTP, port: \(port), allowedRoutes: {namespaces: {from: All}}}\(second)]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: a, namespace: app}
            spec: {ports: [{name: http, port: 80}]}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: a-1, namespace: app, labels: {kubernetes.io/service-name: a}}
            addressType: IPv4
            endpoints: [{addresses: [127.0.0.1]}]
            ports: [{name: http, port: \(backend)}]
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: tls, namespace: infra}
            type: kubernetes.io/tls
            data: {tls.crt: "", tls.key: "\(key)"}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: web, namespace: app}
            spec:
              parentRefs: [{name: gw, namespace: infra}]
              rules:
              - matches: [{path: {type: \(route)}}]
                backendRefs: [{name: a, port: 80}]
            """
    }

    @Test func everyEndpointAgainstRealEnvoys() async throws {
        let backend = try await EchoBackend.start(name: "a")
        let port = try freePort()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-admin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("config.yaml")
        try Self.config(port: port, backend: backend.port, route: "PathPrefix, value: /").write(
            to: file, atomically: true, encoding: .utf8)

        let chancery = try await ChanceryProcess.serve(["--config-dir", dir.path])
        defer { chancery.stop() }
        let group = "infra/gw"
        let sotw = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: group, nodeID: "sotw-1", adminPort: 0))
        defer { sotw.stop() }
        let delta = try await EnvoyProcess.start(
            bootstrap: Bootstrap(
                xdsAddress: chancery.xdsAddress, group: group, nodeID: "delta-1", adminPort: 0, delta: true))
        defer { delta.stop() }
        #expect(await eventually { try await httpGet(port: port).backend == "a" })

        // Health.
        #expect(try await chancery.admin("/healthz").status == 200)
        #expect(try await chancery.admin("/readyz").text == "ready\n")

        // `chancery wait` succeeds once both Envoys hold the current version.
        let (waited, waitOutput) = try await runChancery([
            "wait", "--admin", chancery.adminAddress.description, "--group", group, "--timeout", "20s",
        ])
        #expect(waited == 0, "\(waitOutput)")
        #expect(waitOutput.contains("all 2 proxies of infra/gw hold version"))

        // Snapshots: the group, its version, both proxies in sync.
        let snapshots = try await chancery.adminJSON("/api/v1/snapshots")["snapshots"] as? [[String: Any]] ?? []
        let summary = try #require(snapshots.first { $0["group"] as? String == group })
        let version = try #require(summary["version"] as? String)
        #expect(summary["proxies"] as? Int == 2)
        #expect(summary["proxiesInSync"] as? Int == 2)
        #expect((summary["resources"] as? [String: Int])?["listeners"] == 1)

        // Clients: what each was sent and ACKed matches what Envoy itself reports.
        let clients = try await chancery.adminJSON("/api/v1/clients?group=infra%2Fgw")["clients"] as? [[String: Any]] ?? []
        #expect(Set(clients.compactMap { $0["nodeID"] as? String }) == ["sotw-1", "delta-1"])
        let resources = try await chancery.adminJSON("/api/v1/snapshots/infra/gw?type=listeners")
        let listener = try #require((resources["listeners"] as? [[String: Any]])?.first)
        let listenerVersion = try #require(listener["version"] as? String)
        for client in clients {
            let node = client["nodeID"] as? String ?? ""
            #expect(client["inSync"] as? Bool == true, "\(node)")
            #expect(client["syncedVersion"] as? String == version)
            let lds = (client["types"] as? [String: Any])?["LDS"] as? [String: Any]
            #expect(lds?["ackedVersion"] as? String == lds?["sentVersion"] as? String)
            let envoy = node == "sotw-1" ? sotw : delta
            let dump = try await envoy.admin("/config_dump?resource=dynamic_listeners")
            // State of the world: Envoy's version_info is the version of the whole set it
            // ACKed; delta: each resource carries its own version.
            let expected = node == "sotw-1" ? (lds?["ackedVersion"] as? String ?? "-") : listenerVersion
            #expect(dump.contains("\"version_info\": \"\(expected)\""), "\(node): \(dump.prefix(600))")
        }

        // A live edit: wait succeeds again at the new version, the diff names the change,
        // and the version's timeline shows when each step happened.
        try Self.config(port: port, backend: backend.port, route: "PathPrefix, value: /v2").write(
            to: file, atomically: true, encoding: .utf8)
        let (waitedAgain, againOutput) = try await runChancery([
            "wait", "--admin", chancery.adminAddress.description, "--group", group, "--timeout", "20s",
        ])
        #expect(waitedAgain == 0, "\(againOutput)")
        let after = try await chancery.adminJSON("/api/v1/snapshots")["snapshots"] as? [[String: Any]] ?? []
        let newVersion = try #require(after.first { $0["group"] as? String == group }?["version"] as? String)
        #expect(newVersion != version)
        // The log tells the story: what changed, the new version, and when every proxy held it.
        #expect(chancery.output.contains("objects=HTTPRoute app/web") && chancery.output.contains("change applied"), "\(chancery.output)")
        #expect(chancery.output.contains("versions=infra/gw \(newVersion)"), "\(chancery.output)")
        #expect(
            await eventually {
                chancery.output.contains("group=infra/gw") && chancery.output.contains("proxies=2")
                    && chancery.output.contains("version=\(newVersion)") && chancery.output.contains("every proxy holds the change")
            }, "\(chancery.output)")
        let diff = try await chancery.adminJSON("/api/v1/snapshots/infra%2Fgw/diff?from=\(version)&to=\(newVersion)")
        #expect(diff["changed"] as? [String] == ["route/127.0.0.1:\(port)"])
        #expect((diff["added"] as? [String])?.isEmpty == true)
        let timeline = try await chancery.adminJSON("/api/v1/snapshots/infra/gw/versions/\(newVersion)")
        #expect(timeline["current"] as? Bool == true)
        #expect(timeline["allAckedAt"] is String)
        #expect(timeline["firstSentAt"] is String)
        #expect((timeline["proxies"] as? [[String: Any]])?.count == 2)

        // A NACK: a second listener on a port the backend already listens on, which
        // Envoy cannot bind (Chancery cannot know what else runs on the proxy's host).
        // The Gateway is quarantined (served as it was) and says why in Envoy's words.
        try Self.config(port: port, backend: backend.port, route: "PathPrefix, value: /v2", busy: backend.port).write(
            to: file, atomically: true, encoding: .utf8)
        var nackMessage = ""
        #expect(
            await eventually {
                let clients = try await chancery.adminJSON("/api/v1/clients")["clients"] as? [[String: Any]] ?? []
                let nacks = clients.compactMap {
                    (($0["types"] as? [String: Any])?["LDS"] as? [String: Any])?["lastNack"] as? [String: Any]
                }
                nackMessage = nacks.first?["message"] as? String ?? ""
                let quarantined = try await chancery.adminJSON("/api/v1/quarantine")["quarantined"] as? [[String: Any]]
                return !nacks.isEmpty && quarantined?.count == 1
            })
        #expect(nackMessage.contains("127.0.0.1:\(backend.port)"), "Envoy's own error text: \(nackMessage)")
        let (failed, failure) = try await runChancery([
            "wait", "--admin", chancery.adminAddress.description, "--group", group, "--timeout", "10s",
        ])
        #expect(failed == 1)
        #expect(failure.contains("Gateway infra/gw") && failure.contains("quarantined"), "\(failure)")
        let rejected = try await chancery.adminJSON("/api/v1/objects?rejected=true")["objects"] as? [[String: Any]] ?? []
        let gateway = try #require(rejected.first { $0["kind"] as? String == "Gateway" && $0["name"] as? String == "gw" })
        let programmed = (gateway["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Programmed" }
        #expect(programmed?["status"] as? String == "False")
        #expect((programmed?["message"] as? String)?.contains("(group infra/gw) rejected listener 127.0.0.1:\(backend.port)") == true)
        // Envoy keeps serving what it had.
        #expect(try await httpGet(port: port, path: "/v2/x").backend == "a")

        // The page for people names the group and the quarantined object.
        let page = try await chancery.admin("/").text
        #expect(page.contains("infra/gw") && page.contains("Gateway infra/gw (quarantined)") && page.contains("rejected listener"))

        // Metrics.
        let metrics = try await chancery.admin("/metrics").text
        #expect(metrics.contains("chancery_connected_proxies{group=\"infra/gw\",protocol=\"delta\"} 1"))
        #expect(metrics.contains("chancery_xds_nacks_total{type=\"LDS\"}"))
        #expect(metrics.contains("chancery_snapshot_resources{group=\"infra/gw\",type=\"CDS\"} 1"))
        #expect(metrics.contains("chancery_translation_seconds_bucket"))
        #expect(metrics.contains("chancery_propagation_seconds_bucket"))
        // How long each proxy took to apply a push, by group and type.
        for type in ["LDS", "RDS", "CDS", "EDS"] {
            #expect(metrics.contains("chancery_xds_ack_seconds_count{group=\"infra/gw\",type=\"\(type)\"}"), "\(type): \(metrics)")
        }
        #expect(metrics.contains("chancery_build_info{version=\"\(BuildInfo.version)\",swift=\""), "\(metrics)")
        // The quarantined Gateway is the one rejected object, counted under its kind.
        #expect(metrics.contains("chancery_rejected_objects{kind=\"Gateway\"} 1.0"), "\(metrics)")
        #expect(metrics.contains("chancery_rejected_objects{kind=\"HTTPRoute\"} 0.0"), "\(metrics)")
        // The process metrics every exporter has, with plausible values.
        func value(_ name: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
        }
        #expect((value("process_resident_memory_bytes") ?? 0) > 1_000_000, "\(metrics)")
        #expect((value("process_open_fds") ?? 0) >= 3)
        #expect((value("process_cpu_seconds_total") ?? 0) > 0)
        let start = value("process_start_time_seconds") ?? 0
        #expect(start > Date().timeIntervalSince1970 - 600 && start <= Date().timeIntervalSince1970 + 1, "\(start)")

        // Errors have one shape.
        let missing = try await chancery.admin("/api/v1/snapshots/nobody")
        #expect(missing.status == 404)
        #expect(missing.text.hasPrefix("{\"error\":{\"code\":\"unknown_group\",\"message\":"))

        // No private key byte in any answer or in the log.
        var everything = chancery.output
        for path in ["/", "/metrics", "/api/v1/objects", "/api/v1/clients", "/api/v1/snapshots", "/api/v1/snapshots/infra/gw"] {
            everything += try await chancery.admin(path).text
        }
        let encoded = Data(Self.privateKeyBody.utf8).base64EncodedString()
        #expect(!everything.contains(Self.privateKeyBody) && !everything.contains(String(encoded.prefix(40))))
        #expect(everything.contains("Secret infra/tls") || everything.contains("\"name\" : \"tls\""))
        await backend.stop()
    }

    @Test func nonLoopbackAdminNeedsAToken() async throws {
        let (status, output) = try await runChancery(["serve", "--admin-address", "0.0.0.0:0", "--xds-address", "127.0.0.1:0"])
        #expect(status != 0)
        #expect(output.contains("--admin-token-file"))
    }

    @Test func tokenIsRequiredWhenConfigured() async throws {
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-token-\(UUID().uuidString)")
        try "s3cret\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let chancery = try await ChanceryProcess.serve(["--admin-token-file", tokenFile.path])
        defer { chancery.stop() }
        #expect(chancery.output.contains("bearer token required"))
        let refused = try await chancery.admin("/api/v1/clients")
        #expect(refused.status == 401)
        #expect(refused.text.contains("\"code\":\"unauthorized\""))
        #expect(try await chancery.admin("/api/v1/clients", token: "s3cret").status == 200)
        #expect(try await chancery.admin("/healthz").status == 200)
    }
}
