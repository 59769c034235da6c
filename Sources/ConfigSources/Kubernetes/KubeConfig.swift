import Foundation
import Yams

/// How to reach and authenticate to a Kubernetes API server: from a kubeconfig file
/// (`--kubeconfig`, current context or `--context`) or from inside a Pod
/// (`--in-cluster`).
public struct KubeConnection: Sendable {
    /// `https://host:port`, without a trailing slash.
    public var server: String
    /// PEM CA bundle to trust; nil trusts the system's CAs.
    public var caPEM: String?
    /// Accept any server certificate (kubeconfig `insecure-skip-tls-verify`).
    public var insecureSkipTLSVerify = false
    public var clientCertificatePEM: String?
    public var clientKeyPEM: String?
    public var token: Token?
    /// The context's namespace (in-cluster: the Pod's), for the leader-election Lease.
    public var namespace: String = "default"

    public enum Token: Sendable {
        case literal(String)
        /// Re-read on every request, so a rotated service-account token is picked up.
        case file(String)

        public func current() throws -> String {
            switch self {
            case .literal(let value): return value
            case .file(let path):
                do {
                    return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                } catch {
                    throw KubeConfigError("cannot read token file \(path): \(error.localizedDescription)")
                }
            }
        }
    }

    public init(server: String, caPEM: String? = nil, token: Token? = nil) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.caPEM = caPEM
        self.token = token
    }

    /// Reads a kubeconfig. Every error names the file and the field that is wrong.
    public static func kubeconfig(path: String, context wanted: String? = nil) throws -> KubeConnection {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KubeConfigError("\(path): cannot read the kubeconfig: \(error.localizedDescription)")
        }
        guard let root = try? Yams.load(yaml: text) as? [String: Any] else {
            throw KubeConfigError("\(path): not a kubeconfig (expected a YAML mapping with clusters, users and contexts)")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func fail(_ field: String, _ message: String) -> KubeConfigError {
            KubeConfigError("\(path): \(field): \(message)")
        }
        func named(_ list: String, _ name: String) throws -> [String: Any] {
            let entries = root[list] as? [[String: Any]] ?? []
            guard let entry = entries.first(where: { $0["name"] as? String == name }) else {
                let known = entries.compactMap { $0["name"] as? String }
                throw fail(list, "no entry named \"\(name)\" (have: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
            }
            let key = String(list.dropLast())  // clusters → cluster
            guard let body = entry[key] as? [String: Any] else {
                throw fail("\(list)[\(name)].\(key)", "missing")
            }
            return body
        }
        guard let contextName = wanted ?? (root["current-context"] as? String), !contextName.isEmpty else {
            throw fail("current-context", "not set; pass --context NAME")
        }
        let context = try named("contexts", contextName)
        guard let clusterName = context["cluster"] as? String else {
            throw fail("contexts[\(contextName)].context.cluster", "missing")
        }
        let cluster = try named("clusters", clusterName)
        guard let server = cluster["server"] as? String, let url = URL(string: server), url.scheme != nil, url.host != nil else {
            throw fail("clusters[\(clusterName)].cluster.server", "missing or not a URL (\(cluster["server"] ?? "none"))")
        }
        var connection = KubeConnection(server: server)
        if let namespace = context["namespace"] as? String { connection.namespace = namespace }

        func file(_ field: String, _ value: Any?) throws -> String? {
            guard let relative = value as? String else { return nil }
            let url = relative.hasPrefix("/") ? URL(fileURLWithPath: relative) : base.appendingPathComponent(relative)
            do {
                return try String(contentsOf: url, encoding: .utf8)
            } catch {
                throw fail(field, "cannot read \(url.path): \(error.localizedDescription)")
            }
        }
        func data(_ field: String, _ value: Any?) throws -> String? {
            guard let encoded = value as? String else { return nil }
            guard let decoded = Data(base64Encoded: encoded.filter { !$0.isWhitespace }),
                let text = String(data: decoded, encoding: .utf8)
            else { throw fail(field, "not valid base64 PEM") }
            return text
        }
        let clusterPath = "clusters[\(clusterName)].cluster"
        connection.caPEM =
            try data("\(clusterPath).certificate-authority-data", cluster["certificate-authority-data"])
            ?? file("\(clusterPath).certificate-authority", cluster["certificate-authority"])
        if let insecure = cluster["insecure-skip-tls-verify"] as? Bool { connection.insecureSkipTLSVerify = insecure }
        if let caPEM = connection.caPEM, !caPEM.contains("BEGIN CERTIFICATE") {
            throw fail("\(clusterPath).certificate-authority", "holds no PEM certificate")
        }

        if let userName = context["user"] as? String, !userName.isEmpty {
            let user = try named("users", userName)
            let userPath = "users[\(userName)].user"
            connection.clientCertificatePEM =
                try data("\(userPath).client-certificate-data", user["client-certificate-data"])
                ?? file("\(userPath).client-certificate", user["client-certificate"])
            connection.clientKeyPEM =
                try data("\(userPath).client-key-data", user["client-key-data"])
                ?? file("\(userPath).client-key", user["client-key"])
            if (connection.clientCertificatePEM == nil) != (connection.clientKeyPEM == nil) {
                throw fail(userPath, "client-certificate and client-key must be given together")
            }
            if let token = user["token"] as? String, !token.isEmpty {
                connection.token = .literal(token)
            } else if let tokenFile = user["tokenFile"] as? String {
                let url = tokenFile.hasPrefix("/") ? URL(fileURLWithPath: tokenFile) : base.appendingPathComponent(tokenFile)
                guard FileManager.default.isReadableFile(atPath: url.path) else {
                    throw fail("\(userPath).tokenFile", "cannot read \(url.path)")
                }
                connection.token = .file(url.path)
            }
            for unsupported in ["exec", "auth-provider", "username"] where user[unsupported] != nil {
                throw fail(
                    "\(userPath).\(unsupported)",
                    "not supported; use a token, a tokenFile or a client certificate (for example a ServiceAccount token)")
            }
        }
        return connection
    }

    /// The Pod's service account: `KUBERNETES_SERVICE_HOST`/`_PORT`, the CA and the
    /// token (re-read on every request, as kubelet rotates it).
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        root: String = "/var/run/secrets/kubernetes.io/serviceaccount"
    ) throws -> KubeConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] else {
            throw KubeConfigError(
                "--in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; is this running in a Pod?")
        }
        let tokenPath = root + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeConfigError("--in-cluster: cannot read the service-account token at \(tokenPath)")
        }
        let ca: String
        do {
            ca = try String(contentsOfFile: root + "/ca.crt", encoding: .utf8)
        } catch {
            throw KubeConfigError("--in-cluster: cannot read the cluster CA at \(root)/ca.crt")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        var connection = KubeConnection(server: "https://\(hostPart):\(port)", caPEM: ca, token: .file(tokenPath))
        if let namespace = try? String(contentsOfFile: root + "/namespace", encoding: .utf8) {
            connection.namespace = namespace.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return connection
    }
}

public struct KubeConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
