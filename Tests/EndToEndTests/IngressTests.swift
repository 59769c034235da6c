import Foundation
import Testing
import TestSupport
import XDS

/// Kubernetes Ingress through real Envoys: dedicated and shared proxy groups, path
/// precedence, a one-label wildcard host, TLS by SNI and conflicts.
@Suite(.serialized) struct IngressTests {
    /// A Service with one port (80 unless said) and its EndpointSlice to 127.0.0.1:`target`.
    static func service(_ name: String, namespace: String, target: Int, port: Int = 80, portName: String? = nil) -> String {
        let named = portName.map { "name: \($0), " } ?? ""
        return """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: \(namespace)}
            spec: {ports: [{\(named)port: \(port)}]}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: \(name)-1, namespace: \(namespace), labels: {kubernetes.io/service-name: \(name)}}
            addressType: IPv4
            endpoints: [{addresses: [127.0.0.1]}]
            ports: [{\(named)port: \(target)}]
            """
    }

    /// A TLS Secret holding `certificate`.
    static func secret(_ name: String, namespace: String, _ certificate: TestCertificate) -> String {
        """
        apiVersion: v1
        kind: Secret
        metadata: {name: \(name), namespace: \(namespace)}
        type: kubernetes.io/tls
        data: {tls.crt: \(Data(certificate.certificatePEM.utf8).base64EncodedString()), tls.key: \(Data(certificate.privateKeyPEM.utf8).base64EncodedString())}
        """
    }

    /// `chancery serve` of `config`, written to a directory of its own (removed by `done`).
    static func serve(_ config: String, _ arguments: [String] = []) async throws -> (chancery: ChanceryProcess, done: @Sendable () -> Void) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-ingress-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try config.write(to: dir.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let chancery = try await ChanceryProcess.serve(["--config-dir", dir.path] + arguments)
        return (chancery, { chancery.stop(); try? FileManager.default.removeItem(at: dir) })
    }
    @Test func dedicatedAndSharedIngressesAreServedAsTheSpecSays() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let ca = try TestCA.make(commonName: "Ingress test CA")
        let shop = try ca.issue(commonName: "shop.example.com", dnsNames: ["shop.example.com"])
        let cdn = try ca.issue(commonName: "cdn.example.com", dnsNames: ["*.cdn.example.com"])
        let (oneHTTP, oneHTTPS, twoHTTP, twoHTTPS, sharedHTTP, sharedHTTPS) = (
            try freePort(), try freePort(), try freePort(), try freePort(), try freePort(), try freePort()
        )
        let config = """
            apiVersion: networking.k8s.io/v1
            kind: IngressClass
            metadata:
              name: chancery-ingress
              annotations: {ingressclass.kubernetes.io/is-default-class: "true", chancery.dev/ingress-ports: "\(sharedHTTP),\(sharedHTTPS)"}
            spec: {controller: chancery.dev/ingress-controller}
            ---
            \(Self.service("a", namespace: "web", target: a.port, portName: "http"))
            ---
            \(Self.service("b", namespace: "web", target: b.port, portName: "http"))
            ---
            \(Self.secret("shop", namespace: "web", shop))
            ---
            \(Self.secret("cdn", namespace: "web", cdn))
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: one, namespace: web, annotations: {chancery.dev/ingress-ports: "\(oneHTTP),\(oneHTTPS)"}}
            spec:
              rules: [{host: one.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: a, port: {name: http}}}}]}}]
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: two, namespace: web, annotations: {chancery.dev/ingress-ports: "\(twoHTTP),\(twoHTTPS)"}}
            spec:
              rules: [{host: two.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: b, port: {number: 80}}}}]}}]
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: storefront
              namespace: web
              creationTimestamp: "2026-01-01T00:00:00Z"
              annotations: {ingress.cilium.io/loadbalancer-mode: shared}
            spec:
              tls: [{hosts: [shop.example.com], secretName: shop}]
              rules: [{host: shop.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}]}}]
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: assets
              namespace: web
              creationTimestamp: "2026-02-01T00:00:00Z"
              annotations: {ingress.cilium.io/loadbalancer-mode: shared, nginx.ingress.kubernetes.io/ssl-redirect: "false"}
            spec:
              tls: [{hosts: ["*.cdn.example.com"], secretName: cdn}]
              rules:
              - host: "*.cdn.example.com"
                http:
                  paths:
                  - {path: /img, pathType: Prefix, backend: {service: {name: b, port: {number: 80}}}}
                  - {path: /img/logo.png, pathType: Exact, backend: {service: {name: a, port: {number: 80}}}}
              - host: shop.example.com
                http:
                  paths: [{path: /, pathType: Prefix, backend: {service: {name: b, port: {number: 80}}}}]
            """
        let (chancery, done) = try await Self.serve(config)
        defer { done() }
        // Two dedicated Ingresses: two groups, a proxy each; two shared ones: one group.
        let snapshots = try await chancery.adminJSON("/api/v1/snapshots")["snapshots"] as? [[String: Any]] ?? []
        #expect(Set(snapshots.compactMap { $0["group"] as? String }) == ["web/one", "web/two", "chancery-ingress"], "\(snapshots)")
        var envoys: [EnvoyProcess] = []
        defer { for envoy in envoys { envoy.stop() } }
        for group in ["web/one", "web/two", "chancery-ingress"] {
            envoys.append(
                try await EnvoyProcess.start(
                    bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: group, nodeID: group, adminPort: 0)))
        }
        let (waited, waitOutput) = try await runChancery(["wait", "--admin", chancery.adminAddress.description, "--group", "chancery-ingress"])
        #expect(waited == 0, "\(waitOutput)")

        // Each dedicated proxy serves its own Ingress, and only it.
        #expect(await eventually { try await httpGet(port: oneHTTP, host: "one.example.com").backend == "a" })
        #expect(await eventually { try await httpGet(port: twoHTTP, host: "two.example.com").backend == "b" })
        #expect(try await httpGet(port: oneHTTP, host: "two.example.com").status == 404)

        // The shared proxy: Exact before Prefix, Prefix by path element, a wildcard of one label.
        #expect(await eventually { try await httpGet(port: sharedHTTP, path: "/img/a.png", host: "x.cdn.example.com").backend == "b" })
        #expect(try await httpGet(port: sharedHTTP, path: "/img/logo.png", host: "x.cdn.example.com").backend == "a")
        #expect(try await httpGet(port: sharedHTTP, path: "/img", host: "x.cdn.example.com").backend == "b")
        #expect(try await httpGet(port: sharedHTTP, path: "/imgs", host: "x.cdn.example.com").status == 404)
        #expect(try await httpGet(port: sharedHTTP, path: "/img/a.png", host: "x.y.cdn.example.com").status == 404)
        // A TLS host's plain HTTP is redirected to HTTPS (ingress-nginx's default ssl-redirect;
        // the cdn Ingress turned it off).
        let redirected = try await httpGet(port: sharedHTTP, path: "/cart", host: "shop.example.com")
        #expect(redirected.status == 308 && redirected.headers["location"] == "https://shop.example.com:\(sharedHTTPS)/cart")
        // The older Ingress keeps shop.example.com/; the younger says it lost it.
        let objects = try await chancery.adminJSON("/api/v1/objects?kind=Ingress")["objects"] as? [[String: Any]] ?? []
        let assets = try #require(objects.first { $0["name"] as? String == "assets" })
        let conflict = (assets["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Conflicted" }
        #expect((conflict?["message"] as? String)?.contains("served by Ingress web/storefront, the older one") == true, "\(assets)")

        // HTTPS: each host gets its own certificate by SNI, and routes as over HTTP.
        let secure = await eventually {
            let answer = try await httpsGet(port: sharedHTTPS, serverName: "shop.example.com", trustedCAPEM: ca.certificatePEM)
            return answer.backend == "a" && answer.peerSubjectCommonName == "shop.example.com"
        }
        #expect(secure)
        let logo = try await httpsGet(
            port: sharedHTTPS, serverName: "img.cdn.example.com", path: "/img/logo.png", trustedCAPEM: ca.certificatePEM)
        #expect(logo.backend == "a" && logo.peerSubjectCommonName == "cdn.example.com")

        await a.stop()
        await b.stop()
    }

    /// ingress-nginx canaries through a real Envoy: the header (always, never, anything
    /// else), the cookie, a header value, and a weight of 10 % measured over 400 requests.
    @Test func canariesSplitAsIngressNginxDoes() async throws {
        let stable = try await EchoBackend.start(name: "stable")
        let next = try await EchoBackend.start(name: "next")
        let (http, https) = (try freePort(), try freePort())
        func ingress(_ name: String, service: String, path: String, annotations: String) -> String {
            """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: \(name), namespace: shop, annotations: {ingress.cilium.io/loadbalancer-mode: shared\(annotations)}}
            spec:
              ingressClassName: nginx
              rules: [{host: shop.example.com, http: {paths: [{path: \(path), pathType: Prefix, backend: {service: {name: \(service), port: {number: 80}}}}]}}]
            """
        }
        let canary = "nginx.ingress.kubernetes.io/canary"
        let config = """
            apiVersion: networking.k8s.io/v1
            kind: IngressClass
            metadata: {name: nginx}
            spec: {controller: chancery.dev/ingress-controller}
            ---
            \(Self.service("stable", namespace: "shop", target: stable.port))
            ---
            \(Self.service("next", namespace: "shop", target: next.port))
            ---
            \(ingress("shop", service: "stable", path: "/", annotations: ""))
            ---
            \(ingress("shop-api", service: "stable", path: "/api", annotations: ""))
            ---
            \(ingress("canary", service: "next", path: "/", annotations: ", \(canary): 'true', \(canary)-by-header: X-Canary, \(canary)-by-cookie: beta, \(canary)-weight: '10'"))
            ---
            \(ingress("canary-api", service: "next", path: "/api", annotations: ", \(canary): 'true', \(canary)-by-header: x-version, \(canary)-by-header-value: v2"))
            """
        let (chancery, done) = try await Self.serve(config, ["--ingress-ports", "\(http),\(https)"])
        defer { done() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "nginx", nodeID: "canary", adminPort: 0))
        defer { envoy.stop() }
        func backend(_ path: String = "/", _ headers: [(String, String)] = []) async throws -> String? {
            try await httpGet(port: http, path: path, host: "shop.example.com", headers: headers).backend
        }
        #expect(await eventually { try await backend("/", [("x-canary", "always")]) == "next" })
        // The header decides first: always, never; another value falls through to the cookie.
        for _ in 0..<20 {
            #expect(try await backend("/", [("x-canary", "never"), ("cookie", "beta=always")]) == "stable")
            #expect(try await backend("/", [("x-canary", "maybe"), ("cookie", "a=1; beta=always")]) == "next")
            #expect(try await backend("/", [("cookie", "beta=never")]) == "stable")
            // By header value: only v2 goes to the canary, and /api has no weight.
            #expect(try await backend("/api/x", [("x-version", "v2")]) == "next")
            #expect(try await backend("/api/x", [("x-version", "v1")]) == "stable")
            #expect(try await backend("/api/x") == "stable")
        }
        // By weight: about 10 % of plain requests (expected 40 of 400; four standard
        // deviations either side: 16 to 64).
        var toCanary = 0
        for _ in 0..<400 where try await backend() == "next" { toCanary += 1 }
        #expect((16...64).contains(toCanary), "\(toCanary) of 400 went to the canary")
        await stable.stop()
        await next.stop()
    }

    /// The ingress-nginx annotations through a real Envoy: rewrite-target with a capture
    /// group (case-insensitive, the query kept), app-root, permanent-redirect, the default
    /// ssl-redirect of a TLS host, CORS and cookie affinity.
    @Test func nginxAnnotationsBehaveAsInIngressNginx() async throws {
        let a = try await EchoBackend.start(name: "a")
        let (http, https) = (try freePort(), try freePort())
        let ca = try TestCA.make(commonName: "Annotations CA")
        let certificate = try ca.issue(commonName: "secure.example.com", dnsNames: ["secure.example.com"])
        // An HTTPS backend whose certificate no one checks (ingress-nginx's default).
        let unchecked = try TestCA.make(commonName: "Nobody's CA")
        let vault = try await TLSBackend.start(
            name: "vault", certificate: try unchecked.issue(commonName: "vault.internal", dnsNames: ["vault.internal"]))
        func ingress(_ name: String, host: String, path: String, type: String = "Prefix", annotations: [String: String], tls: Bool = false) -> String {
            let list = annotations.sorted { $0.key < $1.key }.map { "nginx.ingress.kubernetes.io/\($0.key): '\($0.value)'" }
            return """
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata: {name: \(name), namespace: web, annotations: {ingress.cilium.io/loadbalancer-mode: shared\(list.map { ", " + $0 }.joined())}}
                spec:
                  ingressClassName: nginx
                  \(tls ? "tls: [{hosts: [\(host)], secretName: tls}]" : "")
                  rules: [{host: \(host), http: {paths: [{path: '\(path)', pathType: \(type), backend: {service: {name: a, port: {number: 80}}}}]}}]
                """
        }
        let config = """
            apiVersion: networking.k8s.io/v1
            kind: IngressClass
            metadata: {name: nginx}
            spec: {controller: chancery.dev/ingress-controller}
            ---
            \(Self.service("a", namespace: "web", target: a.port))
            ---
            \(Self.secret("tls", namespace: "web", certificate))
            ---
            \(ingress("rewrite", host: "rewrite.example.com", path: "/something(/|$)(.*)", type: "ImplementationSpecific", annotations: ["use-regex": "true", "rewrite-target": "/$2"]))
            ---
            \(ingress("root", host: "root.example.com", path: "/", annotations: ["app-root": "/app1"]))
            ---
            \(ingress("moved", host: "old.example.com", path: "/", annotations: ["permanent-redirect": "https://new.example.com/landing"]))
            ---
            \(ingress("secure", host: "secure.example.com", path: "/", annotations: ["enable-cors": "true", "cors-allow-origin": "https://app.example.com", "affinity": "cookie", "session-cookie-name": "route"], tls: true))
            ---
            \(ingress("intranet", host: "intranet.example.com", path: "/", annotations: ["whitelist-source-range": "10.0.0.0/8"]))
            ---
            \(ingress("local", host: "local.example.com", path: "/", annotations: ["whitelist-source-range": "127.0.0.1/32, 10.0.0.0/8"]))
            ---
            \(ingress("banned", host: "banned.example.com", path: "/", annotations: ["denylist-source-range": "127.0.0.0/8"]))
            ---
            \(ingress("upload", host: "upload.example.com", path: "/", annotations: ["proxy-body-size": "1k", "proxy-read-timeout": "1"]))
            ---
            \(Self.service("vault", namespace: "web", target: vault.port, port: 443))
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: vault, namespace: web, annotations: {ingress.cilium.io/loadbalancer-mode: shared, nginx.ingress.kubernetes.io/backend-protocol: HTTPS}}
            spec:
              ingressClassName: nginx
              rules: [{host: vault.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: vault, port: {number: 443}}}}]}}]
            """
        let (chancery, done) = try await Self.serve(config, ["--ingress-ports", "\(http),\(https)"])
        defer { done() }
        let objects = try await chancery.adminJSON("/api/v1/objects?kind=Ingress")["objects"] as? [[String: Any]] ?? []
        #expect(objects.count == 9 && objects.allSatisfy { ($0["rejected"] as? Bool) == false }, "\(objects)")
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "nginx", nodeID: "nginx", adminPort: 0))
        defer { envoy.stop() }
        func path(_ result: HTTPResult) -> String? {
            (try? JSONSerialization.jsonObject(with: result.body) as? [String: Any])?["path"] as? String
        }
        // rewrite-target: the second capture group becomes the path; the match ignores case.
        #expect(await eventually { path(try await httpGet(port: http, path: "/something/new?x=1", host: "rewrite.example.com")) == "/new?x=1" })
        #expect(path(try await httpGet(port: http, path: "/SOMETHING/deep/er", host: "rewrite.example.com")) == "/deep/er")
        #expect(path(try await httpGet(port: http, path: "/something", host: "rewrite.example.com")) == "/")
        // app-root: only "/" is redirected.
        let root = try await httpGet(port: http, path: "/", host: "root.example.com")
        #expect(root.status == 302 && root.headers["location"]?.hasSuffix("/app1") == true, "\(root.headers)")
        #expect(path(try await httpGet(port: http, path: "/app1", host: "root.example.com")) == "/app1")
        // permanent-redirect.
        let moved = try await httpGet(port: http, path: "/x", host: "old.example.com")
        #expect(moved.status == 301 && moved.headers["location"] == "https://new.example.com/landing", "\(moved.headers)")
        // ssl-redirect (the default with TLS): HTTP gets 308 to the HTTPS port; HTTPS serves,
        // with CORS and the affinity cookie.
        let plain = try await httpGet(port: http, path: "/page", host: "secure.example.com")
        #expect(plain.status == 308 && plain.headers["location"] == "https://secure.example.com:\(https)/page", "\(plain.headers)")
        let secure = try await httpsGet(port: https, serverName: "secure.example.com", path: "/page", trustedCAPEM: ca.certificatePEM)
        #expect(secure.backend == "a")
        #expect(secure.headers["set-cookie"]?.hasPrefix("route=") == true, "\(secure.headers)")
        // Source ranges: this client is 127.0.0.1.
        #expect(try await httpGet(port: http, host: "intranet.example.com").status == 403)
        #expect(try await httpGet(port: http, host: "local.example.com").backend == "a")
        #expect(try await httpGet(port: http, host: "banned.example.com").status == 403)
        // proxy-body-size: a body over 1 KiB gets 413, one under it reaches the backend;
        // the other routes take any size.
        let big = Data(repeating: 0x61, count: 2048)
        #expect(try await httpGet(port: http, host: "upload.example.com", method: "POST", body: big).status == 413)
        #expect(try await httpGet(port: http, host: "upload.example.com", method: "POST", body: Data(repeating: 0x61, count: 512)).backend == "a")
        #expect(try await httpGet(port: http, path: "/x", host: "root.example.com", method: "POST", body: big).backend == "a")
        // backend-protocol HTTPS: TLS to the backend.
        #expect(try await httpGet(port: http, host: "vault.example.com").backend == "vault")
        await a.stop()
        await vault.stop()
    }

    /// A GatewayClass and an IngressClass of one name: one Envoy serves the Gateway's
    /// routes and the Ingresses side by side, each on its own port.
    @Test func gatewaysAndIngressesShareAProxy() async throws {
        let a = try await EchoBackend.start(name: "a")
        let b = try await EchoBackend.start(name: "b")
        let (gatewayPort, http, https) = (try freePort(), try freePort(), try freePort())
        let config = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: chancery}
            spec: {controllerName: chancery.dev/gateway-controller}
            ---
            apiVersion: networking.k8s.io/v1
            kind: IngressClass
            metadata: {name: chancery, annotations: {ingress.cilium.io/loadbalancer-mode: shared}}
            spec: {controller: chancery.dev/ingress-controller}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: gw, namespace: default}
            spec:
              gatewayClassName: chancery
              listeners: [{name: http, protocol: HTTP, port: \(gatewayPort)}]
            ---
            \(Self.service("a", namespace: "default", target: a.port))
            ---
            \(Self.service("b", namespace: "default", target: b.port))
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: web, namespace: default}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [shop.example.com]
              rules: [{backendRefs: [{name: a, port: 80}]}]
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: shop, namespace: default}
            spec:
              ingressClassName: chancery
              rules: [{host: shop.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: b, port: {number: 80}}}}]}}]
            """
        let (chancery, done) = try await Self.serve(config, ["--ingress-ports", "\(http),\(https)"])
        defer { done() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "chancery", nodeID: "both", adminPort: 0))
        defer { envoy.stop() }
        #expect(await eventually { try await httpGet(port: gatewayPort, host: "shop.example.com").backend == "a" })
        #expect(await eventually { try await httpGet(port: http, host: "shop.example.com").backend == "b" })
        let objects = try await chancery.adminJSON("/api/v1/objects?rejected=true")["objects"] as? [[String: Any]] ?? []
        #expect(objects.isEmpty, "\(objects)")
        await a.stop()
        await b.stop()
    }
}
