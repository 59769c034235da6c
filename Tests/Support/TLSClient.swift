import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import X509

/// An HTTPS/1.1 response, with the leaf certificate the server presented.
public struct TLSResult: Sendable {
    public let status: Int
    public let body: String
    /// Header names lowercased.
    public let headers: [String: String]
    public let peerSubjectCommonName: String?
    public let peerCertificatePEM: String?

    public var backend: String? { headers["x-backend"] }
}

/// The server's certificate did not verify against the trusted CA.
public struct TLSVerificationFailed: Error, CustomStringConvertible {
    public let serverName: String
    public let reason: String
    public var description: String { "certificate presented for \(serverName) did not verify: \(reason)" }
}

/// Connects to 127.0.0.1:port with SNI `serverName`, sends `GET path` with `Host: host ?? serverName`, returns the answer and the leaf certificate the server presented. `trustedCAPEM` nil = do not verify (but still capture the peer cert).
///
/// An empty `serverName` sends no SNI at all. With a CA, the leaf must chain to it, be
/// valid now, and name `serverName` (or, without SNI, `host`) in its SANs; otherwise this
/// throws (a ``TLSVerificationFailed`` when the reason is known).
///
/// With `clientCertificate`, the client presents it when the server asks for one. With
/// `tls12Only`, the client offers TLS 1.2 and nothing newer.
public func httpsGet(
    port: Int, serverName: String, host: String? = nil, path: String = "/", trustedCAPEM: String? = nil,
    clientCertificate: TestCertificate? = nil, tls12Only: Bool = false, timeout: Duration = .seconds(5)
) async throws -> TLSResult {
    let trusted = try trustedCAPEM.map { try Certificate(pemEncoded: $0) }
    let peer = PeerCapture(serverName: serverName.isEmpty ? (host ?? "") : serverName, trusted: trusted)
    var configuration = TLSConfiguration.makeClientConfiguration()
    if let clientCertificate {
        configuration.certificateChain = [
            .certificate(try NIOSSLCertificate(bytes: Array(clientCertificate.certificatePEM.utf8), format: .pem))
        ]
        configuration.privateKey = .privateKey(
            try NIOSSLPrivateKey(bytes: Array(clientCertificate.privateKeyPEM.utf8), format: .pem))
    }
    // Not .none: NIOSSL skips the custom callback then, and the callback is where the
    // peer's certificate is captured and (with a CA) verified.
    configuration.certificateVerification = .noHostnameVerification
    configuration.applicationProtocols = ["http/1.1"]
    if tls12Only { configuration.maximumTLSVersion = .tlsv12 }
    let context = try NIOSSLContext(configuration: configuration)

    let loop = MultiThreadedEventLoopGroup.singleton.next()
    let promise = loop.makePromise(of: TLSResult.self)
    // As in httpGet: whatever way this function leaves, the promise is completed.
    defer { promise.fail(ConnectionClosed()) }
    let channel = try await ClientBootstrap(group: loop)
        .connectTimeout(.seconds(2))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let tls = try NIOSSLClientHandler(
                    context: context, serverHostname: serverName.isEmpty ? nil : serverName,
                    customVerificationCallback: { certificates, verification in
                        peer.verify(certificates, promise: verification)
                    })
                try channel.pipeline.syncOperations.addHandler(tls)
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(TLSResponseCollector(promise: promise, peer: peer))
            }
        }
        .connect(host: "127.0.0.1", port: port).get()
    var headers = HTTPHeaders()
    headers.add(name: "host", value: host ?? serverName)
    headers.add(name: "connection", value: "close")
    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
    channel.write(HTTPClientRequestPart.head(head), promise: nil)
    channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { error in
        promise.fail(peer.failure ?? error)
    }
    let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
        promise.fail(HTTPTimeout(port: port, path: path))
        channel.close(promise: nil)
    }
    defer { timer.cancel() }
    let result = try await promise.futureResult.get()
    try? await channel.close()
    return result
}

/// The peer's leaf as the verification callback saw it, and why verification failed.
private final class PeerCapture: Sendable {
    let serverName: String
    let trusted: Certificate?
    private let state = Mutex<(leaf: Certificate?, failure: String?)>((nil, nil))

    init(serverName: String, trusted: Certificate?) {
        self.serverName = serverName
        self.trusted = trusted
    }

    var leaf: Certificate? { state.withLock { $0.leaf } }

    /// Why verification failed, if it did.
    var failure: TLSVerificationFailed? {
        state.withLock { $0.failure }.map { TLSVerificationFailed(serverName: serverName, reason: $0) }
    }

    /// NIOSSL's custom verification callback: keeps the leaf, then accepts it (no CA) or
    /// checks the chain against `trusted` with swift-certificates' verifier.
    func verify(_ chain: [NIOSSLCertificate], promise: EventLoopPromise<NIOSSLVerificationResult>) {
        let parsed: [Certificate]
        do {
            parsed = try chain.map { try Certificate(derEncoded: $0.toDERBytes()) }
        } catch {
            state.withLock { $0.failure = "unparsable certificate: \(error)" }
            promise.succeed(.failed)
            return
        }
        guard let leaf = parsed.first else {
            state.withLock { $0.failure = "the server sent no certificate" }
            promise.succeed(.failed)
            return
        }
        state.withLock { $0.leaf = leaf }
        guard let trusted = self.trusted else {
            promise.succeed(.certificateVerified)
            return
        }
        let intermediates = CertificateStore(parsed.dropFirst())
        let serverName = serverName
        promise.completeWithTask {
            var verifier = Verifier(rootCertificates: CertificateStore([trusted])) {
                RFC5280Policy()
                ServerIdentityPolicy(serverHostname: serverName, serverIP: nil)
            }
            switch await verifier.validate(leaf: leaf, intermediates: intermediates) {
            case .validCertificate:
                return .certificateVerified
            case .couldNotValidate(let failures):
                let reason = failures.map { "\($0.policyFailureReason)" }.joined(separator: "; ")
                self.state.withLock { $0.failure = reason.isEmpty ? "no chain to the trusted CA" : reason }
                return .failed
            }
        }
    }
}

private final class TLSResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    let promise: EventLoopPromise<TLSResult>
    let peer: PeerCapture
    var head: HTTPResponseHead?
    var body = ByteBuffer()

    init(promise: EventLoopPromise<TLSResult>, peer: PeerCapture) {
        self.promise = promise
        self.peer = peer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body(var buffer): body.writeBuffer(&buffer)
        case .end:
            guard let head else { return }
            var headers: [String: String] = [:]
            for (key, value) in head.headers { headers[key.lowercased()] = value }
            let leaf = peer.leaf
            promise.succeed(
                TLSResult(
                    status: Int(head.status.code), body: String(buffer: body), headers: headers,
                    peerSubjectCommonName: leaf?.subjectCommonName,
                    peerCertificatePEM: leaf.flatMap { try? $0.serializeAsPEM().pemString }))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(peer.failure ?? error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ConnectionClosed())
    }
}
