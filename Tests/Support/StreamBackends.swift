import Foundation
import NIOCore
import NIOPosix

/// TCP: answers each line received ("...\n") with "<name>: <line>\n".
public final class TCPEchoBackend: Sendable {
    public let name: String
    public let port: Int
    private let channel: any Channel

    public static func start(name: String) async throws -> TCPEchoBackend {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LineSplitter())
                    try channel.pipeline.syncOperations.addHandler(LineEchoHandler(name: name))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return TCPEchoBackend(name: name, port: channel.localAddress!.port!, channel: channel)
    }

    private init(name: String, port: Int, channel: any Channel) {
        self.name = name
        self.port = port
        self.channel = channel
    }

    /// Stops listening; connections already open end when their clients close them.
    public func stop() async {
        try? await channel.close()
    }
}

/// Opens a new TCP connection, sends message + "\n", returns the first line answered (without "\n").
public func tcpExchange(port: Int, message: String, timeout: Duration = .seconds(3)) async throws -> String {
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    let promise = loop.makePromise(of: String.self)
    defer { promise.fail(ConnectionClosed()) }
    let channel = try await ClientBootstrap(group: loop)
        .connectTimeout(.seconds(2))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(LineSplitter())
                try channel.pipeline.syncOperations.addHandler(FirstLineCollector(promise: promise))
            }
        }
        .connect(host: "127.0.0.1", port: port).get()
    channel.writeAndFlush(ByteBuffer(string: message + "\n")).whenFailure { promise.fail($0) }
    let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
        promise.fail(StreamTimeout(proto: "TCP", port: port))
        channel.close(promise: nil)
    }
    defer { timer.cancel() }
    let line = try await promise.futureResult.get()
    try? await channel.close()
    return line
}

/// A TCP connection to 127.0.0.1 held open until ``close()`` (tests of connection limits).
public final class HeldConnection: Sendable {
    private let channel: any Channel

    init(channel: any Channel) { self.channel = channel }

    public static func open(port: Int) async throws -> HeldConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton.next())
            .connectTimeout(.seconds(2)).connect(host: "127.0.0.1", port: port).get()
        return HeldConnection(channel: channel)
    }

    /// Whether the other side has not closed it.
    public var isOpen: Bool { channel.isActive }

    public func close() async { try? await channel.close() }
}

/// UDP: answers each datagram with "<name>: <payload>".
public final class UDPEchoBackend: Sendable {
    public let name: String
    public let port: Int
    private let channel: any Channel

    public static func start(name: String) async throws -> UDPEchoBackend {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramEchoHandler(name: name))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return UDPEchoBackend(name: name, port: channel.localAddress!.port!, channel: channel)
    }

    private init(name: String, port: Int, channel: any Channel) {
        self.name = name
        self.port = port
        self.channel = channel
    }

    public func stop() async {
        try? await channel.close()
    }
}

/// Sends one datagram from a NEW socket (new source port every call) to 127.0.0.1:port and returns the first answer, or nil if none within timeout.
public func udpExchange(port: Int, message: String, timeout: Duration = .seconds(2)) async throws -> String? {
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    let promise = loop.makePromise(of: String?.self)
    defer { promise.succeed(nil) }
    let channel = try await DatagramBootstrap(group: loop)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(FirstDatagramCollector(promise: promise))
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
    let envelope = AddressedEnvelope(remoteAddress: target, data: ByteBuffer(string: message))
    channel.writeAndFlush(envelope).whenFailure { promise.fail($0) }
    let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { promise.succeed(nil) }
    defer { timer.cancel() }
    let answer = try await promise.futureResult.get()
    try? await channel.close()
    return answer
}

/// No answer from a TCP peer within the timeout.
public struct StreamTimeout: Error, CustomStringConvertible {
    let proto: String
    let port: Int
    public var description: String { "no \(proto) answer from 127.0.0.1:\(port)" }
}

/// Splits a byte stream into lines (without the "\n"); a trailing "\r" is dropped too.
private final class LineSplitter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = String

    var pending = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending.writeBuffer(&buffer)
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.readerIndex
            var line = pending.readString(length: length) ?? ""
            pending.moveReaderIndex(forwardBy: 1)
            if line.hasSuffix("\r") { line.removeLast() }
            context.fireChannelRead(wrapInboundOut(line))
        }
        pending.discardReadBytes()
    }
}

private final class LineEchoHandler: ChannelInboundHandler {
    typealias InboundIn = String
    typealias OutboundOut = ByteBuffer

    let name: String

    init(name: String) { self.name = name }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "\(name): \(line)\n")), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

private final class FirstLineCollector: ChannelInboundHandler {
    typealias InboundIn = String

    let promise: EventLoopPromise<String>

    init(promise: EventLoopPromise<String>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ConnectionClosed())
    }
}

private final class DatagramEchoHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let name: String

    init(name: String) { self.name = name }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let answer = ByteBuffer(string: "\(name): " + String(buffer: envelope.data))
        context.writeAndFlush(
            wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: answer)), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A send to a vanished client may report ECONNREFUSED later: keep serving.
    }
}

private final class FirstDatagramCollector: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let promise: EventLoopPromise<String?>

    init(promise: EventLoopPromise<String?>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed(String(buffer: unwrapInboundIn(data).data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An ICMP "port unreachable" for our datagram: no answer, as a timeout would say.
        promise.succeed(nil)
    }
}
