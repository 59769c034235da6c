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
                """)

        @Option(help: "Chancery's xDS address (HOST:PORT). (default: \(HostPort.defaultXDS))", transform: parseHostPort)
        var xdsAddress: HostPort = .defaultXDS

        @Option(help: "Proxy group: NAMESPACE/GATEWAY for one Gateway, or a GatewayClass name.")
        var proxy: String

        @Option(help: "This proxy's node id (default: GROUP-HOSTNAME).")
        var nodeID: String?

        @Option(help: "Port of Envoy's admin interface on 127.0.0.1.")
        var adminPort: Int = XDS.Bootstrap.defaultAdminPort

        @Flag(help: "Use delta xDS instead of state of the world.")
        var delta = false

        func validate() throws {
            guard !proxy.isEmpty else { throw ValidationError("--proxy must name a proxy group") }
            guard (0...65535).contains(adminPort) else { throw ValidationError("--admin-port must be 0…65535") }
        }

        func run() throws {
            print(
                XDS.Bootstrap(xdsAddress: xdsAddress, group: proxy, nodeID: nodeID, adminPort: adminPort, delta: delta)
                    .yaml, terminator: "")
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
