import Foundation
import GatewayModel
import TestSupport
import Testing

@testable import Translation

/// With the plan cache, a translation after a few HTTPRoutes changed puts only those in
/// place in the last attachment (``RouteAttachment/attach(_:in:to:listenerSets:context:)``).
/// After any sequence of such changes the result must equal a translation from scratch:
/// routes with hostnames that cross and cover each other, on listeners that share ports
/// (HTTP, and HTTPS with a chain per listener hostname), in two Gateways of one class,
/// with parentRefs by section and port, refused and missing backends, rules RE2
/// refuses, the same creation time for several, beside TCP, TLS and mesh routes — and a
/// Service edit, a GRPCRoute or a mesh route's edit in between, which attach every route
/// again. Each HTTP port's virtual hosts are then planned from the last ones, with only
/// the changed routes' hostnames planned again (``GatewayPlanner/HTTPHosts``).
@Suite struct AttachmentPatchTests {
    static let base = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: chancery}
        spec: {controllerName: chancery.dev/gateway-controller}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: web, labels: {env: prod}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: other}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: infra, creationTimestamp: "2026-01-01T00:00:00Z"}
        spec:
          gatewayClassName: chancery
          listeners:
          - {name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}
          - name: wild
            protocol: HTTP
            port: 80
            hostname: "*.example.com"
            allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {env: prod}}}}
          - {name: alt, protocol: HTTP, port: 8080, hostname: a.example.com, allowedRoutes: {namespaces: {from: All}}}
          - {name: tcp, protocol: TCP, port: 9000, allowedRoutes: {namespaces: {from: All}}}
          - {name: tls, protocol: TLS, port: 9443, tls: {mode: Passthrough}, allowedRoutes: {namespaces: {from: All}}}
          - name: https
            protocol: HTTPS
            port: 443
            hostname: "*.example.com"
            tls: {certificateRefs: [{name: cert}]}
            allowedRoutes: {namespaces: {from: All}}
          - name: https-a
            protocol: HTTPS
            port: 443
            hostname: a.example.com
            tls: {certificateRefs: [{name: cert}]}
            allowedRoutes: {namespaces: {from: All}}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw2, namespace: infra, creationTimestamp: "2026-01-02T00:00:00Z"}
        spec:
          gatewayClassName: chancery
          listeners:
          - {name: http, protocol: HTTP, port: 80, hostname: "*.test", allowedRoutes: {namespaces: {from: All}}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: a, namespace: app}
        spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 8080}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: a-1, namespace: app, labels: {kubernetes.io/service-name: a}}
        addressType: IPv4
        endpoints: [{addresses: [10.0.0.1]}]
        ports: [{name: http, port: 9001}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: b, namespace: web}
        spec: {ports: [{name: web, port: 80}]}
        ---
        apiVersion: gateway.networking.k8s.io/v1beta1
        kind: ReferenceGrant
        metadata: {name: web-to-a, namespace: app}
        spec:
          from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: web}]
          to: [{group: "", kind: Service, name: a}]
        ---
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TCPRoute
        metadata: {name: tcp, namespace: app}
        spec:
          parentRefs: [{name: gw, namespace: infra, sectionName: tcp}]
          rules: [{backendRefs: [{name: a, port: 8080}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TLSRoute
        metadata: {name: tls, namespace: app}
        spec:
          parentRefs: [{name: gw, namespace: infra, sectionName: tls}]
          hostnames: [secure.example.com]
          rules: [{backendRefs: [{name: a, port: 8080}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: mesh, namespace: app}
        spec:
          parentRefs: [{group: "", kind: Service, name: a}]
          rules: [{backendRefs: [{name: a, port: 8080}]}]
        """

    /// The HTTPS listeners' certificate, valid at the translations' time.
    static func certificate() throws -> String {
        let now = IncrementalTests.now
        let leaf = try TestCA.make().issue(
            commonName: "example.com", dnsNames: ["*.example.com", "a.example.com"], notValidBefore: now - 3600,
            notValidAfter: now + 365 * 86400)
        return leaf.secretYAML(name: "cert", namespace: "infra")
    }

    static func decode(_ yaml: String) throws -> [Manifest] {
        let decoded = ManifestDecoder.decode(file: "world.yaml", contents: yaml)
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        return decoded.manifests
    }

    /// A random HTTPRoute named `name`.
    static func route(_ name: String, using random: inout SplitMix) -> String {
        func pick<T>(_ values: [T]) -> T { values.randomElement(using: &random)! }
        let namespace = pick(["web", "other", "app"])
        let created = pick(["", "2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z"])
        let hostnames = (0..<Int.random(in: 0...2, using: &random)).map { _ in
            pick(["a.example.com", "b.example.com", "*.example.com", "x.test", "*.test", "other.org"])
        }
        // Two references to one Gateway must both name a section (or both a port).
        let options: [(gateway: String, ref: String)] = [
            ("gw", "{name: gw, namespace: infra}"), ("gw", "{name: gw, namespace: infra, sectionName: wild}"),
            ("gw", "{name: gw, namespace: infra, port: 8080}"), ("gw", "{name: gw, namespace: infra, sectionName: tcp}"),
            ("gw", "{name: gw, namespace: infra, port: 443}"), ("gw", "{name: gw, namespace: infra, sectionName: https-a}"),
            ("gw2", "{name: gw2, namespace: infra}"), ("missing", "{name: missing, namespace: infra}"),
        ]
        let first = pick(options)
        var parents = [first.ref]
        if Bool.random(using: &random) {
            let second = pick(options)
            if second.ref != first.ref,
                second.gateway != first.gateway || (first.ref.contains("sectionName") && second.ref.contains("sectionName"))
            {
                parents.append(second.ref)
            }
        }
        let rules = (0..<Int.random(in: 1...2, using: &random)).map { _ in
            let path = pick([
                "{type: PathPrefix, value: /\(pick(["a", "b", "c"]))}", "{type: Exact, value: /x}",
                "{type: RegularExpression, value: \"/r[0-9]+\"}", "{type: RegularExpression, value: \"/(?=x)\"}",
            ])
            let backend = pick([
                "{name: a, namespace: app, port: 8080}", "{name: b, namespace: web, port: 80}", "{name: c, port: 80}",
                "{name: a, namespace: app, port: 8080, weight: 2}",
            ])
            let session = Int.random(in: 0..<8, using: &random) == 0 ? "\n    sessionPersistence: {sessionName: s}" : ""
            return "  - matches: [{path: \(path)}]\n    backendRefs: [\(backend)]" + session
        }
        return """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata:
              name: \(name)
              namespace: \(namespace)
              labels: {edit: "\(Int.random(in: 0..<3, using: &random))"}\(created.isEmpty ? "" : "\n  creationTimestamp: \"\(created)\"")
            spec:
              parentRefs: [\(parents.joined(separator: ", "))]
              hostnames: [\(hostnames.map { "\"\($0)\"" }.joined(separator: ", "))]
              rules:
            \(rules.joined(separator: "\n"))
            """
    }

    static let grpcRoute = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: grpc, namespace: web}
        spec:
          parentRefs: [{name: gw, namespace: infra}]
          hostnames: [a.example.com]
          rules: [{backendRefs: [{name: b, port: 80}]}]
        """

    @Test(arguments: [1, 2, 3] as [UInt64])
    func patchingTheChangedHTTPRoutesEqualsAttachingEveryRoute(seed: UInt64) throws {
        var random = SplitMix(seed: seed)
        var set = ResourceSet(manifests: try Self.decode(Self.base + "\n---\n" + Self.certificate()))
        let names = (0..<30).map { "r\($0)" }
        var keys: [String: ObjectKey] = [:]
        for name in names where Bool.random(using: &random) {
            let manifest = try Self.decode(Self.route(name, using: &random))[0]
            keys[name] = manifest.object.key
            set.replace(manifest.object.key, with: manifest)
        }
        let cache = PlanCache()
        let now = IncrementalTests.now
        var hostPatches = 0
        func translate(_ what: String) -> Bool {
            let before = cache.attachmentPatches.load(ordering: .relaxed)
            let hostsBefore = cache.hostPatches.load(ordering: .relaxed)
            let cached = Translator(now: now, cache: cache).translate(set)
            #expect(cached == Translator(now: now).translate(set), "seed \(seed), \(what): differs from a translation from scratch")
            let patched = cache.attachmentPatches.load(ordering: .relaxed) > before
            // Every HTTP port's virtual hosts are patched when the attachment is, and
            // only then.
            let hosts = cache.hostPatches.load(ordering: .relaxed) - hostsBefore
            #expect(
                hosts == (patched ? Self.httpPorts : 0), "seed \(seed), \(what): \(hosts) HTTP ports' virtual hosts patched")
            hostPatches += hosts
            return patched
        }
        #expect(!translate("first"))
        var patched = 0
        var expected = 0
        for step in 0..<60 {
            var routesOnly = true
            switch step % 20 {
            case 7:
                // An object other than a route: every route attaches again.
                let service = ObjectKey(.service, namespace: "web", name: "b")
                var manifest = try #require(set[service])
                guard case .service(var object) = manifest.object else { throw RuleReuseTests.Failure("not a Service") }
                object.spec.ports?[0].port = step % 40 == 7 ? 81 : 80
                manifest.object = .service(object)
                set.replace(service, with: manifest)
                routesOnly = false
            case 11, 12:
                // A GRPCRoute comes and goes: while one exists, every route attaches.
                let grpc = try Self.decode(Self.grpcRoute)[0]
                set.replace(grpc.object.key, with: step % 20 == 11 ? grpc : nil)
                routesOnly = false
            case 17:
                // A mesh route's edit: mesh routes are settled together.
                let mesh = ObjectKey(.httpRoute, namespace: "app", name: "mesh")
                var manifest = try #require(set[mesh])
                guard case .httpRoute(var object) = manifest.object else { throw RuleReuseTests.Failure("not an HTTPRoute") }
                object.metadata.labels = ["step": "\(step)"]
                manifest.object = .httpRoute(object)
                set.replace(mesh, with: manifest)
                routesOnly = false
            default: break
            }
            var changes: [String] = []
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let name = names.randomElement(using: &random)!
                if let key = keys[name], Int.random(in: 0..<4, using: &random) == 0 {
                    set.replace(key, with: nil)
                    keys[name] = nil
                    changes.append("-\(name)")
                } else {
                    let manifest = try Self.decode(Self.route(name, using: &random))[0]
                    // The namespace may be another: the old route goes.
                    if let key = keys[name], key != manifest.object.key { set.replace(key, with: nil) }
                    keys[name] = manifest.object.key
                    set.replace(manifest.object.key, with: manifest)
                    changes.append("+\(name)")
                }
            }
            if translate("step \(step) (\(changes.joined(separator: " ")))") { patched += 1 }
            if routesOnly { expected += 1 }
        }
        // Not vacuous: every step that changed HTTPRoutes alone was patched, and only
        // those (beyond the 64 changes a kind's revisions reach, by comparing routes).
        #expect(patched == expected)
        #expect(expected >= 40)
        #expect(hostPatches == patched * Self.httpPorts)
    }

    /// HTTP and HTTPS ports planned: gw's 80, 8080 and 443, gw2's 80, and the class's
    /// (both Gateways) 80, 8080 and 443.
    static let httpPorts = 7

    /// Route statuses are patched with the attachment: only the routes put in place again
    /// and those whose findings changed are made again. No planner today finds something
    /// new about a route another route's change leaves alone, so this one hands
    /// ``RouteStatus/all(_:findings:cache:)`` such findings itself.
    @Test func patchedRouteStatusesFollowTheFindingsOfRoutesThatDidNotChange() {
        let cache = PlanCache()
        let gateway = ObjectKey(.gateway, namespace: "infra", name: "gw")
        let keys = ["a", "b", "c", "d"].map { ObjectKey(.httpRoute, namespace: "web", name: $0) }
        func record(_ key: ObjectKey, message: String = "attached") -> RouteRecord {
            RouteRecord(
                key: key, generation: 1,
                parents: [
                    ParentAttachment(
                        parentRef: ParentReference(name: "gw", namespace: "infra"), gateway: gateway,
                        accepted: Verdict(true, .accepted, message), listeners: ["http"])
                ], refProblems: [])
        }
        func finding(_ key: ObjectKey) -> [ObjectKey: [Finding]] {
            [
                gateway: [
                    Finding(
                        group: "infra/gw", subject: .route(key, gateway: gateway, listener: "http"),
                        verdict: Verdict(true, .noMatchingListenerHostname, "not served for x.example.com"), total: false)
                ]
            ]
        }
        func round(_ attachments: Attachments, _ findings: [ObjectKey: [ObjectKey: [Finding]]]) -> [ObjectKey: ObjectStatus] {
            defer { cache.finish() }
            return RouteStatus.all(attachments, findings: findings, cache: cache)
        }
        func expected(_ attachments: Attachments, _ findings: [ObjectKey: [ObjectKey: [Finding]]]) -> [ObjectKey: ObjectStatus] {
            attachments.records.mapValues { RouteStatus.route($0, findings: findings[$0.key] ?? [:]) }
        }
        var attachments = Attachments()
        attachments.generation = 1
        for key in keys { attachments.records[key] = record(key) }
        let first: [ObjectKey: [ObjectKey: [Finding]]] = [keys[1]: finding(keys[1])]
        #expect(round(attachments, first) == expected(attachments, first))

        // `a` changed, `d` was deleted; `b` lost its finding and `c` gained one.
        attachments.generation = 2
        attachments.patch = Attachments.Patch(base: 1, routes: [keys[0], keys[3]])
        attachments.records[keys[0]] = record(keys[0], message: "attached again")
        attachments.records[keys[3]] = nil
        let second: [ObjectKey: [ObjectKey: [Finding]]] = [keys[2]: finding(keys[2])]
        let patched = round(attachments, second)
        #expect(patched == expected(attachments, second))
        #expect(patched[keys[1]] != expected(attachments, first)[keys[1]])
        #expect(cache.routeStatuses.lastRound == (reused: 0, built: 3))

        // A patch of another attachment than the one the statuses were made from makes
        // every status.
        attachments.generation = 3
        attachments.patch = Attachments.Patch(base: 1, routes: [])
        #expect(round(attachments, first) == expected(attachments, first))
        #expect(cache.routeStatuses.lastRound == (reused: 1, built: 2))
    }
}
