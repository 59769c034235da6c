import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// A loopback WebSocket backend: it accepts the upgrade on any path, then answers each
/// text or binary message with "<name>: <message>". It records the path and headers of
/// every handshake it accepted.
public final class WebSocketBackend: Sendable {
    public let name: String
    public let port: Int
    private let channel: any Channel
    private let handshakes: Handshakes

    /// Handshakes accepted so far: path and headers (lower-case names).
    public var accepted: [(path: String, headers: [String: String])] { handshakes.list.withLock { $0 } }

    final class Handshakes: Sendable {
        let list = Mutex<[(path: String, headers: [String: String])]>([])
    }

    public static func start(name: String) async throws -> WebSocketBackend {
        let handshakes = Handshakes()
        let record: @Sendable (HTTPRequestHead) -> Void = { head in
            var headers: [String: String] = [:]
            for (key, value) in head.headers { headers[key.lowercased()] = value }
            handshakes.list.withLock { $0.append((head.uri, headers)) }
        }
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, head in
                        record(head)
                        return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                    },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(MessageEchoHandler(name: name))
                        }
                    })
                return channel.pipeline.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return WebSocketBackend(name: name, port: channel.localAddress!.port!, channel: channel, handshakes: handshakes)
    }

    private init(name: String, port: Int, channel: any Channel, handshakes: Handshakes) {
        self.name = name
        self.port = port
        self.channel = channel
        self.handshakes = handshakes
    }

    public func stop() async {
        try? await channel.close()
    }
}

private final class MessageEchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let name: String

    init(name: String) { self.name = name }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        var payload = frame.unmaskedData
        switch frame.opcode {
        case .text, .binary:
            let message = payload.readString(length: payload.readableBytes) ?? ""
            let reply = context.channel.allocator.buffer(string: "\(name): \(message)")
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: frame.opcode, data: reply)), promise: nil)
        case .ping:
            context.writeAndFlush(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            let code = payload.readWebSocketErrorCode() ?? .normalClosure
            var reply = context.channel.allocator.buffer(capacity: 2)
            reply.write(webSocketErrorCode: code)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)), promise: nil)
            context.close(promise: nil)
        default:
            break
        }
    }
}

/// What a WebSocket exchange through a proxy gave: the handshake's status line and the
/// message that came back (nil when the upgrade was refused).
public struct WebSocketExchange: Sendable {
    public let status: Int
    public let reply: String?
}

/// Opens a connection to 127.0.0.1:`port`, asks to upgrade `path` on `host` to a
/// WebSocket, and on `101` sends `message` as one masked text frame and reads the
/// answer frame. The bytes are written by hand, as a browser would send them, so the
/// test depends on no WebSocket client.
public func webSocketExchange(
    port: Int, host: String, path: String, message: String, timeout: Duration = .seconds(5)
) async throws -> WebSocketExchange {
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    let promise = loop.makePromise(of: WebSocketExchange.self)
    defer { promise.fail(ConnectionClosed()) }
    let channel = try await ClientBootstrap(group: loop)
        .connectTimeout(.seconds(2))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RawWebSocketClient(message: message, promise: promise))
            }
        }
        .connect(host: "127.0.0.1", port: port).get()
    let request =
        "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    try await channel.writeAndFlush(channel.allocator.buffer(string: request))
    let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)) {
        promise.fail(HTTPTimeout(port: port, path: path))
        channel.close(promise: nil)
    }
    defer { timer.cancel() }
    let result = try await promise.futureResult.get()
    try? await channel.close()
    return result
}

/// Reads the handshake answer; after `101` sends one masked text frame and waits for
/// one unmasked frame back.
private final class RawWebSocketClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let message: String
    let promise: EventLoopPromise<WebSocketExchange>
    var buffer = ByteBuffer()
    var status: Int?

    init(message: String, promise: EventLoopPromise<WebSocketExchange>) {
        self.message = message
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        if status == nil {
            let text = String(buffer: buffer)
            guard let end = text.range(of: "\r\n\r\n") else { return }
            let statusLine = text[..<end.lowerBound].split(separator: "\r\n").first ?? ""
            let code = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            status = code
            buffer.moveReaderIndex(forwardBy: text[..<end.upperBound].utf8.count)
            guard code == 101 else {
                promise.succeed(WebSocketExchange(status: code, reply: nil))
                return
            }
            context.writeAndFlush(wrapOutboundOut(maskedTextFrame(message, allocator: context.channel.allocator)), promise: nil)
        }
        // An unmasked frame from the server: FIN+opcode, 7-bit or 16-bit length, payload.
        guard buffer.readableBytes >= 2, let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) else {
            return
        }
        var length = Int(second & 0x7f)
        var header = 2
        if length == 126 {
            guard let extended = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self) else { return }
            length = Int(extended)
            header = 4
        }
        guard buffer.readableBytes >= header + length else { return }
        let payload = buffer.getString(at: buffer.readerIndex + header, length: length) ?? ""
        promise.succeed(WebSocketExchange(status: 101, reply: payload))
    }

    func maskedTextFrame(_ text: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        let payload = Array(text.utf8)
        precondition(payload.count < 126, "short messages only")
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        var frame = allocator.buffer(capacity: payload.count + 6)
        frame.writeInteger(UInt8(0x81))
        frame.writeInteger(UInt8(0x80 | payload.count))
        frame.writeBytes(mask)
        frame.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        return frame
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ConnectionClosed())
    }
}
