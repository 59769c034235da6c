import NIOCore
import NIOPosix
import Testing

@testable import XDS

/// The settings the xDS server gives gRPC's transport, applied to real sockets.
@Suite struct TransportConfigTests {
    /// An accepted connection reads into buffers that grow to 16 KiB at most, not NIO's
    /// 64 KiB: a thousand connections keep what they grew to (docs/performance.md,
    /// issue 21's third part).
    @Test func acceptedConnectionsReadIntoBoundedBuffers() async throws {
        let accept = try #require(XDSServer.transportConfig().channelDebuggingCallbacks.onAcceptTCPConnection)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let accepted = group.next().makePromise(of: (any Channel).self)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                accept(channel).map { accepted.succeed(channel) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let address = try #require(server.localAddress)
        let client = try await ClientBootstrap(group: group).connect(to: address).get()
        let child = try await accepted.futureResult.get()

        let reading = try #require(try await child.getOption(ChannelOptions.recvAllocator).get() as? AdaptiveRecvByteBufferAllocator)
        #expect(reading.initial == 2048)
        #expect(reading.maximum == 16384)
        // What NIO gives a connection it is not told about: the bound above is ours.
        let unset = try await client.getOption(ChannelOptions.recvAllocator).get() as? AdaptiveRecvByteBufferAllocator
        #expect(unset?.maximum == 65536)

        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }
}
