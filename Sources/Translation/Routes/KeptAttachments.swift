import GatewayModel
import IR

extension RouteAttachment {
    /// What attaching every route of a set gave, kept by the plan cache for the next
    /// translation (``attach(_:in:to:listenerSets:context:)``).
    struct Kept: Sendable {
        /// The set whose routes were attached.
        let set: ResourceSet
        let environment: PlanCache.Environment
        /// The Gateways and ListenerSets they attached to, as they were before any did.
        let gateways: [PreparedGateway]
        let listenerSets: [ObjectKey: PreparedListenerSet]
        /// Whether a route policy took part (its effects are part of each attachment).
        let routePolicies: Bool
        var result: Attachments
    }

    /// Whether `changed` routes of `total` are few enough to put in place one by one:
    /// up to 64, or one in sixteen if that is more. Each costs a search and an insertion
    /// among its listeners' routes (or the kept routes); beyond that, attaching (or
    /// sorting) every route costs less.
    static func fewChanged(_ changed: Int, of total: Int) -> Bool { changed <= 64 || changed * 16 <= total }

    /// ``attach(_:to:listenerSets:context:)`` with the plan cache: the last
    /// translation's attachment with the HTTPRoutes that changed since taken out and
    /// attached again, when nothing else it depends on can have changed; otherwise every
    /// route attached, oldest first. Either way the result is the same.
    ///
    /// A route's attachment reads the route, the Gateways and ListenerSets as prepared
    /// (their certificates age, so they are compared), the objects that are not routes
    /// (the environment's epoch), the route policies, and what older routes hold: a
    /// hostname an HTTPRoute and a GRPCRoute both ask for, a TCP or UDP listener. The
    /// last one is why only HTTPRoutes are put in place, and only while there is no
    /// GRPCRoute: an HTTPRoute then holds nothing another route asks for. A route with a
    /// Service parent (GAMMA) is settled against the Service's other mesh routes, so a
    /// change to one is attached with every route too.
    static func attach(
        _ routes: [RouteObject], in set: ResourceSet, to gateways: inout [PreparedGateway],
        listenerSets: [ObjectKey: PreparedListenerSet], context: inout Context
    ) -> Attachments {
        guard let cache = context.cache, let environment = context.environment else {
            return attach(routes, to: &gateways, listenerSets: listenerSets, context: &context)
        }
        let prepared = gateways
        var result: Attachments
        if let patched = patch(
            in: set, environment: environment, gateways: prepared, listenerSets: listenerSets, cache: cache, context: &context)
        {
            result = patched
            count(result, on: &gateways)
            cache.attachmentPatches.add(1, ordering: .relaxed)
        } else {
            cache.resolvedRules.begin()
            cache.routeEntries.begin()
            result = attach(routes, to: &gateways, listenerSets: listenerSets, context: &context)
        }
        result.generation = cache.attachmentGeneration.add(1, ordering: .relaxed).newValue
        let next = Kept(
            set: set, environment: environment, gateways: prepared, listenerSets: listenerSets,
            routePolicies: !context.routePolicies.isEmpty, result: result)
        cache.attachments.withLock { $0 = next }
        return result
    }

    /// The kept attachment with the HTTPRoutes that changed put in place, or nil when
    /// every route must be attached (see ``patchable(_:set:environment:gateways:listenerSets:context:)``).
    static func patch(
        in set: ResourceSet, environment: PlanCache.Environment, gateways: [PreparedGateway],
        listenerSets: [ObjectKey: PreparedListenerSet], cache: PlanCache, context: inout Context
    ) -> Attachments? {
        // Bound here alone, so that its arrays are changed in place, not copied.
        guard var kept = cache.attachments.withLock({ $0.take() }),
            let changed = patchable(
                kept, set: set, environment: environment, gateways: gateways, listenerSets: listenerSets, context: context)
        else { return nil }
        cache.resolvedRules.beginPatch()
        cache.routeEntries.beginPatch()
        return patched(&kept, changed: changed, in: set, gateways: gateways, listenerSets: listenerSets, context: &context)
    }

    /// The HTTPRoutes that changed since `kept`, when putting only them in place gives
    /// what attaching every route gives; nil otherwise.
    static func patchable(
        _ kept: Kept, set: ResourceSet, environment: PlanCache.Environment, gateways: [PreparedGateway],
        listenerSets: [ObjectKey: PreparedListenerSet], context: Context
    ) -> Set<ObjectKey>? {
        guard kept.environment == environment, !kept.routePolicies, context.routePolicies.isEmpty,
            set.count(of: .grpcRoute) == 0,
            case let changed = set.differingObjects(from: kept.set, ofKinds: RouteObject.kinds),
            fewChanged(changed.count, of: set.count(of: .httpRoute)),
            changed.allSatisfy({ $0.kind == .httpRoute }),
            gateways == kept.gateways, listenerSets == kept.listenerSets
        else { return nil }
        func meshParent(_ manifest: Manifest?) -> Bool {
            guard case .httpRoute(let route)? = manifest?.object else { return false }
            return (route.spec.parentRefs ?? []).contains {
                Kind.referenced(group: $0.group, kind: $0.kind, implied: .gateway) == .service
            }
        }
        guard !changed.contains(where: { meshParent(kept.set[$0]) || meshParent(set[$0]) }) else { return nil }
        return changed
    }

    /// `kept`'s attachment, moved out of it, with the routes `changed` names taken out
    /// and attached again as `set` has them (if it still has them), each in its place
    /// among its listeners' routes (oldest first); nil if a route was not where its
    /// place says.
    static func patched(
        _ kept: inout Kept, changed: Set<ObjectKey>, in set: ResourceSet, gateways: [PreparedGateway],
        listenerSets: [ObjectKey: PreparedListenerSet], context: inout Context
    ) -> Attachments? {
        // Taken out, so that its arrays change in place rather than being copied.
        var result = kept.result
        kept.result = Attachments()
        var patch = Attachments.Patch(base: result.generation, routes: changed)
        var pass = Pass(gateways: gateways, listenerSets: listenerSets)
        for key in changed.sorted() {
            context.cache?.resolvedRules.reopen(key)
            context.cache?.routeEntries.reopen(key)
            if let record = result.records.removeValue(forKey: key), let old = kept.set[key].flatMap({ RouteObject.of($0.object) }) {
                let place = RouteObject.Place(old)
                for parent in record.parents {
                    for listener in Set(parent.listeners).sorted() {
                        guard let removed = result.routes[parent.gateway]?[listener]?.removeAll(at: place, key: key),
                            !removed.isEmpty
                        else { return nil }
                        patch.removed[parent.gateway, default: [:]][listener, default: []] += removed
                        if result.routes[parent.gateway]?[listener]?.isEmpty == true {
                            result.routes[parent.gateway]![listener] = nil
                            if result.routes[parent.gateway]!.isEmpty { result.routes[parent.gateway] = nil }
                        }
                    }
                }
            }
            if let new = set[key].flatMap({ RouteObject.of($0.object) }) { pass.attach(new, context: &context) }
        }
        // Each route's attachments were made alone (an HTTPRoute holds nothing another
        // asks for here): put them in their places.
        for (key, record) in pass.result.records { result.records[key] = record }
        for (gateway, listeners) in pass.result.routes {
            for (listener, attached) in listeners {
                for route in attached {
                    result.routes[gateway, default: [:]][listener, default: []].insertInPlace(route)
                }
            }
        }
        patch.added = pass.result.routes
        result.patch = patch
        return result
    }
}

extension [AttachedRoute] {
    /// Where a route of `place` goes among routes oldest first.
    fileprivate func position(of place: RouteObject.Place) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if RouteObject.Place(self[middle].object) < place { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Takes out the attachments of the route `key` names, whose place is `place`, and
    /// returns them (none if there are none there).
    fileprivate mutating func removeAll(at place: RouteObject.Place, key: ObjectKey) -> [AttachedRoute] {
        let start = position(of: place)
        var end = start
        while end < count, self[end].key == key { end += 1 }
        let removed = Array(self[start..<end])
        removeSubrange(start..<end)
        return removed
    }

    /// Inserts `route` after every older route and every attachment of the same route
    /// inserted before it.
    fileprivate mutating func insertInPlace(_ route: AttachedRoute) {
        var index = position(of: RouteObject.Place(route.object))
        while index < count, self[index].key == route.key { index += 1 }
        insert(route, at: index)
    }
}
