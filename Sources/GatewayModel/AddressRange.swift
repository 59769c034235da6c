#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IP address or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`): the
/// addresses the proxies of a deployment can listen on, as the operator declares them
/// (`serve --gateway-addresses`). A Gateway asking for an address outside them is not
/// sent to Envoy, which could not bind it.
public struct AddressRange: Sendable, Hashable, CustomStringConvertible {
    /// The network's bytes (4 or 16).
    public let network: [UInt8]
    public let prefixLength: Int

    /// Parses `IP` or `IP/LENGTH`; nil when it is neither.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(of: String(parts[0])) else { return nil }
        let length: Int
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...bytes.count * 8).contains(parsed) else { return nil }
            length = parsed
        } else {
            length = bytes.count * 8
        }
        network = bytes
        prefixLength = length
    }

    /// The bytes of an IPv4 or IPv6 address in its text form; nil when it is not one.
    public static func bytes(of address: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// Whether `address` (an IP in text form) is in this range.
    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address), bytes.count == network.count else { return false }
        var remaining = prefixLength
        for index in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if bytes[index] & mask != network[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// The network's address with the host bits cleared (`10.0.0.0` for `10.1.2.3/8`).
    public var maskedAddress: String {
        var bytes = network
        var remaining = prefixLength
        for index in bytes.indices {
            let bits = min(8, max(0, remaining))
            bytes[index] &= UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            remaining -= 8
        }
        return Self.text(of: bytes)
    }

    /// `address/length` with the host bits cleared, as Envoy prints a CIDR range.
    public var cidr: String { "\(maskedAddress)/\(prefixLength)" }

    static func text(of network: [UInt8]) -> String {
        if network.count == 4 { return network.map(String.init).joined(separator: ".") }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: network) }
        inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String {
        let text: String
        if network.count == 4 {
            text = network.map(String.init).joined(separator: ".")
        } else {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: network) }
            inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
            text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return prefixLength == network.count * 8 ? text : "\(text)/\(prefixLength)"
    }
}
