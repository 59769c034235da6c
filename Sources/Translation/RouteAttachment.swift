import GatewayModel

/// A Service port that a route sends traffic to: one Envoy cluster.
struct BackendCluster: Hashable, Comparable {
    let namespace: String
    let service: String
    let port: Int

    var name: String { "\(namespace)/\(service):\(port)" }

    static func < (a: BackendCluster, b: BackendCluster) -> Bool { a.name < b.name }
}

/// A backendRef after resolution: a cluster, or the reason it cannot be used (its share
/// of requests is answered with HTTP 500, as the spec requires).
struct ResolvedBackend {
    var cluster: BackendCluster?
    var weight: Int
    var filters: [HTTPRoute.Filter]
    var problem: (reason: String, message: String)?
}

struct ResolvedRule {
    let index: Int
    let rule: HTTPRoute.Rule
    var backends: [ResolvedBackend]
    /// Mirror targets by filter position (nil when unresolvable).
    var mirrors: [BackendCluster?]
    /// Why the whole rule must answer 500 (an unsupported filter).
    var failure: String?
}

/// A route attached to one listener of one Gateway.
struct AttachedRoute {
    let route: HTTPRoute
    let key: ObjectKey
    let gateway: ObjectKey
    let listener: String
    /// The listener's port and scheme (redirects without a port go back to it).
    let listenerPort: Int
    let listenerScheme: String
    /// Effective hostnames on this listener (`*` for any).
    let hostnames: [String]
    let rules: [ResolvedRule]
}

/// Routes attached to Gateways, and the routes' statuses.
struct Attachments {
    var statuses: [ObjectKey: ObjectStatus] = [:]
    /// By Gateway key and listener name.
    var routes: [ObjectKey: [String: [AttachedRoute]]] = [:]

    func routes(for gateway: ObjectKey, listener: String) -> [AttachedRoute] {
        routes[gateway]?[listener] ?? []
    }
}

enum RouteAttachment {
    static func attach(_ routes: [HTTPRoute], to gateways: inout [PreparedGateway], context: inout Context) -> Attachments {
        var result = Attachments()
        let byKey = Dictionary(uniqueKeysWithValues: gateways.enumerated().map { ($1.key, $0) })
        for route in routes.sorted(by: { Ordering.older($0.metadata, than: $1.metadata) }) {
            let routeKey = key(.httpRoute, route.metadata)
            let namespace = routeKey.namespace
            let generation = route.metadata.generation
            let rules = resolveRules(route, namespace: namespace, context: context)
            let problems = rules.flatMap { rule in rule.backends.compactMap(\.problem) }
                + rules.compactMap { $0.failure.map { ("UnsupportedValue", $0) } }
            var parents: [RouteParentStatus] = []
            for parentRef in route.spec.parentRefs ?? [] {
                guard (parentRef.group ?? gatewayGroup) == gatewayGroup, (parentRef.kind ?? "Gateway") == "Gateway" else {
                    continue
                }
                let gatewayKey = ObjectKey(.gateway, namespace: parentRef.namespace ?? namespace, name: parentRef.name)
                guard let g = byKey[gatewayKey] else { continue }  // not a Gateway of ours
                var accepted: (Bool, String, String) = (
                    false, "NoMatchingParent", "no listener of Gateway \(gatewayKey.namespace)/\(gatewayKey.name) matches"
                )
                let gateway = gateways[g]
                var candidates = gateway.listeners.indices.filter { gateway.listeners[$0].accepted }
                if let section = parentRef.sectionName {
                    candidates = candidates.filter { gateway.listeners[$0].spec.name == section }
                    if candidates.isEmpty {
                        accepted.2 = "Gateway \(gatewayKey.namespace)/\(gatewayKey.name) has no valid listener named \(section)"
                    }
                }
                if let port = parentRef.port {
                    candidates = candidates.filter { gateway.listeners[$0].spec.port == port }
                    if candidates.isEmpty {
                        accepted.2 = "Gateway \(gatewayKey.namespace)/\(gatewayKey.name) has no valid listener on port \(port)"
                    }
                }
                var allowedSome = false
                var hostnameMismatch = false
                for index in candidates {
                    let listener = gateway.listeners[index]
                    guard allows(listener, routeNamespace: namespace, gateway: gateway, context: context) else { continue }
                    allowedSome = true
                    guard let hostnames = Hostnames.intersect(listener: listener.spec.hostname, route: route.spec.hostnames ?? [])
                    else {
                        hostnameMismatch = true
                        continue
                    }
                    gateways[g].listeners[index].attachedRoutes += 1
                    result.routes[gatewayKey, default: [:]][listener.spec.name, default: []].append(
                        AttachedRoute(
                            route: route, key: routeKey, gateway: gatewayKey, listener: listener.spec.name,
                            listenerPort: listener.spec.port,
                            listenerScheme: listener.spec.protocol == "HTTPS" ? "https" : "http",
                            hostnames: hostnames, rules: rules))
                    accepted = (true, "Accepted", "attached to Gateway \(gatewayKey.namespace)/\(gatewayKey.name)")
                }
                if !accepted.0, !candidates.isEmpty {
                    if !allowedSome {
                        accepted = (
                            false, "NotAllowedByListeners",
                            "the listeners' allowedRoutes (kinds and namespaces) do not admit an HTTPRoute from namespace \(namespace)"
                        )
                    } else if hostnameMismatch {
                        accepted = (
                            false, "NoMatchingListenerHostname",
                            "none of the route's hostnames match a listener hostname"
                        )
                    }
                }
                var conditions = [
                    Condition("Accepted", accepted.0, reason: accepted.1, message: accepted.2, generation: generation)
                ]
                if let problem = problems.first {
                    conditions.append(
                        Condition(
                            "ResolvedRefs", false, reason: problem.0,
                            message: problems.map(\.1).joined(separator: "; "), generation: generation))
                } else {
                    conditions.append(
                        Condition(
                            "ResolvedRefs", true, reason: "ResolvedRefs", message: "all references resolved",
                            generation: generation))
                }
                parents.append(
                    RouteParentStatus(parentRef: parentRef, controllerName: Translator.controllerName, conditions: conditions))
            }
            if !parents.isEmpty { result.statuses[routeKey] = ObjectStatus(parents: parents) }
        }
        return result
    }

    /// allowedRoutes: kinds, and namespaces Same (default), All or Selector.
    static func allows(
        _ listener: PreparedListener, routeNamespace: String, gateway: PreparedGateway, context: Context
    ) -> Bool {
        guard listener.supportedKinds.contains(where: { $0.kind == "HTTPRoute" }) else { return false }
        let namespaces = listener.spec.allowedRoutes?.namespaces
        switch namespaces?.from ?? "Same" {
        case "All": return true
        case "Selector":
            return namespaces?.selector?.matches(context.set.labels(ofNamespace: routeNamespace)) ?? false
        default: return routeNamespace == gateway.key.namespace
        }
    }

    static func resolveRules(_ route: HTTPRoute, namespace: String, context: Context) -> [ResolvedRule] {
        (route.spec.rules ?? []).enumerated().map { index, rule in
            var failure: String?
            var mirrors: [BackendCluster?] = []
            for filter in rule.filters ?? [] {
                switch filter.type {
                case "ExtensionRef":
                    failure = "rule \(index): ExtensionRef filters are not supported; the rule answers 500"
                case "RequestMirror":
                    if let ref = filter.requestMirror?.backendRef {
                        let resolved = Backends.resolve(
                            kind: ref.kind, group: ref.group, name: ref.name, namespace: ref.namespace, port: ref.port,
                            from: namespace, context: context)
                        mirrors.append(resolved.cluster)
                    }
                default: break
                }
            }
            let backends = (rule.backendRefs ?? []).map { ref in
                var resolved = Backends.resolve(
                    kind: ref.kind, group: ref.group, name: ref.name, namespace: ref.namespace, port: ref.port,
                    from: namespace, context: context)
                resolved.weight = ref.weight ?? 1
                resolved.filters = ref.filters ?? []
                return resolved
            }
            return ResolvedRule(index: index, rule: rule, backends: backends, mirrors: mirrors, failure: failure)
        }
    }
}
