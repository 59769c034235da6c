import GRPCCore
import Synchronization

import GRPCNIOTransportHTTP2
import Logging

/// The xDS gRPC server: plaintext HTTP/2 on one address, every discovery service on it.
public final class XDSServer: Sendable {
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    public let discovery: DiscoveryService
    private let stopping = Mutex(false)

    /// - Parameter address: where to listen; port 0 picks a free port (see ``boundAddress()``).
    public init(address: HostPort, discovery: DiscoveryService) {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        // Snapshots for large fleets exceed gRPC's 4 MiB default; requests stay small,
        // but a delta reconnect lists every resource version the proxy holds.
        config.rpc.maxRequestPayloadSize = 64 << 20
        // Find dead proxies within a minute, and let Envoy's own keepalive pings through.
        config.connection.keepalive = .init(
            time: .seconds(30), timeout: .seconds(10),
            clientBehavior: .init(minPingIntervalWithoutCalls: .seconds(10), allowWithoutCalls: true))
        self.server = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4OrIPv6(address), transportSecurity: .plaintext, config: config),
            services: discovery.services)
        self.discovery = discovery
    }

    /// Serves until the task running it is cancelled; cancelling closes every stream,
    /// so connected Envoys notice at once and reconnect to another replica. Returns
    /// normally when it was stopped on purpose (cancelled, or ``stopListening()``).
    public func run() async throws {
        do {
            try await server.serve()
        } catch where Task.isCancelled || stopping.withLock({ $0 }) {
            // Closing the transport under open streams ends `serve` with an error: that
            // is how a stop looks from here.
        }
    }

    /// Stops listening at once; open streams end when the task running ``run()`` is
    /// cancelled (cancelling alone may leave the listening socket bound).
    public func stopListening() {
        stopping.withLock { $0 = true }
        server.beginGracefulShutdown()
    }

    /// The address actually bound, once listening.
    public func boundAddress() async throws -> HostPort {
        let address = try await server.transport.listeningAddress
        if let v4 = address.ipv4 { return HostPort(host: v4.host, port: v4.port) }
        if let v6 = address.ipv6 { return HostPort(host: v6.host, port: v6.port) }
        throw RPCError(code: .internalError, message: "xDS server is not listening on an IP address")
    }
}

extension GRPCNIOTransportCore.SocketAddress {
    static func ipv4OrIPv6(_ address: HostPort) -> Self {
        if address.host.contains(":") { return .ipv6(host: address.host, port: address.port) }
        return .ipv4(host: address.host == "localhost" ? "127.0.0.1" : address.host, port: address.port)
    }
}
