import ArgumentParser
import XDS

extension Chancery {
    struct Bootstrap: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an Envoy bootstrap that takes its configuration from Chancery.",
            discussion: """
                Save the output and start Envoy with it:
                  chancery bootstrap --xds-address 127.0.0.1:18000 --proxy default/quickstart > envoy.yaml
                  envoy -c envoy.yaml
                A mesh proxy names what it serves instead of a group (docs/mesh.md):
                  chancery bootstrap --sidecar --pod shop/echo-0 --xds-socket /run/chancery/xds.sock
                  chancery bootstrap --node-proxy node-1 --xds-socket /run/chancery/xds.sock
                """)

        @Option(help: "Chancery's xDS address (HOST:PORT). (default: \(HostPort.defaultXDS))", transform: parseHostPort)
        var xdsAddress: HostPort = .defaultXDS

        @Option(help: "Reach Chancery on this unix socket instead (serve --xds-socket): for proxies in another network namespace of its host.")
        var xdsSocket: String?

        @Option(help: "Proxy group: NAMESPACE/GATEWAY for one Gateway, or a GatewayClass name.")
        var proxy: String?

        @Flag(help: "A mesh sidecar: serves the Pod --pod names (its capture listeners: outbound 15001, inbound 15006).")
        var sidecar = false

        @Option(help: "The sidecar's Pod, NAMESPACE/NAME.")
        var pod: String?

        @Option(help: "A mesh node-level proxy serving every mesh Pod on this node (its capture listeners: outbound 15001, inbound 15006).")
        var nodeProxy: String?

        @Option(help: "This proxy's node id (default: GROUP-HOSTNAME).")
        var nodeID: String?

        @Option(help: "Port of Envoy's admin interface on 127.0.0.1.")
        var adminPort: Int = XDS.Bootstrap.defaultAdminPort

        @Flag(help: "Use delta xDS instead of state of the world.")
        var delta = false

        @Option(
            name: .customLong("xds-tls-ca"),
            help: "Reach Chancery over TLS (serve --xds-tls-cert): the PEM file of the CA that signed its certificate.")
        var xdsTLSCA: String?

        @Option(help: "With --xds-tls-ca: the name Chancery's certificate must carry (sent as SNI).")
        var xdsServerName: String?

        @Option(help: "With --xds-tls-ca: this proxy's client certificate, PEM file (serve --xds-client-ca).")
        var xdsTLSCert: String?

        @Option(help: "The key of --xds-tls-cert, PEM file.")
        var xdsTLSKey: String?

        @Option(help: "File holding a Kubernetes service account token, sent on every xDS stream (serve checks it with a TokenReview).")
        var xdsTokenFile: String?

        func validate() throws {
            let kinds = [proxy != nil, sidecar, nodeProxy != nil].filter { $0 }.count
            guard kinds == 1 else { throw ValidationError("give one of --proxy GROUP, --sidecar --pod NAMESPACE/NAME, --node-proxy NODE") }
            if let proxy, proxy.isEmpty { throw ValidationError("--proxy must name a proxy group") }
            if sidecar {
                guard let pod else { throw ValidationError("--sidecar needs --pod NAMESPACE/NAME") }
                let parts = pod.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw ValidationError("--pod must be NAMESPACE/NAME, not '\(pod)'")
                }
            } else if pod != nil {
                throw ValidationError("--pod goes with --sidecar")
            }
            if let nodeProxy, nodeProxy.isEmpty { throw ValidationError("--node-proxy must name a node") }
            guard (0...65535).contains(adminPort) else { throw ValidationError("--admin-port must be 0…65535") }
            if (xdsTLSCert == nil) != (xdsTLSKey == nil) { throw ValidationError("--xds-tls-cert and --xds-tls-key go together") }
            if xdsTLSCA == nil, xdsTLSCert != nil || xdsServerName != nil {
                throw ValidationError("--xds-tls-cert and --xds-server-name need --xds-tls-ca")
            }
            if xdsTLSCA != nil, xdsSocket != nil { throw ValidationError("the unix socket (--xds-socket) is plaintext; --xds-tls-ca is for --xds-address") }
        }

        func run() throws {
            var bootstrap: XDS.Bootstrap
            let capture = "Capture ports (chancery mesh-init sends traffic there): outbound 15001, inbound 15006."
            if sidecar, let pod {
                let group = MeshGrouping.sidecarGroup(pod)
                bootstrap = XDS.Bootstrap(
                    xdsAddress: xdsAddress, group: group, nodeID: nodeID ?? "sidecar~\(pod.replacingOccurrences(of: "/", with: "."))",
                    adminPort: adminPort, delta: delta)
                bootstrap.metadata = [MeshGrouping.podKey: pod]
                bootstrap.note = "Mesh sidecar of Pod \(pod). \(capture)"
            } else if let nodeProxy {
                bootstrap = XDS.Bootstrap(
                    xdsAddress: xdsAddress, group: MeshGrouping.nodeGroup(nodeProxy), nodeID: nodeID ?? "node~\(nodeProxy)",
                    adminPort: adminPort, delta: delta)
                bootstrap.metadata = [MeshGrouping.nodeKey: nodeProxy]
                bootstrap.note = "Mesh node-level proxy of node \(nodeProxy): serves every mesh Pod on it. \(capture)"
            } else {
                bootstrap = XDS.Bootstrap(xdsAddress: xdsAddress, group: proxy ?? "", nodeID: nodeID, adminPort: adminPort, delta: delta)
            }
            bootstrap.xdsSocket = xdsSocket
            bootstrap.tls = xdsTLSCA.map { XDS.Bootstrap.TLS(ca: $0, certificate: xdsTLSCert, key: xdsTLSKey, serverName: xdsServerName) }
            if let xdsTokenFile {
                let token = try String(contentsOfFile: xdsTokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                guard !token.isEmpty else { throw ValidationError("--xds-token-file \(xdsTokenFile) is empty") }
                bootstrap.token = token
            }
            print(bootstrap.yaml, terminator: "")
        }
    }
}

extension HostPort {
    /// Where `serve` listens for xDS, and where `bootstrap` points Envoy, by default.
    static let defaultXDS = HostPort(host: "127.0.0.1", port: 18000)
    /// Where `serve` serves the admin endpoint, and where `wait` asks, by default.
    static let defaultAdmin = HostPort(host: "127.0.0.1", port: 19000)
}

func parseHostPort(_ text: String) throws -> HostPort {
    guard let address = HostPort(text) else {
        throw ValidationError("'\(text)' is not HOST:PORT (for example 127.0.0.1:18000)")
    }
    return address
}
