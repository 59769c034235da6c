import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A small Kubernetes REST client on AsyncHTTPClient: JSON requests and line-delimited
/// watch streams, authenticated as the connection says.
public final class KubeClient: Sendable {
    public let connection: KubeConnection
    private let configuration: HTTPClient.Configuration
    /// The client, and when it was made. Replaced after connection failures: its pool
    /// backs off reconnecting for up to a minute, far longer than it takes an API server
    /// to come back.
    private let current: Mutex<(client: HTTPClient, made: ContinuousClock.Instant)>
    private var http: HTTPClient { current.withLock { $0.client } }

    /// - Parameter connectionLimit: how many connections to the server may be open at
    ///   once; watches hold one each.
    public init(_ connection: KubeConnection, connectionLimit: Int = 64) throws {
        self.connection = connection
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = connection.caPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
            }
            if let certificate = connection.clientCertificatePEM, let key = connection.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
            }
        } catch {
            throw KubeConfigError("the CA or client certificate/key cannot be loaded: \(error)")
        }
        if connection.insecureSkipTLSVerify { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5), read: .seconds(90)))
        configuration.httpVersion = .http1Only
        // Over HTTP/1.1 every open watch holds a connection: leave room for one per kind
        // and namespace, plus lists, status writes and the Lease.
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionLimit)
        self.configuration = configuration
        current = Mutex((HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration), .now))
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    /// After a failure to connect: start over with a fresh connection pool (at most
    /// once a second), so a server that is back is reached at once.
    func reconnect() {
        let retired: HTTPClient? = current.withLock { current in
            guard ContinuousClock.now - current.made > .seconds(1) else { return nil }
            let old = current.client
            current = (HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration), .now)
            return old
        }
        if let retired { Task { try? await retired.shutdown() } }
    }

    /// Runs a request, starting a fresh pool if it could not connect.
    private func execute(_ request: HTTPClientRequest, timeout: Duration) async throws -> HTTPClientResponse {
        do {
            // To the nanosecond: whole seconds would make a 0.9 s budget no time at all.
            let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            return try await http.execute(request, timeout: .nanoseconds(max(nanoseconds, 1)))
        } catch {
            if Self.isConnectionFailure(error) { reconnect() }
            throw error
        }
    }

    static func isConnectionFailure(_ error: any Error) -> Bool {
        if let client = error as? HTTPClientError {
            return [.getConnectionFromPoolTimeout, .connectTimeout, .remoteConnectionClosed].contains(client)
        }
        return error is NIOConnectionError || error is ChannelError
    }

    /// A failed request: the HTTP status and the API server's Status message.
    public struct Failure: Error, CustomStringConvertible {
        public let status: Int
        public let message: String
        public let path: String
        /// How long the API server asked to wait before trying again (`Retry-After`, with
        /// 429 Too Many Requests or a 5xx).
        public var retryAfter: Duration? = nil
        public var description: String {
            "\(status) from \(path): \(message)" + (retryAfter.map { "; the API server asks to retry after \($0)" } ?? "")
        }
    }

    public struct Response: Sendable {
        public let status: Int
        public let body: Data
        public var retryAfter: Duration? = nil
    }

    /// `Retry-After` in seconds (the form the API server sends), at most a minute.
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        guard let text = headers.first(name: "retry-after"), let seconds = Int(text), seconds >= 0 else { return nil }
        return .seconds(Swift.min(seconds, 60))
    }

    private func request(_ method: HTTPMethod, _ path: String, body: Data?, contentType: String) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: connection.server + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "chancery")
        if let token = try connection.token?.current() {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(data: body))
        }
        return request
    }

    /// One request; any status is returned (callers decide what is an error).
    public func send(
        _ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String = "application/json",
        timeout: Duration = .seconds(30)
    ) async throws -> Response {
        let response = try await execute(request(method, path, body: body, contentType: contentType), timeout: timeout)
        let buffer = try await response.body.collect(upTo: 256 << 20)
        return Response(
            status: Int(response.status.code), body: Data(buffer: buffer), retryAfter: Self.retryAfter(response.headers))
    }

    /// GET that must succeed: the JSON object, or a ``Failure`` naming the status.
    public func getJSON(_ path: String) async throws -> [String: Any] {
        let response = try await send(.GET, path)
        guard response.status == 200 else { throw Self.failure(response, path: path) }
        guard let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            throw Failure(status: response.status, message: "not a JSON object", path: path)
        }
        return object
    }

    static func failure(_ response: Response, path: String) -> Failure {
        let status = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any]
        let message = status?["message"] as? String ?? String(decoding: response.body.prefix(300), as: UTF8.self)
        return Failure(status: response.status, message: message, path: path, retryAfter: response.retryAfter)
    }

    /// A watch that sent nothing — no event, no bookmark — for `idle`: the path to the
    /// server may be dead without the connection noticing.
    public struct WatchIdle: Error, CustomStringConvertible {
        public let idle: Duration
        public var description: String { "the watch sent nothing for \(idle)" }
    }

    private final class LastSeen: Sendable {
        let instant = Mutex(ContinuousClock.now)
    }

    /// A watch: each line of the chunked response, as it arrives. Ends when the server
    /// ends the stream; throws a ``Failure`` if the server refuses the watch, and
    /// ``WatchIdle`` when nothing at all arrived for `idleTimeout`.
    public func watchLines(_ path: String, timeout: Duration, idleTimeout: Duration? = nil) -> AsyncThrowingStream<Data, any Error> {
        AsyncThrowingStream { continuation in
            let lastSeen = LastSeen()
            let task = Task {
                do {
                    let response = try await execute(request(.GET, path, body: nil, contentType: ""), timeout: timeout)
                    guard response.status == .ok else {
                        let buffer = try await response.body.collect(upTo: 1 << 20)
                        throw Self.failure(
                            Response(
                                status: Int(response.status.code), body: Data(buffer: buffer),
                                retryAfter: Self.retryAfter(response.headers)),
                            path: path)
                    }
                    var pending = Data()
                    for try await chunk in response.body {
                        lastSeen.instant.withLock { $0 = .now }
                        pending.append(contentsOf: chunk.readableBytesView)
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = pending[pending.startIndex..<newline]
                            if !line.isEmpty { continuation.yield(Data(line)) }
                            pending.removeSubrange(pending.startIndex...newline)
                        }
                    }
                    if !pending.isEmpty { continuation.yield(pending) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            let watchdog = idleTimeout.map { idle in
                Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: idle / 4)
                        if ContinuousClock.now - lastSeen.instant.withLock({ $0 }) > idle {
                            // Finished first: the cancelled request must not end the
                            // stream as if the server had ended the watch.
                            continuation.finish(throwing: WatchIdle(idle: idle))
                            task.cancel()
                            return
                        }
                    }
                }
            }
            continuation.onTermination = { _ in
                task.cancel()
                watchdog?.cancel()
            }
        }
    }
}
