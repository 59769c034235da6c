import Crypto
import Foundation
import SwiftASN1
import X509

/// A leaf certificate and its private key, both PEM, as a TLS server (Envoy or a
/// ``TLSBackend``) loads them.
public struct TestCertificate: Sendable {
    public let certificatePEM: String
    /// PKCS#8 (`-----BEGIN PRIVATE KEY-----`), which BoringSSL and so Envoy accept.
    public let privateKeyPEM: String
    public let commonName: String

    public init(certificatePEM: String, privateKeyPEM: String, commonName: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.commonName = commonName
    }
}

/// A throwaway certificate authority made in memory (P-256, no openssl CLI), for tests
/// that need certificates a client can verify.
public struct TestCA: Sendable {
    /// The CA's own certificate: what a client trusts.
    public let certificatePEM: String
    private let certificate: Certificate
    private let privateKey: Certificate.PrivateKey

    /// A new self-signed CA, valid from an hour ago for ten years.
    public static func make(commonName: String = "Chancery Test CA") throws -> TestCA {
        let key = P256.Signing.PrivateKey()
        let privateKey = Certificate.PrivateKey(key)
        let publicKey = Certificate.PublicKey(key.publicKey)
        let name = try DistinguishedName {
            OrganizationName("Chancery tests")
            CommonName(commonName)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: Date() - 3600,
            notValidAfter: Date() + 10 * 365 * 86400,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: privateKey)
        return TestCA(
            certificatePEM: try certificate.serializeAsPEM().pemString, certificate: certificate,
            privateKey: privateKey)
    }

    private init(certificatePEM: String, certificate: Certificate, privateKey: Certificate.PrivateKey) {
        self.certificatePEM = certificatePEM
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// A leaf signed by this CA with SANs = dnsNames (DNS), ipAddresses (IPv4 dotted
    /// quads) and uris (URI: SPIFFE IDs), CN = commonName, serverAuth EKU (plus clientAuth when `clientAuth`).
    /// Its key is a fresh P-256 key; the dates may lie in the past to make an expired leaf.
    public func issue(
        commonName: String, dnsNames: [String], ipAddresses: [String] = [], uris: [String] = [], clientAuth: Bool = false,
        notValidBefore: Date = Date() - 3600, notValidAfter: Date = Date() + 30 * 86400
    ) throws -> TestCertificate {
        let ipNames = try ipAddresses.map { address in
            let octets = address.split(separator: ".").compactMap { UInt8($0) }
            guard octets.count == 4 else { throw TestCAError.invalidIPv4Address(address) }
            return GeneralName.ipAddress(ASN1OctetString(contentBytes: ArraySlice(octets)))
        }
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let authorityKeyID = try certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        let leaf = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: notValidBefore,
            notValidAfter: notValidAfter,
            issuer: certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("Chancery tests")
                CommonName(commonName)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage(clientAuth ? [.serverAuth, .clientAuth] : [.serverAuth])
                SubjectKeyIdentifier(hash: publicKey)
                AuthorityKeyIdentifier(keyIdentifier: authorityKeyID)
                // RFC 5280 forbids an empty SAN extension: a client certificate may have none.
                if !dnsNames.isEmpty || !ipNames.isEmpty || !uris.isEmpty {
                    SubjectAlternativeNames(
                        dnsNames.map { GeneralName.dnsName($0) } + ipNames + uris.map { GeneralName.uniformResourceIdentifier($0) })
                }
            },
            issuerPrivateKey: privateKey)
        return TestCertificate(
            certificatePEM: try leaf.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation,
            commonName: commonName)
    }
}

/// ``TestCA/issue(commonName:dnsNames:ipAddresses:clientAuth:notValidBefore:notValidAfter:)`` was given an address it cannot encode.
public enum TestCAError: Error {
    case invalidIPv4Address(String)
}

extension Certificate {
    /// The first common name (CN) in the certificate's subject, if it has one.
    var subjectCommonName: String? {
        for rdn in subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value) ?? attribute.value.description
            }
        }
        return nil
    }
}

extension TestCertificate {
    /// A `kubernetes.io/tls` Secret holding this certificate and key, as YAML.
    public func secretYAML(name: String, namespace: String = "default") -> String {
        func indent(_ pem: String) -> String {
            pem.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        }
        return """
            apiVersion: v1
            kind: Secret
            metadata: {name: \(name), namespace: \(namespace)}
            type: kubernetes.io/tls
            stringData:
              tls.crt: |
            \(indent(certificatePEM))
              tls.key: |
            \(indent(privateKeyPEM))

            """
    }
}
