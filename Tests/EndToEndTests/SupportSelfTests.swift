import Foundation
import Testing
import TestSupport

/// The loopback backends and clients of TestSupport, checked directly (no Envoy), so an
/// end-to-end failure through Envoy is never the tools' own.
@Suite struct SupportSelfTests {
    @Test func httpsGetSeesTheBackendsCertificateBodyAndSNI() async throws {
        let ca = try TestCA.make()
        let certificate = try ca.issue(commonName: "a.example.com", dnsNames: ["a.example.com", "*.a.example.com"])
        #expect(certificate.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(certificate.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        let backend = try await TLSBackend.start(name: "tls-a", certificate: certificate)

        let result = try await httpsGet(port: backend.port, serverName: "a.example.com", path: "/x")
        #expect(result.status == 200)
        #expect(result.body == "tls-a\n")
        #expect(result.headers["x-backend"] == "tls-a")
        #expect(result.peerSubjectCommonName == "a.example.com")
        #expect(result.peerCertificatePEM == certificate.certificatePEM)

        _ = try await httpsGet(port: backend.port, serverName: "www.a.example.com", host: "a.example.com")
        _ = try await httpsGet(port: backend.port, serverName: "")
        #expect(backend.serverNames == ["a.example.com", "www.a.example.com", nil])
        await backend.stop()
    }

    @Test func verificationNeedsTheIssuingCAAndAMatchingName() async throws {
        let ca = try TestCA.make()
        let other = try TestCA.make(commonName: "Some Other CA")
        let certificate = try ca.issue(commonName: "b.example.com", dnsNames: ["b.example.com"])
        let backend = try await TLSBackend.start(name: "tls-b", certificate: certificate)

        let verified = try await httpsGet(
            port: backend.port, serverName: "b.example.com", trustedCAPEM: ca.certificatePEM)
        #expect(verified.status == 200)
        #expect(verified.peerSubjectCommonName == "b.example.com")

        await #expect(throws: TLSVerificationFailed.self) {
            try await httpsGet(port: backend.port, serverName: "b.example.com", trustedCAPEM: other.certificatePEM)
        }
        let wrongName = await #expect(throws: TLSVerificationFailed.self) {
            try await httpsGet(port: backend.port, serverName: "c.example.com", trustedCAPEM: ca.certificatePEM)
        }
        #expect(wrongName?.serverName == "c.example.com")
        // Without a CA nothing is verified: the wrong name still gets an answer.
        let unverified = try await httpsGet(port: backend.port, serverName: "c.example.com")
        #expect(unverified.peerSubjectCommonName == "b.example.com")
        await backend.stop()
    }

    @Test func anExpiredLeafFailsVerification() async throws {
        let ca = try TestCA.make()
        let expired = try ca.issue(
            commonName: "old.example.com", dnsNames: ["old.example.com"], notValidBefore: Date() - 7 * 86400,
            notValidAfter: Date() - 86400)
        let backend = try await TLSBackend.start(name: "tls-old", certificate: expired)
        await #expect(throws: TLSVerificationFailed.self) {
            try await httpsGet(port: backend.port, serverName: "old.example.com", trustedCAPEM: ca.certificatePEM)
        }
        await backend.stop()
    }

    @Test func tcpEchoAnswersEachConnectionsLine() async throws {
        let backend = try await TCPEchoBackend.start(name: "tcp-a")
        #expect(try await tcpExchange(port: backend.port, message: "hello") == "tcp-a: hello")
        #expect(try await tcpExchange(port: backend.port, message: "again") == "tcp-a: again")
        await backend.stop()
    }

    @Test func tcpExchangeFailsWhenNothingListens() async throws {
        let backend = try await TCPEchoBackend.start(name: "gone")
        let port = backend.port
        await backend.stop()
        await #expect(throws: (any Error).self) { try await tcpExchange(port: port, message: "x") }
    }

    @Test func udpEchoAnswersEachDatagram() async throws {
        let backend = try await UDPEchoBackend.start(name: "udp-a")
        #expect(try await udpExchange(port: backend.port, message: "ping") == "udp-a: ping")
        #expect(try await udpExchange(port: backend.port, message: "pong") == "udp-a: pong")
        await backend.stop()
    }

    @Test func udpExchangeIsNilWithoutAnAnswer() async throws {
        let backend = try await UDPEchoBackend.start(name: "gone")
        let port = backend.port
        await backend.stop()
        let answer = try await udpExchange(port: port, message: "anyone?", timeout: .milliseconds(300))
        #expect(answer == nil)
    }

    @Test func grpcUnaryAndServerStreamReachTheBackendWithTheAuthority() async throws {
        let backend = try await GRPCBackend.start(name: "grpc-a")
        let answer = try await grpcUnary(
            port: backend.port, authority: "grpc.example.com", message: "hi", metadata: ["x-test": "1"])
        #expect(answer == "grpc-a: hi")
        let stream = try await grpcServerStream(port: backend.port, authority: "grpc.example.com", message: "hey")
        #expect(stream == ["grpc-a: hey #1", "grpc-a: hey #2", "grpc-a: hey #3"])

        let calls = backend.received
        #expect(calls.map(\.method) == ["Unary", "ServerStream"])
        #expect(calls.map { $0.metadata[":authority"] } == ["grpc.example.com", "grpc.example.com"])
        #expect(calls.first?.metadata["x-test"] == "1")
        #expect(calls.first?.metadata[":path"] == "/chancery.test.Echo/Unary")
        await backend.stop()
    }

    @Test func grpcBackendsServeTheirOwnServiceName() async throws {
        let backend = try await GRPCBackend.start(name: "grpc-b", service: "chancery.test.Other")
        #expect(backend.service == "chancery.test.Other")
        let answer = try await grpcUnary(
            port: backend.port, authority: "grpc.example.com", service: "chancery.test.Other", message: "yo")
        #expect(answer == "grpc-b: yo")
        do {
            _ = try await grpcUnary(port: backend.port, authority: "grpc.example.com", message: "yo")
            Issue.record("the default service should not be served")
        } catch {
            #expect("\(error)".lowercased().contains("unimplemented"), "\(error)")
        }
        await backend.stop()
    }
}
