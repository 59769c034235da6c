import Foundation
import MeshIdentity
import SwiftASN1
import Synchronization
import Testing
import X509

/// The mesh CA: X.509-SVIDs for SPIFFE IDs, renewed at half their lifetime, kept in a
/// directory with a private key only its owner reads.
@Suite struct MeshCATests {
    /// A clock the test moves.
    final class Clock: Sendable {
        let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        func advance(_ seconds: TimeInterval) { time.withLock { $0 += seconds } }
        var now: Date { time.withLock { $0 } }
    }

    @Test func aWorkloadCertificateIsAnSVIDTheCASigned() throws {
        let clock = Clock()
        let ca = try MeshCA.generate(trustDomain: "example.org", lifetime: 3600, now: { clock.now })
        let issued = try #require(ca.certificate(for: "spiffe://example.org/ns/shop/sa/api"))
        let leaf = try Certificate(pemEncoded: issued.chainPEM)
        let root = try Certificate(pemEncoded: ca.certificatePEM)
        #expect(leaf.issuer == root.subject)
        #expect(root.publicKey.isValidSignature(leaf.signature, for: leaf))
        let names = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(Array(names) == [.uniformResourceIdentifier("spiffe://example.org/ns/shop/sa/api")])
        #expect(try leaf.extensions.extendedKeyUsage?.contains(.clientAuth) == true)
        #expect(try leaf.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        #expect(leaf.notValidAfter.timeIntervalSince(clock.now) == 3600)
        #expect(issued.keyPEM.contains("PRIVATE KEY"))
        #expect(ca.trustBundlePEM == ca.certificatePEM)
    }

    @Test func certificatesAreRenewedOnceHalfTheirLifetimeHasPassed() throws {
        let clock = Clock()
        let ca = try MeshCA.generate(trustDomain: "cluster.local", lifetime: 100, now: { clock.now })
        let first = try #require(ca.certificate(for: "spiffe://cluster.local/ns/a/sa/b"))
        #expect(ca.nextRenewal == clock.now + 50)
        clock.advance(49)
        #expect(!ca.renewalDue)
        #expect(ca.certificate(for: "spiffe://cluster.local/ns/a/sa/b")?.chainPEM == first.chainPEM)
        clock.advance(1)
        #expect(ca.renewalDue)
        let second = try #require(ca.certificate(for: "spiffe://cluster.local/ns/a/sa/b"))
        #expect(second.chainPEM != first.chainPEM && second.keyPEM != first.keyPEM)
        #expect(!ca.renewalDue)
        ca.keep(only: [])
        #expect(ca.issuedCount == 0 && ca.nextRenewal == nil)
    }

    @Test func aDirectoryKeepsTheCAAndNamesWhatIsWrongWithIt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-ca-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let made = try MeshCA.load(directory: directory, trustDomain: "cluster.local")
        let mode = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("ca.key").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let again = try MeshCA.load(directory: directory, trustDomain: "cluster.local")
        #expect(again.certificatePEM == made.certificatePEM)

        // More roots (the previous one, during a rotation) join the trust bundle.
        let previous = try MeshCA.generate(trustDomain: "cluster.local")
        try previous.certificatePEM.write(to: directory.appendingPathComponent("trust-bundle.pem"), atomically: true, encoding: .utf8)
        let rotating = try MeshCA.load(directory: directory, trustDomain: "cluster.local")
        #expect(rotating.trustBundlePEM == made.certificatePEM + previous.certificatePEM)

        // Another CA's certificate with this key: refused, saying why.
        try previous.certificatePEM.write(to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        #expect(throws: MeshCAError.self) { try MeshCA.load(directory: directory, trustDomain: "cluster.local") }
        do {
            _ = try MeshCA.load(directory: directory, trustDomain: "cluster.local")
        } catch {
            #expect("\(error)" == "mesh CA: ca.key is not the key of ca.crt")
        }
        // One file without the other.
        try FileManager.default.removeItem(at: directory.appendingPathComponent("ca.key"))
        do {
            _ = try MeshCA.load(directory: directory, trustDomain: "cluster.local")
            Issue.record("a CA without its key was loaded")
        } catch {
            #expect("\(error)".contains("has one of ca.crt and ca.key but not ca.key"))
        }
    }
}
