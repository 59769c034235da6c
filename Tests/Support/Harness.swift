import Foundation
import Logging
import XDS

/// A Chancery xDS server running in-process on a loopback port, with its cache and
/// client registry at hand. It can be stopped and started again on the same port,
/// as a restart or a failover looks to Envoy.
public final class ChanceryHarness: @unchecked Sendable {
    public let cache: SnapshotCache
    public let registry: ClientRegistry
    public let grouping: any NodeGrouping
    public private(set) var address: HostPort
    private var task: Task<Void, any Error>?
    private var server: XDSServer?

    public init(
        cache: SnapshotCache = SnapshotCache(), registry: ClientRegistry = ClientRegistry(),
        grouping: any NodeGrouping = ClusterGrouping()
    ) {
        self.cache = cache
        self.registry = registry
        self.grouping = grouping
        self.address = HostPort(host: "127.0.0.1", port: 0)
    }

    /// Starts serving (again), on the port used before if there was one. The old
    /// listening socket may take a moment to close after a stop, so binding is retried.
    public func start() async throws {
        var logger = Logger(label: "chancery.test")
        logger.logLevel = .warning
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            let server = XDSServer(
                address: address,
                discovery: DiscoveryService(cache: cache, registry: registry, grouping: grouping, logger: logger))
            let task = Task { try await server.run() }
            do {
                address = try await server.boundAddress()
                self.task = task
                self.server = server
                return
            } catch {
                task.cancel()
                let cause: any Error
                if case .failure(let failure) = await task.result { cause = failure } else { cause = error }
                guard "\(cause)".contains("Address already in use"), ContinuousClock.now < deadline else { throw cause }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Stops serving: every stream is closed, as when a Chancery process dies.
    public func stop() async {
        server?.stop()
        _ = await task?.result
        task = nil
    }

    public func bootstrap(group: String, nodeID: String, delta: Bool = false) -> Bootstrap {
        Bootstrap(xdsAddress: address, group: group, nodeID: nodeID, adminPort: 0, delta: delta)
    }

    /// Whether every connected proxy of the group has ACKed the given snapshot's
    /// content for every type it subscribes to.
    public func everyoneAcked(group: String, expecting count: Int) -> Bool {
        let clients = registry.clients(inGroup: group)
        guard clients.count == count else { return false }
        return clients.allSatisfy { client in
            client.types.values.allSatisfy { $0.sentVersion != nil && $0.ackedVersion == $0.sentVersion }
        }
    }
}
