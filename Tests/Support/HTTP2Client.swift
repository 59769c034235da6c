import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// Opens one TLS connection to 127.0.0.1:`port` with SNI `serverName`, speaks HTTP/2 on
/// it (h2 by ALPN), and sends each request in turn on its own stream of that one
/// connection — as a browser does when it coalesces hosts whose certificates it trusts.
/// Returns the answers in order. The server's certificate is not verified. With
/// `serverName` nil the connection is cleartext HTTP/2 with prior knowledge (h2c).
public func http2Exchange(
    port: Int, serverName: String?, requests: [(host: String, path: String)], timeout: Duration = .seconds(5)
) async throws -> [HTTPResult] {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.certificateVerification = .none
    configuration.applicationProtocols = ["h2"]
    let context = try NIOSSLContext(configuration: configuration)
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    let (connection, multiplexer) = try await ClientBootstrap(group: loop)
        .connectTimeout(.seconds(2))
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                if let serverName {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: context, serverHostname: serverName))
                }
                let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                    mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()
                ) { stream in stream.eventLoop.makeSucceededVoidFuture() }
                return (channel, multiplexer)
            }
        }
    defer { connection.close(promise: nil) }
    var results: [HTTPResult] = []
    for request in requests {
        let promise = loop.makePromise(of: HTTPResult.self)
        defer { promise.fail(ConnectionClosed()) }
        let stream = try await multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(
                    HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: serverName == nil ? .http : .https))
                try stream.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
            }
        }.get()
        var headers = HTTPHeaders()
        headers.add(name: "host", value: request.host)
        let head = HTTPRequestHead(version: .http2, method: .GET, uri: request.path, headers: headers)
        stream.write(HTTPClientRequestPart.head(head), promise: nil)
        stream.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { promise.fail($0) }
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) {
            promise.fail(HTTPTimeout(port: port, path: request.path))
        }
        defer { timer.cancel() }
        results.append(try await promise.futureResult.get())
    }
    return results
}
