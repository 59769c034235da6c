import Foundation
import GatewayModel

/// Synthetic Gateway API worlds and the small statistics the benchmark tools share.
public enum Worlds {
    /// One Gateway `infra/gw` (class `chancery`, port 8080) and `routes` HTTPRoutes, each
    /// with its own hostname and Service + EndpointSlice. `detailed` routes carry an
    /// exact and a header+prefix rule, a 90/10 weighted backend pair and a header filter
    /// (chancery-bench); plain routes one prefix rule (chancery-load). `variant` > 0
    /// changes route 0's path, as an edit would.
    /// With `policies`, every route also has a SecurityPolicy (authorization rules) and a
    /// BackendTrafficPolicy (a local rate limit and retries) of its own.
    public static func gateway(routes: Int, variant: Int = 0, detailed: Bool, policies: Bool = false) -> ResourceSet {
        var yaml = """
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
              listeners: [{name: http, protocol: HTTP, port: 8080, allowedRoutes: {namespaces: {from: All}}}]

            """
        for i in 0..<routes {
            let path = i == 0 && variant > 0 ? "/changed-\(variant)" : "/api/\(i)"
            let rules =
                detailed
                ? """
                  - matches: [{path: {type: Exact, value: \(path)/health}}]
                    backendRefs: [{name: s\(i), port: 80}]
                  - matches: [{path: {type: PathPrefix, value: \(path)}, headers: [{name: x-tenant, value: t\(i)}]}]
                    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-route, value: r\(i)}]}}]
                    backendRefs: [{name: s\(i), port: 80, weight: 90}, {name: s\((i + 1) % routes), port: 80, weight: 10}]
                """
                : """
                  - matches: [{path: {type: PathPrefix, value: \(path)}}]
                    backendRefs: [{name: s\(i), port: 80}]
                """
            let octets = "\(i / 250 % 250).\(i % 250)"
            let endpoints =
                detailed
                ? "[{addresses: [10.\(octets).1]}, {addresses: [10.\(octets).2]}, {addresses: [10.\(octets).3]}]"
                : "[{addresses: [10.0.\(octets)]}]"
            yaml += """
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: r\(i), namespace: ns\(i % 50)}
                spec:
                  parentRefs: [{name: gw, namespace: infra}]
                  hostnames: [host\(i).example.com]
                  rules:
                \(rules)
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: s\(i), namespace: ns\(i % 50)}
                spec: {ports: [{name: http, port: 80}]}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: s\(i)-1, namespace: ns\(i % 50), labels: {kubernetes.io/service-name: s\(i)}}
                addressType: IPv4
                endpoints: \(endpoints)
                ports: [{name: http, port: 8080}]

                """
            if policies {
                yaml += """
                    ---
                    apiVersion: gateway.envoyproxy.io/v1alpha1
                    kind: SecurityPolicy
                    metadata: {name: r\(i), namespace: ns\(i % 50)}
                    spec:
                      targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r\(i)}]
                      authorization:
                        defaultAction: Deny
                        rules:
                        - {action: Allow, operation: {methods: [GET], path: {value: \(path)}}, principal: {clientCIDRs: [10.0.0.0/8]}}
                        - {action: Allow, principal: {headers: [{name: x-tenant, values: [t\(i)]}]}}
                    ---
                    apiVersion: gateway.envoyproxy.io/v1alpha1
                    kind: BackendTrafficPolicy
                    metadata: {name: r\(i), namespace: ns\(i % 50)}
                    spec:
                      targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r\(i)}]
                      rateLimit:
                        type: Local
                        local:
                          rules:
                          - limit: {requests: 100, unit: Second}
                          - clientSelectors: [{headers: [{name: x-tenant, type: Distinct}]}]
                            limit: {requests: 10, unit: Second}
                      retry: {numRetries: 2}

                    """
            }
        }
        return decode(yaml)
    }

    /// A mesh: 10 namespaces `mesh-0`…`mesh-9`, each labelled `chancery.dev/mesh: enabled`,
    /// and `services` Services `svc-N` in namespace `mesh-<N / 10 % 10>` (blocks of ten:
    /// svc-0…9 in mesh-0, svc-10…19 in mesh-1, …, svc-100…109 in mesh-0 again), each
    /// with a unique cluster IP (10.96.x.y), selector `app: svc-N` and one port
    /// `http` 80 → 8080, and one Running Pod `pod-N` it selects (unique Pod IP 10.0.x.y,
    /// on `node-<N % 10>`, so that every node runs Pods of every namespace). Only the
    /// first `sidecars` Pods are in the mesh: the others are labelled
    /// `chancery.dev/mesh: disabled` (they still serve their Service's endpoints).
    /// Every 10th Service has a producer HTTPRoute `route-N` (parentRef the Service,
    /// port 80) splitting 90/10 between itself and svc-(N+1), the next Service of its
    /// namespace. `variant` > 0 moves `variant % 80` of route-0's weight to its second
    /// backend, as an edit would.
    public static func mesh(services: Int, sidecars: Int, variant: Int = 0) -> ResourceSet {
        var yaml = ""
        for namespace in 0..<10 {
            yaml += """
                ---
                apiVersion: v1
                kind: Namespace
                metadata: {name: mesh-\(namespace), labels: {chancery.dev/mesh: enabled}}

                """
        }
        for i in 0..<services {
            let namespace = "mesh-\(i / 10 % 10)"
            // From 1: the first addresses are 10.96.0.1 and 10.0.0.1, not a .0.0.
            let n = i + 1
            let octets = "\(n / 256 % 256).\(n % 256)"
            let clusterIP = "10.\(96 + n / 65536).\(octets)"
            let podIP = "10.\(n / 65536).\(octets)"
            let labels = i < sidecars ? "{app: svc-\(i)}" : "{app: svc-\(i), chancery.dev/mesh: disabled}"
            yaml += """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: svc-\(i), namespace: \(namespace)}
                spec:
                  clusterIP: \(clusterIP)
                  selector: {app: svc-\(i)}
                  ports: [{name: http, port: 80, targetPort: 8080}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: pod-\(i), namespace: \(namespace), labels: \(labels)}
                spec: {nodeName: node-\(i % 10)}
                status: {podIP: \(podIP), phase: Running}

                """
            if i % 10 == 0 {
                let weight = i == 0 ? 90 - variant % 80 : 90
                // svc-(i+1) is in the same block of ten, so the same namespace.
                let backends =
                    i + 1 < services
                    ? "[{name: svc-\(i), port: 80, weight: \(weight)}, {name: svc-\(i + 1), port: 80, weight: \(100 - weight)}]"
                    : "[{name: svc-\(i), port: 80, weight: \(weight)}]"
                yaml += """
                    ---
                    apiVersion: gateway.networking.k8s.io/v1
                    kind: HTTPRoute
                    metadata: {name: route-\(i), namespace: \(namespace)}
                    spec:
                      parentRefs: [{group: "", kind: Service, name: svc-\(i), port: 80}]
                      rules:
                      - backendRefs: \(backends)

                    """
            }
        }
        return decode(yaml)
    }

    /// The objects of a synthetic world's YAML, read as `chancery` reads files.
    static func decode(_ yaml: String) -> ResourceSet {
        let decoded = ManifestDecoder.decode(
            file: "world.yaml", contents: yaml, maxObjectBytes: SourceLimits.defaults.maxObjectBytes)
        precondition(decoded.errors.isEmpty && decoded.fileError == nil, "bad synthetic world: \(decoded.errors)")
        return ResourceSet(manifests: decoded.manifests)
    }
}

public enum Stats {
    /// The value at fraction `p` (0…1) of the sorted values.
    public static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
    }

    /// A line of `/proc/self/status` in MiB: `VmRSS` (now), `VmHWM` (peak), `RssAnon`
    /// (the process's own memory), `RssFile` (mapped files: the executable's code).
    public static func memoryMiB(_ field: String = "VmRSS", file: String = "/proc/self/status") -> Double {
        guard let status = try? String(contentsOfFile: file, encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
        }
        return 0
    }

    /// The memory the process touches while `work` runs: resident pages whose accessed
    /// bit is set afterwards, having been cleared before (`/proc/self/clear_refs`). Unlike
    /// RSS it leaves out what stays mapped but unused, such as code that ran only at start
    /// (code run for the first time counts the whole window the kernel maps around it).
    /// Nil, after `work` ran, where `clear_refs` cannot be written (some sandboxes).
    public static func touchedMiB(during work: () async throws -> Void) async throws -> Double? {
        let cleared = (try? "1".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil
        try await work()
        return cleared ? memoryMiB("Referenced", file: "/proc/self/smaps_rollup") : nil
    }
}
