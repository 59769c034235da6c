import ConfigSources
import Foundation
import Logging
import MeshIdentity

/// The mesh CA kept in a Kubernetes Secret (`serve --mesh-ca-secret NAMESPACE/NAME`):
/// read at start, or made and stored there on first start, so that every replica and
/// every restart signs with the same root. Keys `ca.crt`, `ca.key` and, optionally,
/// `trust-bundle.pem` (more roots workloads trust, while a root rotation is under way).
enum MeshCASecret {
    /// The Secret's name when no flag names one (in Chancery's namespace).
    static let defaultName = "chancery-mesh-ca"
    static let certificateKey = "ca.crt"
    static let keyKey = "ca.key"
    static let bundleKey = "trust-bundle.pem"

    struct Failed: Error, CustomStringConvertible {
        let description: String
        /// The Secret holds something that is not a whole CA (rather than the API server
        /// refusing or failing).
        var content = false
    }

    static func load(
        client: KubeClient, namespace: String, name: String, trustDomain: String, lifetime: TimeInterval, logger: Logger
    ) async throws -> MeshCA {
        let path = "/api/v1/namespaces/\(namespace)/secrets/\(name)"
        // Twice at most: a replica that loses the race to create it reads the winner's.
        for _ in 0..<2 {
            let response = try await client.send(.GET, path)
            switch response.status {
            case 200:
                guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
                    throw Failed(description: "Secret \(namespace)/\(name) is not JSON", content: true)
                }
                let data = object["data"] as? [String: String] ?? [:]
                func field(_ key: String) -> String? {
                    data[key].flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
                }
                guard let certificate = field(certificateKey), let key = field(keyKey) else {
                    throw Failed(
                        description: "Secret \(namespace)/\(name) lacks \(field(certificateKey) == nil ? certificateKey : keyKey): give both \(certificateKey) and \(keyKey), or delete it and Chancery makes a new CA there",
                        content: true)
                }
                let ca = try MeshCA(pem: certificate, key: key, extraRoots: field(bundleKey) ?? "", lifetime: lifetime)
                logger.info("mesh CA loaded from a Secret", metadata: ["secret": "\(namespace)/\(name)"])
                return ca
            case 404:
                let root = try MeshCA.newRoot(trustDomain: trustDomain)
                let secret: [String: Any] = [
                    "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": [
                        "name": name, "namespace": namespace, "labels": ["app.kubernetes.io/managed-by": "chancery"],
                    ],
                    "data": [
                        certificateKey: Data(root.certificatePEM.utf8).base64EncodedString(),
                        keyKey: Data(root.keyPEM.utf8).base64EncodedString(),
                    ],
                ]
                let created = try await client.send(
                    .POST, "/api/v1/namespaces/\(namespace)/secrets", body: try JSONSerialization.data(withJSONObject: secret))
                switch created.status {
                case 200, 201:
                    logger.notice("mesh CA made and stored in a Secret", metadata: ["secret": "\(namespace)/\(name)"])
                    return try MeshCA(pem: root.certificatePEM, key: root.keyPEM, lifetime: lifetime)
                case 409:
                    continue
                default:
                    throw Failed(
                        description: "storing the mesh CA in Secret \(namespace)/\(name): the API server answered HTTP \(created.status)\(created.status == 403 ? " (Chancery's service account needs create on secrets there)" : "")")
                }
            default:
                throw Failed(
                    description: "reading the mesh CA's Secret \(namespace)/\(name): the API server answered HTTP \(response.status)\(response.status == 403 ? " (Chancery's service account needs get on secrets there)" : "")")
            }
        }
        throw Failed(description: "Secret \(namespace)/\(name) was created by someone else but cannot be read")
    }
}
