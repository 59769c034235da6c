import Foundation
import GatewayModel
import IR

/// Kubernetes Ingress (`networking.k8s.io/v1`) → proxy groups, the way Cilium serves it
/// from Envoy: every Ingress of a class on one proxy group named after the class
/// (`shared`), or one proxy group per Ingress, `namespace/name` (`dedicated`, the default).
///
/// Each group listens on the Ingress HTTP port (80, or `serve --ingress-ports`, or the
/// `chancery.dev/ingress-ports` annotation of the class or of a dedicated Ingress) and, when
/// an Ingress of it has a usable `tls` entry, the HTTPS port (443) with a certificate per SNI. Paths are matched as the
/// Ingress spec says: Exact whole; Prefix by path element (`/foo` matches `/foo`, `/foo/`
/// and `/foo/bar`, not `/foobar`); ImplementationSpecific as Prefix; the longest path first,
/// Exact before Prefix at equal length. A wildcard host (`*.example.com`) matches exactly one
/// label. Where two Ingresses of a group define the same host, path and type, the older one
/// serves it and the other says so.
enum Ingresses {
    /// The `spec.controller` of IngressClasses Chancery serves.
    static let controllerName = "chancery.dev/ingress-controller"
    /// Cilium's annotation choosing `shared` or `dedicated`, on an Ingress or, as the
    /// class's default, on its IngressClass.
    static let modeAnnotation = "ingress.cilium.io/loadbalancer-mode"
    /// The class annotation from before `spec.ingressClassName`.
    static let legacyClassAnnotation = "kubernetes.io/ingress.class"
    /// `"HTTP,HTTPS"`: the ports of a dedicated Ingress's group, or (on an IngressClass) of
    /// its shared group and the default of its dedicated ones.
    static let portsAnnotation = "chancery.dev/ingress-ports"

    /// A Prefix path's trailing "/" changes nothing it matches (`/foo/` matches `/foo`).
    static func normalized(_ path: String, exact: Bool) -> String {
        exact ? path : PathMatch.normalizedPrefix(path)
    }

    enum Mode: String {
        case shared
        case dedicated
    }

    /// One Ingress Chancery serves, with what its class and annotations decided.
    struct Served {
        let ingress: Ingress
        let key: ObjectKey
        let group: String
        let className: String
        let ports: IngressPorts
        var conditions: [Condition] = []
        var notes: [String] = []
        /// The ingress-nginx annotations it carries.
        let nginx: NginxAnnotations

        var namespace: String { key.namespace }
        var generation: Int? { ingress.metadata.generation }

        /// Adds a condition, at the Ingress's generation.
        mutating func say(_ type: ConditionType, _ status: Bool, _ reason: ConditionReason, _ message: String) {
            conditions.append(Condition(type, status, reason: reason, message: message, generation: generation))
        }
    }

    /// Plans the groups of every Ingress of Chancery's classes into `groups`, and writes
    /// their status. Groups whose name a Gateway's group already has are not planned
    /// (the Ingress says so).
    static func plan(
        _ set: ResourceSet, world: World, ports: IngressPorts, into groups: inout ProxyGroups,
        statuses: inout [ObjectKey: ObjectStatus], certificateExpiry: inout [String: Date], warnings: inout [String]
    ) {
        let classes = set.ingressClasses.filter { $0.spec.controller == controllerName }
        guard !classes.isEmpty else { return }
        let byName = Dictionary(uniqueKeysWithValues: classes.map { ($0.metadata.name, $0) })
        // The default class, when it is ours and the only one marked so.
        let defaults = set.ingressClasses.filter(\.isDefault)
        let defaultClass = defaults.count == 1 ? defaults.first.flatMap { byName[$0.metadata.name] } : nil

        var byGroup: [String: [Served]] = [:]
        var canaries: [IngressCanary] = []
        for ingress in Ordering.oldestFirst(set.ingresses, metadata: \.metadata) {
            let className =
                ingress.spec.ingressClassName ?? ingress.metadata.annotations?[legacyClassAnnotation] ?? defaultClass?.metadata.name
            guard let className, let ingressClass = byName[className] else { continue }
            let key = ObjectKey(.ingress, namespace: ingress.metadata.namespace ?? "default", name: ingress.metadata.name)
            var notes: [String] = []
            let asked = ingress.metadata.annotations?[modeAnnotation] ?? ingressClass.metadata.annotations?[modeAnnotation]
            var mode = Mode.dedicated
            if let asked {
                if let known = Mode(rawValue: asked) {
                    mode = known
                } else {
                    notes.append("\(modeAnnotation) \"\(asked)\" is neither shared nor dedicated: served dedicated")
                }
            }
            // Annotations of other Ingress controllers are not dropped in silence.
            let known = IngressCanary.annotations.union(NginxAnnotations.supported).union([modeAnnotation, portsAnnotation])
            let unsupported = (ingress.metadata.annotations ?? [:]).keys.filter { name in
                !known.contains(name)
                    && (name.hasPrefix("nginx.ingress.kubernetes.io/") || name.hasPrefix("ingress.cilium.io/")
                        || name.hasPrefix("chancery.dev/"))
            }.sorted()
            if !unsupported.isEmpty {
                notes.append("not supported, so not applied: \(unsupported.joined(separator: ", "))")
            }
            if ingressClass.spec.parameters != nil {
                notes.append("IngressClass \(className) parameters are not read (ports come from serve --ingress-ports)")
            }
            let group = mode == .shared ? className : "\(key.namespace)/\(key.name)"
            // Ports: a dedicated Ingress's own, else its class's, else serve's.
            var groupPorts = ports
            if let text = ingressClass.metadata.annotations?[portsAnnotation] {
                if let classPorts = IngressPorts.parse(text) { groupPorts = classPorts } else {
                    notes.append("IngressClass \(className) \(portsAnnotation) \"\(text)\" is not two different ports HTTP,HTTPS: \(ports.http),\(ports.https) are used")
                }
            }
            if let text = ingress.metadata.annotations?[portsAnnotation] {
                if mode == .shared {
                    notes.append("\(portsAnnotation) is for dedicated Ingresses; the shared group \(group) listens on its class's ports")
                } else if let own = IngressPorts.parse(text) {
                    groupPorts = own
                } else {
                    notes.append("\(portsAnnotation) \"\(text)\" is not two different ports HTTP,HTTPS: \(groupPorts.http),\(groupPorts.https) are used")
                }
            }
            let nginx = NginxAnnotations(ingress)
            notes += nginx.notes
            let served = Served(
                ingress: ingress, key: key, group: group, className: className, ports: groupPorts, notes: notes, nginx: nginx)
            if IngressCanary.isCanary(ingress) {
                // A canary joins the groups of the Ingresses whose paths it shares.
                canaries.append(IngressCanary(served: served, className: className))
                continue
            }
            byGroup[group, default: []].append(served)
        }

        for (group, members) in byGroup.sorted(by: { $0.key < $1.key }) {
            var planner = IngressPlanner(
                group: group, world: world, ports: members[0].ports, members: members,
                canaries: canaries.filter { $0.className == members[0].className },
                takenPorts: Set(groups.plans[group]?.listeners.map(\.port) ?? []), reservedPorts: world.context.reservedPorts)
            var plan = planner.plan()
            if let gateways = groups.plans[group] {
                // A Gateway's group of the same name (a GatewayClass and an IngressClass
                // alike, say): one proxy serves both, the Gateway's listeners first.
                let theirs = Dictionary(gateways.clusters.map { ($0.name, $0.settings) }, uniquingKeysWith: { a, _ in a })
                for cluster in plan.clusters where theirs[cluster.name].map({ $0 != cluster.settings }) == true {
                    for index in planner.members.indices {
                        planner.members[index].notes.append(
                            "Service port \(cluster.name) is also a Gateway route's in proxy group \(group): it is spoken to as the Gateway's route says (backend-protocol and proxy-connect-timeout are not applied to it)")
                    }
                }
                plan = merge(plan, into: gateways)
                groups.identical = groups.identical.filter { $0.key != group && $0.value != group }
            }
            for canary in planner.canaries {
                guard let index = canaries.firstIndex(where: { $0.served.key == canary.served.key }) else { continue }
                canaries[index].appliedTo += canary.appliedTo
                canaries[index].served.conditions += canary.served.conditions.filter { !canaries[index].served.conditions.contains($0) }
                canaries[index].served.notes += canary.served.notes.filter { !canaries[index].served.notes.contains($0) }
            }
            groups.add(group, plan: plan, serving: members.map(\.key) + planner.canaries.filter { !$0.appliedTo.isEmpty }.map(\.served.key))
            for member in planner.members {
                var conditions = member.conditions
                conditions.insert(
                    Condition(
                        .accepted, true, reason: .accepted,
                        message: (["served by proxy group \(group)"] + member.notes).joined(separator: "; "), generation: member.generation),
                    at: 0)
                if !conditions.contains(where: { $0.type == .resolvedRefs }) {
                    conditions.append(
                        Condition(.resolvedRefs, true, reason: .resolvedRefs, message: "all references resolved", generation: member.generation))
                }
                statuses[member.key] = ObjectStatus(
                    conditions: conditions, loadBalancer: ports.addresses.isEmpty ? nil : ports.addresses.map(LoadBalancerIngress.init))
            }
            for (name, expiry) in planner.certificateExpiry { certificateExpiry[name] = expiry }
            warnings += planner.warnings
        }
        for canary in canaries {
            let served = canary.served
            var conditions = served.conditions
            let accepted = !canary.appliedTo.isEmpty
            let message =
                accepted
                ? "canary for \(canary.appliedTo.joined(separator: ", "))"
                : "a canary serves only paths an Ingress of class \(canary.className) serves with the same host, path and path type; none does"
            conditions.insert(
                Condition(
                    .accepted, accepted, reason: accepted ? .accepted : .noMatchingParent,
                    message: ([message] + served.notes).joined(separator: "; "), generation: served.generation),
                at: 0)
            if !conditions.contains(where: { $0.type == .resolvedRefs }) {
                conditions.append(Condition(.resolvedRefs, true, reason: .resolvedRefs, message: "all references resolved", generation: served.generation))
            }
            statuses[served.key] = ObjectStatus(
                conditions: conditions, loadBalancer: !accepted || ports.addresses.isEmpty ? nil : ports.addresses.map(LoadBalancerIngress.init))
        }
    }
}

extension Ingresses {
    /// The Ingresses' plan added to a Gateway group's (planned on the ports the Gateways
    /// leave free): their listeners, and their clusters and secrets where the Gateways have
    /// none of the name (same names are the same Service ports and Secrets).
    static func merge(_ ingresses: ProxyPlan, into gateways: ProxyPlan) -> ProxyPlan {
        var merged = gateways
        merged.listeners += ingresses.listeners
        let clusters = Set(gateways.clusters.map(\.name))
        merged.clusters += ingresses.clusters.filter { !clusters.contains($0.name) }
        merged.clusters.sort { $0.name < $1.name }
        let secrets = Set(gateways.secrets.map(\.name))
        merged.secrets += ingresses.secrets.filter { !secrets.contains($0.name) }
        merged.secrets.sort { $0.name < $1.name }
        return merged
    }
}

/// The ports Ingress proxy groups listen on (`serve --ingress-ports`).
public struct IngressPorts: Sendable, Hashable {
    public var http: Int
    public var https: Int
    /// Where the Ingress proxies are reached (`serve --ingress-address`), written to each
    /// served Ingress's `status.loadBalancer.ingress`.
    public var addresses: [String]

    public init(http: Int = 80, https: Int = 443, addresses: [String] = []) {
        self.http = http
        self.https = https
        self.addresses = addresses
    }

    /// `"8080,8443"`: two different ports, HTTP then HTTPS; nil for anything else.
    public static func parse(_ text: String) -> IngressPorts? {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let http = parts[0], let https = parts[1], (1...65535).contains(http), (1...65535).contains(https),
            http != https
        else { return nil }
        return IngressPorts(http: http, https: https)
    }
}

/// One Ingress proxy group's plan.
struct IngressPlanner {
    let group: String
    let world: World
    let ports: IngressPorts
    var members: [Ingresses.Served]
    /// Canaries of the group's class; each records where it was applied.
    var canaries: [IngressCanary]
    var builder: PlanBuilder
    var certificateExpiry: [String: Date] = [:]
    var warnings: [String] = []

    /// Ports a Gateway of the same proxy group listens on: the Ingresses do not use them.
    let takenPorts: Set<Int>
    /// Ports taken on the proxies' hosts (`--reserved-ports`).
    let reservedPorts: Set<Int>
    /// Notes found while planning paths, added to each Ingress's own at the end.
    private var laterNotes: [ObjectKey: [String]] = [:]

    init(
        group: String, world: World, ports: IngressPorts, members: [Ingresses.Served], canaries: [IngressCanary] = [],
        takenPorts: Set<Int> = [], reservedPorts: Set<Int> = []
    ) {
        self.group = group
        self.takenPorts = takenPorts.union(reservedPorts)
        self.reservedPorts = reservedPorts
        self.world = world
        self.ports = ports
        self.members = members
        self.canaries = canaries
        self.builder = PlanBuilder(group: group, world: world)
    }

    /// A route of a host, with what decides its place.
    private struct Entry {
        let path: String
        let exact: Bool
        /// The path's routes in order: a canary's header and cookie routes first.
        let plans: [RoutePlan]
        /// Plain HTTP requests for it are redirected to HTTPS (ssl-redirect).
        var redirectsPlain = false
    }

    mutating func plan() -> ProxyPlan {
        for port in [ports.http, ports.https] where takenPorts.contains(port) {
            let whose =
                reservedPorts.contains(port)
                ? "port \(port) is taken on the proxies' hosts (--reserved-ports)"
                : "port \(port) of proxy group \(group) is a Gateway listener's"
            for index in members.indices {
                members[index].say(.conflicted, true, .conflicted, "\(whose): the Ingresses are not served on it")
            }
        }
        let servesHTTPS = !takenPorts.contains(ports.https)
        // Whether an HTTPS listener will exist: a redirect to it must have somewhere to go.
        var certificates = false
        // Hosts served over HTTPS (a usable certificate names them): ssl-redirect's.
        var secureHosts: Set<String> = []
        for member in members where servesHTTPS {
            for tls in member.ingress.spec.tls ?? [] {
                guard let secretName = tls.secretName,
                    case .success? = world.context.certificate(ObjectKey(.secret, namespace: member.namespace, name: secretName))
                else { continue }
                secureHosts.formUnion(tls.hosts ?? [])
                certificates = true
            }
        }
        // ingress-nginx makes every path of a host a regular expression once one Ingress
        // of the host asks for it.
        var regexHosts: Set<String> = []
        for member in members where member.nginx.useRegex || member.nginx.rewriteTarget != nil {
            for rule in member.ingress.spec.rules ?? [] { regexHosts.insert(rule.host ?? "") }
        }

        // Routes by host ("" for rules without one), the older Ingress's first where two
        // define the same host, path and type.
        var hosts: [String: [Entry]] = [:]
        var claimed: [String: ObjectKey] = [:]
        var fallback: (member: Ingresses.Served, action: RouteAction)?
        var origins: [ObjectKey] = []
        for index in members.indices {
            let member = members[index]
            let nginx = member.nginx
            origins.append(member.key)
            var problems: [String] = []
            if let backend = member.ingress.spec.defaultBackend {
                if let fallback {
                    members[index].say(.conflicted, true, .conflicted, "the default backend is Ingress \(fallback.member.namespace)/\(fallback.member.key.name)'s, the older one in proxy group \(group)")
                } else {
                    fallback = (member, forward(backend, member: member, problems: &problems))
                }
            }
            for (r, rule) in (member.ingress.spec.rules ?? []).enumerated() {
                let host = rule.host ?? ""
                if let header = Self.singleLabel(host).first, case .regex(let pattern) = header.value, let problem = RE2.problem(pattern) {
                    members[index].say(.resolvedRefs, false, .unsupportedValue, "rules[\(r)]: the host \(host) is too long to match as one label (\(problem)): not served")
                    continue
                }
                let redirectsPlain = redirects(nginx, host: host, secureHosts: secureHosts, https: certificates, member: member.key)
                if nginx.appRoot != nil, let owner = claimed["\(host) =/"] {
                    members[index].notes.append(
                        "app-root is not applied on host \(host.isEmpty ? "*" : host): Ingress \(owner.namespace)/\(owner.name), an older one, has its Exact /")
                } else if let root = nginx.appRoot {
                    claimed["\(host) =/"] = member.key
                    let redirect = RedirectPlan(scheme: nil, hostname: nil, port: nil, path: .replaceFull(root), statusCode: 302)
                    let plan = RoutePlan(
                        name: "ingress:\(member.namespace)/\(member.key.name)/rule/\(r)/app-root", origin: member.key,
                        match: RouteMatchPlan(path: .exact("/"), headers: Self.singleLabel(host)), action: .redirect(redirect))
                    hosts[host, default: []].append(Entry(path: "/", exact: true, plans: [plan], redirectsPlain: redirectsPlain))
                }
                for (p, path) in (rule.http?.paths ?? []).enumerated() {
                    let value = path.path.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
                    let exact = path.pathType == .exact
                    let normalized = Ingresses.normalized(value, exact: exact)
                    let claim = "\(host) \(exact ? "=" : "^")\(normalized)"
                    if let owner = claimed[claim] {
                        members[index].say(.conflicted, true, .conflicted, "host \(host.isEmpty ? "*" : host) path \(value) (\(path.pathType.rawValue)) is served by Ingress \(owner.namespace)/\(owner.name), the older one")
                        continue
                    }
                    var match: PathMatch = exact ? .exact(value) : .segmentPrefix(normalized)
                    var rewrite: PathRewrite?
                    if !exact, regexHosts.contains(host) {
                        // As ingress-nginx's `location ~* "^<path>"`: case-insensitive, from the start.
                        let pattern = "(?i)" + value + ".*"
                        if let problem = RE2.problem(pattern) {
                            members[index].say(.resolvedRefs, false, .unsupportedValue, "path \(value) of host \(host.isEmpty ? "*" : host) is a regular expression here (use-regex), and \(problem): not served")
                            continue
                        }
                        match = .regex(pattern)
                        if let target = nginx.rewriteTarget {
                            rewrite = .regex(pattern: "(?i)^" + value + ".*", substitution: NginxAnnotations.substitution(target))
                        }
                    } else if nginx.rewriteTarget != nil {
                        members[index].notes.append("rewrite-target is not applied to the Exact path \(value)")
                    }
                    claimed[claim] = member.key
                    let name = "ingress:\(member.namespace)/\(member.key.name)/rule/\(r)/path/\(p)"
                    let routeMatch = RouteMatchPlan(path: match, headers: Self.singleLabel(host))
                    var action = forward(path.backend, member: member, problems: &problems)
                    if case .forward(var plan) = action {
                        plan.pathRewrite = rewrite
                        action = .forward(plan)
                    }
                    if let redirect = nginx.redirect { action = .redirect(redirect) }
                    var sessionPath = normalized
                    if case .regex = match, nginx.session != nil, nginx.session?.path == nil {
                        // A cookie's path cannot be a regular expression.
                        sessionPath = "/"
                        members[index].notes.append("session-cookie-path is / for the regex path \(value): set it to narrow the cookie")
                    }
                    let route = Self.annotated(
                        RoutePlan(name: name, origin: member.key, match: routeMatch, action: action), nginx, sessionPath: sessionPath)
                    var plans = [route]
                    if nginx.redirect == nil,
                        let canary = canaryRoutes(
                            host: host, path: normalized, exact: exact, name: name, origin: member.key, match: routeMatch, main: action)
                    {
                        plans = canary.map { Self.annotated($0, nginx, sessionPath: sessionPath) }
                    }
                    hosts[host, default: []].append(Entry(path: normalized, exact: exact, plans: plans, redirectsPlain: redirectsPlain))
                }
            }
            if !problems.isEmpty {
                members[index].say(.resolvedRefs, false, .backendNotFound, problems.joined(separator: "; "))
            }
        }

        // Plain HTTP redirects to HTTPS where ssl-redirect says so; HTTPS routes as written.
        var plainHosts: [VirtualHostPlan] = []
        var secureVirtualHosts: [VirtualHostPlan] = []
        // Named hosts in order, then the rest ("*": rules without a host, and the default backend).
        for host in hosts.keys.filter({ !$0.isEmpty }).sorted() + [""] {
            var entries = hosts[host] ?? []
            // Longest path first; at equal length Exact before Prefix; then as written.
            entries = entries.enumerated().sorted { a, b in
                if a.element.path.count != b.element.path.count { return a.element.path.count > b.element.path.count }
                if a.element.exact != b.element.exact { return a.element.exact }
                return a.offset < b.offset
            }.map(\.element)
            // Envoy picks a wildcard's virtual host for names of several labels too; those
            // the wildcard does not match go on to the rules without a host.
            if host.hasPrefix("*.") {
                entries += (hosts[""] ?? []).sorted { a, b in
                    a.path.count != b.path.count ? a.path.count > b.path.count : a.exact && !b.exact
                }
            }
            var secure = entries.flatMap(\.plans)
            var plain = entries.flatMap { entry in entry.redirectsPlain ? entry.plans.map(toHTTPS) : entry.plans }
            // Requests that no path of the host matches go to the default backend.
            if let fallback {
                // The default backend's Ingress's annotations apply to it, as to its paths.
                let route = Self.annotated(
                    RoutePlan(
                        name: "ingress:\(fallback.member.namespace)/\(fallback.member.key.name)/default\(host.isEmpty ? "" : "/" + host)",
                        origin: fallback.member.key, match: RouteMatchPlan(path: .segmentPrefix("/"), headers: Self.singleLabel(host)),
                        action: fallback.member.nginx.redirect.map(RouteAction.redirect) ?? fallback.action),
                    fallback.member.nginx, sessionPath: "/")
                secure.append(route)
                let nginx = fallback.member.nginx
                plain.append(redirects(nginx, host: host, secureHosts: secureHosts, https: certificates, member: fallback.member.key) ? toHTTPS(route) : route)
            }
            guard !secure.isEmpty else { continue }
            let name = "ingress/\(host.isEmpty ? "*" : host)"
            let domains = [host.isEmpty ? "*" : host]
            plainHosts.append(VirtualHostPlan(name: name, domains: domains, routes: plain))
            secureVirtualHosts.append(VirtualHostPlan(name: name, domains: domains, routes: secure))
        }
        let httpName = "0.0.0.0:\(ports.http)"
        if !takenPorts.contains(ports.http) {
            builder.listeners.append(
                ListenerPlan(
                    name: httpName, address: "0.0.0.0", port: ports.http,
                    traffic: .http(.plain(RouteTablePlan(name: httpName, virtualHosts: plainHosts, origins: Origins(origins)))),
                    origins: Origins(origins)))
        }
        let chains = servesHTTPS ? secureChains(virtualHosts: secureVirtualHosts) : []
        for index in members.indices { members[index].notes += laterNotes[members[index].key] ?? [] }
        for index in canaries.indices { canaries[index].served.notes += laterNotes[canaries[index].served.key] ?? [] }
        if !chains.isEmpty {
            let httpsName = "0.0.0.0:\(ports.https)"
            builder.listeners.append(
                ListenerPlan(
                    name: httpsName, address: "0.0.0.0", port: ports.https, traffic: .http(.secure(chains)),
                    origins: Origins(chains.flatMap(\.routeTable.origins.keys))))
        }
        return builder.finish()
    }

    /// A route with what an Ingress's annotations add to each of its routes.
    static func annotated(_ route: RoutePlan, _ nginx: NginxAnnotations, sessionPath: String) -> RoutePlan {
        var route = route
        route.cors = nginx.cors
        route.clientAddresses = nginx.clientAddresses
        route.maxRequestBytes = nginx.maxRequestBytes
        if let session = nginx.session {
            route.session = .cookie(name: session.name, path: session.path ?? sessionPath, ttlSeconds: session.ttlSeconds)
        }
        return route
    }

    /// Whether plain HTTP for `host` is redirected: ssl-redirect for a host with a
    /// certificate, force-ssl-redirect for any, and only when the group serves HTTPS.
    private mutating func redirects(
        _ nginx: NginxAnnotations, host: String, secureHosts: Set<String>, https: Bool, member: ObjectKey
    ) -> Bool {
        if nginx.sslRedirect, secureHosts.contains(host) { return true }
        guard nginx.forceSSLRedirect else { return false }
        guard https else {
            let note = "force-ssl-redirect is not applied: proxy group \(group) serves no HTTPS (no usable certificate, or its port is taken)"
            if !(laterNotes[member] ?? []).contains(note) { laterNotes[member, default: []].append(note) }
            return false
        }
        return true
    }

    /// The route as a redirect to HTTPS (308, ingress-nginx's code), on the HTTPS port.
    private func toHTTPS(_ route: RoutePlan) -> RoutePlan {
        var route = route
        route.action = .redirect(
            RedirectPlan(scheme: "https", hostname: nil, port: ports.https == 443 ? nil : ports.https, path: nil, statusCode: 308))
        route.cors = nil
        route.session = nil
        return route
    }

    /// One SNI chain per usable certificate, the older Ingress's where two name the same
    /// host; every chain routes by the same virtual hosts.
    private mutating func secureChains(virtualHosts: [VirtualHostPlan]) -> [SecureChainPlan] {
        var chains: [SecureChainPlan] = []
        var sni: [String: ObjectKey] = [:]
        for index in members.indices {
            let member = members[index]
            for (t, tls) in (member.ingress.spec.tls ?? []).enumerated() {
                guard let secretName = tls.secretName else {
                    members[index].notes.append("tls[\(t)] names no secretName: its hosts are not served over HTTPS")
                    continue
                }
                let secret = ObjectKey(.secret, namespace: member.namespace, name: secretName)
                switch world.context.certificate(secret) {
                case .success(let checked)?:
                    // No hosts: the chain for every name no other chain has ("" below), one per group.
                    let asked = (tls.hosts ?? []).isEmpty ? [""] : tls.hosts ?? []
                    let won = asked.filter { host in
                        if let owner = sni[host] {
                            members[index].say(.conflicted, true, .conflicted, "TLS for \(host.isEmpty ? "hosts no tls entry names" : "host " + host) is Ingress \(owner.namespace)/\(owner.name)'s, the older one")
                            return false
                        }
                        sni[host] = member.key
                        return true
                    }
                    let names = won.filter { !$0.isEmpty }
                    guard !won.isEmpty else { continue }
                    builder.addCertificate(secret, owner: member.key)
                    let sdsName = Certificates.sdsName(secret)
                    certificateExpiry[sdsName] = checked.notAfter
                    if let warning = checked.warning { warnings.append("Secret \(member.namespace)/\(secretName): \(warning)") }
                    let table = RouteTablePlan(
                        name: "0.0.0.0:\(ports.https)/\(member.namespace)/\(member.key.name)/tls/\(t)", virtualHosts: virtualHosts,
                        origins: Origins(members.map(\.key) + [secret]))
                    chains.append(
                        SecureChainPlan(
                            name: "\(member.namespace)/\(member.key.name)/tls/\(t)", serverNames: names, certificates: [sdsName],
                            routeTable: table))
                case .failure(let problem)?:
                    members[index].say(.resolvedRefs, false, .invalidCertificateRef, "tls[\(t)]: Secret \(member.namespace)/\(secretName): \(problem.message); its hosts are not served over HTTPS")
                case nil:
                    members[index].say(.resolvedRefs, false, .invalidCertificateRef, "tls[\(t)]: Secret \(member.namespace)/\(secretName) does not exist; its hosts are not served over HTTPS")
                }
            }
        }
        return chains
    }

    /// A path's routes with the oldest canary of the class that shares it; nil without one.
    /// Younger canaries of the same path say they are not applied there.
    private mutating func canaryRoutes(
        host: String, path: String, exact: Bool, name: String, origin: ObjectKey, match: RouteMatchPlan, main: RouteAction
    ) -> [RoutePlan]? {
        var routes: [RoutePlan]?
        let place = "\(host.isEmpty ? "*" : host) \(path) (\(exact ? "Exact" : "Prefix")) in proxy group \(group)"
        for index in canaries.indices {
            guard let backend = canaries[index].backend(host: host, path: path, exact: exact) else { continue }
            guard routes == nil else {
                canaries[index].served.say(.conflicted, true, .conflicted, "\(place) already has a canary, an older one: not applied there")
                continue
            }
            var problems: [String] = []
            var canaryAction = forward(backend, member: canaries[index].served, problems: &problems)
            // Canary traffic is the main path's in all but its backend (rewrites, timeouts).
            if case .forward(var plan) = main, case .forward(let canary) = canaryAction {
                plan.destinations = canary.destinations
                canaryAction = .forward(plan)
            }
            if !problems.isEmpty {
                canaries[index].served.say(.resolvedRefs, false, .backendNotFound, problems.joined(separator: "; "))
            }
            canaries[index].appliedTo.append(place)
            routes = canaries[index].routes(name: name, origin: origin, match: match, main: main, canary: canaryAction)
        }
        return routes
    }

    /// Where a backend sends requests: its Service port, or a 500 saying why not.
    private mutating func forward(_ backend: Ingress.Backend, member: Ingresses.Served, problems: inout [String]) -> RouteAction {
        guard let service = backend.service else {
            let resource = backend.resource.map { "\($0.kind) \($0.name)" } ?? "nothing"
            problems.append("backend \(resource): only Service backends are supported")
            return .respond(DirectResponsePlan(status: 500, body: "Ingress backend \(resource) is not supported"))
        }
        var number = service.port.number
        if let name = service.port.name {
            number = world.context.service(member.namespace, service.name)?.spec.ports?.first { $0.name == name }?.port
            if number == nil, world.context.service(member.namespace, service.name) != nil {
                problems.append("Service \(member.namespace)/\(service.name) has no port named \(name)")
                return .respond(DirectResponsePlan(status: 500, body: "Service \(member.namespace)/\(service.name) has no port named \(name)"))
            }
        }
        let resolved = Backends.resolve(
            kind: nil, group: nil, name: service.name, namespace: nil, port: number, from: member.namespace, routeKind: .ingress,
            context: world.context)
        guard let target = resolved.target else {
            let message = resolved.problem?.message ?? "Service \(member.namespace)/\(service.name) cannot be used"
            problems.append(message)
            return .respond(DirectResponsePlan(status: 500, body: message))
        }
        builder.use(target, by: member.key, through: member.key)
        if let owner = builder.speak(to: target, http2: member.nginx.http2, unverifiedTLS: member.nginx.tls, by: member.key) {
            laterNotes[member.key, default: []].append(
                "backend-protocol for Service \(target.namespace)/\(target.service) is Ingress \(owner.namespace)/\(owner.name)'s, the older one, which reaches it too")
        }
        if let connect = member.nginx.connectTimeoutMilliseconds, let owner = builder.connect(to: target, within: connect, by: member.key) {
            laterNotes[member.key, default: []].append(
                "proxy-connect-timeout is not applied to Service \(target.namespace)/\(target.service): Ingress \(owner.namespace)/\(owner.name), the older one, set another")
        }
        // As ingress-nginx: no limit on a request's whole duration, only on silence.
        return .forward(
            ForwardPlan(
                destinations: [DestinationPlan(cluster: target.name, weight: 1)], timeoutMilliseconds: 0,
                idleTimeoutMilliseconds: member.nginx.idleTimeoutMilliseconds))
    }

    /// `*.example.com` matches one label only (Envoy's wildcard domains match several):
    /// the host must then match `[^.]+.example.com`, with an optional port.
    static func singleLabel(_ host: String) -> [HeaderMatchPlan] {
        guard host.hasPrefix("*.") else { return [] }
        let suffix = host.dropFirst(1).replacingOccurrences(of: ".", with: "\\.")
        return [HeaderMatchPlan(name: ":authority", value: .regex("(?i)^[^.]+\(suffix)(:[0-9]+)?$"))]
    }
}
