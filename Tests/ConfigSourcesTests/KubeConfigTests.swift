import Foundation
import Testing

@testable import ConfigSources

/// Reading kubeconfigs and the in-cluster service account, and the errors that name
/// the field to fix.
@Suite struct KubeConfigTests {
    let dir: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()

    func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    static let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    @Test func currentContextWithDataFieldsAndToken() throws {
        let ca = Data(Self.pem.utf8).base64EncodedString()
        let path = try write(
            "config",
            """
            apiVersion: v1
            kind: Config
            current-context: dev
            clusters:
            - name: dev-cluster
              cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: \(ca)}
            - name: other
              cluster: {server: "https://other:6443", insecure-skip-tls-verify: true}
            users:
            - name: dev-user
              user: {token: abc123}
            contexts:
            - name: dev
              context: {cluster: dev-cluster, user: dev-user, namespace: gateways}
            - name: other
              context: {cluster: other, user: dev-user}
            """)
        let connection = try KubeConnection.kubeconfig(path: path)
        #expect(connection.server == "https://10.0.0.1:6443")
        #expect(connection.caPEM == Self.pem)
        #expect(connection.namespace == "gateways")
        #expect(try connection.token?.current() == "abc123")
        #expect(connection.insecureSkipTLSVerify == false)

        let other = try KubeConnection.kubeconfig(path: path, context: "other")
        #expect(other.server == "https://other:6443")
        #expect(other.insecureSkipTLSVerify)
        #expect(other.namespace == "default")
    }

    @Test func relativeFilesAndTokenFileAreReadFromTheKubeconfigsDirectory() throws {
        _ = try write("ca.crt", Self.pem)
        _ = try write("client.crt", Self.pem)
        _ = try write("client.key", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
        let tokenPath = try write("token", "first\n")
        let path = try write(
            "config",
            """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443", certificate-authority: ca.crt}}]
            users: [{name: u, user: {client-certificate: client.crt, client-key: client.key, tokenFile: token}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            """)
        let connection = try KubeConnection.kubeconfig(path: path)
        #expect(connection.caPEM == Self.pem)
        #expect(connection.clientCertificatePEM == Self.pem)
        #expect(connection.clientKeyPEM?.contains("PRIVATE KEY") == true)
        #expect(try connection.token?.current() == "first")
        // A rotated token file is read again.
        try "second\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        #expect(try connection.token?.current() == "second")
    }

    @Test func errorsNameTheField() throws {
        func error(_ yaml: String, context: String? = nil) throws -> String {
            let path = try write("bad-\(UUID().uuidString)", yaml)
            do {
                _ = try KubeConnection.kubeconfig(path: path, context: context)
                return "no error"
            } catch let error as KubeConfigError {
                return error.description
            }
        }
        #expect(try error("clusters: []\ncontexts: []").contains("current-context: not set; pass --context NAME"))
        #expect(
            try error("current-context: x\ncontexts: [{name: y, context: {cluster: k}}]")
                .contains("contexts: no entry named \"x\" (have: y)"))
        #expect(
            try error(
                """
                current-context: c
                contexts: [{name: c, context: {cluster: k}}]
                clusters: [{name: k, cluster: {server: "not a url"}}]
                """
            ).contains("clusters[k].cluster.server: missing or not a URL"))
        #expect(
            try error(
                """
                current-context: c
                contexts: [{name: c, context: {cluster: k}}]
                clusters: [{name: k, cluster: {server: "https://x:1", certificate-authority-data: "%%%"}}]
                """
            ).contains("clusters[k].cluster.certificate-authority-data: not valid base64 PEM"))
        #expect(
            try error(
                """
                current-context: c
                contexts: [{name: c, context: {cluster: k, user: u}}]
                clusters: [{name: k, cluster: {server: "https://x:1", certificate-authority: missing.crt}}]
                users: [{name: u, user: {token: t}}]
                """
            ).contains("clusters[k].cluster.certificate-authority: cannot read"))
        #expect(
            try error(
                """
                current-context: c
                contexts: [{name: c, context: {cluster: k, user: u}}]
                clusters: [{name: k, cluster: {server: "https://x:1"}}]
                users: [{name: u, user: {exec: {command: aws}}}]
                """
            ).contains("users[u].user.exec: not supported"))
    }

    @Test func inClusterReadsTheServiceAccount() throws {
        _ = try write("token", "sa-token")
        _ = try write("ca.crt", Self.pem)
        _ = try write("namespace", "chancery-system\n")
        let connection = try KubeConnection.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"], root: dir.path)
        #expect(connection.server == "https://10.96.0.1:443")
        #expect(connection.namespace == "chancery-system")
        #expect(try connection.token?.current() == "sa-token")
        #expect(throws: KubeConfigError.self) {
            _ = try KubeConnection.inCluster(environment: [:], root: dir.path)
        }
    }
}
