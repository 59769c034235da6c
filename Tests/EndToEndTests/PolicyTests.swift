import Foundation
import Synchronization
import Testing
import TestSupport
import XDS

/// SecurityPolicy and BackendTrafficPolicy through a real Envoy: what a policy forbids is
/// answered by Envoy and never reaches the backend (the backend counts its requests).
@Suite(.serialized) struct PolicyTests {
    static let preamble = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: chancery}
        spec: {controllerName: chancery.dev/gateway-controller}
        """

    /// A Gateway with one HTTP listener, and a Service `app` whose endpoint is `target`.
    static func world(port: Int, target: Int) -> String {
        world(listeners: ["{name: http, protocol: HTTP, port: \(port)}"], target: target)
    }

    /// The Gateway `apps/edge` on 127.0.0.1 with `listeners` (YAML flow mappings), and a
    /// Service `service` whose endpoint is `target`.
    static func world(listeners: [String], service: String = "app", target: Int) -> String {
        """
        \(preamble)
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: edge, namespace: apps}
        spec:
          gatewayClassName: chancery
          addresses: [{type: IPAddress, value: 127.0.0.1}]
          listeners:
        \(listeners.map { "  - " + $0 }.joined(separator: "\n"))
        ---
        \(IngressTests.service(service, namespace: "apps", target: target))
        """
    }

    /// An HTTPRoute for `host` to the Service app.
    static func route(_ name: String, host: String, labels: String = "{}", rules: String? = nil) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: \(name), namespace: apps, labels: \(labels)}
        spec:
          parentRefs: [{name: edge}]
          hostnames: [\(host)]
          rules: \(rules ?? "[{backendRefs: [{name: app, port: 80}]}]")
        """
    }

    static func policy(_ kind: String, _ name: String, route: String, _ spec: String) -> String {
        """
        apiVersion: gateway.envoyproxy.io/v1alpha1
        kind: \(kind)
        metadata: {name: \(name), namespace: apps}
        spec:
          targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: \(route)}]
        \(spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    /// Serves `config` with an Envoy on the Gateway's group, ready once `probe` answers.
    static func start(_ config: String) async throws -> (chancery: ChanceryProcess, envoy: EnvoyProcess, done: @Sendable () -> Void) {
        let (chancery, done) = try await IngressTests.serve(config)
        let envoy: EnvoyProcess
        do {
            envoy = try await EnvoyProcess.start(
                bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "apps/edge", nodeID: "policies", adminPort: 0))
        } catch {
            done()
            throw error
        }
        let (waited, output) = try await runChancery(["wait", "--admin", chancery.adminAddress.description, "--group", "apps/edge"])
        #expect(waited == 0, "\(output)")
        return (chancery, envoy, { envoy.stop(); done() })
    }

    @Test func securityPoliciesDecideBeforeTheBackendSeesTheRequest() async throws {
        let backend = try await EchoBackend.start(name: "app")
        let port = try freePort()
        let config = """
            \(Self.world(port: port, target: backend.port))
            ---
            \(Self.route("landing", host: "landing.example.com", labels: "{tier: public}"))
            ---
            \(Self.route("office", host: "office.example.com"))
            ---
            \(Self.route("elsewhere", host: "elsewhere.example.com"))
            ---
            \(Self.route("users", host: "users.example.com"))
            ---
            \(Self.route("keys", host: "keys.example.com"))
            ---
            \(Self.route("broken", host: "broken.example.com"))
            ---
            \(Self.route("open", host: "open.example.com"))
            ---
            # The seed scenario: only GET /public and POST /v1/request-landing.
            apiVersion: gateway.envoyproxy.io/v1alpha1
            kind: SecurityPolicy
            metadata: {name: landing, namespace: apps}
            spec:
              targetSelectors: [{kind: HTTPRoute, matchLabels: {tier: public}}]
              authorization:
                defaultAction: Deny
                rules:
                - {action: Allow, operation: {methods: [GET], path: {type: Exact, value: /public}}, principal: {clientCIDRs: [0.0.0.0/0]}}
                - {action: Allow, operation: {methods: [POST], path: {value: /v1/request-landing}}, principal: {clientCIDRs: [0.0.0.0/0]}}
            ---
            \(Self.policy("SecurityPolicy", "office", route: "office", """
                authorization:
                  defaultAction: Deny
                  rules:
                  - {action: Deny, operation: {path: {value: /private}}, principal: {clientCIDRs: [127.0.0.0/8]}}
                  - {action: Allow, principal: {clientCIDRs: [127.0.0.1/32], headers: [{name: x-user-id, values: [alice, bob]}]}}
                """))
            ---
            \(Self.policy("SecurityPolicy", "elsewhere", route: "elsewhere", """
                authorization:
                  defaultAction: Allow
                  rules: [{action: Deny, principal: {clientCIDRs: [127.0.0.0/8]}}]
                """))
            ---
            \(Self.policy("SecurityPolicy", "users", route: "users", """
                basicAuth: {users: {name: users}}
                """))
            ---
            \(Self.policy("SecurityPolicy", "keys", route: "keys", """
                apiKeyAuth:
                  credentialRefs: [{name: api-keys}]
                  extractFrom: [{headers: [x-api-key]}, {params: [api_key]}]
                  forwardClientIDHeader: x-client-id
                  sanitize: true
                cors:
                  allowOrigins: ["https://*.example.com"]
                  allowMethods: [GET, PUT]
                  allowHeaders: [x-api-key]
                  maxAge: 10m
                """))
            ---
            \(Self.policy("SecurityPolicy", "broken", route: "broken", """
                basicAuth: {users: {name: no-such-secret}}
                """))
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: users, namespace: apps}
            type: Opaque
            stringData: {.htpasswd: "alice:{SHA}F2GPAaOiG5EcklvLUlodIavTBnM=\\n"}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: api-keys, namespace: apps}
            type: Opaque
            data: {client-a: \(Data("key-a-123".utf8).base64EncodedString())}
            """
        let (chancery, _, done) = try await Self.start(config)
        defer { done() }
        func get(_ host: String, _ path: String = "/", method: String = "GET", headers: [(String, String)] = []) async throws -> HTTPResult {
            try await httpGet(port: port, path: path, host: host, method: method, headers: headers)
        }
        #expect(await eventually { try await get("open.example.com").status == 200 })

        // The seed scenario: the two operations reach the backend, nothing else does.
        var before = backend.received.count
        #expect(try await get("landing.example.com", "/public").status == 200)
        #expect(try await get("landing.example.com", "/public?utm=1").status == 200)
        #expect(try await get("landing.example.com", "/v1/request-landing", method: "POST").status == 200)
        #expect(try await get("landing.example.com", "/v1/request-landing/step", method: "POST").status == 200)
        #expect(backend.received.count == before + 4)
        before = backend.received.count
        for (method, path) in [
            ("POST", "/public"), ("GET", "/v1/request-landing"), ("DELETE", "/public"), ("GET", "/public/more"), ("GET", "/"),
            ("GET", "/v1/request-landingx"), ("PUT", "/v1/request-landing"),
        ] {
            let answer = try await get("landing.example.com", path, method: method)
            #expect(answer.status == 403, "\(method) \(path): \(answer.status)")
        }
        #expect(backend.received.count == before, "the backend saw a denied request")

        // Client ranges and headers, first match wins: a Deny before an Allow.
        #expect(try await get("office.example.com", "/", headers: [("x-user-id", "alice")]).status == 200)
        #expect(try await get("office.example.com", "/", headers: [("x-user-id", "eve")]).status == 403)
        #expect(try await get("office.example.com", "/").status == 403)
        #expect(try await get("office.example.com", "/private", headers: [("x-user-id", "alice")]).status == 403)
        #expect(try await get("office.example.com", "/privateer", headers: [("x-user-id", "bob")]).status == 200)
        // A default of allow with the client's range denied.
        #expect(try await get("elsewhere.example.com").status == 403)

        // Basic auth.
        #expect(try await get("users.example.com").status == 401)
        #expect(try await get("users.example.com", headers: [("authorization", "Basic YWxpY2U6d3Jvbmc=")]).status == 401)
        let alice = try await get("users.example.com", headers: [("authorization", "Basic YWxpY2U6b3BlbnNlc2FtZQ==")])
        #expect(alice.status == 200 && alice.backend == "app")

        // API keys, from a header or the query; the key is not passed on, the client is.
        #expect(try await get("keys.example.com").status == 401)
        #expect(try await get("keys.example.com", headers: [("x-api-key", "nope")]).status == 401)
        let keyed = try await get("keys.example.com", headers: [("x-api-key", "key-a-123")])
        #expect(keyed.status == 200)
        #expect(keyed.echo?.headers["x-client-id"] == "client-a" && keyed.echo?.headers["x-api-key"] == nil, "\(keyed.text)")
        #expect(try await get("keys.example.com", "/?api_key=key-a-123").status == 200)
        // CORS: the proxy answers an allowed origin's preflight itself.
        before = backend.received.count
        let preflight = try await get(
            "keys.example.com", "/", method: "OPTIONS",
            headers: [("origin", "https://app.example.com"), ("access-control-request-method", "PUT")])
        #expect(preflight.status == 200 && preflight.headers["access-control-allow-origin"] == "https://app.example.com", "\(preflight.headers)")
        #expect(preflight.headers["access-control-max-age"] == "600")
        #expect(backend.received.count == before)

        // A policy that cannot be used fails closed, and its status says why.
        let broken = try await get("broken.example.com")
        #expect(broken.status == 500 && broken.text.contains("Secret apps/no-such-secret does not exist"), "\(broken.text)")
        let objects = try await chancery.adminJSON("/api/v1/objects?kind=SecurityPolicy")["objects"] as? [[String: Any]] ?? []
        let status = try #require(objects.first { $0["name"] as? String == "broken" })
        #expect("\(status)".contains("Invalid"), "\(status)")
        // The admin endpoint lists, per route, the policies in effect and what they decide.
        let routes = try await chancery.adminJSON("/api/v1/objects?kind=HTTPRoute")["objects"] as? [[String: Any]] ?? []
        let keys = try #require(routes.first { $0["name"] as? String == "keys" })
        let policies = keys["policies"] as? [[String: Any]] ?? []
        #expect(policies.count == 1 && (policies.first?["features"] as? [String]) == ["apiKeyAuth", "cors"], "\(policies)")
        #expect((routes.first { $0["name"] as? String == "open" })?["policies"] == nil)
        let (described, text) = try await runChancery(["describe", "httproute", "apps/keys", "--admin", chancery.adminAddress.description])
        #expect(described == 0 && text.contains("Policies in effect:\n  SecurityPolicy apps/keys (apiKeyAuth, cors) for rule 0 on Gateway apps/edge listener http"), "\(text)")
        await backend.stop()
    }

    @Test func backendTrafficPoliciesLimitRetryAndInjectFaults() async throws {
        let backend = try await EchoBackend.start(name: "app")
        let port = try freePort()
        let config = """
            \(Self.world(port: port, target: backend.port))
            ---
            \(Self.route("limited", host: "limited.example.com"))
            ---
            \(Self.route("retried", host: "retried.example.com"))
            ---
            \(Self.route("faulty", host: "faulty.example.com"))
            ---
            \(Self.route("open", host: "open.example.com"))
            ---
            \(Self.policy("BackendTrafficPolicy", "limited", route: "limited", """
                rateLimit:
                  type: Local
                  local:
                    rules:
                    - limit: {requests: 5, unit: Hour}
                    - clientSelectors: [{headers: [{name: x-user-id, value: john}]}]
                      limit: {requests: 2, unit: Hour}
                    - clientSelectors: [{headers: [{name: x-tenant, type: Distinct}]}]
                      limit: {requests: 1, unit: Hour}
                """))
            ---
            \(Self.policy("BackendTrafficPolicy", "retried", route: "retried", """
                retry:
                  numRetries: 3
                  retryOn: {triggers: [retriable-status-codes], httpStatusCodes: [503]}
                  perRetry: {backOff: {baseInterval: 10ms, maxInterval: 20ms}}
                timeout: {http: {requestTimeout: 300ms}}
                """))
            ---
            \(Self.policy("BackendTrafficPolicy", "faulty", route: "faulty", """
                faultInjection:
                  abort: {httpStatus: 418}
                """))
            """
        let (_, _, done) = try await Self.start(config)
        defer { done() }
        func get(_ host: String, _ path: String = "/", headers: [(String, String)] = []) async throws -> HTTPResult {
            try await httpGet(port: port, path: path, host: host, headers: headers)
        }
        #expect(await eventually { try await get("open.example.com").status == 200 })

        // john's bucket (2) before the route's (5); another tenant a bucket each.
        let first = try await get("limited.example.com", headers: [("x-user-id", "john")])
        #expect(first.status == 200 && first.headers["x-ratelimit-limit"] == "2", "\(first.headers)")
        #expect(try await get("limited.example.com", headers: [("x-user-id", "john")]).status == 200)
        let over = try await get("limited.example.com", headers: [("x-user-id", "john")])
        #expect(over.status == 429 && over.headers["x-ratelimit-remaining"] == "0", "\(over.status) \(over.headers)")
        #expect(try await get("limited.example.com", headers: [("x-tenant", "a")]).status == 200)
        #expect(try await get("limited.example.com", headers: [("x-tenant", "a")]).status == 429)
        #expect(try await get("limited.example.com", headers: [("x-tenant", "b")]).status == 200)
        var statuses: [Int] = []
        for _ in 0..<6 { statuses.append(try await get("limited.example.com").status) }
        #expect(statuses == [200, 200, 200, 200, 200, 429], "\(statuses)")
        // Routes without a policy are not limited and get no rate-limit headers.
        let open = try await get("open.example.com")
        #expect(open.status == 200 && open.headers["x-ratelimit-limit"] == nil)

        // A backend failing the first two attempts with 503: the third answers.
        // (Envoy gives the request its own x-request-id, the same on every attempt.)
        let retried = try await get("retried.example.com", headers: [("x-echo-status", "503"), ("x-echo-fail-times", "2")])
        #expect(retried.status == 200, "\(retried.status)")
        let attempts = backend.received.filter { $0.headers["x-echo-fail-times"] == "2" }
        #expect(attempts.count == 3 && Set(attempts.compactMap { $0.headers["x-request-id"] }).count == 1)
        // The request timeout: a slow answer gets 504 from Envoy.
        #expect(try await get("retried.example.com", headers: [("x-echo-delay-ms", "1500")]).status == 504)

        // Fault injection aborts every request before the backend.
        let before = backend.received.count
        #expect(try await get("faulty.example.com").status == 418)
        #expect(backend.received.count == before)
        await backend.stop()
    }

    /// ClientTrafficPolicy: trusted X-Forwarded-For hops decide the client address the
    /// authorization sees; client certificates are required on the HTTPS listener.
    @Test func clientTrafficPoliciesSetTheClientAddressAndRequireCertificates() async throws {
        let backend = try await EchoBackend.start(name: "app")
        let (http, https) = (try freePort(), try freePort())
        let ca = try TestCA.make(commonName: "Policy test CA")
        let server = try ca.issue(commonName: "secure.example.com", dnsNames: ["secure.example.com"])
        let client = try ca.issue(commonName: "client", dnsNames: ["client.example.com"], clientAuth: true)
        let stranger = try TestCA.make(commonName: "Another CA").issue(commonName: "stranger", dnsNames: ["x.example.com"], clientAuth: true)
        let config = """
            \(Self.world(
                listeners: [
                    "{name: http, protocol: HTTP, port: \(http)}",
                    "{name: https, protocol: HTTPS, port: \(https), tls: {certificateRefs: [{name: server}]}}",
                ], target: backend.port))
            ---
            \(IngressTests.secret("server", namespace: "apps", server))
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: client-ca, namespace: apps}
            data:
              ca.crt: |
            \(ca.certificatePEM.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: app, namespace: apps}
            spec:
              parentRefs: [{name: edge}]
              rules: [{backendRefs: [{name: app, port: 80}]}]
            ---
            apiVersion: gateway.envoyproxy.io/v1alpha1
            kind: ClientTrafficPolicy
            metadata: {name: edge, namespace: apps}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]
              clientIPDetection: {xForwardedFor: {numTrustedHops: 2}}
            ---
            apiVersion: gateway.envoyproxy.io/v1alpha1
            kind: ClientTrafficPolicy
            metadata: {name: mtls, namespace: apps}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge, sectionName: https}]
              tls: {clientValidation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: client-ca}]}}
            ---
            \(Self.policy("SecurityPolicy", "office", route: "app", """
                authorization:
                  defaultAction: Allow
                  rules:
                  - {action: Deny, principal: {clientCIDRs: [192.168.1.0/24]}}
                """))
            """
        let (_, _, done) = try await Self.start(config)
        defer { done() }
        #expect(await eventually { try await httpGet(port: http).status == 200 })
        // Two trusted hops: the client is the second entry from the right.
        func status(_ forwardedFor: String) async throws -> Int {
            try await httpGet(port: http, headers: [("x-forwarded-for", forwardedFor)]).status
        }
        #expect(try await status("192.168.1.7, 10.0.0.1") == 403)
        #expect(try await status("10.0.0.1, 192.168.1.7") == 200)
        #expect(try await status("192.168.1.7, 10.0.0.1, 10.0.0.2") == 200)
        #expect(try await status("203.0.113.9, 192.168.1.7, 10.0.0.2") == 403)

        // The HTTPS listener asks for a certificate from the policy's CA.
        func secure(_ certificate: TestCertificate?) async -> Int? {
            try? await httpsGet(port: https, serverName: "secure.example.com", clientCertificate: certificate).status
        }
        #expect(await eventually { await secure(client) == 200 })
        #expect(await secure(nil) == nil, "a client without a certificate is refused in TLS")
        #expect(await secure(stranger) == nil, "a certificate of another CA is refused in TLS")
        await backend.stop()
    }

    /// A Service `name` (port 80) with an endpoint on 127.0.0.1 at each of `targets`.
    static func service(_ name: String, targets: [Int]) -> String {
        (["""
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: apps}
            spec: {ports: [{port: 80}]}
            """]
            + targets.enumerated().map { index, target in
                """
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: \(name)-\(index), namespace: apps, labels: {kubernetes.io/service-name: \(name)}}
                addressType: IPv4
                endpoints: [{addresses: [127.0.0.1]}]
                ports: [{port: \(target)}]
                """
            }).joined(separator: "\n---\n")
    }

    /// Cluster settings of BackendTrafficPolicy: passive and active health checks keep
    /// traffic off failing and dead endpoints; consistent hashing keeps a client on one.
    @Test func backendTrafficPoliciesShapeTheClusters() async throws {
        let healthy = try await EchoBackend.start(name: "healthy")
        let failing = try await EchoBackend.start(name: "failing", status: 503)
        let other = try await EchoBackend.start(name: "other")
        let (port, dead) = (try freePort(), try freePort())
        func route(_ name: String, service: String) -> String {
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: \(name), namespace: apps}
            spec:
              parentRefs: [{name: edge}]
              hostnames: [\(name).example.com]
              rules: [{backendRefs: [{name: \(service), port: 80}]}]
            """
        }
        let config = """
            \(Self.world(port: port, target: healthy.port))
            ---
            \(Self.service("flaky", targets: [healthy.port, failing.port]))
            ---
            \(Self.service("half-dead", targets: [healthy.port, dead]))
            ---
            \(Self.service("pair", targets: [healthy.port, other.port]))
            ---
            \(route("ejecting", service: "flaky"))
            ---
            \(route("checked", service: "half-dead"))
            ---
            \(route("sticky", service: "pair"))
            ---
            \(Self.policy("BackendTrafficPolicy", "ejecting", route: "ejecting", """
                loadBalancer: {type: RoundRobin}
                healthCheck:
                  passive: {consecutive5XxErrors: 1, interval: 1s, baseEjectionTime: 5m, maxEjectionPercent: 50}
                """))
            ---
            \(Self.policy("BackendTrafficPolicy", "checked", route: "checked", """
                healthCheck:
                  active:
                    type: HTTP
                    http: {path: /healthz, expectedStatuses: [200]}
                    interval: 200ms
                    timeout: 100ms
                    unhealthyThreshold: 1
                    healthyThreshold: 1
                """))
            ---
            \(Self.policy("BackendTrafficPolicy", "sticky", route: "sticky", """
                loadBalancer:
                  type: ConsistentHash
                  consistentHash: {type: Header, header: {name: x-user}}
                """))
            """
        let (_, _, done) = try await Self.start(config)
        defer { done() }
        func get(_ host: String, headers: [(String, String)] = []) async throws -> HTTPResult {
            try await httpGet(port: port, host: host, headers: headers)
        }
        #expect(await eventually { try await get("sticky.example.com").status == 200 })

        // Passive: the endpoint answering 503 is ejected after its first; then only the
        // healthy one answers.
        var answers: [Int] = []
        for _ in 0..<6 { answers.append(try await get("ejecting.example.com").status) }
        #expect(answers.contains(503) && answers.last == 200, "\(answers)")
        let failed = failing.received.count
        answers = []
        for _ in 0..<10 { answers.append(try await get("ejecting.example.com").status) }
        #expect(answers.allSatisfy { $0 == 200 } && failing.received.count == failed, "\(answers)")

        // Active: the endpoint where nothing listens never gets a request.
        #expect(await eventually { try await get("checked.example.com").status == 200 })
        answers = []
        for _ in 0..<20 { answers.append(try await get("checked.example.com").status) }
        #expect(answers.allSatisfy { $0 == 200 }, "\(answers)")
        #expect(healthy.received.contains { $0.path == "/healthz" }, "the proxy checks the endpoints")

        // Consistent hashing: a user stays on one endpoint; users spread over both.
        var chosen: Set<String> = []
        for user in 0..<20 {
            var seen: Set<String> = []
            for _ in 0..<4 { seen.insert(try await get("sticky.example.com", headers: [("x-user", "user-\(user)")]).backend ?? "none") }
            #expect(seen.count == 1, "user-\(user) went to \(seen)")
            chosen.formUnion(seen)
        }
        #expect(chosen == ["healthy", "other"], "\(chosen)")
        for backend in [healthy, failing, other] { await backend.stop() }
    }

    /// SecurityPolicy `jwt`: tokens made in the test are checked by Envoy against keys
    /// given inline and fetched from a JWKS server; claims become headers and decide
    /// authorization; an optional provider lets requests without a token in.
    @Test func jsonWebTokensAreCheckedByEnvoy() async throws {
        let backend = try await EchoBackend.start(name: "app")
        let port = try freePort()
        let local = TestJWTIssuer(issuer: "https://issuer.example.com")
        let remote = TestJWTIssuer(issuer: "https://remote.example.com", keyID: "remote-key")
        // The remote keys come from an HTTP server on loopback (python's http.server).
        let jwksDir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-jwks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: jwksDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: jwksDir) }
        try remote.jwks.write(to: jwksDir.appendingPathComponent("jwks.json"), atomically: true, encoding: .utf8)
        let jwksPort = try freePort()
        let server = try ChildProcess(
            executable: "/usr/bin/python3", arguments: ["-m", "http.server", "--bind", "127.0.0.1", "--directory", jwksDir.path, String(jwksPort)],
            output: jwksDir.appendingPathComponent("server.log").path)
        defer { server.stop() }
        let config = """
            \(Self.world(port: port, target: backend.port))
            ---
            \(Self.route("api", host: "api.example.com"))
            ---
            \(Self.route("admin", host: "admin.example.com"))
            ---
            \(Self.route("remote", host: "remote.example.com"))
            ---
            \(Self.route("optional", host: "optional.example.com"))
            ---
            \(Self.policy("SecurityPolicy", "api", route: "api", """
                jwt:
                  providers:
                  - name: local
                    issuer: https://issuer.example.com
                    localJWKS: {type: Inline, inline: '\(local.jwks)'}
                    claimToHeaders: [{header: x-user, claim: sub}]
                """))
            ---
            \(Self.policy("SecurityPolicy", "admin", route: "admin", """
                jwt:
                  providers:
                  - name: local
                    issuer: https://issuer.example.com
                    localJWKS: {type: ValueRef, valueRef: {group: "", kind: ConfigMap, name: jwks}}
                authorization:
                  defaultAction: Deny
                  rules:
                  - action: Allow
                    principal:
                      jwt: {provider: local, claims: [{name: role, values: [admin]}], scopes: [write]}
                """))
            ---
            \(Self.policy("SecurityPolicy", "remote", route: "remote", """
                jwt:
                  providers:
                  - name: remote
                    issuer: https://remote.example.com
                    remoteJWKS: {uri: "http://127.0.0.1:\(jwksPort)/jwks.json"}
                """))
            ---
            \(Self.policy("SecurityPolicy", "optional", route: "optional", """
                jwt:
                  optional: true
                  providers:
                  - {name: local, localJWKS: {inline: '\(local.jwks)'}}
                """))
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: jwks, namespace: apps}
            data: {jwks: '\(local.jwks)'}
            """
        let (_, _, done) = try await Self.start(config)
        defer { done() }
        func get(_ host: String, token: String?) async throws -> HTTPResult {
            try await httpGet(port: port, host: host, headers: token.map { [("authorization", "Bearer \($0)")] } ?? [])
        }
        let valid = try local.token(claims: ["sub": "alice"])
        #expect(await eventually { try await get("api.example.com", token: valid).status == 200 })
        let answer = try await get("api.example.com", token: valid)
        #expect(answer.echo?.headers["x-user"] == "alice", "\(answer.text)")
        var before = backend.received.count
        #expect(try await get("api.example.com", token: nil).status == 401)
        let expired = try await get("api.example.com", token: try local.token(claims: ["sub": "alice"], expiresIn: -600))
        #expect(expired.status == 401 && expired.text.contains("expired"), "\(expired.text)")
        let wrongIssuer = try await get("api.example.com", token: try local.token(issuer: "https://evil.example.com"))
        #expect(wrongIssuer.status == 401, "\(wrongIssuer.text)")
        let otherKey = try await get("api.example.com", token: try remote.token(issuer: "https://issuer.example.com"))
        #expect(otherKey.status == 401, "\(otherKey.text)")
        #expect(backend.received.count == before, "the backend saw a request without a valid token")

        // Claims and scopes decide authorization: 403 for a valid token that lacks them.
        #expect(try await get("admin.example.com", token: try local.token(claims: ["role": "admin", "scope": "read write"])).status == 200)
        #expect(try await get("admin.example.com", token: try local.token(claims: ["role": "admin", "scope": "read"])).status == 403)
        #expect(try await get("admin.example.com", token: try local.token(claims: ["role": "user", "scope": "write"])).status == 403)
        #expect(try await get("admin.example.com", token: nil).status == 401)

        // Keys fetched from the JWKS server.
        #expect(await eventually { try await get("remote.example.com", token: try remote.token()).status == 200 })
        #expect(try await get("remote.example.com", token: valid).status == 401)

        // Optional: no token passes, a bad one does not.
        before = backend.received.count
        #expect(try await get("optional.example.com", token: nil).status == 200)
        #expect(try await get("optional.example.com", token: valid).status == 200)
        #expect(try await get("optional.example.com", token: "not.a.token").status == 401)
        #expect(backend.received.count == before + 2)
        await backend.stop()
    }

    /// A policy change reaches Envoy as a route change does: each edit of a policy file
    /// takes effect, and a route the policy does not govern answers 200 all along.
    @Test func policyChangesPropagateWithoutDisturbingOtherRoutes() async throws {
        let backend = try await EchoBackend.start(name: "app")
        let port = try freePort()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-policy-churn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
            \(Self.world(port: port, target: backend.port))
            ---
            \(Self.route("steady", host: "steady.example.com"))
            ---
            \(Self.route("guarded", host: "guarded.example.com"))
            """.write(to: dir.appendingPathComponent("world.yaml"), atomically: true, encoding: .utf8)
        func policy(denying path: String) -> String {
            Self.policy("SecurityPolicy", "guard", route: "guarded", """
                authorization:
                  defaultAction: Allow
                  rules: [{action: Deny, operation: {path: {value: \(path)}}, principal: {clientCIDRs: [0.0.0.0/0]}}]
                """)
        }
        try policy(denying: "/v0").write(to: dir.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        let chancery = try await ChanceryProcess.serve(["--config-dir", dir.path])
        defer { chancery.stop() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "apps/edge", nodeID: "churn", adminPort: 0))
        defer { envoy.stop() }
        #expect(await eventually { try await httpGet(port: port, path: "/v0", host: "guarded.example.com").status == 403 })

        // The steady route is asked continuously while the policy changes ten times.
        let statuses = Mutex<[Int]>([])
        let done = Mutex(false)
        let load = Task {
            while !done.withLock({ $0 }) {
                let status = (try? await httpGet(port: port, host: "steady.example.com").status) ?? 0
                statuses.withLock { $0.append(status) }
            }
        }
        for round in 1...10 {
            try policy(denying: "/v\(round)").write(to: dir.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
            let applied = await eventually(timeout: .seconds(5)) {
                try await httpGet(port: port, path: "/v\(round)", host: "guarded.example.com").status == 403
            }
            #expect(applied, "round \(round) never reached Envoy\n\(chancery.output.suffix(2000))")
            #expect(try await httpGet(port: port, path: "/v\(round - 1)", host: "guarded.example.com").status == 200)
        }
        done.withLock { $0 = true }
        await load.value
        let seen = statuses.withLock { $0 }
        #expect(seen.count > 20 && seen.allSatisfy { $0 == 200 }, "\(seen.count) requests, not all 200: \(Set(seen))")
        await backend.stop()
    }

    /// The limits and options of ClientTrafficPolicy and BackendTrafficPolicy through
    /// Envoy: a connection limit, request ids turned off, HTTP/1.0 accepted, a minimum
    /// TLS version, and a circuit breaker that refuses what exceeds it.
    @Test func connectionLimitsProtocolOptionsAndCircuitBreakers() async throws {
        let backend = try await EchoBackend.start(name: "app")
        let (http, https, other) = (try freePort(), try freePort(), try freePort())
        let ca = try TestCA.make(commonName: "Limits test CA")
        let server = try ca.issue(commonName: "secure.example.com", dnsNames: ["secure.example.com"])
        let config = """
            \(Self.world(
                listeners: [
                    "{name: http, protocol: HTTP, port: \(http)}", "{name: other, protocol: HTTP, port: \(other)}",
                    "{name: https, protocol: HTTPS, port: \(https), tls: {certificateRefs: [{name: server}]}}",
                ], target: backend.port))
            ---
            \(IngressTests.secret("server", namespace: "apps", server))
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: app, namespace: apps}
            spec:
              parentRefs: [{name: edge}]
              rules: [{backendRefs: [{name: app, port: 80}]}]
            ---
            \(Self.route("limited", host: "limited.example.com"))
            ---
            apiVersion: gateway.envoyproxy.io/v1alpha1
            kind: ClientTrafficPolicy
            metadata: {name: http, namespace: apps}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge, sectionName: http}]
              connection: {connectionLimit: {value: 1}}
              headers: {requestID: Disable}
              http1: {http10: {}}
            ---
            apiVersion: gateway.envoyproxy.io/v1alpha1
            kind: ClientTrafficPolicy
            metadata: {name: https, namespace: apps}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge, sectionName: https}]
              tls: {minVersion: "1.3"}
            ---
            \(Self.policy("BackendTrafficPolicy", "limited", route: "limited", """
                circuitBreaker: {maxConnections: 1, maxPendingRequests: 1}
                """))
            """
        let (_, _, done) = try await Self.start(config)
        defer { done() }
        #expect(await eventually { try await httpGet(port: other).status == 200 })
        #expect(await eventually { try await httpGet(port: http).status == 200 })

        // Request ids: generated on the other listener, none on this one.
        #expect(try await httpGet(port: other).echo?.headers["x-request-id"] != nil)
        #expect(try await httpGet(port: http).echo?.headers["x-request-id"] == nil)
        // HTTP/1.0 is accepted here; Envoy refuses it (426) elsewhere.
        let old = try await tcpExchange(port: http, message: "GET / HTTP/1.0\r\nHost: example.com\r\n\r")
        #expect(old.contains(" 200"), "\(old)")
        let refused = try await tcpExchange(port: other, message: "GET / HTTP/1.0\r\nHost: example.com\r\n\r")
        #expect(refused.contains(" 426"), "\(refused)")

        // One connection at a time: a second one is closed while the first is held.
        let held = try await HeldConnection.open(port: http)
        try await Task.sleep(for: .milliseconds(200))
        #expect((try? await httpGet(port: http, timeout: .seconds(2))) == nil, "a second connection was served")
        #expect(held.isOpen)
        await held.close()
        #expect(await eventually { try await httpGet(port: http).status == 200 })

        // TLS 1.3 at least: a client that stops at TLS 1.2 cannot connect.
        #expect(await eventually { (try? await httpsGet(port: https, serverName: "secure.example.com").status) == 200 })
        #expect((try? await httpsGet(port: https, serverName: "secure.example.com", tls12Only: true)) == nil)

        // One connection to the backend and one request waiting for it: of three at
        // once, the proxy answers at least one 503 itself.
        async let first = httpGet(port: other, host: "limited.example.com", headers: [("x-echo-delay-ms", "800")])
        async let second = httpGet(port: other, host: "limited.example.com", headers: [("x-echo-delay-ms", "800")])
        async let third = httpGet(port: other, host: "limited.example.com", headers: [("x-echo-delay-ms", "800")])
        let answers = try await [first, second, third]
        let codes = answers.map(\.status).sorted()
        #expect(codes.first == 200 && codes.last == 503, "\(codes)")
        #expect(answers.contains { $0.status == 503 && $0.headers["x-envoy-overloaded"] == "true" }, "\(answers.map(\.headers))")
        await backend.stop()
    }

    /// A SecurityPolicy on a TCPRoute (or its Gateway) authorizes connections by client
    /// address: Envoy closes the others before they reach the backend.
    @Test func tcpConnectionsAreAuthorizedByClientAddress() async throws {
        let echo = try await TCPEchoBackend.start(name: "tcp")
        let (open, closed) = (try freePort(), try freePort())
        func route(_ name: String, listener: String) -> String {
            """
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TCPRoute
            metadata: {name: \(name), namespace: apps}
            spec:
              parentRefs: [{name: edge, sectionName: \(listener)}]
              rules: [{backendRefs: [{name: echo, port: 80}]}]
            """
        }
        let config = """
            \(Self.world(
                listeners: ["{name: open, protocol: TCP, port: \(open)}", "{name: closed, protocol: TCP, port: \(closed)}"],
                service: "echo", target: echo.port))
            ---
            \(route("open", listener: "open"))
            ---
            \(route("closed", listener: "closed"))
            ---
            apiVersion: gateway.envoyproxy.io/v1alpha1
            kind: SecurityPolicy
            metadata: {name: loopback-only, namespace: apps}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: TCPRoute, name: open}]
              authorization:
                defaultAction: Deny
                rules: [{action: Allow, principal: {clientCIDRs: [127.0.0.1/32]}}]
            ---
            apiVersion: gateway.envoyproxy.io/v1alpha1
            kind: SecurityPolicy
            metadata: {name: no-loopback, namespace: apps}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: edge}]
              authorization:
                defaultAction: Allow
                rules: [{action: Deny, principal: {clientCIDRs: [127.0.0.0/8]}}]
            """
        let (_, _, done) = try await Self.start(config)
        defer { done() }
        // The route's own policy admits loopback; the Gateway's, on the other route, not.
        #expect(await eventually { (try? await tcpExchange(port: open, message: "hello", timeout: .milliseconds(500))) == "tcp: hello" })
        #expect((try? await tcpExchange(port: closed, message: "hello", timeout: .seconds(1))) == nil)
        await echo.stop()
    }
}
