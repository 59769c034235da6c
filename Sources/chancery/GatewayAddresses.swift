import ArgumentParser
import Foundation
import GatewayModel

/// The addresses Gateways may ask Envoy to listen on, for every command that translates.
struct GatewayAddressOptions: ParsableArguments {
    @Option(
        name: .customLong("gateway-addresses"),
        help: ArgumentHelp(
            "IP addresses or CIDR blocks the proxies can listen on, comma-separated or repeated (default: any). A Gateway whose spec.addresses asks for another is not served (Programmed=False, AddressNotUsable).",
            valueName: "IP|CIDR,..."),
        transform: parseAddressRanges)
    var ranges: [[AddressRange]] = []

    /// Nil when none were given: every address is usable.
    var usable: [AddressRange]? { ranges.isEmpty ? nil : ranges.flatMap { $0 } }
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
