import GatewayModel
import IR

/// An HTTPRoute or GRPCRoute attached to a Service (GAMMA): it governs calls to that
/// Service made inside the mesh — all callers' when it lives in the Service's namespace
/// (a producer route), only its own namespace's callers otherwise (a consumer route).
struct MeshRoute {
    let route: RouteObject
    let service: ObjectKey
    /// The Service port the parentRef names (by `port`, or by `sectionName`, the port's
    /// name); nil: every port.
    let port: Int?
    let rules: [ResolvedRule]
    /// The parentRef it attached by.
    let parentRef: ParentReference

    var key: ObjectKey { route.key }
    var namespace: String { route.key.namespace }

    /// Whether the route governs calls to `port` of its Service.
    func governs(_ port: Int) -> Bool { self.port.map { $0 == port } ?? true }

    /// The planned routes of its rules for calls to `port`, reused from `cache` like a
    /// Gateway route's.
    func entries(port: Int, cache: PlanCache?) -> [RouteEntry] {
        let input = HTTPRoutePlanner.Input(
            listenerPort: port, listenerScheme: "http", key: key, created: route.metadata.creationTimestamp ?? "", rules: rules)
        guard let cache else { return HTTPRoutePlanner.entries(input) }
        return cache.routeEntries.value(key, input) { HTTPRoutePlanner.entries(input) }
    }
}

enum MeshAttachment {
    /// A route's parentRef naming a Service: whether it attaches, and if so it joins the
    /// Service's mesh routes.
    static func attach(
        _ route: RouteObject, rules: [ResolvedRule], parentRef: ParentReference, allDropped: String?,
        into mesh: inout [ObjectKey: [MeshRoute]], context: Context
    ) -> ParentAttachment {
        let namespace = parentRef.namespace ?? route.key.namespace
        let serviceKey = ObjectKey(.service, namespace: namespace, name: parentRef.name)
        func refused(_ message: String) -> ParentAttachment {
            ParentAttachment(parentRef: parentRef, gateway: serviceKey, accepted: Verdict(false, .noMatchingParent, message))
        }
        guard route.kind == .httpRoute || route.kind == .grpcRoute else {
            return refused(
                "a \(route.kind.rawValue) cannot have a Service parent: Chancery's mesh routes HTTPRoutes and GRPCRoutes (GAMMA)")
        }
        if let allDropped {
            return ParentAttachment(parentRef: parentRef, gateway: serviceKey, accepted: Verdict(false, .unsupportedValue, allDropped))
        }
        guard let service = context.service(namespace, parentRef.name) else {
            return refused("Service \(namespace)/\(parentRef.name) does not exist")
        }
        guard MeshServices.clusterIP(of: service) != nil else {
            return refused(
                "Service \(namespace)/\(parentRef.name) has no cluster IP (it is headless or an ExternalName): mesh routes apply to calls to a Service's cluster IP")
        }
        let ports = service.spec.ports ?? []
        var port: Int?
        if let section = parentRef.sectionName {
            guard let named = ports.first(where: { $0.name == section }) else {
                return refused("Service \(namespace)/\(parentRef.name) has no port named \(section)")
            }
            port = named.port
        }
        if let number = parentRef.port {
            guard ports.contains(where: { $0.port == number }), port.map({ $0 == number }) ?? true else {
                return refused(
                    "Service \(namespace)/\(parentRef.name) has no port \(number)\(parentRef.sectionName.map { " named \($0)" } ?? "")")
            }
            port = number
        }
        // Chancery's policies act on Gateway listeners and the routes attached there; in the
        // mesh they are not carried out, so a route one governs fails closed there.
        var rules = rules
        let policies = context.routePolicies.byKind.filter { $0.index.hasPolicies(for: route.key) }.map(\.kind.rawValue)
        if !policies.isEmpty {
            for index in rules.indices where rules[index].failure == nil {
                rules[index].failure =
                    "a \(policies.joined(separator: " and a ")) targets this route, and policies are not carried out in the mesh: calls through the mesh answer 500"
            }
        }
        mesh[serviceKey, default: []].append(MeshRoute(route: route, service: serviceKey, port: port, rules: rules, parentRef: parentRef))
        let role = namespace == route.key.namespace ? "for every caller (producer route)" : "for callers in namespace \(route.key.namespace) (consumer route)"
        var message = "attached to Service \(namespace)/\(parentRef.name) in the mesh, \(role)"
        if !policies.isEmpty {
            message += "; a \(policies.joined(separator: " and a ")) targets the route, and policies are not carried out in the mesh: its calls through the mesh answer 500"
        }
        if !route.hostnames.isEmpty {
            message += "; hostnames are not used for a Service parent: the route applies to every call to the Service"
        }
        return ParentAttachment(parentRef: parentRef, gateway: serviceKey, accepted: Verdict(true, .accepted, message))
    }

    /// GEP-1294: where a GRPCRoute and an HTTPRoute from one namespace govern the same
    /// Service port, the GRPCRoute wins. An HTTPRoute that loses every port it governs is
    /// `Conflicted` for that Service; one that loses some says which. (Routing leaves the
    /// losers out: ``MeshWorld/routes(from:to:port:)``.)
    static func settleKinds(_ attachments: inout Attachments, context: Context) {
        for (service, routes) in attachments.mesh {
            let servicePorts = (context.service(service.namespace, service.name)?.spec.ports ?? []).map(\.port)
            for route in routes where route.route.kind == .httpRoute {
                let rivals = routes.filter { $0.route.kind == .grpcRoute && $0.namespace == route.namespace }
                guard !rivals.isEmpty else { continue }
                let governed = route.port.map { [$0] } ?? servicePorts
                let lostPorts = governed.filter { port in rivals.contains { $0.governs(port) } }.sorted()
                guard !lostPorts.isEmpty else { continue }
                let lostEverything = lostPorts.count == governed.count
                guard var record = attachments.records[route.key] else { continue }
                for index in record.parents.indices
                where record.parents[index].parentRef == route.parentRef && record.parents[index].accepted.holds {
                    let rival = (rivals.first { rival in lostPorts.contains { rival.governs($0) } } ?? rivals[0]).key
                    if lostEverything {
                        record.parents[index].accepted = Verdict(
                            false, .conflicted,
                            "GRPCRoute \(rival.namespace)/\(rival.name) governs the same calls to Service \(service.namespace)/\(service.name), and a GRPCRoute wins over an HTTPRoute (GEP-1294)")
                    } else {
                        record.parents[index].accepted.message +=
                            "; on port \(lostPorts.map(String.init).joined(separator: ", ")) GRPCRoute \(rival.namespace)/\(rival.name) governs the calls instead (a GRPCRoute wins over an HTTPRoute)"
                    }
                }
                attachments.records[route.key] = record
            }
        }
    }
}
