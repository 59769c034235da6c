import ArgumentParser
import EnvoyBuild
import Foundation
import GatewayModel
import Translation
import XDS

/// What the proxies' hosts allow: the addresses Gateways may ask Envoy to listen on and
/// the ports already taken there, for every command that translates.
struct ProxyHostOptions: ParsableArguments {
    @Option(
        name: .customLong("gateway-addresses"),
        help: ArgumentHelp(
            "IP addresses or CIDR blocks the proxies can listen on, comma-separated or repeated (default: any). A Gateway whose spec.addresses asks for another is not served (Programmed=False, AddressNotUsable).",
            valueName: "IP|CIDR,..."),
        transform: parseAddressRanges)
    var ranges: [[AddressRange]] = []

    /// Nil when none were given: every address is usable.
    var usable: [AddressRange]? { ranges.isEmpty ? nil : ranges.flatMap { $0 } }

    @Option(
        name: .customLong("reserved-ports"),
        help: ArgumentHelp(
            "Ports taken on the proxies' hosts, comma-separated, or none. A listener on one is not served (Accepted=False, PortUnavailable). (default: \(XDS.Bootstrap.defaultAdminPort), the Envoy admin port chancery bootstrap sets)",
            valueName: "PORT,...|none"),
        transform: parsePorts)
    var reserved: [Int]?

    /// The reserved ports; `none` gives none.
    var reservedPorts: Set<Int> { Set(reserved ?? [XDS.Bootstrap.defaultAdminPort]) }

    @Option(
        name: .customLong("ingress-ports"),
        help: ArgumentHelp(
            "The HTTP and HTTPS ports Ingress proxy groups listen on. (default: \(IngressPorts().http),\(IngressPorts().https))",
            valueName: "HTTP,HTTPS"),
        transform: parseIngressPorts)
    var ingressPortsOption: IngressPorts?

    @Option(
        name: .customLong("ingress-address"),
        help: ArgumentHelp(
            "An IP address or host name the Ingress proxies are reached at (repeatable), written to each served Ingress's status.loadBalancer (what kubectl get ingress shows as ADDRESS).",
            valueName: "ADDRESS"))
    var ingressAddresses: [String] = []

    @Option(
        help: ArgumentHelp(
            "The mesh's trust domain: a workload's identity is spiffe://DOMAIN/ns/NAMESPACE/sa/SERVICE-ACCOUNT.",
            valueName: "DOMAIN"))
    var trustDomain: String = Translator.defaultTrustDomain

    @Option(
        name: .customLong("route-layout"),
        help: ArgumentHelp(
            "How a plain-HTTP listener's routes reach Envoy: single (one route configuration per listener, over RDS) or scoped (one listener per proxy group, whose hostnames are all exact, as a scope per hostname over SRDS: a change rebuilds one host's routes; Host headers are then matched byte for byte). See docs/xds.md, \"Route layout\".",
            valueName: "single|scoped"))
    var routeLayout: RouteLayout = .single

    /// A translator with what these options say of the proxies' hosts.
    func translator() -> Translator {
        var translator = Translator(gatewayAddresses: usable, reservedPorts: reservedPorts, ingressPorts: ingressPorts)
        translator.trustDomain = trustDomain
        return translator
    }

    var ingressPorts: IngressPorts {
        var ports = ingressPortsOption ?? IngressPorts()
        ports.addresses = ingressAddresses
        return ports
    }
}

func parseIngressPorts(_ text: String) throws -> IngressPorts {
    guard let ports = IngressPorts.parse(text) else {
        throw ValidationError("--ingress-ports: \"\(text)\" is not two different ports HTTP,HTTPS (80,443)")
    }
    return ports
}

func parsePorts(_ text: String) throws -> [Int] {
    if text.trimmingCharacters(in: .whitespaces) == "none" { return [] }
    return try text.split(separator: ",").map { part in
        let trimmed = part.trimmingCharacters(in: .whitespaces)
        guard let port = Int(trimmed), (1...65535).contains(port) else {
            throw ValidationError("--reserved-ports: \"\(trimmed)\" is not a port (1…65535) or none")
        }
        return port
    }
}

func parseAddressRanges(_ text: String) throws -> [AddressRange] {
    guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
        throw ValidationError("--gateway-addresses: give at least one IP address or CIDR block")
    }
    return try text.split(separator: ",").map { part in
        let trimmed = part.trimmingCharacters(in: .whitespaces)
        guard let range = AddressRange(trimmed) else {
            throw ValidationError("--gateway-addresses: \"\(trimmed)\" is neither an IP address nor a CIDR block (10.0.0.0/8)")
        }
        return range
    }
}

/// How much the sources read (``SourceLimits``), for every command that reads manifests.
struct SourceLimitOptions: ParsableArguments {
    @Option(
        name: .customLong("max-file-size"),
        help: ArgumentHelp(
            "A manifest file larger than this is not read; its previous objects stay. (default: \(SourceLimits.describe(SourceLimits.defaults.maxFileBytes)))",
            valueName: "SIZE"),
        transform: parseSize)
    var maxFileBytes: Int = SourceLimits.defaults.maxFileBytes

    @Option(
        name: .customLong("max-object-size"),
        help: ArgumentHelp(
            "An object larger than this is refused. (default: \(SourceLimits.describe(SourceLimits.defaults.maxObjectBytes)), etcd's limit)",
            valueName: "SIZE"),
        transform: parseSize)
    var maxObjectBytes: Int = SourceLimits.defaults.maxObjectBytes

    @Option(name: .customLong("max-objects-per-kind"), help: "Objects of one kind beyond this many are refused.")
    var maxObjectsPerKind: Int = SourceLimits.defaults.maxObjectsPerKind

    var limits: SourceLimits {
        SourceLimits(maxFileBytes: maxFileBytes, maxObjectBytes: maxObjectBytes, maxObjectsPerKind: maxObjectsPerKind)
    }

    func validate() throws {
        guard maxObjectsPerKind > 0 else { throw ValidationError("--max-objects-per-kind must be at least 1") }
    }
}

/// `1572864`, `512KiB`, `64MiB`, `1GiB`.
func parseSize(_ text: String) throws -> Int {
    guard let bytes = SourceLimits.bytes(text) else {
        throw ValidationError("\"\(text)\" is not a size: give bytes, or a number with KiB, MiB or GiB (64MiB)")
    }
    return bytes
}

extension RouteLayout: ExpressibleByArgument {}
