import GatewayModel
import IR

extension GatewayPlanner {
    /// The virtual hosts of one HTTP port of one proxy group, with what they were
    /// planned from. The plan cache keeps them from one translation to the next: when
    /// the next one's attachment is this one's with a few HTTPRoutes put in place again
    /// (``Attachments/Patch``), only the hostnames those routes served and serve — and,
    /// for a wildcard, the hostnames it covers — are planned again, and the rest are
    /// carried as they are. Either way the virtual hosts are those planning every
    /// hostname gives (`AttachmentPatchTests`).
    struct HTTPHosts: Sendable {
        /// A Gateway listener placed on the port, as its virtual hosts see it.
        struct Slot: Equatable, Sendable {
            let gateway: ObjectKey
            let listener: String
            /// Its hostname; `*` for a listener without one.
            let hostname: String
            /// How findings name it.
            let label: String
        }

        /// A virtual host's listener hostname (the one whose routes it serves) and what its
        /// routes were made from.
        struct Host: Sendable {
            let owner: String
            let input: HostRoutesInput
        }

        /// The attachment they were planned from (``Attachments/generation``).
        var generation: Int
        let slots: [Slot]
        /// Routes by the hostname they serve, each with the listener it came through, in
        /// the order of the listeners and then of their routes (oldest first). Every
        /// listener hostname is a key, with routes or without.
        var byHost: [String: [HostGroup]]
        /// The wildcard hostnames among those.
        var wildcards: [String]
        /// The virtual hosts by hostname, sorted: their hostnames, owners and inputs, and
        /// plans, in step.
        var names: [String]
        var hosts: [Host]
        var plans: [VirtualHostPlan]
        /// What planning each virtual host found, by hostname (only those that found some).
        var findings: [String: [Finding]]

        /// The findings in hostname order, as planning every hostname in order finds them.
        var orderedFindings: [Finding] {
            findings.isEmpty ? [] : findings.keys.sorted().flatMap { findings[$0]! }
        }

        var listenerHosts: Set<String> { Set(slots.map(\.hostname)) }

        /// Plans every virtual host of `byHost`, reusing `previous`'s plan of a hostname
        /// whose routes are made from the same input.
        init(
            generation: Int, slots: [Slot], byHost: [String: [HostGroup]], bind: Bind, group: String,
            previous: HTTPHosts?, counts: inout (reused: Int, built: Int)
        ) {
            self.generation = generation
            self.slots = slots
            self.byHost = byHost
            names = byHost.keys.sorted()
            wildcards = names.filter(GatewayPlanner.isWildcard)
            hosts = []
            plans = []
            findings = [:]
            hosts.reserveCapacity(names.count)
            plans.reserveCapacity(names.count)
            let listenerHosts = self.listenerHosts
            let listenerWildcards = listenerHosts.filter(GatewayPlanner.isWildcard)
            // Both name lists are sorted: walk them together to find each hostname's
            // previous plan, without hashing every name.
            var old = 0
            for hostname in names {
                var kept: (Host, VirtualHostPlan)?
                if let previous {
                    while old < previous.names.count, previous.names[old] < hostname { old += 1 }
                    if old < previous.names.count, previous.names[old] == hostname {
                        kept = (previous.hosts[old], previous.plans[old])
                    }
                }
                let planned = plan(
                    hostname, listenerHosts: listenerHosts, listenerWildcards: listenerWildcards, bind: bind, group: group,
                    previous: kept, counts: &counts)
                hosts.append(planned.host)
                plans.append(planned.plan)
                if !planned.findings.isEmpty { findings[hostname] = planned.findings }
            }
        }

        /// One virtual host: its owner, its routes (`previous`'s when made from an equal
        /// input) and what it finds — a route that names a hostname another listener
        /// owns is not served for it through its own listener (isolation).
        func plan(
            _ hostname: String, listenerHosts: Set<String>, listenerWildcards: Set<String>, bind: Bind, group proxyGroup: String,
            previous: (Host, VirtualHostPlan)?, counts: inout (reused: Int, built: Int)
        ) -> (host: Host, plan: VirtualHostPlan, findings: [Finding]) {
            let owner =
                listenerHosts.contains(hostname)
                ? hostname : GatewayPlanner.mostSpecific(covering: hostname, among: listenerWildcards)
            var found: [Finding] = []
            for group in byHost[hostname]! where group.listener != owner {
                guard let holder = slots.first(where: { $0.hostname == owner }) else { continue }
                let through = slots[group.placed]
                found.append(
                    Finding(
                        group: proxyGroup, subject: .route(group.route, gateway: through.gateway, listener: through.listener),
                        verdict: Verdict(
                            true, .noMatchingListenerHostname,
                            "on port \(bind.port), requests for \(hostname) go to the routes of \(holder.label), the most specific listener hostname matching it"
                        ), total: false))
            }
            let input = HostRoutesInput(
                hosts: ([hostname] + GatewayPlanner.covering(hostname, among: wildcards)).map { host in
                    byHost[host]!.filter { $0.listener == owner }.map(\.entries)
                })
            let host = Host(owner: owner, input: input)
            if let previous, previous.0.input == input {
                counts.reused += 1
                return (host, previous.1, found)
            }
            counts.built += 1
            let name = "\(bind.name)/\(hostname)"
            return (host, VirtualHostPlan(name: name, domains: [hostname], routes: GatewayPlanner.virtualHostRoutes(input)), found)
        }

        /// Puts the HTTPRoutes `patch` names in place, as ``init(generation:slots:byHost:bind:group:previous:counts:)``
        /// with the routes of the patched attachment gives: their groups out of the
        /// hostnames they served and into those they serve, and those hostnames planned
        /// again, with every hostname a wildcard among them covers. False (and
        /// unchanged) when a route's place among its listener's routes cannot be found.
        mutating func patch(
            _ patch: Attachments.Patch, generation: Int, bind: Bind, group: String, set: ResourceSet,
            counts: inout (reused: Int, built: Int)
        ) -> Bool {
            // Where each group goes: after the groups of earlier listeners, and of older
            // routes (and of the same route, put in before it) of its own.
            var places: [ObjectKey: RouteObject.Place] = [:]
            func place(_ key: ObjectKey) -> RouteObject.Place? {
                if let known = places[key] { return known }
                guard let route = set[key].flatMap({ RouteObject.of($0.object) }) else { return nil }
                let found = RouteObject.Place(route)
                places[key] = found
                return found
            }
            // Changed in place (a copy of every hostname's groups would cost what
            // planning them does); on failure the caller plans every hostname, reading
            // only the names, hosts and plans, which are changed after.
            var touched: Set<String> = []
            for (index, slot) in slots.enumerated() {
                for removed in patch.removed[slot.gateway]?[slot.listener] ?? [] {
                    for hostname in removed.hostnames {
                        byHost[hostname]?.removeAll { $0.route == removed.key && $0.placed == index }
                        touched.insert(hostname)
                    }
                }
            }
            for (index, slot) in slots.enumerated() {
                for added in patch.added[slot.gateway]?[slot.listener] ?? [] {
                    let addedPlace = RouteObject.Place(added.object)
                    places[added.key] = addedPlace
                    for hostname in added.hostnames {
                        var low = 0
                        do {
                            // Read in a scope of its own, so that the insertion below
                            // changes the array in place.
                            let groups = byHost[hostname] ?? []
                            var high = groups.count
                            while low < high {
                                let middle = (low + high) / 2
                                let other = groups[middle]
                                let before: Bool
                                if other.placed != index {
                                    before = other.placed < index
                                } else {
                                    guard let otherPlace = place(other.route) else { return false }
                                    before = !(addedPlace < otherPlace)
                                }
                                if before { low = middle + 1 } else { high = middle }
                            }
                        }
                        byHost[hostname, default: []].insert(
                            HostGroup(listener: slot.hostname, entries: added.entries, route: added.key, placed: index),
                            at: low)
                        touched.insert(hostname)
                    }
                }
            }
            let listenerHosts = self.listenerHosts
            let listenerWildcards = listenerHosts.filter(GatewayPlanner.isWildcard)
            // A hostname without routes is no virtual host, unless a listener has it.
            var gone: [String] = []
            var new: [String] = []
            for hostname in touched {
                let had = names.position(of: hostname).found
                if byHost[hostname]?.isEmpty == true, !listenerHosts.contains(hostname) { byHost[hostname] = nil }
                let has = byHost[hostname] != nil
                if had, !has { gone.append(hostname) }
                if has, !had { new.append(hostname) }
            }
            self.generation = generation
            if !gone.isEmpty || new.contains(where: GatewayPlanner.isWildcard) {
                let goneSet = Set(gone)
                wildcards.removeAll { goneSet.contains($0) }
                wildcards += new.filter(GatewayPlanner.isWildcard)
            }
            for hostname in gone.sorted(by: >) {
                let index = names.position(of: hostname).index
                names.remove(at: index)
                hosts.remove(at: index)
                plans.remove(at: index)
                findings[hostname] = nil
            }
            // A wildcard's routes are in every hostname it covers.
            var affected = touched.filter { byHost[$0] != nil }
            for wildcard in touched where GatewayPlanner.isWildcard(wildcard) {
                for hostname in byHost.keys where hostname != wildcard {
                    if wildcard == "*" || Hostnames.matches(pattern: wildcard, hostname) { affected.insert(hostname) }
                }
            }
            for hostname in affected.sorted() {
                let (found, index) = names.position(of: hostname)
                let planned = plan(
                    hostname, listenerHosts: listenerHosts, listenerWildcards: listenerWildcards, bind: bind, group: group,
                    previous: found ? (hosts[index], plans[index]) : nil, counts: &counts)
                if found {
                    hosts[index] = planned.host
                    plans[index] = planned.plan
                } else {
                    names.insert(hostname, at: index)
                    hosts.insert(planned.host, at: index)
                    plans.insert(planned.plan, at: index)
                }
                findings[hostname] = planned.findings.isEmpty ? nil : planned.findings
            }
            counts.reused += names.count - affected.count
            return true
        }
    }
}

extension [String] {
    /// Where `name` is among sorted names, or would go.
    fileprivate func position(of name: String) -> (found: Bool, index: Int) {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if self[middle] < name { low = middle + 1 } else { high = middle }
        }
        return (low < count && self[low] == name, low)
    }
}
