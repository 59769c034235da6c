import GRPCCore
import Synchronization

import GRPCNIOTransportHTTP2
import NIOCore
import Logging

/// TLS on the xDS address: the server's certificate and key (PEM files) and, when
/// client certificates are required, the CAs they must chain to.
public struct XDSTLS: Sendable {
    public var certificateChain: String
    public var privateKey: String
    /// With it, every proxy must present a certificate this CA bundle verifies; its
    /// SPIFFE URI SAN is the proxy's identity.
    public var clientCA: String?

    public init(certificateChain: String, privateKey: String, clientCA: String? = nil) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.clientCA = clientCA
    }
}

/// The xDS gRPC server: HTTP/2 on one address, plaintext or TLS (and, for proxies in
/// other network namespaces of the host, plaintext on a unix socket), every discovery
/// service on it. Every stream's credentials — client certificate or service account
/// token — are worked out as it opens; ``XDSAccess`` decides what they may have.
public final class XDSServer: Sendable {
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    /// The same services on a unix socket (`serve --xds-socket`).
    private let socketServer: GRPCServer<HTTP2ServerTransport.Posix>?
    public let discovery: DiscoveryService
    private let state = Mutex(State())

    private struct State {
        /// The task serving, once ``run()`` started it.
        var serving: Task<Void, any Error>?
        var stopping = false
    }

    /// The listening socket's accept queue (capped by the kernel's `net.core.somaxconn`).
    static let listenBacklog: Int32 = 4096
    /// Connections accepted per wake-up of the listening socket's event loop.
    static let acceptsPerRead: UInt = 256
    /// How much a connection reads at once: from 2 KiB, growing to at most 16 KiB.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 16384)

    /// The gRPC transport's settings for xDS connections.
    static func transportConfig() -> HTTP2ServerTransport.Posix.Config {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        // Snapshots for large fleets exceed gRPC's 4 MiB default; requests stay small,
        // but a delta reconnect lists every resource version the proxy holds.
        config.rpc.maxRequestPayloadSize = 64 << 20
        // Find dead proxies within a minute, and let Envoy's own keepalive pings through.
        config.connection.keepalive = .init(
            time: .seconds(30), timeout: .seconds(10),
            clientBehavior: .init(minPingIntervalWithoutCalls: .seconds(10), allowWithoutCalls: true))
        // A fleet restarting together connects at once: NIO listens with a backlog of 128
        // and accepts 4 connections per wake-up, so with the event loops busy sending
        // snapshots a storm overflowed the accept queue, and the kernel dropped
        // connections the clients believed open (they saw the connection close before the
        // HTTP/2 preface). The kernel caps the backlog at net.core.somaxconn.
        config.channelDebuggingCallbacks.onBindTCPListener = { channel in
            channel.setOption(ChannelOptions.backlog, value: Self.listenBacklog).flatMap {
                channel.setOption(ChannelOptions.maxMessagesPerRead, value: Self.acceptsPerRead)
            }
        }
        // Each connection keeps the buffers it reads into, grown to the largest read:
        // NIO's default lets one grow to 64 KiB, and a state-of-the-world ACK at 10,000
        // routes (every cluster named again) fills it, so a thousand idle connections
        // kept about that much each. A larger request takes more reads instead.
        config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
            channel.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
        }
        return config
    }

    /// - Parameter address: where to listen; port 0 picks a free port (see ``boundAddress()``).
    public init(
        address: HostPort, socketPath: String? = nil, discovery: DiscoveryService, tls: XDSTLS? = nil,
        trustDomain: String = "cluster.local", tokenReviewer: (any TokenReviewer)? = nil
    ) {
        let config = Self.transportConfig()
        let security: HTTP2ServerTransport.Posix.TransportSecurity =
            tls.map { tls in
                .tls(
                    certificateChain: [.file(path: tls.certificateChain, format: .pem)],
                    privateKey: .file(path: tls.privateKey, format: .pem)
                ) { configuration in
                    if let clientCA = tls.clientCA {
                        configuration.clientCertificateVerification = .noHostnameVerification
                        configuration.trustRoots = .certificates([.file(path: clientCA, format: .pem)])
                    }
                }
            } ?? .plaintext
        let authenticator = ProxyAuthenticator(trustDomain: trustDomain, reviewer: tokenReviewer, cache: TokenCache())
        self.server = GRPCServer(
            transport: .http2NIOPosix(address: .ipv4OrIPv6(address), transportSecurity: security, config: config),
            services: discovery.services, interceptors: [authenticator])
        self.socketServer = socketPath.map { path in
            GRPCServer(
                transport: .http2NIOPosix(
                    address: .unixDomainSocket(path: path), transportSecurity: .plaintext, config: config),
                services: discovery.services, interceptors: [authenticator])
        }
        self.discovery = discovery
    }

    /// Serves until ``stop()`` is called or the task running it is cancelled (which
    /// stops it the same way), then returns normally; throws if serving fails otherwise.
    public func run() async throws {
        let socketServer = socketServer
        let serving = Task {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await self.server.serve() }
                if let socketServer { group.addTask { try await socketServer.serve() } }
            }
        }
        let stopped = state.withLock { state in
            state.serving = serving
            return state.stopping
        }
        if stopped { serving.cancel() }
        let result = await withTaskCancellationHandler { await serving.result } onCancel: { self.stop() }
        if case .failure(let error) = result, !state.withLock({ $0.stopping }) { throw error }
    }

    /// Stops serving: no new connections, and every connection is told (HTTP/2 GOAWAY)
    /// to open no new stream; then, after `grace`, every open stream is closed, so
    /// connected Envoys reconnect to another replica at once. Closing streams first
    /// would let an Envoy reopen its stream on a connection that is going away.
    public func stop(grace: Duration = .milliseconds(200)) {
        let (first, serving) = state.withLock { state in
            defer { state.stopping = true }
            return (!state.stopping, state.serving)
        }
        guard first else { return }
        server.beginGracefulShutdown()
        socketServer?.beginGracefulShutdown()
        Task {
            try? await Task.sleep(for: grace)
            serving?.cancel()
        }
    }

    /// The unix socket's path, once listening there.
    public func boundSocket() async throws -> String? {
        guard let socketServer else { return nil }
        let address = try await socketServer.transport.listeningAddress
        return address.unixDomainSocket?.path
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
