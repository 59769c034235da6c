import Crypto
import Foundation
import SwiftProtobuf

/// Content hashes used as xDS versions.
///
/// Versions are derived from bytes only — never from clocks or counters — so two replicas
/// given the same objects serve identical versions and a restarted Chancery does not make
/// every Envoy download its configuration again.
public enum ContentHash {
    /// Hex prefix of SHA-256: 64 bits is plenty to tell versions of one resource apart.
    static let length = 16

    public static func of(_ bytes: some DataProtocol) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// A version for a set of named versions, independent of the order they are given in.
    /// - Parameter versions: (name, version) pairs.
    public static func of(versions: some Sequence<(String, String)>) -> String {
        var hasher = SHA256()
        // By name: pairs given in that order already (a snapshot's clusters, routes and
        // scopes come sorted) are only checked, not sorted again; pairs out of order are
        // sorted (a sort that moves no pair of equal names, as Swift's does).
        var pairs = Array(versions)
        if pairs.indices.dropFirst().contains(where: { pairs[$0].0 < pairs[$0 - 1].0 }) {
            pairs.sort(by: { $0.0 < $1.0 })
        }
        // Each pair as `name NUL version LF`, handed to the hash a few kilobytes at a time.
        var pending: [UInt8] = []
        pending.reserveCapacity(8192)
        for (name, version) in pairs {
            pending.append(contentsOf: name.utf8)
            pending.append(0)
            pending.append(contentsOf: version.utf8)
            pending.append(0x0A)
            if pending.count >= 8000 {
                hasher.update(data: pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        hasher.update(data: pending)
        return hex(hasher.finalize())
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        var out = ""
        out.reserveCapacity(length)
        for byte in digest.prefix(length / 2) {
            out += String(byte, radix: 16).leftPadded(to: 2)
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Serialisation with map entries in key order, so that equal messages give equal bytes.
public let deterministicEncoding: BinaryEncodingOptions = {
    var options = BinaryEncodingOptions()
    options.useDeterministicOrdering = true
    return options
}()
