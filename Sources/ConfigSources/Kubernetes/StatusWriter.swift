import Foundation
import GatewayModel
import Logging
import Metrics
import Synchronization

/// Writes the translator's conditions to objects' `status` subresource: GatewayClasses,
/// Gateways (conditions, listeners, addresses, attached ListenerSets), ListenerSets
/// (conditions, listeners), every route's entry for each of our
/// parents, BackendTLSPolicies' ancestors and Ingresses' `loadBalancer` addresses. A write happens only when the status
/// differs from what the cluster shows; other controllers' entries in `parents` and
/// `ancestors` are kept; `lastTransitionTime` changes only when a condition's status
/// does. Writes carry the object's resourceVersion, so a stale view gets 409 and is
/// written again once the watch delivers the newer object.
public final class StatusWriter: Sendable {
    let source: KubernetesSource
    let controllerName: String
    private let logger: Logger
    /// ListenerSets whose status this writer wrote. A ListenerSet's status carries no
    /// controller name, so when one stops naming a Gateway of Chancery's its status is
    /// put back to what the API server starts it with (`Pending`), once.
    private let listenerSetsWritten = Mutex<Set<ObjectKey>>([])
    /// Ingresses whose address this writer wrote: one no longer Chancery's (its class
    /// changed) loses it, once; other controllers' Ingresses are never touched.
    private let ingressesWritten = Mutex<[ObjectKey: Data]>([:])

    public init(source: KubernetesSource, controllerName: String = chanceryControllerName, logger: Logger) {
        self.source = source
        self.controllerName = controllerName
        self.logger = logger
    }

    /// Writes what changed, while `allowed` says so (checked before each write: a leader
    /// that steps down stops mid-batch); returns how many objects were written.
    @discardableResult
    public func write(
        _ statuses: [ObjectKey: ObjectStatus], now: Date = Date(), while allowed: @Sendable () -> Bool = { true }
    ) async -> Int {
        var written = 0
        // Routes and policies that no longer concern our Gateways lose our entries.
        var statuses = statuses
        for kind in [Kind.httpRoute, .grpcRoute, .tlsRoute, .tcpRoute, .udpRoute, .backendTLSPolicy, .securityPolicy, .backendTrafficPolicy, .clientTrafficPolicy] {
            for object in source.objects(of: kind) where statuses[object.key] == nil {
                statuses[object.key] = kind.isRoute ? ObjectStatus(parents: []) : ObjectStatus(ancestors: [])
            }
        }
        let released = listenerSetsWritten.withLock { $0 }.filter { statuses[$0] == nil }
        for key in released { statuses[key] = Self.pending }
        let ingressesOurs = ingressesWritten.withLock { $0 }
        var releasedIngresses: Set<ObjectKey> = []
        for (key, ours) in ingressesOurs where statuses[key] == nil {
            // Cleared only while it still shows what Chancery wrote: another controller
            // that took the Ingress may have written its own.
            let current = source.object(key).flatMap { try? JSONSerialization.jsonObject(with: $0.raw) as? [String: Any] }
            let shown = (current?["status"] as? [String: Any])?["loadBalancer"] as? [String: Any] ?? [:]
            if Self.same(shown, (try? JSONSerialization.jsonObject(with: ours) as? [String: Any]) ?? [:]) {
                statuses[key] = ObjectStatus(loadBalancer: [])
                releasedIngresses.insert(key)
            } else {
                ingressesWritten.withLock { _ = $0.removeValue(forKey: key) }
            }
        }
        for key in statuses.keys.sorted() {
            guard allowed() else { break }
            guard let object = source.object(key),
                var body = try? JSONSerialization.jsonObject(with: object.raw) as? [String: Any]
            else { continue }  // not a cluster object (a file's), or gone
            let current = body["status"] as? [String: Any] ?? [:]
            let desired = desiredStatus(statuses[key]!, of: key.kind, current: current, object: body, now: now)
            guard !Self.same(current, desired) else {
                if released.contains(key) { listenerSetsWritten.withLock { _ = $0.remove(key) } }
                if releasedIngresses.contains(key) { ingressesWritten.withLock { _ = $0.removeValue(forKey: key) } }
                continue
            }
            body["status"] = desired
            guard let (kind, version) = source.servedVersion(of: key.kind) else { continue }
            let path = kind.objectPath(version: version, namespace: key.namespace, name: key.name) + "/status"
            do {
                let response = try await source.client.send(.PUT, path, body: JSONSerialization.data(withJSONObject: body))
                switch response.status {
                case 200, 201:
                    written += 1
                    if key.kind == .listenerSet {
                        listenerSetsWritten.withLock { written in
                            if released.contains(key) { written.remove(key) } else { written.insert(key) }
                        }
                    }
                    if key.kind == .ingress {
                        let loadBalancer = (try? JSONSerialization.data(withJSONObject: desired["loadBalancer"] ?? [String: Any]())) ?? Data()
                        ingressesWritten.withLock { ours in
                            if releasedIngresses.contains(key) { ours.removeValue(forKey: key) } else { ours[key] = loadBalancer }
                        }
                    }
                    Counter(label: "chancery_status_writes_total", dimensions: [("kind", key.kind.rawValue)]).increment()
                case 409:
                    logger.debug("status write raced a change; it is written again after the watch catches up", metadata: ["object": "\(key)"])
                case 404:
                    // Deleted meanwhile.
                    listenerSetsWritten.withLock { _ = $0.remove(key) }
                    ingressesWritten.withLock { _ = $0.removeValue(forKey: key) }
                default:
                    logger.warning(
                        "status write refused: \(KubeClient.failure(response, path: path))", metadata: ["object": "\(key)"])
                }
            } catch {
                logger.warning("status write failed: \(error)", metadata: ["object": "\(key)"])
            }
        }
        return written
    }

    // MARK: building

    /// A ListenerSet's status as the API server starts it: no controller has taken it.
    static let pending: ObjectStatus = {
        let conditions = [ConditionType.accepted, .programmed].map { type in
            var condition = Condition(type, false, reason: .pending, message: "Waiting for controller", generation: nil)
            condition.status = .unknown
            return condition
        }
        return ObjectStatus(conditions: conditions, listeners: [])
    }()

    func desiredStatus(
        _ status: ObjectStatus, of kind: Kind, current: [String: Any], object: [String: Any], now: Date
    ) -> [String: Any] {
        var result = current
        let currentConditions = current["conditions"] as? [[String: Any]] ?? []
        switch true {
        case kind == .ingress:
            // An Ingress's status is its load balancer's addresses, nothing else.
            let addresses = (status.loadBalancer ?? []).map { entry -> [String: Any] in
                var json: [String: Any] = [:]
                if let ip = entry.ip { json["ip"] = ip }
                if let hostname = entry.hostname { json["hostname"] = hostname }
                return json
            }
            result["loadBalancer"] = addresses.isEmpty ? [String: Any]() : ["ingress": addresses]
        case kind == .ingressClass, kind == .ciliumNetworkPolicy, kind == .authorizationPolicy:
            // Cilium's and Istio's policy status is theirs; Chancery's conditions are shown by
            // `validate` and the admin endpoint.
            return current
        case status.listeners != nil:
            result["conditions"] = conditions(status.conditions, previous: currentConditions, now: now)
            let previousListeners = current["listeners"] as? [[String: Any]] ?? []
            result["listeners"] = (status.listeners ?? []).map { listener -> [String: Any] in
                let previous = previousListeners.first { $0["name"] as? String == listener.name }
                return [
                    "name": listener.name,
                    "attachedRoutes": listener.attachedRoutes,
                    "supportedKinds": listener.supportedKinds.map { ["group": $0.group ?? gatewayGroup, "kind": $0.kind] },
                    "conditions": conditions(
                        listener.conditions, previous: previous?["conditions"] as? [[String: Any]] ?? [], now: now),
                ]
            }
            // A ListenerSet's status has conditions and listeners; a Gateway's also its
            // addresses and how many ListenerSets attached.
            guard kind == .gateway else { break }
            if let count = status.attachedListenerSets {
                result["attachedListenerSets"] = count
            } else {
                result.removeValue(forKey: "attachedListenerSets")
            }
            if let addresses = status.addresses, !addresses.isEmpty {
                result["addresses"] = addresses.map { ["type": ($0.type ?? .ipAddress).rawValue, "value": $0.value ?? ""] }
            } else {
                result.removeValue(forKey: "addresses")
            }
        case status.parents != nil:
            result["parents"] = entries(
                (status.parents ?? []).map { ($0.parentRef, $0.controllerName, $0.conditions) },
                previous: current["parents"] as? [[String: Any]] ?? [], reference: "parentRef", now: now)
        case status.ancestors != nil:
            result["ancestors"] = entries(
                (status.ancestors ?? []).map { ($0.ancestorRef, $0.controllerName, $0.conditions) },
                previous: current["ancestors"] as? [[String: Any]] ?? [], reference: "ancestorRef", now: now)
        default:
            result["conditions"] = conditions(status.conditions, previous: currentConditions, now: now)
            if let features = status.supportedFeatures {
                result["supportedFeatures"] = features.map { ["name": $0.rawValue] }
            }
        }
        return result
    }

    /// Our entries replace our previous ones; other controllers' stay, first. Routes
    /// name the parent `parentRef`, policies `ancestorRef`.
    func entries(
        _ ours: [(reference: ParentReference, controllerName: String, conditions: [Condition])], previous: [[String: Any]],
        reference field: String, now: Date
    ) -> [[String: Any]] {
        let others = previous.filter { ($0["controllerName"] as? String) != controllerName }
        let mine = previous.filter { ($0["controllerName"] as? String) == controllerName }
        return others
            + ours.map { entry in
                let reference = Self.json(entry.reference)
                let before = mine.first { Self.same($0[field] as? [String: Any] ?? [:], reference) }
                return [
                    field: reference, "controllerName": entry.controllerName,
                    "conditions": conditions(entry.conditions, previous: before?["conditions"] as? [[String: Any]] ?? [], now: now),
                ]
            }
    }

    func conditions(_ conditions: [Condition], previous: [[String: Any]], now: Date) -> [[String: Any]] {
        conditions.map { condition in
            let before = previous.first { $0["type"] as? String == condition.type.rawValue }
            let unchanged = before?["status"] as? String == condition.status.rawValue
            var json: [String: Any] = [
                "type": condition.type.rawValue, "status": condition.status.rawValue, "reason": condition.reason.rawValue,
                "message": condition.message,
                "lastTransitionTime": unchanged ? (before?["lastTransitionTime"] as? String ?? Self.timestamp(now)) : Self.timestamp(now),
            ]
            if let generation = condition.observedGeneration { json["observedGeneration"] = generation }
            return json
        }
    }

    static func json(_ value: some Encodable) -> [String: Any] {
        guard let data = try? JSONEncoder().encode(value),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object
    }

    static func same(_ a: [String: Any], _ b: [String: Any]) -> Bool {
        let encode = { (value: [String: Any]) in try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) }
        return encode(a) == encode(b)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// Keeps the newest statuses and writes them while this replica leads: at once when
/// leadership is gained, and after every translation while it lasts. Submitting never
/// waits for the API server (translation must not stall behind a slow write); when
/// several translations happen during one write, only the newest is written next.
public final class StatusSync: Sendable {
    let writer: StatusWriter
    private let latest = Mutex<[ObjectKey: ObjectStatus]?>(nil)
    private let leading = Mutex(false)
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>

    public init(writer: StatusWriter) {
        self.writer = writer
        (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func submit(_ statuses: [ObjectKey: ObjectStatus]) {
        latest.withLock { $0 = statuses }
        wake.yield()
    }

    public func setLeading(_ value: Bool) {
        leading.withLock { $0 = value }
        if value { wake.yield() }
    }

    /// Writes until cancelled.
    public func run() async {
        for await _ in wakes {
            guard leading.withLock({ $0 }), let statuses = latest.withLock({ $0 }) else { continue }
            await writer.write(statuses, while: { self.leading.withLock { $0 } })
        }
    }
}
