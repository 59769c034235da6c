import Testing

@testable import GatewayModel

/// Decoding and CRD-style validation of the TLS, TCP, UDP and gRPC kinds.
@Suite struct ProtocolKindsTests {
    func firstError(_ yaml: String) -> ManifestError? {
        ManifestDecoder.decode(file: "t.yaml", contents: yaml).errors.first
    }

    @Test func everyKindDecodesAtItsAPIVersions() {
        let yaml = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: g, namespace: a}
            spec:
              rules: [{matches: [{method: {service: s.Echo, method: Get}}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TLSRoute
            metadata: {name: t, namespace: a}
            spec: {hostnames: [db.example.com], rules: [{backendRefs: [{name: db, port: 5432}]}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha3
            kind: TLSRoute
            metadata: {name: t3, namespace: a}
            spec: {hostnames: [db.example.com], rules: [{backendRefs: [{name: db, port: 5432}]}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TCPRoute
            metadata: {name: c, namespace: a}
            spec: {rules: [{backendRefs: [{name: db, port: 5432, weight: 2}]}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: UDPRoute
            metadata: {name: u, namespace: a}
            spec: {rules: [{backendRefs: [{name: dns, port: 53}]}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: p, namespace: a}
            spec:
              targetRefs: [{group: "", kind: Service, name: db}]
              validation: {wellKnownCACertificates: System, hostname: db.internal}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: ca, namespace: a}
            data: {ca.crt: "x"}
            """
        let result = ManifestDecoder.decode(file: "t.yaml", contents: yaml)
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(
            result.manifests.map(\.object.kind) == [
                .grpcRoute, .tlsRoute, .tlsRoute, .tcpRoute, .udpRoute, .backendTLSPolicy, .configMap,
            ])
        let set = ResourceSet(manifests: result.manifests)
        #expect(set.tlsRoutes.count == 2)
        #expect(set.tcpRoutes.first?.spec.rules?.first?.backendRefs?.first?.weight == 2)
        #expect(set.backendTLSPolicies.first?.spec.validation.hostname == "db.internal")
        #expect(set.configMaps.first?.data?["ca.crt"] == "x")
    }

    @Test func httpsListenerNeedsTLSAndTerminate() throws {
        let missing = try #require(
            firstError(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: g}
                spec:
                  gatewayClassName: c
                  listeners:
                  - {name: ok, protocol: HTTP, port: 80}
                  - {name: https, protocol: HTTPS, port: 443}
                """))
        #expect(missing.field == "spec.listeners[1].tls")
        #expect(missing.message == "required when protocol is HTTPS")
        #expect(missing.line == 8)

        let passthrough = try #require(
            firstError(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: g}
                spec:
                  gatewayClassName: c
                  listeners:
                  - {name: https, protocol: HTTPS, port: 443, tls: {mode: Passthrough}}
                """))
        #expect(passthrough.field == "spec.listeners")
        #expect(passthrough.message == "Invalid value: \"array\": tls mode must be Terminate for protocol HTTPS")

        let noCertificates = try #require(
            firstError(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: g}
                spec:
                  gatewayClassName: c
                  listeners:
                  - {name: tls, protocol: TLS, port: 443, tls: {mode: Terminate}}
                """))
        #expect(noCertificates.field == "spec.listeners[0].tls")
        #expect(
            noCertificates.message == "Invalid value: \"object\": certificateRefs or options must be specified when mode is Terminate")

        let tlsOnTCP = try #require(
            firstError(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: g}
                spec:
                  gatewayClassName: c
                  listeners:
                  - {name: tcp, protocol: TCP, port: 5000, tls: {mode: Passthrough}}
                """))
        #expect(tlsOnTCP.field == "spec.listeners")
        #expect(tlsOnTCP.message == "Invalid value: \"array\": tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']")
    }

    @Test func grpcMethodMatchNeedsServiceOrMethod() throws {
        let error = try #require(
            firstError(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: GRPCRoute
                metadata: {name: g}
                spec:
                  rules:
                  - matches:
                    - method: {type: Exact}
                """))
        #expect(error.field == "spec.rules[0].matches[0].method")
        #expect(error.message == "Invalid value: \"object\": One or both of 'service' or 'method' must be specified")

        let filter = try #require(
            firstError(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: GRPCRoute
                metadata: {name: g}
                spec:
                  rules:
                  - filters: [{type: URLRewrite, urlRewrite: {hostname: x}}]
                """))
        #expect(filter.field == "spec.rules[0].filters[0].type")
    }

    @Test func streamRoutesNeedBackendPorts() throws {
        let error = try #require(
            firstError(
                """
                apiVersion: gateway.networking.k8s.io/v1alpha2
                kind: TCPRoute
                metadata: {name: t}
                spec:
                  rules:
                  - backendRefs: [{name: db}]
                """))
        #expect(error.field == "spec.rules[0].backendRefs[0]")
        #expect(error.message == "Invalid value: \"object\": Must have port for Service reference")
    }

    @Test func backendTLSPolicyNeedsExactlyOneCASource() throws {
        let both = try #require(
            firstError(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: BackendTLSPolicy
                metadata: {name: p}
                spec:
                  targetRefs: [{group: "", kind: Service, name: s}]
                  validation:
                    caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
                    wellKnownCACertificates: System
                    hostname: s.internal
                """))
        #expect(both.field == "spec.validation")
        #expect(both.message == "Invalid value: \"object\": must not contain both CACertificateRefs and WellKnownCACertificates")

        let san = try #require(
            firstError(
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: BackendTLSPolicy
                metadata: {name: p}
                spec:
                  targetRefs: [{group: "", kind: Service, name: s}]
                  validation:
                    wellKnownCACertificates: System
                    hostname: s.internal
                    subjectAltNames: [{type: URI, hostname: s.internal}]
                """))
        #expect(san.field == "spec.validation.subjectAltNames[0]")
    }
}
