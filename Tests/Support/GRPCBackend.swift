import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization

/// A loopback gRPC server over plaintext HTTP/2 (h2c), without generated code: messages
/// are raw UTF-8 text. Its service (`chancery.test.Echo` unless told otherwise) has
///
/// - `Unary`: answers "<name>: <request>";
/// - `ServerStream`: answers "<name>: <request> #1", "#2" and "#3".
///
/// Every answer carries the initial metadata `x-backend: <name>`.
public final class GRPCBackend: Sendable {
    public let name: String
    public let port: Int
    public let service: String
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let serving: Task<Void, any Error>
    private let log: GRPCCallLog

    /// One RPC as the backend received it.
    public struct Call: Sendable {
        /// The method's name without its service, such as "Unary".
        public let method: String
        /// The request's metadata, string values only, keys lowercased; HTTP/2 pseudo-headers
        /// are included (":authority", ":path").
        public let metadata: [String: String]
        public let message: String
    }

    /// Every RPC this backend answered, oldest first.
    public var received: [Call] { log.calls.withLock { $0 } }

    public static func start(name: String, service: String = "chancery.test.Echo") async throws -> GRPCBackend {
        let log = GRPCCallLog()
        let server = GRPCServer(
            transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
            services: [EchoService(backendName: name, service: service, log: log)])
        let serving = Task { try await server.serve() }
        do {
            // Returns once bound; throws if serving failed first.
            guard let port = try await server.transport.listeningAddress.ipv4?.port else {
                throw RPCError(code: .internalError, message: "gRPC backend is not listening on IPv4")
            }
            return GRPCBackend(name: name, port: port, service: service, server: server, serving: serving, log: log)
        } catch {
            server.beginGracefulShutdown()
            serving.cancel()
            _ = await serving.result
            throw error
        }
    }

    private init(
        name: String, port: Int, service: String, server: GRPCServer<HTTP2ServerTransport.Posix>,
        serving: Task<Void, any Error>, log: GRPCCallLog
    ) {
        self.name = name
        self.port = port
        self.service = service
        self.server = server
        self.serving = serving
        self.log = log
    }

    /// Stops listening, lets open RPCs finish for up to a second, then closes everything
    /// and returns once the server has stopped.
    public func stop() async {
        server.beginGracefulShutdown()
        let serving = self.serving
        let deadline = Task {
            try await Task.sleep(for: .seconds(1))
            serving.cancel()
        }
        _ = await serving.result
        deadline.cancel()
    }
}

final class GRPCCallLog: Sendable {
    let calls = Mutex<[GRPCBackend.Call]>([])
}

/// A UTF-8 text message: what the echo service and the clients below send, with no
/// protobuf framing at all (gRPC does not care what the bytes are).
struct GRPCText: Sendable {
    var value: String
}

struct GRPCTextSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: GRPCText) throws -> Bytes {
        Bytes(message.value.utf8)
    }
}

struct GRPCTextDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> GRPCText {
        GRPCText(value: serializedMessageBytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
    }
}

/// The echo service, registered by hand on the router (what generated code would do).
private struct EchoService: RegistrableRPCService {
    let backendName: String
    let service: String
    let log: GRPCCallLog

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let name = backendName
        let log = log
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: service, method: "Unary", type: .unary),
            deserializer: GRPCTextDeserializer(), serializer: GRPCTextSerializer()
        ) { request, context in
            let request = try await ServerRequest(stream: request)
            log.record(method: "Unary", metadata: request.metadata, message: request.message.value)
            return StreamingServerResponse(
                single: ServerResponse(
                    message: GRPCText(value: "\(name): \(request.message.value)"), metadata: ["x-backend": "\(name)"]))
        }
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: service, method: "ServerStream", type: .serverStreaming),
            deserializer: GRPCTextDeserializer(), serializer: GRPCTextSerializer()
        ) { request, context in
            let request = try await ServerRequest(stream: request)
            log.record(method: "ServerStream", metadata: request.metadata, message: request.message.value)
            let text = request.message.value
            return StreamingServerResponse(metadata: ["x-backend": "\(name)"]) { writer in
                for index in 1...3 {
                    try await writer.write(GRPCText(value: "\(name): \(text) #\(index)"))
                }
                return [:]
            }
        }
    }
}

extension GRPCCallLog {
    func record(method: String, metadata: Metadata, message: String) {
        var strings: [String: String] = [:]
        for (key, value) in metadata {
            guard case .string(let value) = value else { continue }
            let key = key.lowercased()
            strings[key] = strings[key].map { $0 + "," + value } ?? value
        }
        let call = GRPCBackend.Call(method: method, metadata: strings, message: message)
        calls.withLock { $0.append(call) }
    }
}

/// A unary call to 127.0.0.1:port (through Envoy or directly) with the `:authority` set to `authority` (for Envoy's virtual-host matching), optional metadata. Returns the answer text, or throws the RPCError.
public func grpcUnary(
    port: Int, authority: String, service: String = "chancery.test.Echo", method: String = "Unary",
    message: String, metadata: [String: String] = [:], timeout: Duration = .seconds(20)
) async throws -> String {
    try await withEchoClient(port: port, authority: authority) { client in
        try await client.unary(
            request: ClientRequest(message: GRPCText(value: message), metadata: Metadata(strings: metadata)),
            descriptor: MethodDescriptor(fullyQualifiedService: service, method: method, type: .unary),
            serializer: GRPCTextSerializer(), deserializer: GRPCTextDeserializer(),
            options: .echo(timeout: timeout)
        ) { response in
            try response.message.value
        }
    }
}

/// A server-streaming call, as ``grpcUnary(port:authority:service:method:message:metadata:timeout:)``;
/// returns every message answered, in order, or throws the RPCError.
public func grpcServerStream(
    port: Int, authority: String, service: String = "chancery.test.Echo", method: String = "ServerStream",
    message: String, metadata: [String: String] = [:], timeout: Duration = .seconds(20)
) async throws -> [String] {
    try await withEchoClient(port: port, authority: authority) { client in
        try await client.serverStreaming(
            request: ClientRequest(message: GRPCText(value: message), metadata: Metadata(strings: metadata)),
            descriptor: MethodDescriptor(fullyQualifiedService: service, method: method, type: .serverStreaming),
            serializer: GRPCTextSerializer(), deserializer: GRPCTextDeserializer(),
            options: .echo(timeout: timeout)
        ) { response in
            var answers: [String] = []
            for try await text in response.messages { answers.append(text.value) }
            return answers
        }
    }
}

/// A client for one call on a fresh HTTP/2 connection to 127.0.0.1:port, shut down
/// gracefully (and its connection closed) before this returns.
///
/// The `:authority` override is the transport's own: `HTTP2ClientTransport.Config.HTTP2.authority`
/// "unconditionally overrides any value derived from the target address", so the
/// connection goes to 127.0.0.1 while the requests name `authority` (it would be the TLS
/// SNI too, but these calls are plaintext).
private func withEchoClient<Result: Sendable>(
    port: Int, authority: String,
    _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
) async throws -> Result {
    let transport = try HTTP2ClientTransport.Posix(
        target: .ipv4(address: "127.0.0.1", port: port),
        transportSecurity: .plaintext,
        config: .defaults { $0.http2.authority = authority })
    return try await withGRPCClient(transport: transport) { client in
        try await body(client)
    }
}

extension CallOptions {
    fileprivate static func echo(timeout: Duration) -> Self {
        var options = CallOptions.defaults
        options.timeout = timeout
        // Fail at once when nothing listens (a test polling `eventually` retries).
        options.waitForReady = false
        return options
    }
}

extension Metadata {
    fileprivate init(strings: [String: String]) {
        self.init()
        for (key, value) in strings.sorted(by: { $0.key < $1.key }) { addString(value, forKey: key) }
    }
}
