import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A loopback HTTPS/1.1 server presenting `certificate` that answers every request 200 with body "<name>\n" and header `x-backend: <name>`; it records the SNI each connection sent.
public final class TLSBackend: Sendable {
    public let name: String
    public let port: Int
    private let channel: any Channel
    private let log: SNILog

    /// SNI of each accepted handshake, oldest first (nil: the client sent none).
    public var serverNames: [String?] { log.names.withLock { $0 } }

    /// With `clientCA`, a client must present a certificate that CA signed, or the
    /// handshake fails.
    public static func start(name: String, certificate: TestCertificate, clientCA: TestCA? = nil) async throws -> TLSBackend {
        let log = SNILog()
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.certificatePEM.utf8))
                .map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem)))
        configuration.applicationProtocols = ["http/1.1"]
        if let clientCA {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(
                try NIOSSLCertificate.fromPEMBytes(Array(clientCA.certificatePEM.utf8)))
        }
        // BoringSSL's certificate callback runs once per ClientHello, after the SNI is
        // parsed: the place to see it; the certificate stays as configured.
        configuration.sslContextCallback = { values, promise in
            log.names.withLock { $0.append(values.serverHostname) }
            promise.succeed(.noChanges)
        }
        let context = try NIOSSLContext(configuration: configuration)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(NameHandler(name: name))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return TLSBackend(name: name, port: channel.localAddress!.port!, channel: channel, log: log)
    }

    private init(name: String, port: Int, channel: any Channel, log: SNILog) {
        self.name = name
        self.port = port
        self.channel = channel
        self.log = log
    }

    public func stop() async {
        try? await channel.close()
    }
}

private final class SNILog: Sendable {
    let names = Mutex<[String?]>([])
}

/// Answers every request 200 with "<name>\n"; closes after the answer when the client
/// asked to (`Connection: close`).
private final class NameHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let name: String
    var head: HTTPRequestHead?

    init(name: String) { self.name = name }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let body = ByteBuffer(string: name + "\n")
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "text/plain")
            headers.add(name: "content-length", value: String(body.readableBytes))
            headers.add(name: "x-backend", value: name)
            if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            if head.isKeepAlive {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A client that rejects the certificate aborts the handshake: just drop it.
        context.close(promise: nil)
    }
}
