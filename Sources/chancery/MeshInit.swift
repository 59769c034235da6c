import ArgumentParser
import Foundation

extension Chancery {
    /// The iptables rules that send a Pod's TCP traffic through its mesh proxy, as
    /// Istio's init container writes them: what the Pod sends to the outbound capture
    /// port, what it receives to the inbound one, the proxy's own traffic excluded by
    /// its user or group.
    struct MeshInit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mesh-init",
            abstract: "Print (or apply) the iptables rules that capture a Pod's traffic for its mesh proxy.",
            discussion: """
                Run it once in the Pod's network namespace before the application starts
                (as root, or with CAP_NET_ADMIN), and run the sidecar as --proxy-uid or --proxy-gid:
                  chancery mesh-init --apply
                For a node-level proxy, run it in the node's network namespace, naming the
                interface the Pods' traffic arrives on:
                  chancery mesh-init --node-proxy --pod-interface cni0 --apply
                Without --apply, prints the rules in iptables-restore format.
                """)

        @Option(help: "Port of the proxy's outbound capture listener.")
        var outboundPort = 15001

        @Option(help: "Port of the proxy's inbound capture listener.")
        var inboundPort = 15006

        @Option(help: "The proxy runs as this user: its own connections are not captured.")
        var proxyUID = 1337

        @Option(help: "The proxy runs with this group: its own connections are not captured.")
        var proxyGID = 1337

        @Option(help: "Inbound ports left alone, comma-separated (the proxy's admin port, health probes).", transform: parsePortList)
        var excludeInboundPorts: [Int] = [15000]

        @Option(
            name: .customLong("exclude-outbound-cidrs"), help: "Destination CIDRs whose outbound traffic is left alone, comma-separated.",
            transform: parseCIDRList)
        var excludeOutboundCIDRs: [String] = []

        @Flag(help: "Rules for a node-level proxy in the node's network namespace (needs --pod-interface).")
        var nodeProxy = false

        @Option(help: "Node-level proxy: the interface the node's Pods' traffic arrives on (a bridge or veth).")
        var podInterface: String?

        @Option(help: "Node-level proxy: the node's own addresses on the Pods' network, whose traffic is not captured (comma-separated CIDRs).", transform: parseCIDRList)
        var nodeAddresses: [String] = []

        @Option(
            name: .customLong("pod-cidrs"),
            help: "Node-level proxy: the node's Pod addresses (comma-separated CIDRs); traffic for them arriving from elsewhere goes to the inbound listener.",
            transform: parseCIDRList)
        var podCIDRs: [String] = []

        @Flag(help: "Apply the rules with iptables-restore instead of printing them.")
        var apply = false

        func validate() throws {
            for (flag, port) in [("--outbound-port", outboundPort), ("--inbound-port", inboundPort)] {
                guard (1...65535).contains(port) else { throw ValidationError("\(flag) must be 1…65535") }
            }
            guard outboundPort != inboundPort else { throw ValidationError("--outbound-port and --inbound-port must differ") }
            if nodeProxy {
                guard let podInterface, !podInterface.isEmpty else { throw ValidationError("--node-proxy needs --pod-interface") }
            } else if podInterface != nil || !podCIDRs.isEmpty || !nodeAddresses.isEmpty {
                throw ValidationError("--pod-interface, --pod-cidrs and --node-addresses go with --node-proxy")
            }
        }

        /// The rules, in iptables-restore format (nat table; existing rules kept, with
        /// `--noflush`).
        var rules: String {
            var lines = ["*nat"]
            if nodeProxy, let podInterface {
                // The node's proxy sees the Pods' traffic as it is routed through the node:
                // whatever arrives from the Pods' interface for somewhere other than the
                // node itself goes to the outbound listener; the proxy's own connections
                // start on the node and never pass PREROUTING.
                lines += [":CHANCERY_NODE - [0:0]", "-A PREROUTING -i \(podInterface) -p tcp -j CHANCERY_NODE"]
                for address in nodeAddresses { lines.append("-A CHANCERY_NODE -d \(address) -j RETURN") }
                for cidr in excludeOutboundCIDRs { lines.append("-A CHANCERY_NODE -d \(cidr) -j RETURN") }
                lines.append("-A CHANCERY_NODE -p tcp -j REDIRECT --to-ports \(outboundPort)")
                // What other nodes send the node's Pods, to the inbound listener.
                for cidr in podCIDRs {
                    lines.append("-A PREROUTING ! -i \(podInterface) -p tcp -d \(cidr) -j REDIRECT --to-ports \(inboundPort)")
                }
            } else {
                lines += [
                    ":CHANCERY_INBOUND - [0:0]", ":CHANCERY_IN_REDIRECT - [0:0]", ":CHANCERY_OUTPUT - [0:0]",
                    ":CHANCERY_REDIRECT - [0:0]",
                    "-A CHANCERY_IN_REDIRECT -p tcp -j REDIRECT --to-ports \(inboundPort)",
                    "-A CHANCERY_REDIRECT -p tcp -j REDIRECT --to-ports \(outboundPort)",
                    // What the Pod receives, except on the proxy's own ports.
                    "-A PREROUTING -p tcp -j CHANCERY_INBOUND",
                ]
                for port in [outboundPort, inboundPort] + excludeInboundPorts {
                    lines.append("-A CHANCERY_INBOUND -p tcp --dport \(port) -j RETURN")
                }
                lines += [
                    "-A CHANCERY_INBOUND -p tcp -j CHANCERY_IN_REDIRECT",
                    // What the Pod sends, except the proxy's own connections and loopback.
                    "-A OUTPUT -p tcp -j CHANCERY_OUTPUT",
                    "-A CHANCERY_OUTPUT -m owner --uid-owner \(proxyUID) -j RETURN",
                    "-A CHANCERY_OUTPUT -m owner --gid-owner \(proxyGID) -j RETURN",
                    "-A CHANCERY_OUTPUT -d 127.0.0.1/32 -j RETURN",
                ]
                for cidr in excludeOutboundCIDRs { lines.append("-A CHANCERY_OUTPUT -d \(cidr) -j RETURN") }
                lines.append("-A CHANCERY_OUTPUT -j CHANCERY_REDIRECT")
            }
            lines.append("COMMIT")
            return lines.joined(separator: "\n") + "\n"
        }

        func run() throws {
            guard apply else {
                print(rules, terminator: "")
                return
            }
            let process = Process()
            guard let restore = ["/usr/sbin/iptables-restore", "/sbin/iptables-restore", "/usr/bin/iptables-restore"]
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
            else {
                throw ValidationError("iptables-restore was not found (install iptables: apt-get install iptables)")
            }
            process.executableURL = URL(fileURLWithPath: restore)
            process.arguments = ["--noflush"]
            let input = Pipe()
            let errors = Pipe()
            process.standardInput = input
            process.standardError = errors
            try process.run()
            input.fileHandleForWriting.write(Data(rules.utf8))
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                throw ValidationError("iptables-restore failed (\(process.terminationStatus)): \(text)")
            }
        }
    }
}

private func parsePortList(_ text: String) throws -> [Int] {
    if text.isEmpty { return [] }
    return try text.split(separator: ",").map { part in
        guard let port = Int(part.trimmingCharacters(in: .whitespaces)), (1...65535).contains(port) else {
            throw ValidationError("'\(part)' is not a port (1…65535)")
        }
        return port
    }
}

private func parseCIDRList(_ text: String) throws -> [String] {
    if text.isEmpty { return [] }
    return try text.split(separator: ",").map { part in
        let cidr = part.trimmingCharacters(in: .whitespaces)
        let pieces = cidr.split(separator: "/")
        guard pieces.count <= 2, pieces.first.map({ $0.contains(".") || $0.contains(":") }) ?? false,
            pieces.count == 1 || Int(pieces[1]) != nil
        else { throw ValidationError("'\(cidr)' is not an address or CIDR block") }
        return cidr
    }
}
