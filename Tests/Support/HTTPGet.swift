import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A plain HTTP/1.1 response as a test sees it.
public struct HTTPResult: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: Data

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The echo of the backend that answered, if one did.
    public var echo: EchoBackend.Echo? { try? JSONDecoder().decode(EchoBackend.Echo.self, from: body) }
    public var backend: String? { headers["x-backend"] }
}

/// One HTTP/1.1 request on a fresh connection to 127.0.0.1 — no pooling, no proxies,
/// and full control of the Host header, so a test sees exactly what Envoy answers.
public func httpGet(
    port: Int, path: String = "/", host: String = "example.com", method: String = "GET",
    headers extra: [(String, String)] = [], body: Data? = nil, timeout: Duration = .seconds(5), address: String = "127.0.0.1"
) async throws -> HTTPResult {
    // The promise lives on the channel's own event loop, where the handler completes it.
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    let promise = loop.makePromise(of: HTTPResult.self)
    // Whatever way this function leaves, the promise is completed (NIO traps on a leak);
    // completing an already completed promise is a no-op.
    defer { promise.fail(ConnectionClosed()) }
    let channel = try await ClientBootstrap(group: loop)
        .connectTimeout(.seconds(2))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
            }
        }
        .connect(host: address, port: port).get()
    var headers = HTTPHeaders()
    headers.add(name: "host", value: host)
    headers.add(name: "connection", value: "close")
    for (name, value) in extra { headers.add(name: name, value: value) }
    if let body { headers.add(name: "content-length", value: String(body.count)) }
    let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path, headers: headers)
    channel.write(HTTPClientRequestPart.head(head), promise: nil)
    if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
    // A server may answer and close before the request is fully written (Envoy does
    // for a malformed request): the answer, not the write, is the result.
    channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { promise.fail($0) }
    let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)) {
        promise.fail(HTTPTimeout(port: port, path: path))
        channel.close(promise: nil)
    }
    defer { timer.cancel() }
    let result = try await promise.futureResult.get()
    try? await channel.close()
    return result
}

public struct HTTPTimeout: Error, CustomStringConvertible {
    let port: Int
    let path: String
    public var description: String { "no HTTP response from 127.0.0.1:\(port)\(path)" }
}

final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    let promise: EventLoopPromise<HTTPResult>
    var head: HTTPResponseHead?
    var body = Data()

    init(promise: EventLoopPromise<HTTPResult>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body(let buffer): body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            var headers: [String: String] = [:]
            for (key, value) in head.headers { headers[key.lowercased()] = value }
            promise.succeed(HTTPResult(status: Int(head.status.code), headers: headers, body: body))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ConnectionClosed())
    }
}

public struct ConnectionClosed: Error, CustomStringConvertible {
    public var description: String { "connection closed before a whole response arrived" }
}
