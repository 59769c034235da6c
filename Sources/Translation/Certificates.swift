import Foundation
import GatewayModel
import SwiftASN1
import X509

/// A `kubernetes.io/tls` Secret whose certificate and key passed every check, ready to be
/// served over SDS.
struct CheckedCertificate: Hashable {
    /// The certificate chain, leaf first, as PEM.
    let chainPEM: String
    let keyPEM: String
    let subject: String
    let dnsNames: [String]
    let notAfter: Date
    /// Set when the certificate expires within ``CertificateCheck/warningWindow``.
    let warning: String?
}

/// The checks a certificate passes before Chancery serves it: the PEM parses, the key is
/// the certificate's key, the certificate is valid now. None of the messages quote the
/// key, only what is wrong with it.
enum CertificateCheck {
    /// Certificates expiring sooner than this get a warning (still served).
    static let warningWindow: TimeInterval = 14 * 86_400

    static func check(_ secret: Secret, now: Date) -> Result<CheckedCertificate, CertificateProblem> {
        let name = "Secret \(secret.metadata.namespace ?? "default")/\(secret.metadata.name)"
        if let type = secret.type, type != "kubernetes.io/tls" {
            return .failure(.init("\(name) has type \(type); a listener certificate needs type kubernetes.io/tls"))
        }
        guard let certText = value(secret, "tls.crt") else {
            return .failure(.init("\(name) has no tls.crt (or it is not valid base64)"))
        }
        guard let keyText = value(secret, "tls.key") else {
            return .failure(.init("\(name) has no tls.key (or it is not valid base64)"))
        }
        let chain: [Certificate]
        do {
            let documents = try PEMDocument.parseMultiple(pemString: certText).filter { $0.discriminator == "CERTIFICATE" }
            chain = try documents.map { try Certificate(derEncoded: $0.derBytes) }
        } catch {
            return .failure(.init("\(name): tls.crt is not a PEM certificate: \(describe(error))"))
        }
        guard let leaf = chain.first else {
            return .failure(.init("\(name): tls.crt holds no CERTIFICATE block"))
        }
        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemEncoded: keyText)
        } catch {
            // Never quote the key: say only what kind of problem it has.
            return .failure(.init("\(name): tls.key is not a PEM private key (PKCS#8, SEC1 or PKCS#1) Chancery can read"))
        }
        guard key.publicKey == leaf.publicKey else {
            return .failure(.init("\(name): tls.key is not the private key of the certificate in tls.crt"))
        }
        let subject = leaf.subject.description
        if now > leaf.notValidAfter {
            return .failure(.init("\(name): certificate \(subject) expired on \(day(leaf.notValidAfter))"))
        }
        if now < leaf.notValidBefore {
            return .failure(.init("\(name): certificate \(subject) is not valid before \(day(leaf.notValidBefore))"))
        }
        var dnsNames: [String] = []
        if let names = try? leaf.extensions.subjectAlternativeNames {
            for general in names {
                if case .dnsName(let dns) = general { dnsNames.append(dns) }
            }
        }
        var warning: String?
        if leaf.notValidAfter.timeIntervalSince(now) < warningWindow {
            let days = Int(leaf.notValidAfter.timeIntervalSince(now) / 86_400)
            warning = "\(name): certificate \(subject) expires on \(day(leaf.notValidAfter)) (in \(days) days)"
        }
        return .success(
            CheckedCertificate(
                chainPEM: normalised(certText), keyPEM: normalised(keyText), subject: subject, dnsNames: dnsNames,
                notAfter: leaf.notValidAfter, warning: warning))
    }

    /// A ConfigMap's CA bundle (`ca.crt`): at least one certificate, all parseable.
    static func checkBundle(_ configMap: ConfigMap) -> Result<String, CertificateProblem> {
        checkBundle(
            configMap.data?["ca.crt"], of: "ConfigMap \(configMap.metadata.namespace ?? "default")/\(configMap.metadata.name)")
    }

    /// A `ca.crt` value of the object `name` (a ConfigMap, a Secret) as a bundle.
    static func checkBundle(_ text: String?, of name: String) -> Result<String, CertificateProblem> {
        guard let text else {
            return .failure(.init("\(name) has no ca.crt"))
        }
        do {
            let documents = try PEMDocument.parseMultiple(pemString: text).filter { $0.discriminator == "CERTIFICATE" }
            guard !documents.isEmpty else { return .failure(.init("\(name): ca.crt holds no CERTIFICATE block")) }
            for document in documents { _ = try Certificate(derEncoded: document.derBytes) }
        } catch {
            return .failure(.init("\(name): ca.crt is not a PEM certificate bundle: \(describe(error))"))
        }
        return .success(normalised(text))
    }

    /// A Secret value: `stringData` over base64 `data`, as the API server merges them.
    static func value(_ secret: Secret, _ key: String) -> String? {
        if let text = secret.stringData?[key] { return text }
        guard let encoded = secret.data?[key],
            let data = Data(base64Encoded: encoded.filter { !$0.isWhitespace }),
            let text = String(data: data, encoding: .utf8)
        else { return nil }
        return text
    }

    private static func normalised(_ pem: String) -> String {
        pem.hasSuffix("\n") ? pem : pem + "\n"
    }

    private static func day(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    private static func describe(_ error: any Error) -> String {
        // ASN.1 errors carry a reason; keep it short and free of input bytes.
        let text = "\(error)"
        return text.count > 160 ? String(text.prefix(160)) + "…" : text
    }
}

struct CertificateProblem: Error, Hashable {
    enum Kind: Hashable {
        /// The certificate or bundle is missing, unreadable or not valid now.
        case unusable
        /// A reference names something that is not a ConfigMap.
        case notAConfigMap
    }

    let message: String
    let kind: Kind

    init(_ message: String, kind: Kind = .unusable) {
        self.message = message
        self.kind = kind
    }
}
