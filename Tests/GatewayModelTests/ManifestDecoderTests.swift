import Testing

@testable import GatewayModel

@Suite struct ManifestDecoderTests {
    @Test func multiDocumentFileWithOrigins() throws {
        let yaml = """
            # comment
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata:
              name: chancery
            spec:
              controllerName: chancery.dev/gateway-controller
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: ignored
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              namespace: shop
              somethingNew: true
            spec:
              ports:
              - name: http
                port: 80
            """
        let result = ManifestDecoder.decode(file: "a.yaml", contents: yaml)
        #expect(result.fileError == nil)
        #expect(result.errors.isEmpty)
        #expect(result.manifests.map(\.object.key.description) == ["GatewayClass/chancery", "Service shop/web"])
        #expect(result.manifests.map(\.origin.line) == [2, 14])
        guard case .service(let service) = result.manifests[1].object else {
            Issue.record("not a Service")
            return
        }
        #expect(service.spec.ports?.first?.port == 80)
    }

    @Test func namespacedObjectsDefaultToDefault() {
        let result = ManifestDecoder.decode(
            file: "r.yaml",
            contents: """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: r}
                spec: {}
                """)
        #expect(result.manifests.first?.object.key == ObjectKey(.httpRoute, namespace: "default", name: "r"))
    }

    @Test func invalidEnumNamesFileLineAndFieldPath() throws {
        let yaml = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata:
              name: shop
              namespace: web
            spec:
              rules:
              - matches:
                - path: {type: PathPrefix, value: /}
              - backendRefs: [{name: a, port: 80}]
              - matches:
                - path:
                    type: Prefix
                    value: /x
            """
        let result = ManifestDecoder.decode(file: "routes/shop.yaml", contents: yaml)
        #expect(result.manifests.isEmpty)
        let error = try #require(result.errors.first)
        #expect(error.file == "routes/shop.yaml")
        #expect(error.line == 13)
        #expect(error.field == "spec.rules[2].matches[0].path.type")
        #expect(
            error.description
                == "routes/shop.yaml:13: HTTPRoute web/shop: spec.rules[2].matches[0].path.type: Unsupported value: \"Prefix\": supported values: \"Exact\", \"PathPrefix\", \"RegularExpression\""
        )
    }

    @Test func listenerSetsFollowTheirCRDsRules() throws {
        func problem(_ listeners: String, parent: String = "{name: gw}") -> String? {
            let yaml = """
                apiVersion: gateway.networking.k8s.io/v1
                kind: ListenerSet
                metadata: {name: team, namespace: apps}
                spec:
                  parentRef: \(parent)
                  listeners:
                \(listeners)
                """
            return ManifestDecoder.decode(file: "ls.yaml", contents: yaml).errors.first?.description
        }
        #expect(problem("  - {name: a, protocol: HTTP, port: 80}") == nil)
        #expect(
            problem("  - {name: a, protocol: HTTP, port: 80}", parent: "{kind: Service, group: \"\", name: gw}")
                == "ls.yaml:5: ListenerSet apps/team: spec.parentRef: must name a Gateway (group gateway.networking.k8s.io, kind Gateway)")
        #expect(
            problem("  - {name: a, protocol: HTTP, port: 80, hostname: a.com}\n  - {name: b, protocol: HTTP, port: 80, hostname: a.com}")
                == "ls.yaml:8: ListenerSet apps/team: spec.listeners: Invalid value: \"array\": Combination of port, protocol and hostname must be unique for each listener"
        )
        #expect(
            problem("  - {name: a, protocol: TLS, port: 443, tls: {certificateRefs: [{name: c}]}}")
                == "ls.yaml:7: ListenerSet apps/team: spec.listeners[0].tls.mode: required when protocol is TLS")
        #expect(
            problem("  - {name: a, protocol: TCP, port: 9000, hostname: a.com}")
                == "ls.yaml:7: ListenerSet apps/team: spec.listeners: Invalid value: \"array\": hostname must not be specified for protocols ['TCP', 'UDP']"
        )
        #expect(
            problem("  - {name: a, protocol: HTTP, port: 80}\n  - {name: a, protocol: HTTP, port: 81}")
                == "ls.yaml:8: ListenerSet apps/team: spec.listeners[1]: Duplicate value: {\"name\": \"a\"}")
        #expect(problem("    []") == "ls.yaml:7: ListenerSet apps/team: spec.listeners: Invalid value: 0: should have at least 1 items")
    }

    @Test func hostnamesFollowTheGatewayAPIPattern() throws {
        func problem(_ hostname: String) -> String? {
            let yaml = """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: r, namespace: app}
                spec:
                  hostnames: ["\(hostname)"]
                  rules: [{backendRefs: [{name: a, port: 80}]}]
                """
            return ManifestDecoder.decode(file: "r.yaml", contents: yaml).errors.first?.description
        }
        #expect(problem("shop.example.com") == nil)
        #expect(problem("*.example.com") == nil)
        // The 20 MB hostname that once reached Envoy as a 40 MiB route table.
        let huge = String(repeating: "a", count: 20_000_000)
        #expect(problem(huge) == "r.yaml:5: HTTPRoute app/r: spec.hostnames[0]: Too long: may not be more than 253 bytes")
        #expect(
            problem("Shop.example.com")
                == #"r.yaml:5: HTTPRoute app/r: spec.hostnames[0]: Invalid value: "Shop.example.com": should match '^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'"#
        )
        #expect(problem("shop..example.com") != nil)
        #expect(problem("-shop.example.com") != nil)
        #expect(problem("shop.example.com:8080") != nil)
        #expect(problem("a.*.example.com") != nil)
    }

    @Test func wrongTypeAndMissingField() throws {
        let yaml = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata:
              name: gw
            spec:
              gatewayClassName: chancery
              listeners:
              - name: http
                protocol: HTTP
                port: eighty
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata:
              name: r
            spec:
              rules:
              - backendRefs:
                - port: 80
            """
        let result = ManifestDecoder.decode(file: "f.yaml", contents: yaml)
        #expect(result.manifests.isEmpty)
        #expect(result.errors.count == 2)
        #expect(result.errors[0].field == "spec.listeners[0].port")
        #expect(result.errors[0].line == 10)
        #expect(result.errors[0].message == "Invalid value: \"string\": spec.listeners[0].port in body must be of type integer")
        #expect(result.errors[1].field == "spec.rules[0].backendRefs[0].name")
        #expect(result.errors[1].line == 19)
        #expect(result.errors[1].message == "Required value")
    }

    @Test func oneBadObjectDoesNotTakeTheOthers() {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: good}
            spec: {ports: [{port: 80}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: bad}
            spec: {ports: [{port: 99999}]}
            """
        let result = ManifestDecoder.decode(file: "s.yaml", contents: yaml)
        #expect(result.manifests.map(\.object.metadata.name) == ["good"])
        #expect(result.errors.map(\.description) == ["s.yaml:9: Service default/bad: spec.ports[0].port: port 99999 is not in 1…65535"])
    }

    @Test func syntaxErrorFailsTheWholeFileWithItsLine() throws {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata:
              name: web
             spec: [unclosed
            """
        let result = ManifestDecoder.decode(file: "broken.yaml", contents: yaml)
        let error = try #require(result.fileError)
        #expect(error.file == "broken.yaml")
        #expect(error.line >= 4 && error.line <= 6)
        #expect(error.message.hasPrefix("not valid YAML"))
        #expect(result.manifests.isEmpty)
    }

    @Test func unsupportedAPIVersionIsNamed() throws {
        let result = ManifestDecoder.decode(
            file: "g.yaml",
            contents: """
                apiVersion: gateway.networking.k8s.io/v1alpha1
                kind: Gateway
                metadata: {name: old}
                spec: {gatewayClassName: x, listeners: []}
                """)
        let error = try #require(result.errors.first)
        #expect(error.field == "apiVersion")
        #expect(error.message.contains("gateway.networking.k8s.io/v1"))
    }

    @Test func jsonListsAreRead() {
        let json = """
            {"apiVersion": "v1", "kind": "List", "items": [
              {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "a"}}},
              {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls", "namespace": "shop"}, "type": "kubernetes.io/tls"}
            ]}
            """
        let result = ManifestDecoder.decode(file: "l.json", contents: json)
        #expect(result.manifests.map(\.object.key.description) == ["Namespace/shop", "Secret shop/tls"])
    }

    @Test func filterTypeMustMatchItsField() throws {
        let yaml = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: r}
            spec:
              rules:
              - filters:
                - type: RequestRedirect
                  urlRewrite: {hostname: x}
            """
        let result = ManifestDecoder.decode(file: "r.yaml", contents: yaml)
        let error = try #require(result.errors.first)
        #expect(error.field == "spec.rules[0].filters[0]")
        #expect(error.message == "Invalid value: \"object\": filter.requestRedirect must be specified for RequestRedirect filter.type")
    }
}

@Suite struct ResourceSetTests {
    @Test func duplicatesKeepTheFirstAndAreReported() {
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
        let first = ManifestDecoder.decode(file: "1.yaml", contents: yaml).manifests
        let second = ManifestDecoder.decode(file: "2.yaml", contents: yaml).manifests
        let set = ResourceSet(manifests: first + second)
        #expect(set.manifests.count == 1)
        #expect(set[ObjectKey(.namespace, namespace: "", name: "a")]?.origin.file == "1.yaml")
        #expect(set.errors.map(\.description) == ["2.yaml:1: Namespace/a: defined again; the definition at 1.yaml:1 is used"])
    }

    @Test func labelSelectors() {
        let labels = ["team": "a", "env": "prod"]
        #expect(LabelSelector().matches(labels))
        #expect(LabelSelector(matchLabels: ["team": "a"]).matches(labels))
        #expect(!LabelSelector(matchLabels: ["team": "b"]).matches(labels))
        #expect(LabelSelector(matchExpressions: [.init(key: "env", operator: "In", values: ["prod", "qa"])]).matches(labels))
        #expect(!LabelSelector(matchExpressions: [.init(key: "env", operator: "NotIn", values: ["prod"])]).matches(labels))
        #expect(LabelSelector(matchExpressions: [.init(key: "x", operator: "DoesNotExist")]).matches(labels))
        #expect(!LabelSelector(matchExpressions: [.init(key: "x", operator: "Exists")]).matches(labels))
    }

    @Test func namespacesHaveTheirNameLabel() {
        #expect(ResourceSet().labels(ofNamespace: "shop") == ["kubernetes.io/metadata.name": "shop"])
    }

    /// What changed between two sets: added, removed, edited objects, and an object that
    /// moved in its file (its origin is part of what is served: status names it).
    @Test func changedKeysNameAddedRemovedEditedAndMovedObjects() {
        func set(_ names: [String], labelled: String? = nil) -> ResourceSet {
            let yaml = names.map { name in
                "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(name)\(name == labelled ? ", labels: {x: y}" : "")}\n"
            }.joined(separator: "---\n")
            return ResourceSet(manifests: ManifestDecoder.decode(file: "ns.yaml", contents: yaml).manifests)
        }
        func key(_ name: String) -> ObjectKey { ObjectKey(.namespace, namespace: "", name: name) }
        let before = set(["a", "b", "c"])
        #expect(before.changedKeys(since: before).isEmpty)
        #expect(set(["a", "b", "c", "d"]).changedKeys(since: before) == [key("d")])
        #expect(set(["a", "b"]).changedKeys(since: before) == [key("c")])
        #expect(set(["a", "b", "c"], labelled: "b").changedKeys(since: before) == [key("b")])
        #expect(set(["b", "a", "c"]).changedKeys(since: before) == [key("a"), key("b")])
    }
}
