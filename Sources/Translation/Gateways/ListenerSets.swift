import GatewayModel

/// A ListenerSet whose parentRef names one of Chancery's Gateways: whether the Gateway
/// takes it. Its entries, once taken, are among the Gateway's listeners
/// (``PreparedListener/listenerSet`` names it).
struct PreparedListenerSet: Equatable {
    let set: ListenerSet
    let key: ObjectKey
    let gateway: ObjectKey
    /// Why it is not attached (`Accepted` and `Programmed` False): its Gateway does not
    /// take it, or none of its listeners can be served. Nil when it is attached.
    var refusal: Verdict?
    /// The listeners of a ListenerSet refused for its listeners, for its status: they
    /// are not among the Gateway's, and take no part in later conflicts.
    var refusedListeners: [PreparedListener] = []

    var isAttached: Bool { refusal == nil }
    var label: String { "ListenerSet \(key.namespace)/\(key.name)" }
}

/// GEP-1713: ListenerSets add listeners to a Gateway that allows them. The Gateway is
/// treated as having one merged list of listeners, in precedence order: its own, then
/// each ListenerSet's, oldest first (then by namespace/name). A listener that conflicts
/// with one before it in that list (a port with another protocol, the same port and
/// hostname) is not served; the one before it is unaffected.
enum ListenerSets {
    /// Attaches ListenerSets to the Gateways that allow them, appending their listeners.
    /// Returns every ListenerSet that names a Gateway of Chancery's, by key.
    static func attach(
        _ sets: [ListenerSet], to gateways: inout [PreparedGateway], context: Context
    ) -> [ObjectKey: PreparedListenerSet] {
        let byKey = Dictionary(uniqueKeysWithValues: gateways.enumerated().map { ($1.key, $0) })
        var result: [ObjectKey: PreparedListenerSet] = [:]
        for set in Ordering.oldestFirst(sets, metadata: \.metadata) {
            let key = Translation.key(.listenerSet, set.metadata)
            let parent = set.spec.parentRef
            guard Kind.referenced(group: parent.group, kind: parent.kind, implied: .gateway) == .gateway else { continue }
            let gatewayKey = ObjectKey(.gateway, namespace: parent.namespace ?? key.namespace, name: parent.name)
            guard let g = byKey[gatewayKey] else { continue }  // not a Gateway of ours
            var prepared = PreparedListenerSet(set: set, key: key, gateway: gatewayKey)
            prepared.refusal = refusal(of: key, by: gateways[g], context: context)
            if prepared.isAttached {
                let gateway = gateways[g]
                var listeners = gateway.listeners
                for spec in set.spec.listeners {
                    var listener = PreparedGateway.prepare(
                        spec, of: gateway.gateway, key: gatewayKey, owner: key, context: context)
                    if listener.accepted.holds {
                        // The first listener before it that it conflicts with decides; the
                        // listener that loses is not accepted, for the same reason.
                        for earlier in listeners where earlier.accepted.holds {
                            if let conflict = PreparedGateway.conflict(listener, with: earlier) {
                                listener.conflict = conflict
                                listener.accepted = Verdict(false, conflict.reason, conflict.message)
                                break
                            }
                        }
                    }
                    listeners.append(listener)
                }
                // Attached when at least one of its listeners can be served.
                if listeners.contains(where: { $0.listenerSet == key && $0.isProgrammed }) {
                    gateways[g].attachedListenerSets += 1
                    gateways[g].listeners = listeners
                } else {
                    prepared.refusal = Verdict(
                        false, .listenersNotValid, "no listener of this ListenerSet can be served; see their conditions")
                    prepared.refusedListeners = listeners.filter { $0.listenerSet == key }
                }
            }
            result[key] = prepared
        }
        return result
    }

    /// Why a Gateway does not take a ListenerSet: it is not accepted itself, or its
    /// `allowedListeners` (None by default) does not admit the ListenerSet's namespace.
    static func refusal(of set: ObjectKey, by gateway: PreparedGateway, context: Context) -> Verdict? {
        let name = "Gateway \(gateway.group)"
        if let refusal = gateway.refusal, !refusal.accepted {
            return Verdict(false, .parentNotAccepted, "\(name) is not accepted: \(refusal.verdict.message)")
        }
        let namespaces = gateway.gateway.spec.allowedListeners?.namespaces
        let from = namespaces?.from ?? .noNamespace
        guard context.admits(from, selector: namespaces?.selector, namespace: set.namespace, home: gateway.key.namespace)
        else {
            let why =
                from == .noNamespace
                ? "its spec.allowedListeners admits no ListenerSet (from: None, the default)"
                : "its spec.allowedListeners (from: \(from)) does not admit ListenerSets from namespace \(set.namespace)"
            return Verdict(false, .notAllowed, "\(name) does not take this ListenerSet: \(why)")
        }
        return nil
    }
}
