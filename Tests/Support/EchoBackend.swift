import Foundation
import NIOCore
import Synchronization
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// A loopback HTTP/1.1 backend that answers every request with what it received:
/// its own name, the method, path and headers, as JSON, plus an `x-backend` header.
public final class EchoBackend: Sendable {
    public let name: String
    public let port: Int
    private let channel: any Channel
    private let log: RequestLog

    /// Every request this backend answered, oldest first.
    public var received: [Echo] { log.entries.withLock { $0 } }

    public struct Echo: Codable, Sendable {
        public let backend: String
        public let method: String
        public let path: String
        public let headers: [String: String]
        /// `HTTP/1.1`, or `HTTP/2.0` for an h2c backend.
        public let version: String
    }

    /// An HTTP/1.1 backend, or with `h2c` one that speaks only HTTP/2 in cleartext (with
    /// prior knowledge, as Envoy does to a Service port with `appProtocol:
    /// kubernetes.io/h2c`); it refuses HTTP/1.1. With `status`, every answer has that
    /// status (a backend that fails).
    public static func start(name: String, port: Int = 0, h2c: Bool = false, status: Int? = nil) async throws -> EchoBackend {
        let log = RequestLog()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if h2c {
                        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                            mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()
                        ) { stream in
                            stream.eventLoop.makeCompletedFuture {
                                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                                try stream.pipeline.syncOperations.addHandler(EchoHandler(name: name, log: log, fixedStatus: status))
                            }
                        }
                    } else {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(EchoHandler(name: name, log: log, fixedStatus: status))
                    }
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        return EchoBackend(name: name, port: channel.localAddress!.port!, channel: channel, log: log)
    }

    private init(name: String, port: Int, channel: any Channel, log: RequestLog) {
        self.name = name
        self.port = port
        self.channel = channel
        self.log = log
    }

    public func stop() async {
        try? await channel.close()
    }
}

final class RequestLog: Sendable {
    let entries = Mutex<[EchoBackend.Echo]>([])
}

/// Answers with the echo. Request headers steer it, for tests of timeouts and retries:
/// `x-echo-delay-ms` delays the answer; `x-echo-status` answers with that status
/// instead of 200 — only the first `x-echo-fail-times` times a request with the same
/// `x-request-id` arrives, when that header is given too.
private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let name: String
    let log: RequestLog
    let fixedStatus: Int?
    var head: HTTPRequestHead?

    init(name: String, log: RequestLog, fixedStatus: Int?) {
        self.name = name
        self.log = log
        self.fixedStatus = fixedStatus
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            var headers: [String: String] = [:]
            for (key, value) in head.headers {
                let key = key.lowercased()
                headers[key] = headers[key].map { $0 + "," + value } ?? value
            }
            let echo = EchoBackend.Echo(
                backend: name, method: head.method.rawValue, path: head.uri, headers: headers,
                version: "HTTP/\(head.version.major).\(head.version.minor)")
            log.entries.withLock { $0.append(echo) }
            let body = (try? JSONEncoder().encode(echo)) ?? Data()
            var responseHeaders = HTTPHeaders()
            responseHeaders.add(name: "content-type", value: "application/json")
            responseHeaders.add(name: "content-length", value: String(body.count))
            responseHeaders.add(name: "x-backend", value: name)
            var status = fixedStatus.map { HTTPResponseStatus(statusCode: $0) } ?? .ok
            if let code = headers["x-echo-status"].flatMap(Int.init) {
                let seen = log.entries.withLock { entries in
                    entries.count { $0.headers["x-request-id"] == headers["x-request-id"] }
                }
                if let times = headers["x-echo-fail-times"].flatMap(Int.init), seen > times {
                    status = .ok
                } else {
                    status = HTTPResponseStatus(statusCode: code)
                }
            }
            let response = HTTPResponseHead(version: head.version, status: status, headers: responseHeaders)
            let delay = Int64(headers["x-echo-delay-ms"] ?? "") ?? 0
            self.head = nil
            let send = { [self] in
                context.write(self.wrapOutboundOut(.head(response)), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
            if delay > 0 {
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(delay)) { send() }
            } else {
                send()
            }
        }
    }
}
