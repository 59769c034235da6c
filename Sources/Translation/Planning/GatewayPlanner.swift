import GatewayModel
import IR

/// Plans one proxy group from Gateways and the routes attached to them: Gateway
/// listeners on the same address and port become one Envoy listener (HTTP ones share
/// virtual hosts, HTTPS ones get a chain per SNI name, TLS ones a chain per route
/// hostname, TCP and UDP ones carry one route), with the clusters, endpoints and
/// secrets they name. What the group cannot serve as asked becomes a ``Finding``.
enum GatewayPlanner {
    struct Bind: Hashable, Comparable {
        let address: String
        let port: Int
        var name: String { "\(address):\(port)" }
        static func < (a: Bind, b: Bind) -> Bool { (a.port, a.address) < (b.port, b.address) }
    }

    /// A Gateway listener placed on an Envoy listener.
    struct Placed {
        let gateway: PreparedGateway
        let listener: PreparedListener
        var chainName: String { "\(gateway.group)/\(listener.name)" }
        var label: String {
            listener.listenerSet == nil
                ? "Gateway \(gateway.group) \(listener.label)" : "\(listener.label) (Gateway \(gateway.group))"
        }
        var subject: Finding.Subject { .listener(gateway: gateway.key, name: listener.name) }
        /// The objects the listener is written in: its Gateway, and its ListenerSet.
        var owners: [ObjectKey] { [gateway.key] + (listener.listenerSet.map { [$0] } ?? []) }
    }

    static func plan(group: String, gateways: [PreparedGateway], world: World, findings: inout [Finding]) -> ProxyPlan {
        var binds: [Bind: [Placed]] = [:]
        for gateway in gateways {
            for listener in gateway.listeners where listener.isProgrammed {
                binds[Bind(address: gateway.bindAddress, port: listener.spec.port), default: []].append(
                    Placed(gateway: gateway, listener: listener))
            }
        }
        var builder = PlanBuilder(group: group, world: world)
        for bind in binds.keys.sorted() {
            // One protocol per port: the first Gateway's (the oldest) keeps it.
            let all = binds[bind]!
            let first = all[0]
            var placed: [Placed] = []
            for entry in all {
                if entry.listener.spec.protocol == first.listener.spec.protocol {
                    placed.append(entry)
                } else {
                    exclude(
                        entry, .protocolConflict,
                        "in proxy group \(group), port \(bind.port) carries \(first.listener.spec.protocol) for \(first.label); this \(entry.listener.spec.protocol) listener is not served there",
                        from: &builder)
                }
            }
            switch first.listener.spec.protocol {
            case .http, .https: planHTTP(bind, placed, into: &builder)
            case .tls: planTLS(bind, placed, into: &builder)
            case .tcp, .udp: planStream(bind, placed, into: &builder)
            default: break
            }
        }
        findings += builder.findings
        return builder.finish()
    }

    // MARK: HTTP and HTTPS

    private static func planHTTP(_ bind: Bind, _ all: [Placed], into builder: inout PlanBuilder) {
        let secure = all[0].listener.spec.protocol == .https
        var placed: [Placed] = []
        if secure {
            // One filter chain per SNI name: the older listener keeps a name two ask for.
            var holders: [[String]: Placed] = [:]
            for entry in all {
                let serverNames = entry.listener.spec.hostname.map { [$0] } ?? []
                if let holder = holders[serverNames] {
                    exclude(
                        entry, .hostnameConflict,
                        "in proxy group \(builder.group), port \(bind.port) already serves \(serverNames.first.map { "SNI \($0)" } ?? "connections without a listener hostname") with the certificates of \(holder.label); this listener is not served there",
                        from: &builder)
                    continue
                }
                holders[serverNames] = entry
                placed.append(entry)
            }
        } else {
            placed = all
        }
        let slots = placed.map { entry in
            HTTPHosts.Slot(
                gateway: entry.gateway.key, listener: entry.listener.name, hostname: entry.listener.spec.hostname ?? "*",
                label: entry.label)
        }
        // The virtual hosts the last translation planned here, when this one's routes
        // are that one's with a few put in place again: only theirs are planned again.
        let cache = builder.world.context.cache
        let cacheKey = "\(builder.group)\u{0}\(bind.name)"
        var kept = cache?.takeHosts(cacheKey)
        let attachments = builder.world.attachments
        let patching =
            kept.map { kept in kept.slots == slots && attachments.patch.map { $0.base == kept.generation } ?? false } ?? false
        // Route entries by the hostname they serve, each group with the hostname of the
        // listener it came through (`*` for a listener without one). The groups are the
        // attached routes' own arrays: nothing is copied until a host's routes are sorted.
        var hosts: [String: [HostGroup]] = [:]
        var listenerHosts: Set<String> = []
        var tableOrigins = Origins()
        var originsByListener: [String: Origins] = [:]
        var listenerOrigins = Origins()
        for (index, entry) in placed.enumerated() {
            builder.addCertificates(of: entry)
            for owner in entry.owners {
                listenerOrigins.insert(owner)
                tableOrigins.insert(owner)
            }
            let listenerHost = entry.listener.spec.hostname ?? "*"
            listenerHosts.insert(listenerHost)
            if secure { for owner in entry.owners { originsByListener[listenerHost, default: Origins()].insert(owner) } }
            if !patching, hosts[listenerHost] == nil { hosts[listenerHost] = [] }
            // Through the array's buffer: each route is read where it is, not copied out
            // (an array's subscript hands a copy of the whole route to a call; at 10,000
            // routes on a listener that was 5 % of a one-route change).
            attachments.routes(for: entry.gateway.key, listener: entry.listener.name).withUnsafeBufferPointer { routes in
                for r in routes.indices {
                    tableOrigins.insert(routes[r].key)
                    if secure { originsByListener[listenerHost]!.insert(routes[r].key) }
                    if !patching {
                        HostGroup.add(
                            routes[r].key, entries: routes[r].entries, hostnames: routes[r].hostnames, through: listenerHost,
                            placed: index, to: &hosts)
                    }
                    // A rule a BackendTrafficPolicy shapes sends to clusters of its own; remote
                    // JWKS are fetched through clusters of their own.
                    for effects in routes[r].policyEffects {
                        for case .jwt(let jwt) in effects.effects {
                            for provider in jwt.providers {
                                guard case .remote(let uri, _, _) = provider.keys, let endpoint = JWKSEndpoint(uri: uri) else { continue }
                                builder.useJWKS(endpoint, by: jwt.policy)
                            }
                        }
                    }
                    // Rules and backends by index too, and no array of targets made per rule.
                    let rules = routes[r].rules
                    for index in rules.indices {
                        let variant = index < routes[r].policyEffects.count ? routes[r].policyEffects[index].cluster : nil
                        for backend in rules[index].backends.indices {
                            guard let target = rules[index].backends[backend].target else { continue }
                            builder.use(target, variant: variant, by: routes[r].key, through: entry.gateway.key)
                        }
                        for case let target? in rules[index].mirrors {
                            builder.use(target, by: routes[r].key, through: entry.gateway.key)
                        }
                    }
                    builder.useSessionClusters(of: routes[r].rules, by: routes[r].key)
                }
            }
        }
        // Each virtual host with the listener hostname that owns it (see ``HTTPHosts``).
        var counts = (reused: 0, built: 0)
        let generation = attachments.generation
        let virtualHosts: HTTPHosts
        // Moved out of `kept`, so that patching changes its tables in place: a copy
        // still held there made the patch copy every hostname's groups and plans, and
        // then free the old ones (a fifth of this function at 10,000 routes). A failed
        // patch leaves the names, hosts and plans that planning every hostname reads
        // from it unchanged, so it goes back to being `kept`.
        var patched: HTTPHosts?
        if patching, var taken = kept.take() {
            if taken.patch(
                attachments.patch!, generation: generation, bind: bind, group: builder.group,
                set: builder.world.context.set, counts: &counts)
            {
                patched = taken
            } else {
                kept = taken
            }
        }
        if let patched {
            virtualHosts = patched
            cache?.hostPatches.add(1, ordering: .relaxed)
        } else {
            if patching {
                // A route's place could not be found: every route's hostnames.
                hosts = [:]
                for (index, entry) in placed.enumerated() {
                    let listenerHost = entry.listener.spec.hostname ?? "*"
                    if hosts[listenerHost] == nil { hosts[listenerHost] = [] }
                    for route in attachments.routes(for: entry.gateway.key, listener: entry.listener.name) {
                        HostGroup.add(
                            route.key, entries: route.entries, hostnames: route.hostnames, through: listenerHost, placed: index,
                            to: &hosts)
                    }
                }
            }
            virtualHosts = HTTPHosts(
                generation: generation, slots: slots, byHost: hosts, bind: bind, group: builder.group, previous: kept,
                counts: &counts)
        }
        builder.findings += virtualHosts.orderedFindings
        cache?.keep(virtualHosts, cacheKey, counts: counts)
        // ClientTrafficPolicies: per HTTPS chain; on a cleartext port, whose listeners share
        // one connection manager, the oldest Gateway's listener that has one.
        let clients = placed.map { RoutePolicies.client(gateway: $0.gateway.key, listener: $0.listener, context: builder.world.context) }
        var listenerClient = clients.lazy.compactMap { $0?.settings }.first
        let traffic: HTTPListenerPlan
        if secure {
            // The listener's connection and buffer limits; the rest is each chain's.
            listenerClient = listenerClient.map { settings in
                var limits = ClientSettingsPlan()
                limits.connectionLimit = settings.connectionLimit
                limits.connectionLimitDelayMilliseconds = settings.connectionLimitDelayMilliseconds
                limits.bufferLimitBytes = settings.bufferLimitBytes
                limits.origins = settings.origins
                return limits
            }
            traffic = .secure(
                placed.enumerated().map { index, entry in
                    let client = clients[index]
                    let listenerHost = entry.listener.spec.hostname ?? "*"
                    let name = "\(bind.name)/\(entry.chainName)"
                    var tableHosts = virtualHosts.plans.indices.filter { virtualHosts.hosts[$0].owner == listenerHost }.map {
                        virtualHosts.plans[$0]
                    }
                    // Every host another listener owns is covered by that listener's own
                    // hostname, which wins over this chain's less specific ones.
                    let elsewhere = listenerHosts.subtracting([listenerHost]).sorted()
                    if !elsewhere.isEmpty {
                        tableHosts.append(misdirected(table: name, domains: elsewhere, gateway: entry.gateway.key))
                    }
                    return SecureChainPlan(
                        name: entry.chainName, serverNames: entry.listener.spec.hostname.map { [$0] } ?? [],
                        certificates: entry.listener.certificates.map(Certificates.sdsName),
                        routeTable: RouteTablePlan(name: name, virtualHosts: tableHosts, origins: originsByListener[listenerHost]!),
                        clientValidation: client?.clientCA.map { builder.clientValidation($0) } ?? builder.clientValidation(of: entry),
                        client: client?.settings, tls: client?.tls)
                })
        } else {
            traffic = .plain(RouteTablePlan(name: bind.name, virtualHosts: virtualHosts.plans, origins: tableOrigins))
        }
        builder.listeners.append(
            ListenerPlan(
                name: bind.name, address: bind.address, port: bind.port, traffic: .http(traffic), origins: listenerOrigins,
                client: listenerClient))
    }

    /// On an HTTPS chain, the hosts another listener serves (with other certificates):
    /// a client that reused the connection for one of them gets 421 Misdirected Request
    /// and opens a new connection with that host's SNI. Hosts no listener serves are not
    /// listed, and get 404.
    static func misdirected(table: String, domains: [String], gateway: ObjectKey) -> VirtualHostPlan {
        VirtualHostPlan(
            name: "\(table)/misdirected", domains: domains,
            routes: [
                RoutePlan(
                    name: "\(table)/misdirected", origin: gateway, match: RouteMatchPlan(path: .segmentPrefix("/")),
                    action: .respond(
                        DirectResponsePlan(
                            status: 421,
                            body: "misdirected request: this host is served with another certificate; connect again with its name as SNI")))
            ])
    }

    static func isWildcard(_ hostname: String) -> Bool { hostname == "*" || hostname.hasPrefix("*.") }

    /// The wildcards that cover `hostname` (other than itself), most specific first:
    /// the longest suffix first, `*` last.
    static func covering(_ hostname: String, among wildcards: some Collection<String>) -> [String] {
        wildcards.filter { other in
            other != hostname && (other == "*" || Hostnames.matches(pattern: other, hostname))
        }.sorted { a, b in
            if a == "*" || b == "*" { return b == "*" && a != "*" }
            return a.count != b.count ? a.count > b.count : a < b
        }
    }

    /// The most specific of `wildcards` covering `hostname` (the longest; `*` last).
    /// Every HTTP port has a virtual host per listener hostname, so one always exists
    /// for a hostname a route serves (a route's hostnames are within its listener's).
    static func mostSpecific(covering hostname: String, among wildcards: some Collection<String>) -> String {
        var best = "*"
        for other in wildcards where other != "*" && other != hostname && Hostnames.matches(pattern: other, hostname) {
            if best == "*" || other.count > best.count || (other.count == best.count && other < best) { best = other }
        }
        return best
    }

    /// Routes of one attached route that serve a hostname, and the listener hostname
    /// they came through.
    struct HostGroup: Sendable {
        let listener: String
        let entries: [RouteEntry]
        let route: ObjectKey
        /// The index of the placed listener it came through.
        let placed: Int

        /// Adds a route's group to each hostname it serves.
        static func add(
            _ route: ObjectKey, entries: [RouteEntry], hostnames: [String], through listener: String, placed: Int,
            to hosts: inout [String: [HostGroup]]
        ) {
            for hostname in hostnames {
                hosts[hostname, default: []].append(HostGroup(listener: listener, entries: entries, route: route, placed: placed))
            }
        }
    }

    /// Everything a virtual host's routes are made from: for its hostname, then each
    /// wildcard hostname covering it (most specific first), the planned routes of every
    /// route that came through the owning listener, in the order they came.
    struct HostRoutesInput: Equatable, Sendable {
        let hosts: [[[RouteEntry]]]
    }

    /// A virtual host's routes. Envoy picks one virtual host per request, the most
    /// specific. Listeners are isolated (GEP-1713): a request is handled only by the
    /// routes of the most specific listener hostname that matches it, its owner — the
    /// same for every request this virtual host gets, since every listener hostname has
    /// a virtual host of its own. Among that listener's routes, the spec lets a more
    /// specific route hostname take precedence but still serves the routes of wildcard
    /// hostnames that cover it: the host's own routes come first, then those of each
    /// covering wildcard, most specific first, then `*`.
    static func virtualHostRoutes(_ input: HostRoutesInput) -> [RoutePlan] {
        // Each hostname's routes in precedence order, the host's own first.
        var entries: [RouteEntry] = []
        for groups in input.hosts {
            entries += (groups.count == 1 ? groups[0] : groups.flatMap { $0 }).sorted { $0.precedence < $1.precedence }
        }
        // A route reaches a host once, even when it came through two listeners or a
        // covering wildcard too (a host usually has a handful of routes: compare them
        // directly rather than hashing names).
        var result: [RoutePlan] = []
        result.reserveCapacity(entries.count)
        if entries.count <= 16 {
            for entry in entries where !result.contains(where: { $0.name == entry.plan.name }) { result.append(entry.plan) }
        } else {
            var seen: Set<String> = []
            for entry in entries where seen.insert(entry.plan.name).inserted { result.append(entry.plan) }
        }
        return result
    }

    // MARK: TLS, TCP, UDP

    /// TLS listeners: a filter chain per TLSRoute hostname (SNI), proxying the
    /// connection as it is (Passthrough) or after terminating TLS with the listener's
    /// certificates (Terminate). The oldest route keeps a hostname two routes ask for,
    /// and the catch-all chain of routes without hostnames.
    private static func planTLS(_ bind: Bind, _ placed: [Placed], into builder: inout PlanBuilder) {
        var chains: [TLSChainPlan] = []
        var holders: [String: ObjectKey] = [:]
        var catchAll: ObjectKey?
        var origins = Origins()
        for entry in placed {
            builder.addCertificates(of: entry)
            for owner in entry.owners { origins.insert(owner) }
            let certificates = entry.listener.terminatesTLS ? entry.listener.certificates.map(Certificates.sdsName) : []
            for attached in builder.world.attachments.routes(for: entry.gateway.key, listener: entry.listener.name) {
                let subject = Finding.Subject.route(attached.key, gateway: entry.gateway.key, listener: entry.listener.name)
                var serverNames = attached.hostnames.filter { $0 != "*" }
                if serverNames.isEmpty {
                    if let holder = catchAll {
                        if holder != attached.key {
                            builder.find(
                                subject, .conflicted,
                                "connections to port \(bind.port) without a listed SNI name already go to the older \(describe(holder))")
                        }
                        continue
                    }
                    catchAll = attached.key
                } else {
                    let lost = serverNames.filter { holders[$0].map { $0 != attached.key } ?? false }
                    let kept = serverNames.filter { holders[$0] == nil }
                    if !lost.isEmpty {
                        let by = Set(lost.compactMap { holders[$0] }).sorted().map(describe).joined(separator: ", ")
                        builder.find(
                            subject, .conflicted,
                            "SNI \(lost.joined(separator: ", ")) on port \(bind.port) already goes to the older \(by)",
                            total: kept.isEmpty)
                    }
                    serverNames = kept
                    for name in serverNames { holders[name] = attached.key }
                    if serverNames.isEmpty { continue }
                }
                chains.append(
                    TLSChainPlan(
                        name: "\(entry.chainName)/\(attached.key.namespace)/\(attached.key.name)", serverNames: serverNames,
                        certificates: certificates, destination: builder.destination(attached)))
                origins.insert(attached.key)
            }
        }
        // Envoy refuses a TCP listener without filter chains: no routes, no listener.
        guard !chains.isEmpty else { return }
        builder.listeners.append(
            ListenerPlan(name: bind.name, address: bind.address, port: bind.port, traffic: .tls(chains), origins: origins))
    }

    /// TCP and UDP listeners carry one route each, so a port carries one listener: the
    /// oldest Gateway's.
    private static func planStream(_ bind: Bind, _ placed: [Placed], into builder: inout PlanBuilder) {
        guard let entry = placed.first else { return }
        for other in placed.dropFirst() {
            exclude(
                other, .hostnameConflict,
                "in proxy group \(builder.group), \(entry.listener.spec.protocol) port \(bind.port) is served by \(entry.label); a \(other.listener.spec.protocol) port carries one listener, and this one is not served there",
                from: &builder)
        }
        builder.addCertificates(of: entry)
        guard let attached = builder.world.attachments.routes(for: entry.gateway.key, listener: entry.listener.name).first
        else { return }
        let traffic: ListenerPlan.Traffic
        if entry.listener.spec.protocol == .udp {
            traffic = .udp(UDPPlan(cluster: builder.udpCluster(attached)))
        } else {
            traffic = .tcp(
                StreamChainPlan(
                    name: "\(entry.chainName)/\(attached.key.namespace)/\(attached.key.name)",
                    destination: builder.destination(attached),
                    authorization: RoutePolicies.streamAuthorization(
                        route: attached.key, gateway: entry.gateway.key, listener: entry.listener, context: builder.world.context)))
        }
        builder.listeners.append(
            ListenerPlan(
                name: bind.name, address: bind.address, port: bind.port, traffic: traffic,
                origins: Origins(entry.owners + [attached.key])))
    }

    static func describe(_ route: ObjectKey) -> String { "\(route.kind.rawValue) \(route.namespace)/\(route.name)" }

    /// Leaves a Gateway listener out of this group: the listener says why, and so does
    /// every route attached to it.
    private static func exclude(
        _ entry: Placed, _ reason: ConditionReason, _ message: String, from builder: inout PlanBuilder
    ) {
        builder.find(entry.subject, reason, message)
        let name = entry.listener.name
        for attached in builder.world.attachments.routes(for: entry.gateway.key, listener: name) {
            builder.find(
                .route(attached.key, gateway: entry.gateway.key, listener: name), .conflicted,
                "\(entry.label) is not served there (see the \(entry.listener.listenerSet == nil ? "Gateway" : "ListenerSet")'s status)")
        }
    }
}
