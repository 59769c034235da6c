import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A watch request that was answered with something other than 200.
public struct KubeWatchFailed: Error, CustomStringConvertible {
    public let status: Int
    public let body: String
    public var description: String { "watch answered \(status): \(body)" }
}

/// One request to a ``FakeKubeAPI`` on a fresh HTTPS connection that verifies the
/// server's certificate against `api.ca` (IP SAN 127.0.0.1). `token` is sent as
/// `Authorization: Bearer`; `clientCertificate` is presented in the handshake.
public func kubeRequest(
    _ api: FakeKubeAPI, method: String, path: String, body: String? = nil, contentType: String = "application/json",
    token: String? = "test-token", clientCertificate: TestCertificate? = nil
) async throws -> (status: Int, body: String) {
    let tls = try kubeTLSContext(api, clientCertificate: clientCertificate)
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    let promise = loop.makePromise(of: KubeResponse.self)
    // Whatever way this function leaves, the promise is completed (NIO traps on a leak).
    defer { promise.fail(ConnectionClosed()) }
    let channel = try await ClientBootstrap(group: loop)
        .connectTimeout(.seconds(2))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(KubeResponseCollector(promise: promise))
            }
        }
        .connect(host: "127.0.0.1", port: api.port).get()
    var headers = kubeHeaders(api, token: token)
    headers.add(name: "connection", value: "close")
    let payload = body.map { ByteBuffer(string: $0) }
    if let payload {
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(payload.readableBytes))
    }
    channel.write(
        HTTPClientRequestPart.head(HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: method), uri: path, headers: headers)),
        promise: nil)
    if let payload { channel.write(HTTPClientRequestPart.body(.byteBuffer(payload)), promise: nil) }
    channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { promise.fail($0) }
    let timer = channel.eventLoop.scheduleTask(in: .seconds(10)) {
        promise.fail(HTTPTimeout(port: api.port, path: path))
        channel.close(promise: nil)
    }
    defer { timer.cancel() }
    let response = try await promise.futureResult.get()
    try? await channel.close()
    return (response.status, response.body)
}

/// A GET `path` (which should carry `watch=1`) whose response body is yielded one line
/// (one JSON event) at a time. The stream finishes when the server ends the response,
/// and throws ``ConnectionClosed`` when the connection drops mid-stream, or
/// ``KubeWatchFailed`` for a non-200 answer. Ending the iteration closes the connection.
public func kubeWatch(_ api: FakeKubeAPI, path: String, token: String = "test-token")
    -> AsyncThrowingStream<String, any Error>
{
    let (stream, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
    let connection = WatchConnection()
    continuation.onTermination = { _ in connection.terminate() }
    Task {
        do {
            let tls = try kubeTLSContext(api, clientCertificate: nil)
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: nil))
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(LineStreamer(continuation: continuation))
                    }
                }
                .connect(host: "127.0.0.1", port: api.port).get()
            guard connection.attach(channel) else { return }
            var headers = kubeHeaders(api, token: token)
            headers.add(name: "connection", value: "close")
            channel.write(
                HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)),
                promise: nil)
            try await channel.writeAndFlush(HTTPClientRequestPart.end(nil))
        } catch {
            continuation.finish(throwing: error)
        }
    }
    return stream
}

private func kubeTLSContext(_ api: FakeKubeAPI, clientCertificate: TestCertificate?) throws -> NIOSSLContext {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(api.ca.certificatePEM.utf8)))
    configuration.certificateVerification = .fullVerification
    configuration.minimumTLSVersion = .tlsv12
    configuration.applicationProtocols = ["http/1.1"]
    if let clientCertificate {
        configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(clientCertificate.certificatePEM.utf8))
            .map { .certificate($0) }
        configuration.privateKey = .privateKey(
            try NIOSSLPrivateKey(bytes: Array(clientCertificate.privateKeyPEM.utf8), format: .pem))
    }
    return try NIOSSLContext(configuration: configuration)
}

private func kubeHeaders(_ api: FakeKubeAPI, token: String?) -> HTTPHeaders {
    var headers = HTTPHeaders()
    headers.add(name: "host", value: "127.0.0.1:\(api.port)")
    headers.add(name: "accept", value: "application/json")
    if let token { headers.add(name: "authorization", value: "Bearer \(token)") }
    return headers
}

private struct KubeResponse: Sendable {
    let status: Int
    let body: String
}

private final class KubeResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    let promise: EventLoopPromise<KubeResponse>
    var status: Int?
    var body = ByteBuffer()

    init(promise: EventLoopPromise<KubeResponse>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body(var buffer): body.writeBuffer(&buffer)
        case .end:
            guard let status else { return }
            promise.succeed(KubeResponse(status: status, body: String(buffer: body)))
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

/// The watch's channel once connected, so that ending the stream closes it.
private final class WatchConnection: Sendable {
    private let state = Mutex<(channel: (any Channel)?, terminated: Bool)>((nil, false))

    /// False (and the channel closed) when the stream already ended.
    func attach(_ channel: any Channel) -> Bool {
        let terminated = state.withLock { state in
            state.channel = channel
            return state.terminated
        }
        if terminated { channel.close(promise: nil) }
        return !terminated
    }

    func terminate() {
        let channel = state.withLock { state in
            state.terminated = true
            return state.channel
        }
        channel?.close(promise: nil)
    }
}

/// Yields each line of a 200 response body; finishes at the end of the response.
private final class LineStreamer: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    let continuation: AsyncThrowingStream<String, any Error>.Continuation
    var status = 0
    var pending = ByteBuffer()

    init(continuation: AsyncThrowingStream<String, any Error>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(var buffer):
            pending.writeBuffer(&buffer)
            guard status == 200 else { return }
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - pending.readerIndex
                let line = pending.readString(length: length) ?? ""
                pending.moveReaderIndex(forwardBy: 1)
                if !line.isEmpty { continuation.yield(line) }
            }
            pending.discardReadBytes()
        case .end:
            if status == 200 {
                let rest = String(buffer: pending)
                if !rest.isEmpty { continuation.yield(rest) }
                continuation.finish()
            } else {
                continuation.finish(throwing: KubeWatchFailed(status: status, body: String(buffer: pending)))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish(throwing: ConnectionClosed())
    }
}
