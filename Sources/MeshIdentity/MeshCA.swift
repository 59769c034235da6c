import Crypto
import EnvoyBuild
import Foundation
import SwiftASN1
import Synchronization
import X509

/// The mesh's certificate authority: it issues each workload a short-lived X.509
/// certificate whose URI SAN is its SPIFFE ID (an X.509-SVID), when the workload's proxy
/// resources are built, and renews it once half its lifetime has passed. Issued keys stay
/// in memory; they are never logged, and the admin endpoint redacts them
/// (docs/mesh-security.md).
public final class MeshCA: MeshCertificateSource, Sendable {
    /// How long a workload certificate is valid (24 h unless `serve --workload-cert-ttl`).
    public let lifetime: TimeInterval
    /// The CA's own certificate, PEM.
    public let certificatePEM: String
    /// What workloads trust: this CA's certificate, then any other roots configured
    /// (the previous root, while a root rotation is under way).
    public let trustBundlePEM: String
    private let certificate: Certificate
    private let key: Certificate.PrivateKey
    private let now: @Sendable () -> Date
    private let issued = Mutex<[String: Issued]>([:])

    public static let defaultLifetime: TimeInterval = 24 * 3600
    /// Certificates start this long before they are issued, for clocks a little behind.
    static let backdate: TimeInterval = 300

    struct Issued {
        let chainPEM: String
        let keyPEM: String
        let issuedAt: Date
    }

    /// A CA whose files are in `directory` (`ca.crt` and `ca.key`, PEM; `trust-bundle.pem`
    /// optional: more roots workloads trust). When neither file is there, a new CA is made
    /// and written there (the key readable by its owner alone), atomically: processes
    /// starting together end up with the same CA.
    public static func load(
        directory: URL, trustDomain: String, lifetime: TimeInterval = defaultLifetime,
        now: @escaping @Sendable () -> Date = Date.init
    ) throws -> MeshCA {
        let fm = FileManager.default
        let certificateFile = directory.appendingPathComponent("ca.crt")
        let keyFile = directory.appendingPathComponent("ca.key")
        let hasCertificate = fm.fileExists(atPath: certificateFile.path)
        let hasKey = fm.fileExists(atPath: keyFile.path)
        if !hasCertificate && !hasKey {
            // Written in a directory of its own beside, then renamed into place: either this
            // process's pair is there whole, or another's, which is then read.
            let root = try newRoot(trustDomain: trustDomain, now: now())
            let parent = directory.deletingLastPathComponent()
            try fm.createDirectory(at: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let staging = parent.appendingPathComponent(".\(directory.lastPathComponent)-\(UUID().uuidString)")
            try fm.createDirectory(at: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            defer { try? fm.removeItem(at: staging) }
            try root.certificatePEM.write(to: staging.appendingPathComponent("ca.crt"), atomically: false, encoding: .utf8)
            guard
                fm.createFile(
                    atPath: staging.appendingPathComponent("ca.key").path, contents: Data(root.keyPEM.utf8),
                    attributes: [.posixPermissions: 0o600])
            else { throw MeshCAError.unwritable(keyFile.path) }
            // rename(2) replaces an empty directory (one made for the CA), never a full one.
            if rename(staging.path, directory.path) == 0 {
                return try MeshCA(pem: root.certificatePEM, key: root.keyPEM, lifetime: lifetime, now: now)
            }
            guard fm.fileExists(atPath: certificateFile.path) else { throw MeshCAError.unwritable(directory.path) }
            return try load(directory: directory, trustDomain: trustDomain, lifetime: lifetime, now: now)
        }
        guard hasCertificate, hasKey else {
            throw MeshCAError.incomplete(directory.path, missing: hasCertificate ? "ca.key" : "ca.crt")
        }
        let certificatePEM = try String(contentsOf: certificateFile, encoding: .utf8)
        let keyPEM = try String(contentsOf: keyFile, encoding: .utf8)
        let bundleFile = directory.appendingPathComponent("trust-bundle.pem")
        let extra = fm.fileExists(atPath: bundleFile.path) ? try String(contentsOf: bundleFile, encoding: .utf8) : ""
        return try MeshCA(certificatePEM: certificatePEM, keyPEM: keyPEM, extraRootsPEM: extra, lifetime: lifetime, now: now)
    }

    /// A new CA in memory: a P-256 key and a self-signed certificate valid for ten years.
    public static func generate(
        trustDomain: String, lifetime: TimeInterval = defaultLifetime, now: @escaping @Sendable () -> Date = Date.init
    ) throws -> MeshCA {
        let root = try newRoot(trustDomain: trustDomain, now: now())
        return try MeshCA(pem: root.certificatePEM, key: root.keyPEM, lifetime: lifetime, now: now)
    }

    /// A CA from its certificate and key (PEM) and any more roots workloads trust.
    public convenience init(
        pem certificatePEM: String, key keyPEM: String, extraRoots: String = "", lifetime: TimeInterval = defaultLifetime,
        now: @escaping @Sendable () -> Date = Date.init
    ) throws {
        try self.init(certificatePEM: certificatePEM, keyPEM: keyPEM, extraRootsPEM: extraRoots, lifetime: lifetime, now: now)
    }

    /// A new root for a CA to be stored (a directory, a Kubernetes Secret): a P-256 key
    /// and a self-signed certificate for `trustDomain`, valid for ten years, both PEM.
    public static func newRoot(trustDomain: String, now start: Date = Date()) throws -> (certificatePEM: String, keyPEM: String) {
        let signing = P256.Signing.PrivateKey()
        let key = Certificate.PrivateKey(signing)
        let publicKey = Certificate.PublicKey(signing.publicKey)
        let name = try DistinguishedName {
            OrganizationName(trustDomain)
            CommonName("Chancery mesh CA")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: start - backdate, notValidAfter: start + 10 * 365 * 86400, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
                SubjectAlternativeNames([.uniformResourceIdentifier("spiffe://\(trustDomain)")])
            },
            issuerPrivateKey: key)
        return (try certificate.serializeAsPEM().pemString, signing.pemRepresentation)
    }

    init(certificatePEM: String, keyPEM: String, extraRootsPEM: String, lifetime: TimeInterval, now: @escaping @Sendable () -> Date) throws {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw MeshCAError.unreadable("ca.crt", "\(error)")
        }
        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemEncoded: keyPEM)
        } catch {
            throw MeshCAError.unreadable("ca.key", "\(error)")
        }
        guard key.publicKey == certificate.publicKey else { throw MeshCAError.keyMismatch }
        guard let constraints = try? certificate.extensions.basicConstraints, case .isCertificateAuthority = constraints else {
            throw MeshCAError.notACA
        }
        guard lifetime >= 10 else { throw MeshCAError.lifetimeTooShort(lifetime) }
        self.certificate = certificate
        self.key = key
        self.certificatePEM = certificatePEM.hasSuffix("\n") ? certificatePEM : certificatePEM + "\n"
        let extra = extraRootsPEM.trimmingCharacters(in: .whitespacesAndNewlines)
        trustBundlePEM = self.certificatePEM + (extra.isEmpty ? "" : extra + "\n")
        self.lifetime = lifetime
        self.now = now
        // A key this CA cannot sign workload certificates with (RSA: leaves are signed
        // ECDSA with SHA-256) is refused now, not at the first workload.
        do {
            _ = try issue("spiffe://check/ns/check/sa/check", at: now())
        } catch {
            throw MeshCAError.cannotSign("\(error)")
        }
    }

    /// The current certificate for `identity`: the one issued before while less than
    /// half its lifetime has passed, else a new one.
    public func certificate(for identity: String) -> (chainPEM: String, keyPEM: String)? {
        let time = now()
        if let current = issued.withLock({ $0[identity] }), time < renewal(of: current) {
            return (current.chainPEM, current.keyPEM)
        }
        guard let fresh = try? issue(identity, at: time) else { return nil }
        issued.withLock { $0[identity] = fresh }
        return (fresh.chainPEM, fresh.keyPEM)
    }

    private func renewal(of issued: Issued) -> Date { issued.issuedAt + lifetime / 2 }

    /// When the next certificate issued so far is due for renewal.
    public var nextRenewal: Date? { issued.withLock { $0.values.map(renewal).min() } }

    /// Whether some certificate is due for renewal now.
    public var renewalDue: Bool { nextRenewal.map { $0 <= now() } ?? false }

    /// Drops the certificates of identities no longer served.
    public func keep(only identities: Set<String>) {
        issued.withLock { issued in issued = issued.filter { identities.contains($0.key) } }
    }

    /// How many identities hold a certificate.
    public var issuedCount: Int { issued.withLock { $0.count } }

    private func issue(_ identity: String, at time: Date) throws -> Issued {
        let signing = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(signing.publicKey)
        let notAfter = min(time + lifetime, certificate.notValidAfter)
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: time - Self.backdate, notValidAfter: notAfter, issuer: certificate.subject,
            subject: try DistinguishedName { OrganizationName(certificate.subject.organization ?? "chancery") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
                Critical(SubjectAlternativeNames([.uniformResourceIdentifier(identity)]))
            },
            issuerPrivateKey: key)
        return Issued(
            chainPEM: try leaf.serializeAsPEM().pemString + "\n", keyPEM: signing.pemRepresentation, issuedAt: time)
    }
}

extension DistinguishedName {
    /// The first organization (O) of the name.
    var organization: String? {
        for rdn in self {
            for attribute in rdn where attribute.type == .RDNAttributeType.organizationName {
                return String(attribute.value) ?? attribute.value.description
            }
        }
        return nil
    }
}

/// Why the mesh CA could not be loaded.
public enum MeshCAError: Error, CustomStringConvertible {
    case incomplete(String, missing: String)
    case unreadable(String, String)
    case keyMismatch
    case notACA
    case unwritable(String)
    case lifetimeTooShort(TimeInterval)
    case cannotSign(String)

    public var description: String {
        switch self {
        case .incomplete(let directory, let missing):
            "mesh CA directory \(directory) has one of ca.crt and ca.key but not \(missing): give both, or neither to make a new CA"
        case .unreadable(let file, let error): "mesh CA: \(file) is not a PEM certificate or key: \(error)"
        case .keyMismatch: "mesh CA: ca.key is not the key of ca.crt"
        case .notACA: "mesh CA: ca.crt is not a CA certificate (basicConstraints CA:TRUE)"
        case .unwritable(let path): "mesh CA: cannot write \(path)"
        case .lifetimeTooShort(let seconds): "workload certificate lifetime \(Int(seconds)) s is under 10 s"
        case .cannotSign(let error): "mesh CA: ca.key cannot sign workload certificates (an EC P-256 key is needed): \(error)"
        }
    }
}
