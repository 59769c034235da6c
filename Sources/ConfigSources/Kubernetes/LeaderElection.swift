import Foundation
import Logging
import Synchronization

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go does it: the
/// holder renews the Lease every `retryPeriod`; another replica takes it over once it
/// has seen no renewal for `leaseDuration` (measured on its own clock, so clock skew
/// between replicas does not matter); the holder releases it on shutdown so a successor
/// need not wait. Every write carries the Lease's resourceVersion: two replicas racing
/// for it cannot both win. A holder that cannot renew steps down `renewDeadline` (two
/// thirds of the lease) after its last renewal — its requests are bounded by that
/// deadline too — so it has stopped writing before anyone else may start.
public final class LeaderElector: Sendable {
    public let identity: String
    let client: KubeClient
    let path: String
    let collection: String
    let name: String
    let leaseDuration: Duration
    let retryPeriod: Duration
    /// How long after its last renewal a holder that cannot renew keeps leading.
    let renewDeadline: Duration
    private let logger: Logger
    private let leading = Mutex(false)

    public var isLeader: Bool { leading.withLock { $0 } }

    public init(
        client: KubeClient, namespace: String, name: String = "chancery-leader", identity: String,
        leaseDuration: Duration = .seconds(15), logger: Logger
    ) {
        self.client = client
        self.collection = "/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases"
        self.path = collection + "/" + name
        self.name = name
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.retryPeriod = leaseDuration / 3
        self.renewDeadline = leaseDuration * 2 / 3
        self.logger = logger
    }

    /// Campaigns and renews until cancelled; `onChange` hears every gain and loss of
    /// leadership. On cancellation the Lease is released if held.
    public func run(onChange: @escaping @Sendable (Bool) async -> Void) async {
        var observed: (version: String, at: ContinuousClock.Instant)?
        var lastRenewal = ContinuousClock.now
        while !Task.isCancelled {
            let wasLeader = isLeader
            var nowLeader = false
            // A leader's round must end by its deadline; a follower's within a period.
            let until = wasLeader ? lastRenewal + renewDeadline : ContinuousClock.now + retryPeriod
            do {
                nowLeader = try await attempt(observed: &observed, until: until)
                if nowLeader { lastRenewal = .now }
            } catch {
                logger.warning("leader election: \(KubernetesSource.reason(error))")
                // A leader that cannot renew keeps leading only until its deadline, a
                // third of the lease before the others may take over.
                nowLeader = wasLeader && ContinuousClock.now - lastRenewal < renewDeadline
            }
            if nowLeader != wasLeader {
                leading.withLock { $0 = nowLeader }
                logger.notice(
                    nowLeader ? "became the leader: writing status" : "no longer the leader",
                    metadata: ["lease": "\(path)", "identity": "\(identity)"])
                await onChange(nowLeader)
            }
            // A leader wakes in time to step down at its deadline if it cannot renew.
            let wake = ContinuousClock.now + retryPeriod
            try? await Task.sleep(until: nowLeader ? min(wake, lastRenewal + renewDeadline) : wake)
        }
        if isLeader {
            // Cancelled by shutdown: release from a task that is not, so the request runs.
            await Task { await self.release() }.value
            leading.withLock { $0 = false }
            await onChange(false)
        }
    }

    /// One round: create, renew or take over the Lease. Returns whether we hold it.
    private func attempt(
        observed: inout (version: String, at: ContinuousClock.Instant)?, until: ContinuousClock.Instant
    ) async throws -> Bool {
        // Every request ends by `until` (at least a moment to try).
        func timeout() -> Duration { max(until - .now, .milliseconds(50)) }
        let response = try await client.send(.GET, path, timeout: timeout())
        let now = Self.microTime(Date())
        let seconds = Int(leaseDuration.components.seconds)
        if response.status == 404 {
            let lease: [String: Any] = [
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": ["name": name],
                "spec": [
                    "holderIdentity": identity, "leaseDurationSeconds": seconds, "acquireTime": now, "renewTime": now,
                    "leaseTransitions": 0,
                ],
            ]
            let created = try await client.send(
                .POST, collection, body: JSONSerialization.data(withJSONObject: lease), timeout: timeout())
            return created.status == 201 || created.status == 200
        }
        guard response.status == 200, var lease = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        else { throw KubeClient.failure(response, path: path) }
        var spec = lease["spec"] as? [String: Any] ?? [:]
        let metadata = lease["metadata"] as? [String: Any] ?? [:]
        let version = metadata["resourceVersion"] as? String ?? ""
        let holder = spec["holderIdentity"] as? String ?? ""
        if observed?.version != version { observed = (version, .now) }
        let expired = holder.isEmpty || ContinuousClock.now - (observed?.at ?? .now) >= leaseDuration
        guard holder == identity || expired else { return false }
        if holder != identity {
            spec["acquireTime"] = now
            spec["leaseTransitions"] = (spec["leaseTransitions"] as? Int ?? 0) + 1
            spec["holderIdentity"] = identity
            logger.info("taking over the lease", metadata: ["from": "\(holder.isEmpty ? "(released)" : holder)"])
        }
        spec["renewTime"] = now
        spec["leaseDurationSeconds"] = seconds
        lease["spec"] = spec
        let written = try await client.send(.PUT, path, body: JSONSerialization.data(withJSONObject: lease), timeout: timeout())
        if written.status == 409 { return false }  // someone else wrote first
        guard written.status == 200 else { throw KubeClient.failure(written, path: path) }
        return true
    }

    /// Gives the Lease up so another replica can take it at once.
    private func release() async {
        do {
            // Shutdown should not hang on an API server that is gone: short timeouts.
            let response = try await client.send(.GET, path, timeout: .seconds(2))
            guard response.status == 200, var lease = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
            else { return }
            var spec = lease["spec"] as? [String: Any] ?? [:]
            guard spec["holderIdentity"] as? String == identity else { return }
            spec["holderIdentity"] = ""
            spec["leaseDurationSeconds"] = 1
            lease["spec"] = spec
            _ = try await client.send(.PUT, path, body: JSONSerialization.data(withJSONObject: lease), timeout: .seconds(2))
            logger.notice("released the lease", metadata: ["lease": "\(path)"])
        } catch {
            logger.warning("could not release the lease: \(error)")
        }
    }

    /// Kubernetes MicroTime: RFC 3339 with microseconds, UTC.
    static func microTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
        return formatter.string(from: date)
    }
}
