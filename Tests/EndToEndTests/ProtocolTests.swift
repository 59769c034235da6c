import Foundation
import Testing
import TestSupport
import XDS

/// HTTPS, TLS passthrough and termination, TCP, UDP, gRPC and TLS to backends: real
/// traffic through a real Envoy configured by a real `chancery serve` from files.
@Suite(.serialized) struct ProtocolTests {
    /// A config directory, Chancery serving it and an Envoy in the Gateway's group.
    final class Lab: @unchecked Sendable {
        let dir: URL
        let chancery: ChanceryProcess
        let envoy: EnvoyProcess

        init(files: [String: String], group: String, arguments: [String] = []) async throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-proto-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for (name, text) in files {
                try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
            chancery = try await ChanceryProcess.serve(["--config-dir", dir.path] + arguments)
            envoy = try await EnvoyProcess.start(
                bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: group, nodeID: "proto", adminPort: 0))
        }

        func write(_ name: String, _ text: String) throws {
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }

        var output: String { "chancery:\n\(chancery.output.suffix(2000))\nenvoy:\n\(envoy.log.suffix(2000))" }

        func stop() {
            envoy.stop()
            chancery.stop()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    static let gatewayClass = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: chancery}
        spec: {controllerName: chancery.dev/gateway-controller}
        """

    /// A Gateway `default/NAME` with one HTTP listener on `port` and `spec`, one more line
    /// of its spec, and an HTTPRoute of the same name sending everything to `backend`.
    static func gatewayAndRoute(_ name: String, port: Int, spec: String, backend: String, backendPort: Int) -> String {
        """
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: \(name), namespace: default}
        spec:
          gatewayClassName: chancery
          \(spec)
          listeners: [{name: http, protocol: HTTP, port: \(port)}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: \(name), namespace: default}
        spec:
          parentRefs: [{name: \(name)}]
          rules: [{backendRefs: [{name: \(backend), port: \(backendPort)}]}]

        """
    }

    /// The GatewayClass and a Gateway `default/web` with one HTTP listener on `port`.
    static func httpGateway(port: Int) -> String {
        gatewayClass + """

            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: web, namespace: default}
            spec:
              gatewayClassName: chancery
              listeners: [{name: http, protocol: HTTP, port: \(port)}]
            """
    }

    /// A Service whose one port (`name`) is served on 127.0.0.1 at `target`.
    static func service(
        _ name: String, namespace: String = "default", port: Int, target: Int, portName: String = "main",
        appProtocol: String? = nil, udp: Bool = false
    ) -> String {
        let app = appProtocol.map { ", appProtocol: \($0)" } ?? ""
        let proto = udp ? ", protocol: UDP" : ""
        return """
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: \(namespace)}
            spec: {ports: [{name: \(portName), port: \(port)\(app)\(proto)}]}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: \(name)-1, namespace: \(namespace), labels: {kubernetes.io/service-name: \(name)}}
            addressType: IPv4
            ports: [{name: \(portName), port: \(target)\(proto)}]
            endpoints: [{addresses: [127.0.0.1]}]

            """
    }

    static func tlsSecret(_ name: String, namespace: String = "default", _ certificate: TestCertificate) -> String {
        certificate.secretYAML(name: name, namespace: namespace)
    }

    static func caConfigMap(_ name: String, _ ca: TestCA) -> String {
        let pem = ca.certificatePEM.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        return """
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: \(name), namespace: default}
            data:
              ca.crt: |
            \(pem)

            """
    }

    static func same(_ a: String?, _ b: String) -> Bool {
        a.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } == b.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: HTTPS

    @Test func httpsServesTheRightCertificatePerHostnameAndRotatesWithoutDrain() async throws {
        let ca = try TestCA.make()
        let certA = try ca.issue(commonName: "a.example.com", dnsNames: ["a.example.com"])
        let certB = try ca.issue(commonName: "b.example.com", dnsNames: ["b.example.com"])
        let other = try ca.issue(commonName: "other.example.com", dnsNames: ["other.example.com"])
        let backendA = try await EchoBackend.start(name: "a")
        let backendB = try await EchoBackend.start(name: "b")
        let httpPort = try freePort()
        let httpsPort = try freePort()
        // Listener c names a missing Secret, d a Secret whose key is another
        // certificate's, e a Secret in another namespace without a ReferenceGrant.
        let mismatched = TestCertificate(
            certificatePEM: certA.certificatePEM, privateKeyPEM: other.privateKeyPEM, commonName: "a.example.com")
        let config = Self.gatewayClass + """

            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: web, namespace: default}
            spec:
              gatewayClassName: chancery
              listeners:
              - {name: http, protocol: HTTP, port: \(httpPort)}
              - {name: a, protocol: HTTPS, port: \(httpsPort), hostname: a.example.com, tls: {certificateRefs: [{name: cert-a}]}}
              - {name: b, protocol: HTTPS, port: \(httpsPort), hostname: b.example.com, tls: {certificateRefs: [{name: cert-b, namespace: certs}]}}
              - {name: c, protocol: HTTPS, port: \(httpsPort), hostname: c.example.com, tls: {certificateRefs: [{name: no-such-secret}]}}
              - {name: d, protocol: HTTPS, port: \(httpsPort), hostname: d.example.com, tls: {certificateRefs: [{name: mismatched}]}}
              - {name: e, protocol: HTTPS, port: \(httpsPort), hostname: e.example.com, tls: {certificateRefs: [{name: cert-e, namespace: private}]}}
            ---
            apiVersion: gateway.networking.k8s.io/v1beta1
            kind: ReferenceGrant
            metadata: {name: gateways, namespace: certs}
            spec:
              from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: default}]
              to: [{group: "", kind: Secret}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: redirect, namespace: default}
            spec:
              parentRefs: [{name: web, sectionName: http}]
              rules:
              - filters: [{type: RequestRedirect, requestRedirect: {scheme: https, port: \(httpsPort), statusCode: 301}}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: a, namespace: default}
            spec:
              parentRefs: [{name: web, sectionName: a}]
              rules: [{backendRefs: [{name: svc-a, port: 80}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: b, namespace: default}
            spec:
              parentRefs: [{name: web, sectionName: b}]
              rules: [{backendRefs: [{name: svc-b, port: 80}]}]
            \(Self.service("svc-a", port: 80, target: backendA.port))\(Self.service("svc-b", port: 80, target: backendB.port))
            """
        let secrets = [
            Self.tlsSecret("cert-b", namespace: "certs", certB), Self.tlsSecret("mismatched", mismatched),
            Self.tlsSecret("cert-e", namespace: "private", other),
        ].joined(separator: "---\n")
        let lab = try await Lab(
            files: ["gateway.yaml": config, "secrets.yaml": secrets, "cert-a.yaml": Self.tlsSecret("cert-a", certA)],
            group: "default/web")
        defer { lab.stop() }

        // Each hostname gets its own certificate (verified against the CA) and backend.
        var answerA: TLSResult?
        let servedA = await eventually(timeout: .seconds(20)) {
            answerA = try await httpsGet(port: httpsPort, serverName: "a.example.com", trustedCAPEM: ca.certificatePEM)
            return answerA?.status == 200
        }
        #expect(servedA, "a.example.com never answered\n\(lab.output)")
        #expect(answerA?.peerSubjectCommonName == "a.example.com")
        #expect(answerA?.backend == "a")
        let answerB = try await httpsGet(port: httpsPort, serverName: "b.example.com", trustedCAPEM: ca.certificatePEM)
        #expect(answerB.peerSubjectCommonName == "b.example.com")
        #expect(Self.same(answerB.peerCertificatePEM, certB.certificatePEM))
        #expect(answerB.backend == "b")

        // The refused certificates keep only their own hostnames dark.
        for host in ["c.example.com", "d.example.com", "e.example.com"] {
            await #expect(throws: (any Error).self, "\(host) should have no filter chain") {
                _ = try await httpsGet(port: httpsPort, serverName: host, timeout: .seconds(2))
            }
        }
        let objects = try await lab.chancery.admin("/api/v1/objects?kind=Gateway").text
        #expect(objects.contains("InvalidCertificateRef"), "\(objects)")
        #expect(objects.contains("RefNotPermitted"), "\(objects)")
        #expect(!objects.contains("PRIVATE KEY"), "a private key leaked into the admin output")
        #expect(!lab.chancery.output.contains("PRIVATE KEY"), "a private key leaked into the log")
        let metrics = try await lab.chancery.admin("/metrics").text
        #expect(
            metrics.contains("chancery_certificate_expiry_timestamp_seconds{secret=\"default/cert-a\"}"),
            "no expiry gauge for default/cert-a in:\n\(metrics.split(separator: "\n").filter { $0.contains("certificate") })")

        // HTTP redirects to HTTPS.
        let redirect = try await httpGet(port: httpPort, path: "/shop?x=1", host: "a.example.com")
        #expect(redirect.status == 301)
        #expect(redirect.headers["location"] == "https://a.example.com:\(httpsPort)/shop?x=1")

        // Rotation: a new certificate for a.example.com is served within a second, over
        // SDS, with the listener neither modified nor drained.
        let modifiedBefore = try await lab.envoy.stat("listener_manager.listener_modified")
        let rotated = try ca.issue(commonName: "a.example.com", dnsNames: ["a.example.com", "www.a.example.com"])
        try lab.write("cert-a.yaml", Self.tlsSecret("cert-a", rotated))
        let rotatedInTime = await eventually(timeout: .seconds(1)) {
            let answer = try await httpsGet(port: httpsPort, serverName: "a.example.com", trustedCAPEM: ca.certificatePEM)
            return Self.same(answer.peerCertificatePEM, rotated.certificatePEM)
        }
        #expect(rotatedInTime, "the rotated certificate was not served within 1 s\n\(lab.output)")
        #expect(try await lab.envoy.stat("listener_manager.listener_modified") == modifiedBefore)
        #expect(try await lab.envoy.stat("listener_manager.total_filter_chains_draining") == 0)
        #expect(try await lab.envoy.stat("listener_manager.total_listeners_draining") == 0)
        let afterB = try await httpsGet(port: httpsPort, serverName: "b.example.com", trustedCAPEM: ca.certificatePEM)
        #expect(afterB.backend == "b")

        await backendA.stop()
        await backendB.stop()
    }

    // MARK: TLS passthrough and termination

    /// The TLS tests' world: a TLS backend `db` with its own certificate for
    /// db.example.com, a plain backend `app`, and the certificate Envoy presents for
    /// app.example.com, behind a Gateway `edge` with the test's TLS listeners and a
    /// TLSRoute to each backend (`dbRoute` and `appRoute` are the routes' parentRefs and
    /// hostnames).
    final class TLSEdge: @unchecked Sendable {
        let ca: TestCA
        let dbCertificate: TestCertificate
        let db: TLSBackend
        let app: EchoBackend
        let lab: Lab

        init(listeners: String, routeVersion: String, dbRoute: String, appRoute: String) async throws {
            ca = try TestCA.make()
            dbCertificate = try ca.issue(commonName: "db.example.com", dnsNames: ["db.example.com"])
            let appCertificate = try ca.issue(commonName: "app.example.com", dnsNames: ["app.example.com"])
            db = try await TLSBackend.start(name: "db", certificate: dbCertificate)
            app = try await EchoBackend.start(name: "app")
            let config = ProtocolTests.gatewayClass + """

                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: edge, namespace: default}
                spec:
                  gatewayClassName: chancery
                  listeners:
                \(listeners)
                ---
                apiVersion: gateway.networking.k8s.io/\(routeVersion)
                kind: TLSRoute
                metadata: {name: db, namespace: default}
                spec:
                \(dbRoute)
                  rules: [{backendRefs: [{name: db, port: 443}]}]
                ---
                apiVersion: gateway.networking.k8s.io/\(routeVersion)
                kind: TLSRoute
                metadata: {name: app, namespace: default}
                spec:
                \(appRoute)
                  rules: [{backendRefs: [{name: app, port: 80}]}]
                \(ProtocolTests.service("db", port: 443, target: db.port))\(ProtocolTests.service("app", port: 80, target: app.port))---
                \(ProtocolTests.tlsSecret("app-cert", appCertificate))
                """
            lab = try await Lab(files: ["edge.yaml": config], group: "default/edge")
        }

        /// Passthrough on `port`: the backend's own certificate reaches the client
        /// unchanged, with the backend's answer.
        func expectPassthrough(port: Int) async {
            var answer: TLSResult?
            let through = await eventually(timeout: .seconds(20)) {
                answer = try await httpsGet(port: port, serverName: "db.example.com", trustedCAPEM: self.ca.certificatePEM)
                return answer?.status == 200
            }
            #expect(through, "passthrough never answered\n\(lab.output)")
            #expect(ProtocolTests.same(answer?.peerCertificatePEM, dbCertificate.certificatePEM), "the backend's own certificate")
            #expect(answer?.body == "db\n")
        }

        /// Terminate on `port`: Envoy presents the listener's certificate and forwards the
        /// decrypted bytes to the plain backend.
        func expectTerminated(port: Int) async throws {
            let terminated = try await httpsGet(port: port, serverName: "app.example.com", trustedCAPEM: ca.certificatePEM)
            #expect(terminated.peerSubjectCommonName == "app.example.com", "Envoy's certificate for the listener")
            #expect(terminated.backend == "app", "decrypted bytes reach the plain backend")
        }

        func stopBackends() async {
            await db.stop()
            await app.stop()
        }
    }

    @Test func tlsPassthroughReachesTheBackendsOwnSessionAndTerminateDecrypts() async throws {
        let passthroughPort = try freePort()
        let terminatePort = try freePort()
        let edge = try await TLSEdge(
            listeners: """
                  - {name: passthrough, protocol: TLS, port: \(passthroughPort), tls: {mode: Passthrough}}
                  - {name: terminate, protocol: TLS, port: \(terminatePort), hostname: app.example.com, tls: {certificateRefs: [{name: app-cert}]}}
                """,
            routeVersion: "v1alpha2",
            dbRoute: """
                  parentRefs: [{name: edge, sectionName: passthrough}]
                  hostnames: [db.example.com]
                """,
            appRoute: "  parentRefs: [{name: edge, sectionName: terminate}]")
        defer { edge.lab.stop() }

        // Passthrough: the backend also saw the client's SNI.
        await edge.expectPassthrough(port: passthroughPort)
        #expect(edge.db.serverNames.contains("db.example.com"))
        // An SNI no route names gets no connection.
        await #expect(throws: (any Error).self) {
            _ = try await httpsGet(port: passthroughPort, serverName: "nobody.example.com", timeout: .seconds(2))
        }
        try await edge.expectTerminated(port: terminatePort)
        await edge.stopBackends()
    }

    /// TLSRouteModeMixed: a Passthrough and a Terminate TLS listener on one port, told
    /// apart by SNI. Each connection gets its own listener's treatment: the backend's own
    /// certificate for the passthrough hostname, Envoy's for the terminated one.
    @Test func tlsPassthroughAndTerminateShareAPort() async throws {
        let port = try freePort()
        let edge = try await TLSEdge(
            listeners: """
                  - {name: tls-passthrough, protocol: TLS, port: \(port), hostname: db.example.com, tls: {mode: Passthrough}}
                  - {name: tls-terminate, protocol: TLS, port: \(port), hostname: app.example.com, tls: {mode: Terminate, certificateRefs: [{name: app-cert}]}}
                """,
            routeVersion: "v1",
            dbRoute: """
                  parentRefs: [{name: edge}]
                  hostnames: [db.example.com]
                """,
            appRoute: """
                  parentRefs: [{name: edge}]
                  hostnames: [app.example.com]
                """)
        let lab = edge.lab
        defer { lab.stop() }

        await edge.expectPassthrough(port: port)
        try await edge.expectTerminated(port: port)

        // Both listeners accepted, not in conflict, each with its route.
        let objects = try await lab.chancery.adminJSON("/api/v1/objects?kind=Gateway")["objects"] as? [[String: Any]] ?? []
        let listeners = objects.first?["listeners"] as? [[String: Any]] ?? []
        #expect(listeners.count == 2)
        for listener in listeners {
            let conditions = listener["conditions"] as? [[String: Any]] ?? []
            let state = Dictionary(conditions.map { ($0["type"] as? String ?? "", $0["status"] as? String ?? "") }) { a, _ in a }
            #expect(listener["attachedRoutes"] as? Int == 1, "\(listener)")
            #expect(state["Accepted"] == "True" && state["Conflicted"] == "False" && state["Programmed"] == "True", "\(listener)")
        }
        await edge.stopBackends()
    }

    // MARK: Gateway addresses

    /// GatewayStaticAddresses: a Gateway's IPAddress is where Envoy listens, when it is
    /// one the proxies have (`--gateway-addresses`); one they do not have is refused
    /// before Envoy is asked to bind it, and only usable addresses reach status.
    @Test func gatewaysListenOnTheirAddressWhenTheProxiesHaveIt() async throws {
        let backend = try await EchoBackend.start(name: "a")
        let port = try freePort()
        func gateway(_ name: String, _ address: String) -> String {
            Self.gatewayAndRoute(
                name, port: port, spec: "addresses: [{type: IPAddress, value: \(address)}]", backend: "svc-a", backendPort: 80)
        }
        let config =
            Self.gatewayClass + "\n" + gateway("usable", "127.0.0.2") + gateway("unusable", "127.0.0.3")
            + Self.service("svc-a", port: 80, target: backend.port)
        let lab = try await Lab(
            files: ["gateways.yaml": config], group: "default/usable", arguments: ["--gateway-addresses", "10.0.0.0/8,127.0.0.2"])
        defer { lab.stop() }

        // Envoy listens on the Gateway's address, and only there.
        let served = await eventually(timeout: .seconds(20)) {
            (try? await httpGet(port: port, address: "127.0.0.2"))?.backend == "a"
        }
        #expect(served, "127.0.0.2:\(port) never answered\n\(lab.output)")
        await #expect(throws: (any Error).self, "Envoy also listens on 127.0.0.1:\(port)") {
            _ = try await httpGet(port: port, timeout: .seconds(2), address: "127.0.0.1")
        }

        let objects = try await lab.chancery.adminJSON("/api/v1/objects?kind=Gateway")["objects"] as? [[String: Any]] ?? []
        func gatewayStatus(_ name: String) -> [String: Any] {
            objects.first { ($0["name"] as? String) == name } ?? [:]
        }
        func condition(_ name: String, _ type: String) -> [String: Any] {
            (gatewayStatus(name)["conditions"] as? [[String: Any]] ?? []).first { $0["type"] as? String == type } ?? [:]
        }
        #expect(condition("usable", "Programmed")["status"] as? String == "True", "\(gatewayStatus("usable"))")
        #expect(
            (gatewayStatus("usable")["addresses"] as? [[String: Any]] ?? []).map { $0["value"] as? String } == ["127.0.0.2"],
            "\(gatewayStatus("usable"))")
        #expect(condition("unusable", "Accepted")["status"] as? String == "True", "\(gatewayStatus("unusable"))")
        #expect(condition("unusable", "Programmed")["reason"] as? String == "AddressNotUsable", "\(gatewayStatus("unusable"))")
        #expect((condition("unusable", "Programmed")["message"] as? String ?? "").contains("127.0.0.3"))
        #expect(gatewayStatus("unusable")["addresses"] == nil, "an unusable address is reported: \(gatewayStatus("unusable"))")
        // Nothing of it reaches any proxy: it has no group of its own, and the class's
        // shared group listens on the usable Gateway's address only.
        let shared = try await lab.chancery.admin("/api/v1/ir/chancery").text
        #expect(shared.contains("\"127.0.0.2:\(port)\""), "\(shared.prefix(2000))")
        #expect(!shared.contains("127.0.0.3"), "\(shared.prefix(2000))")
        let snapshots = try await lab.chancery.admin("/api/v1/snapshots").text
        #expect(snapshots.contains("default/usable") && !snapshots.contains("default/unusable"), "\(snapshots)")
        await backend.stop()
    }

    // MARK: TCP and UDP

    @Test func tcpAndUDPEchoThroughEnvoyWithWeights() async throws {
        let tcpA = try await TCPEchoBackend.start(name: "a")
        let tcpB = try await TCPEchoBackend.start(name: "b")
        let udpA = try await UDPEchoBackend.start(name: "a")
        let udpB = try await UDPEchoBackend.start(name: "b")
        let tcpPort = try freePort()
        let udpPort = try freePort()
        let config = Self.gatewayClass + """

            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: streams, namespace: default}
            spec:
              gatewayClassName: chancery
              listeners:
              - {name: tcp, protocol: TCP, port: \(tcpPort)}
              - {name: udp, protocol: UDP, port: \(udpPort)}
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TCPRoute
            metadata: {name: echo, namespace: default}
            spec:
              parentRefs: [{name: streams, sectionName: tcp}]
              rules: [{backendRefs: [{name: tcp-a, port: 7000, weight: 3}, {name: tcp-b, port: 7000, weight: 1}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: UDPRoute
            metadata: {name: echo, namespace: default}
            spec:
              parentRefs: [{name: streams, sectionName: udp}]
              rules: [{backendRefs: [{name: udp-a, port: 7053, weight: 1}, {name: udp-b, port: 7053, weight: 1}]}]
            \(Self.service("tcp-a", port: 7000, target: tcpA.port))\(Self.service("tcp-b", port: 7000, target: tcpB.port))\
            \(Self.service("udp-a", port: 7053, target: udpA.port, udp: true))\(Self.service("udp-b", port: 7053, target: udpB.port, udp: true))
            """
        let lab = try await Lab(files: ["streams.yaml": config], group: "default/streams")
        defer { lab.stop() }

        let tcpUp = await eventually(timeout: .seconds(20)) {
            try await tcpExchange(port: tcpPort, message: "hello").hasSuffix(": hello")
        }
        #expect(tcpUp, "TCP never echoed\n\(lab.output)")
        var tcpCounts: [String: Int] = [:]
        for i in 0..<200 {
            let answer = try await tcpExchange(port: tcpPort, message: "m\(i)")
            #expect(answer.hasSuffix(": m\(i)"))
            tcpCounts[String(answer.prefix { $0 != ":" }), default: 0] += 1
        }
        let tcpShareA = Double(tcpCounts["a"] ?? 0) / 200
        #expect(abs(tcpShareA - 0.75) <= 0.1, "TCP shares \(tcpCounts), expected 3:1")

        let udpUp = await eventually(timeout: .seconds(20)) {
            try await udpExchange(port: udpPort, message: "ping", timeout: .milliseconds(500))?.hasSuffix(": ping") ?? false
        }
        #expect(udpUp, "UDP never echoed\n\(lab.output)")
        var udpCounts: [String: Int] = [:]
        for i in 0..<120 {
            guard let answer = try await udpExchange(port: udpPort, message: "d\(i)") else { continue }
            #expect(answer.hasSuffix(": d\(i)"))
            udpCounts[String(answer.prefix { $0 != ":" }), default: 0] += 1
        }
        let udpTotal = udpCounts.values.reduce(0, +)
        #expect(udpTotal >= 110, "UDP lost \(120 - udpTotal) of 120 datagrams")
        let udpShareA = Double(udpCounts["a"] ?? 0) / Double(max(udpTotal, 1))
        #expect(abs(udpShareA - 0.5) <= 0.15, "UDP shares \(udpCounts), expected 1:1")

        await tcpA.stop()
        await tcpB.stop()
        await udpA.stop()
        await udpB.stop()
    }

    // MARK: gRPC

    @Test func grpcRouteSendsMethodsToTheirBackends() async throws {
        let unary = try await GRPCBackend.start(name: "unary")
        let streaming = try await GRPCBackend.start(name: "streaming")
        let port = try freePort()
        let config = Self.gatewayClass + """

            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: api, namespace: default}
            spec:
              gatewayClassName: chancery
              listeners: [{name: grpc, protocol: HTTP, port: \(port), hostname: grpc.example.com}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: echo, namespace: default}
            spec:
              parentRefs: [{name: api}]
              rules:
              - matches: [{method: {service: chancery.test.Echo, method: Unary}}]
                filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-routed-by, value: chancery}]}}]
                backendRefs: [{name: unary, port: 50051}]
              - matches: [{method: {type: RegularExpression, service: "chancery\\\\.test\\\\..*", method: "Server.*"}}]
                backendRefs: [{name: streaming, port: 50051}]
            \(Self.service("unary", port: 50051, target: unary.port, appProtocol: "kubernetes.io/h2c"))\
            \(Self.service("streaming", port: 50051, target: streaming.port, appProtocol: "kubernetes.io/h2c"))
            """
        let lab = try await Lab(files: ["api.yaml": config], group: "default/api")
        defer { lab.stop() }

        var reply = ""
        let served = await eventually(timeout: .seconds(20)) {
            reply = try await grpcUnary(port: port, authority: "grpc.example.com", message: "hi")
            return true
        }
        #expect(served, "gRPC never answered\n\(lab.output)")
        #expect(reply == "unary: hi")
        #expect(unary.received.last?.metadata["x-routed-by"] == "chancery")
        let stream = try await grpcServerStream(port: port, authority: "grpc.example.com", message: "hi")
        #expect(stream == ["streaming: hi #1", "streaming: hi #2", "streaming: hi #3"])
        // The unary backend never saw the streaming call, nor the other way round.
        #expect(unary.received.allSatisfy { $0.method == "Unary" })
        #expect(streaming.received.allSatisfy { $0.method == "ServerStream" })
        // A method no rule matches is answered by Envoy (no route: unimplemented).
        await #expect(throws: (any Error).self) {
            _ = try await grpcUnary(port: port, authority: "grpc.example.com", service: "other.Service", message: "x")
        }

        await unary.stop()
        await streaming.stop()
    }

    /// GatewayHTTPSListenerDetectMisdirectedRequests, as the conformance test lays it
    /// out: four HTTPS listeners on one port, an HTTP/2 client that keeps one connection
    /// per SNI and sends requests for other hosts on it. The SNI picks a listener, the
    /// Host picks one by the same rule (most specific, else the one without hostname);
    /// when they differ the answer is 421, when they agree the routes decide (404 when
    /// none matches).
    @Test func httpsRequestsForAnotherListenersHostGet421() async throws {
        let ca = try TestCA.make()
        let catchAll = try ca.issue(commonName: "example.org", dnsNames: ["example.org", "unknown-example.org"])
        let second = try ca.issue(commonName: "second-example.org", dnsNames: ["second-example.org"])
        let wildcard = try ca.issue(commonName: "*.wildcard.org", dnsNames: ["*.wildcard.org"])
        let fourth = try ca.issue(commonName: "fourth-example.wildcard.org", dnsNames: ["fourth-example.wildcard.org"])
        var backends: [String: EchoBackend] = [:]
        for name in ["v1", "v2", "v3"] { backends[name] = try await EchoBackend.start(name: name) }
        let port = try freePort()
        func route(_ name: String, _ section: String, _ hostnames: String, _ backend: String) -> String {
            """
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: \(name), namespace: default}
            spec:
              parentRefs: [{name: web, sectionName: \(section)}]
              hostnames: \(hostnames)
              rules:
              - matches: [{path: {type: PathPrefix, value: /detect-misdirected-requests}}]
                backendRefs: [{name: \(backend), port: 8080}]

            """
        }
        let config = Self.gatewayClass + """

            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: web, namespace: default}
            spec:
              gatewayClassName: chancery
              listeners:
              - {name: https, protocol: HTTPS, port: \(port), tls: {certificateRefs: [{name: catch-all}]}}
              - {name: https-with-hostname, protocol: HTTPS, port: \(port), hostname: second-example.org, tls: {certificateRefs: [{name: second}]}}
              - {name: https-with-wildcard-hostname, protocol: HTTPS, port: \(port), hostname: "*.wildcard.org", tls: {certificateRefs: [{name: wildcard}]}}
              - {name: https-with-hostname-matching-wildcard, protocol: HTTPS, port: \(port), hostname: fourth-example.wildcard.org, tls: {certificateRefs: [{name: fourth}]}}
            ---
            \(Self.tlsSecret("catch-all", catchAll))
            ---
            \(Self.tlsSecret("second", second))
            ---
            \(Self.tlsSecret("wildcard", wildcard))
            ---
            \(Self.tlsSecret("fourth", fourth))
            \(route("test-1", "https", "[example.org]", "v1"))\
            \(route("test-2", "https-with-hostname", "[]", "v2"))\
            \(route("test-3", "https-with-wildcard-hostname", "[]", "v3"))\
            \(route("test-4", "https-with-hostname-matching-wildcard", "[]", "v1"))\
            \(Self.service("v1", port: 8080, target: backends["v1"]!.port))\
            \(Self.service("v2", port: 8080, target: backends["v2"]!.port))\
            \(Self.service("v3", port: 8080, target: backends["v3"]!.port))
            """
        let lab = try await Lab(files: ["web.yaml": config], group: "default/web")
        defer { lab.stop() }

        // SNI → [(Host, status, backend)], from the conformance test's table.
        let table: [(sni: String, host: String, status: Int, backend: String?)] = [
            ("example.org", "example.org", 200, "v1"),
            ("example.org", "second-example.org", 421, nil),
            ("example.org", "unknown-example.org", 404, nil),
            ("second-example.org", "second-example.org", 200, "v2"),
            ("second-example.org", "example.org", 421, nil),
            ("second-example.org", "unknown-example.org", 421, nil),
            ("third-example.wildcard.org", "third-example.wildcard.org", 200, "v3"),
            ("third-example.wildcard.org", "fifth-example.wildcard.org", 200, "v3"),
            ("third-example.wildcard.org", "fourth-example.wildcard.org", 421, nil),
            ("third-example.wildcard.org", "second-example.org", 421, nil),
            ("third-example.wildcard.org", "unknown-example.org", 421, nil),
            ("fourth-example.wildcard.org", "fourth-example.wildcard.org", 200, "v1"),
            ("fourth-example.wildcard.org", "fifth-example.wildcard.org", 421, nil),
            ("unknown-example.org", "example.org", 200, "v1"),
            ("unknown-example.org", "unknown-example.org", 404, nil),
        ]
        let ready = await eventually(timeout: .seconds(20)) {
            let answers = try await http2Exchange(
                port: port, serverName: "example.org", requests: [("example.org", "/detect-misdirected-requests")])
            return answers.first?.status == 200
        }
        #expect(ready, "HTTPS never answered\n\(lab.output)")
        for sni in ["example.org", "second-example.org", "third-example.wildcard.org", "fourth-example.wildcard.org", "unknown-example.org"] {
            let rows = table.filter { $0.sni == sni }
            // Every request of one SNI on one connection.
            let answers = try await http2Exchange(
                port: port, serverName: sni, requests: rows.map { ($0.host, "/detect-misdirected-requests") })
            for (row, answer) in zip(rows, answers) {
                #expect(answer.status == row.status, "SNI \(sni), Host \(row.host): \(answer.status), expected \(row.status)")
                if let backend = row.backend {
                    #expect(answer.backend == backend, "SNI \(sni), Host \(row.host): answered by \(answer.backend ?? "-")")
                }
            }
        }
        for backend in backends.values { await backend.stop() }
    }

    /// HTTPRouteBackendProtocolH2C: a client speaking HTTP/2 with prior knowledge to a
    /// cleartext listener, and one speaking HTTP/1.1, both reach a backend that speaks
    /// only HTTP/2 because its Service port says `appProtocol: kubernetes.io/h2c`; a
    /// backend without it is reached over HTTP/1.1.
    @Test func h2cBackendsAreReachedOverHTTP2() async throws {
        let h2 = try await EchoBackend.start(name: "h2", h2c: true)
        let plain = try await EchoBackend.start(name: "plain")
        let port = try freePort()
        let config = Self.httpGateway(port: port) + """

            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: h2c, namespace: default}
            spec:
              parentRefs: [{name: web}]
              rules:
              - matches: [{path: {type: PathPrefix, value: /h2c}}]
                backendRefs: [{name: h2, port: 8080}]
              - matches: [{path: {type: PathPrefix, value: /plain}}]
                backendRefs: [{name: plain, port: 8080}]
            \(Self.service("h2", port: 8080, target: h2.port, appProtocol: "kubernetes.io/h2c"))\
            \(Self.service("plain", port: 8080, target: plain.port))
            """
        let lab = try await Lab(files: ["web.yaml": config], group: "default/web")
        defer { lab.stop() }

        var answers: [HTTPResult] = []
        let served = await eventually(timeout: .seconds(20)) {
            answers = try await http2Exchange(
                port: port, serverName: nil, requests: [("h2c.example.com", "/h2c/a"), ("h2c.example.com", "/plain/b")])
            return answers.first?.status == 200
        }
        #expect(served, "no answer over h2c: \(answers.map(\.status))\n\(lab.output)")
        #expect(answers.map(\.status) == [200, 200])
        #expect(answers.first?.echo?.version == "HTTP/2.0", "the h2c backend was reached over HTTP/2")
        #expect(answers.last?.echo?.version == "HTTP/1.1", "a backend without appProtocol is reached over HTTP/1.1")
        let fromHTTP1 = try await httpGet(port: port, path: "/h2c/c", host: "h2c.example.com")
        #expect(fromHTTP1.status == 200)
        #expect(fromHTTP1.echo?.backend == "h2" && fromHTTP1.echo?.version == "HTTP/2.0")

        await h2.stop()
        await plain.stop()
    }

    /// GatewayFrontendClientCertificateValidation and its insecure fallback: a Gateway's
    /// `tls.frontend` asks HTTPS clients for certificates, per port. With
    /// AllowValidOnly, a certificate from another CA, or none, fails the TLS handshake
    /// (no HTTP answer at all); with AllowInsecureFallback every client gets in. A CA
    /// reference that cannot be used refuses the listener rather than dropping
    /// validation.
    @Test func clientCertificatesAreValidatedPerPort() async throws {
        let serverCA = try TestCA.make(commonName: "server CA")
        let caA = try TestCA.make(commonName: "client CA A")
        let caB = try TestCA.make(commonName: "client CA B")
        let server = try serverCA.issue(commonName: "example.org", dnsNames: ["example.org", "second-example.org"])
        let clientA = try caA.issue(commonName: "default", dnsNames: [], clientAuth: true)
        let clientB = try caB.issue(commonName: "default", dnsNames: [], clientAuth: true)
        let backend = try await EchoBackend.start(name: "v1")
        let strictPort = try freePort()
        let perPort = try freePort()
        let fallbackPort = try freePort()
        let brokenPort = try freePort()
        func route(_ gateway: String) -> String {
            """
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: \(gateway), namespace: default}
            spec:
              parentRefs: [{name: \(gateway)}]
              rules: [{backendRefs: [{name: v1, port: 8080}]}]

            """
        }
        let config = Self.gatewayClass + """

            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: strict, namespace: default}
            spec:
              gatewayClassName: chancery
              tls:
                frontend:
                  default:
                    validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: ca-a}]}
                  perPort:
                  - port: \(perPort)
                    tls: {validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: ca-b}]}}
              listeners:
              - {name: https, protocol: HTTPS, port: \(strictPort), tls: {certificateRefs: [{name: server}]}}
              - {name: https-per-port, protocol: HTTPS, port: \(perPort), hostname: second-example.org, tls: {certificateRefs: [{name: server}]}}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: fallback, namespace: default}
            spec:
              gatewayClassName: chancery
              tls:
                frontend:
                  default:
                    validation: {mode: AllowInsecureFallback, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca-a}]}
              listeners:
              - {name: https, protocol: HTTPS, port: \(fallbackPort), tls: {certificateRefs: [{name: server}]}}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: broken, namespace: default}
            spec:
              gatewayClassName: chancery
              tls:
                frontend:
                  default:
                    validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: no-such-ca}]}
              listeners:
              - {name: https, protocol: HTTPS, port: \(brokenPort), tls: {certificateRefs: [{name: server}]}}
            ---
            \(Self.tlsSecret("server", server))
            \(Self.caConfigMap("ca-a", caA))\
            \(Self.caConfigMap("ca-b", caB))\
            \(route("strict"))\
            \(route("fallback"))\
            \(route("broken"))\
            \(Self.service("v1", port: 8080, target: backend.port))
            """
        let lab = try await Lab(files: ["gateways.yaml": config], group: "chancery")
        defer { lab.stop() }

        func get(_ port: Int, _ name: String, _ client: TestCertificate?) async -> Int? {
            try? await httpsGet(port: port, serverName: name, clientCertificate: client).status
        }
        let ready = await eventually(timeout: .seconds(20)) { await get(strictPort, "example.org", clientA) == 200 }
        #expect(ready, "the strict listener never answered a valid client\n\(lab.output)")
        // AllowValidOnly: only the port's own CA gets in; the handshake fails otherwise.
        #expect(await get(strictPort, "example.org", clientB) == nil, "a certificate of another CA is refused in TLS")
        #expect(await get(strictPort, "example.org", nil) == nil, "no certificate is refused in TLS")
        #expect(await get(perPort, "second-example.org", clientB) == 200, "perPort names CA B for its port")
        #expect(await get(perPort, "second-example.org", clientA) == nil, "CA A is not trusted on the perPort port")
        // AllowInsecureFallback: everyone gets in.
        let fallbackReady = await eventually(timeout: .seconds(5)) { await get(fallbackPort, "example.org", clientA) == 200 }
        #expect(fallbackReady)
        #expect(await get(fallbackPort, "example.org", clientB) == 200)
        #expect(await get(fallbackPort, "example.org", nil) == 200)
        // No usable CA: the listener is not served at all.
        #expect(await get(brokenPort, "example.org", clientA) == nil)

        let status = try await lab.chancery.admin("/api/v1/objects?kind=Gateway")
        #expect(status.status == 200)
        let text = status.text
        #expect(text.contains("InsecureFrontendValidationMode"), "the fallback Gateway says it is insecure")
        #expect(text.contains("NoValidCACertificate"), "the broken listener says why it is not served")
        await backend.stop()
    }

    // MARK: Session persistence

    /// GEP-1619 through a real Envoy: a cookie session (one Service with two endpoints,
    /// and a rule splitting requests across two Services by weight, whose sessions
    /// share one cluster) and a header session keep every request of a session on the
    /// endpoint its first request reached, while requests without one are spread.
    @Test func sessionsStayOnTheirEndpoint() async throws {
        var backends: [String: EchoBackend] = [:]
        for name in ["p1", "p2", "a", "b"] { backends[name] = try await EchoBackend.start(name: name) }
        let port = try freePort()
        let pair = """

            ---
            apiVersion: v1
            kind: Service
            metadata: {name: pair, namespace: default}
            spec: {ports: [{name: http, port: 8080}]}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: pair-1, namespace: default, labels: {kubernetes.io/service-name: pair}}
            addressType: IPv4
            ports: [{name: http, port: \(backends["p1"]!.port)}]
            endpoints: [{addresses: [127.0.0.1]}]
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: pair-2, namespace: default, labels: {kubernetes.io/service-name: pair}}
            addressType: IPv4
            ports: [{name: http, port: \(backends["p2"]!.port)}]
            endpoints: [{addresses: [127.0.0.1]}]

            """
        let config = Self.httpGateway(port: port) + """

            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: sticky, namespace: default}
            spec:
              parentRefs: [{name: web}]
              rules:
              - matches: [{path: {type: PathPrefix, value: /cookie}}]
                backendRefs: [{name: pair, port: 8080}]
                sessionPersistence: {sessionName: chancery-session, cookieConfig: {lifetimeType: Permanent}, absoluteTimeout: 1h}
              - matches: [{path: {type: PathPrefix, value: /split}}]
                backendRefs: [{name: a, port: 8080, weight: 1}, {name: b, port: 8080, weight: 1}]
                sessionPersistence: {sessionName: split-session}
              - matches: [{path: {type: PathPrefix, value: /header}}]
                backendRefs: [{name: pair, port: 8080}]
                sessionPersistence: {sessionName: x-session, type: Header}
            \(pair)\
            \(Self.service("a", port: 8080, target: backends["a"]!.port))\
            \(Self.service("b", port: 8080, target: backends["b"]!.port))
            """
        let lab = try await Lab(files: ["web.yaml": config], group: "default/web")
        defer { lab.stop() }
        let ready = await eventually(timeout: .seconds(20)) {
            try await httpGet(port: port, path: "/split").status == 200
        }
        #expect(ready, "never served\n\(lab.output)")

        /// Who answers `count` requests carrying `headers`.
        func answers(_ path: String, _ headers: [(String, String)] = [], count: Int = 12) async throws -> Set<String> {
            var seen: Set<String> = []
            for _ in 0..<count {
                let result = try await httpGet(port: port, path: path, headers: headers)
                #expect(result.status == 200)
                if let backend = result.backend { seen.insert(backend) }
            }
            return seen
        }
        for (path, cookieName, pool) in [("/cookie", "chancery-session", ["p1", "p2"]), ("/split", "split-session", ["a", "b"])] {
            // Without a session, requests are spread over both.
            #expect(try await answers(path, count: 24) == Set(pool), "\(path) spreads requests without a session")
            let first = try await httpGet(port: port, path: path)
            let setCookie = first.headers["set-cookie"] ?? ""
            #expect(setCookie.hasPrefix(cookieName + "="), "\(path): set-cookie \(setCookie)")
            #expect(setCookie.contains("Path=\(path)"), "the cookie covers the route's paths: \(setCookie)")
            let cookie = String(setCookie.prefix { $0 != ";" })
            let sticky = try await answers(path, [("cookie", cookie)])
            #expect(sticky == [first.backend ?? "-"], "\(path): a session stays where it started: \(sticky)")
        }
        #expect(
            (try await httpGet(port: port, path: "/cookie")).headers["set-cookie"]?.contains("Max-Age=3600") == true,
            "a Permanent cookie lives absoluteTimeout")
        // A header session: the answer names the endpoint, requests that send it back stay.
        let first = try await httpGet(port: port, path: "/header")
        let session = try #require(first.headers["x-session"], "the answer carries the session header")
        #expect(try await answers("/header", [("x-session", session)]) == [first.backend ?? "-"])

        for backend in backends.values { await backend.stop() }
    }

    // MARK: WebSocket

    /// HTTPRouteBackendProtocolWebSocket: a handshake through Envoy reaches the backend,
    /// is answered 101, and messages go both ways — to a Service port that says
    /// `appProtocol: kubernetes.io/ws` and to one that says nothing.
    @Test func webSocketUpgradesReachTheBackend() async throws {
        let declared = try await WebSocketBackend.start(name: "ws")
        let plain = try await WebSocketBackend.start(name: "plain")
        let port = try freePort()
        let config = Self.httpGateway(port: port) + """

            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: sockets, namespace: default}
            spec:
              parentRefs: [{name: web}]
              hostnames: [ws.example.com]
              rules:
              - matches: [{path: {type: PathPrefix, value: /declared}}]
                backendRefs: [{name: ws, port: 8080}]
              - matches: [{path: {type: PathPrefix, value: /plain}}]
                backendRefs: [{name: plain, port: 8080}]
            \(Self.service("ws", port: 8080, target: declared.port, appProtocol: "kubernetes.io/ws"))\
            \(Self.service("plain", port: 8080, target: plain.port))
            """
        let lab = try await Lab(files: ["web.yaml": config], group: "default/web")
        defer { lab.stop() }

        var exchange: WebSocketExchange?
        let served = await eventually(timeout: .seconds(20)) {
            exchange = try await webSocketExchange(port: port, host: "ws.example.com", path: "/declared", message: "hello")
            return exchange?.status == 101
        }
        #expect(served, "no upgrade: \(String(describing: exchange))\n\(lab.output)")
        #expect(exchange?.reply == "ws: hello")
        let other = try await webSocketExchange(port: port, host: "ws.example.com", path: "/plain/chat", message: "hi")
        #expect(other.status == 101)
        #expect(other.reply == "plain: hi")
        #expect(plain.accepted.last?.path == "/plain/chat")
        #expect(plain.accepted.last?.headers["upgrade"]?.lowercased() == "websocket")
        // A path no rule matches is refused before any upgrade.
        let unrouted = try await webSocketExchange(port: port, host: "ws.example.com", path: "/nowhere", message: "x")
        #expect(unrouted.status == 404)

        await declared.stop()
        await plain.stop()
    }

    // MARK: TLS to backends

    /// GatewayBackendClientCertificate: a Gateway's `tls.backend.clientCertificateRef`
    /// is presented on TLS to backends (those with a BackendTLSPolicy) reached through
    /// it. A backend that requires client certificates answers through that Gateway,
    /// and refuses the handshake through one without (503); a reference that cannot be
    /// used leaves the Gateway accepted with `ResolvedRefs=False`.
    @Test func gatewaysPresentTheirBackendClientCertificate() async throws {
        let backendCA = try TestCA.make(commonName: "Backend CA")
        let clientCA = try TestCA.make(commonName: "Gateway client CA")
        let serving = try backendCA.issue(commonName: "secure.internal", dnsNames: ["secure.internal"])
        let client = try clientCA.issue(commonName: "gateway", dnsNames: [], clientAuth: true)
        let backend = try await TLSBackend.start(name: "secure", certificate: serving, clientCA: clientCA)
        let withCertificate = try freePort()
        let without = try freePort()
        let broken = try freePort()
        func gateway(_ name: String, _ port: Int, _ tls: String) -> String {
            "\n" + Self.gatewayAndRoute(name, port: port, spec: tls, backend: name, backendPort: 443) + """
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: \(name), namespace: default}
            spec:
              targetRefs: [{group: "", kind: Service, name: \(name)}]
              validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: backend-ca}], hostname: secure.internal}
            \(Self.service(name, port: 443, target: backend.port))
            """
        }
        let config =
            Self.gatewayClass
            + gateway("with-certificate", withCertificate, "tls: {backend: {clientCertificateRef: {name: gateway-client}}}")
            + gateway("without", without, "")
            + gateway("broken", broken, "tls: {backend: {clientCertificateRef: {name: no-such-secret}}}")
            + "\n---\n" + Self.tlsSecret("gateway-client", client) + Self.caConfigMap("backend-ca", backendCA)
        let lab = try await Lab(files: ["gateways.yaml": config], group: "chancery")
        defer { lab.stop() }

        var answer: HTTPResult?
        let served = await eventually(timeout: .seconds(20)) {
            answer = try await httpGet(port: withCertificate, path: "/")
            return answer?.status == 200
        }
        #expect(served, "mutual TLS to the backend never worked: \(answer?.status ?? 0) \(answer?.text ?? "")\n\(lab.output)")
        #expect(answer?.text == "secure\n")
        let refused = try await httpGet(port: without, path: "/")
        #expect(refused.status == 503, "without a client certificate the backend refuses: \(refused.status) \(refused.text)")
        let brokenAnswer = try await httpGet(port: broken, path: "/")
        #expect(brokenAnswer.status == 503, "an unusable reference presents nothing: \(brokenAnswer.status)")

        let gateways = try await lab.chancery.admin("/api/v1/objects?kind=Gateway")
        #expect(gateways.text.contains("InvalidClientCertificateRef"), "\(gateways.text)")
        await backend.stop()
    }

    @Test func backendTLSPolicyVerifiesTheBackendAndFailsClosedOnTheWrongCA() async throws {
        let ca = try TestCA.make(commonName: "Backend CA")
        let wrongCA = try TestCA.make(commonName: "Someone Else's CA")
        let certificate = try ca.issue(commonName: "secure.internal", dnsNames: ["secure.internal"])
        let backend = try await TLSBackend.start(name: "secure", certificate: certificate)
        let port = try freePort()
        let config = Self.httpGateway(port: port) + """

            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: web, namespace: default}
            spec:
              parentRefs: [{name: web}]
              rules:
              - matches: [{path: {value: /good}}]
                backendRefs: [{name: good, port: 443}]
              - matches: [{path: {value: /wrong-ca}}]
                backendRefs: [{name: wrong-ca, port: 443}]
              - matches: [{path: {value: /wrong-name}}]
                backendRefs: [{name: wrong-name, port: 443}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: good, namespace: default}
            spec:
              targetRefs: [{group: "", kind: Service, name: good}]
              validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: backend-ca}], hostname: secure.internal}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: wrong-ca, namespace: default}
            spec:
              targetRefs: [{group: "", kind: Service, name: wrong-ca}]
              validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: other-ca}], hostname: secure.internal}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: wrong-name, namespace: default}
            spec:
              targetRefs: [{group: "", kind: Service, name: wrong-name}]
              validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: backend-ca}], hostname: impostor.internal}
            \(Self.service("good", port: 443, target: backend.port))\(Self.service("wrong-ca", port: 443, target: backend.port))\
            \(Self.service("wrong-name", port: 443, target: backend.port))\(Self.caConfigMap("backend-ca", ca))\(Self.caConfigMap("other-ca", wrongCA))
            """
        let lab = try await Lab(files: ["web.yaml": config], group: "default/web")
        defer { lab.stop() }

        var good: HTTPResult?
        let served = await eventually(timeout: .seconds(20)) {
            good = try await httpGet(port: port, path: "/good")
            return good?.status == 200
        }
        #expect(served, "TLS to the backend never worked: \(good?.status ?? 0) \(good?.text ?? "")\n\(lab.output)")
        #expect(good?.text == "secure\n")
        #expect(backend.serverNames.contains("secure.internal"), "Envoy sent SNI \(backend.serverNames)")
        // Fail closed: a CA that did not sign the backend's certificate, or a hostname
        // the certificate does not carry, gives 503 and never the backend's answer.
        let wrongCAAnswer = try await httpGet(port: port, path: "/wrong-ca")
        #expect(wrongCAAnswer.status == 503, "\(wrongCAAnswer.status) \(wrongCAAnswer.text)")
        #expect(!wrongCAAnswer.text.contains("secure"))
        let wrongName = try await httpGet(port: port, path: "/wrong-name")
        #expect(wrongName.status == 503, "\(wrongName.status) \(wrongName.text)")

        await backend.stop()
    }
}
