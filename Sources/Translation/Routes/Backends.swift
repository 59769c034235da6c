import GatewayModel

/// A Service port that routes send traffic to: one Envoy cluster.
struct ServicePort: Hashable, Comparable, Sendable {
    let namespace: String
    let service: String
    let port: Int

    /// The cluster's name: `namespace/service:port`.
    var name: String { "\(namespace)/\(service):\(port)" }
    var serviceKey: ObjectKey { ObjectKey(.service, namespace: namespace, name: service) }

    static func < (a: ServicePort, b: ServicePort) -> Bool { a.name < b.name }
}

/// A backendRef after resolution: a Service port, or the reason it cannot be used (its
/// share of requests is answered with HTTP 500, as the spec requires).
struct ResolvedBackend: Hashable, Sendable {
    var target: ServicePort?
    var weight: Int
    var filters: [HTTPRoute.Filter]
    var problem: Verdict?
    /// The Service port a policy refused (a BackendTLSPolicy whose CAs are unusable).
    var refusedByPolicy: ServicePort?
}

enum Backends {
    /// Resolves a reference from a route in namespace `from` to a Service port.
    static func resolve(
        kind: String?, group: String?, name: String, namespace: String?, port: Int?, from: String, routeKind: Kind,
        context: Context, grantRequired: Bool = true
    ) -> ResolvedBackend {
        var backend = ResolvedBackend(target: nil, weight: 1, filters: [], problem: nil)
        let targetNamespace = namespace ?? from
        guard Kind.referenced(group: group, kind: kind, implied: .service) == .service else {
            backend.problem = Verdict(
                false, .invalidKind, "backend \(group ?? "")/\(kind ?? "") \(name): only Services are supported")
            return backend
        }
        if grantRequired, targetNamespace != from,
            !context.referenceGranted(
                from: routeKind, namespace: from, to: ObjectKey(.service, namespace: targetNamespace, name: name))
        {
            backend.problem = Verdict(
                false, .refNotPermitted,
                "Service \(targetNamespace)/\(name) is in another namespace and no ReferenceGrant there allows \(routeKind.rawValue)s from \(from)"
            )
            return backend
        }
        guard let service = context.service(targetNamespace, name) else {
            backend.problem = Verdict(false, .backendNotFound, "Service \(targetNamespace)/\(name) does not exist")
            return backend
        }
        guard let port else {
            backend.problem = Verdict(false, .unsupportedValue, "backend Service \(targetNamespace)/\(name) needs a port")
            return backend
        }
        guard (service.spec.ports ?? []).contains(where: { $0.port == port }) else {
            backend.problem = Verdict(false, .backendNotFound, "Service \(targetNamespace)/\(name) has no port \(port)")
            return backend
        }
        let target = ServicePort(namespace: targetNamespace, service: name, port: port)
        for kind in PolicyKinds.all {
            if let refusal = kind.refusal(of: target, context: context) {
                backend.problem = refusal
                backend.refusedByPolicy = target
                return backend
            }
        }
        backend.target = target
        return backend
    }

    /// gRPC backends, and Service ports that say they speak HTTP/2 in cleartext.
    static func usesHTTP2(_ target: ServicePort, context: Context) -> Bool {
        context.grpcClusters.contains(target) || Endpoints.facts(target, context: context).http2
    }

    /// The `appProtocol`s of Service ports that speak HTTP/2 without TLS.
    static let http2Protocols: Set<String> = ["kubernetes.io/h2c", "grpc", "http2"]
}
