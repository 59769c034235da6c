import GatewayModel

/// A secret served over SDS: a certificate with its key, or the CAs a backend's
/// certificate must chain to. Encoding never shows a private key.
public struct SecretPlan: Hashable, Sendable, Encodable {
    /// `namespace/name` for certificates, `namespace/policy/ca` or `chancery/system-ca` for CAs,
    /// ``SecretPlan/workloadCertificateName`` and ``SecretPlan/meshTrustBundleName`` in the mesh.
    public var name: String
    public var content: Content
    /// The Gateways, Secrets and policies it was made from.
    public var origins: Origins

    public init(name: String, content: Content, origins: Origins) {
        self.name = name
        self.content = content
        self.origins = origins
    }

    public enum Content: Hashable, Sendable, Encodable {
        /// A checked certificate chain (leaf first) and its key, PEM.
        case certificate(chainPEM: String, keyPEM: String)
        /// CA certificates, PEM.
        case trustedCA(bundlePEM: String)
        /// The proxy's own file of system CAs.
        case trustedCAFile(path: String)
        /// CA certificates for client certificates, PEM; with `acceptUntrusted`, a
        /// certificate that does not validate is let through (insecure fallback).
        case clientCA(bundlePEM: String, acceptUntrusted: Bool)
        /// A mesh workload's certificate and key for `identity` (a SPIFFE ID), issued by
        /// the mesh CA when the resources are built, never planned (docs/mesh-security.md).
        case workloadCertificate(identity: String)
        /// The mesh CA's roots: what a workload's peer certificate must chain to.
        case meshTrustBundle

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .certificate(let chain, _):
                try encoder.encodeCase("certificate", ["chainPEM": chain, "keyPEM": "[redacted]"])
            case .trustedCA(let bundle): try encoder.encodeCase("trustedCA", ["bundlePEM": bundle])
            case .trustedCAFile(let path): try encoder.encodeCase("trustedCAFile", ["path": path])
            case .clientCA(let bundle, let acceptUntrusted):
                try encoder.encodeCase(
                    "clientCA", ["bundlePEM": bundle, "acceptUntrusted": acceptUntrusted ? "true" : "false"])
            case .workloadCertificate(let identity): try encoder.encodeCase("workloadCertificate", ["identity": identity])
            case .meshTrustBundle: try encoder.encodeCase("meshTrustBundle", [String: String]())
            }
        }
    }

    /// A sidecar's own certificate, under the name Istio's sidecars use.
    public static let workloadCertificateName = "default"
    /// The mesh CA's roots, under the name Istio's sidecars use.
    public static let meshTrustBundleName = "ROOTCA"

    enum CodingKeys: String, CodingKey { case name, content, origins }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(content, forKey: .content)
        try container.encode(origins, forKey: .origins)
    }
}
