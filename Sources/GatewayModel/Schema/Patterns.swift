/// A CRD's `pattern` (or a regex a CEL rule matches with): the regex as the CRD writes
/// it, for messages, and a matcher written by hand over the UTF-8 bytes that accepts
/// exactly what Go's `regexp.MatchString` accepts (a search: a pattern without `^…$`
/// may match part of the text). Decoding runs these on every field of every object, so
/// none of them compiles or allocates. `SchemaTests` checks each against
/// `NSRegularExpression` on a corpus of strings.
struct Pattern: Sendable {
    let regex: String
    let matches: @Sendable (String) -> Bool

    init(_ regex: String, _ matches: @escaping @Sendable (String) -> Bool) {
        self.regex = regex
        self.matches = matches
    }
}

extension Pattern {
    // MARK: names

    /// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`: an RFC 1123 label (a namespace).
    static let dnsLabel = Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$") { Bytes.isLabel($0.utf8[...]) }

    /// An RFC 1123 subdomain (listener and section names, precise hostnames).
    static let dnsSubdomain = Pattern(#"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#) {
        Bytes.isSubdomain($0.utf8[...])
    }

    /// A Gateway API Hostname: a subdomain with an optional leading `*.`.
    static let hostname = Pattern(#"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#) {
        var bytes = $0.utf8[...]
        if bytes.starts(with: "*.".utf8) { bytes = bytes.dropFirst(2) }
        return Bytes.isSubdomain(bytes)
    }

    /// A Group: empty (the core group) or a subdomain.
    static let group = Pattern(#"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#) {
        $0.isEmpty || Bytes.isSubdomain($0.utf8[...])
    }

    /// A Kind: `^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`
    static let kind = Pattern("^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$") {
        guard let first = $0.utf8.first, let last = $0.utf8.last, Bytes.isLetter(first), Bytes.isAlphanumeric(last)
        else { return false }
        return $0.utf8.allSatisfy { Bytes.isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// A GatewayClass `controllerName`: a subdomain, `/`, a path.
    static let controllerName = Pattern(
        #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$"#
    ) {
        let bytes = $0.utf8[...]
        // The subdomain has no `/`: it ends at the first one.
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else { return false }
        let rest = bytes[bytes.index(after: slash)...]
        return Bytes.isSubdomain(bytes[..<slash]) && !rest.isEmpty && rest.allSatisfy(Bytes.isPathCharacter)
    }

    // MARK: listeners and addresses

    /// A listener `protocol`: a name, or (found anywhere, as the pattern has no `^` on
    /// this branch) a domain-prefixed name at the end.
    static let listenerProtocol = Pattern(
        #"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$"#
    ) {
        let bytes = $0.utf8[...]
        if let first = bytes.first, let last = bytes.last, Bytes.isAlphanumeric(first), Bytes.isAlphanumeric(last),
            bytes.allSatisfy({ Bytes.isAlphanumeric($0) || $0 == UInt8(ascii: "-") })
        {
            return true
        }
        // `…x/Name` at the end: the shortest subdomain before the last `/` is its last
        // character.
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")), slash > bytes.startIndex else { return false }
        let name = bytes[bytes.index(after: slash)...]
        return !name.isEmpty && name.allSatisfy(Bytes.isAlphanumeric)
            && Bytes.isLowerAlphanumeric(bytes[bytes.index(before: slash)])
    }

    /// A Gateway address `type`. Its alternatives are not grouped, so it asks: starts
    /// with `Hostname`, or holds `IPAddress` or `NamedAddress`, or ends with a
    /// domain-prefixed name.
    static let addressType = Pattern(
        #"^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$"#
    ) { text in
        if text.hasPrefix("Hostname") || Bytes.contains(text, "IPAddress") || Bytes.contains(text, "NamedAddress") { return true }
        return Bytes.with(text) { bytes in
        // The tail of path characters; a `/` in it preceded by [a-z0-9] and followed by
        // at least one character matches.
        var start = bytes.count
        while start > 0, Bytes.isPathCharacter(bytes[start - 1]) { start -= 1 }
        var i = max(start, 1)
        while i < bytes.count - 1 {
            if bytes[i] == UInt8(ascii: "/"), Bytes.isLowerAlphanumeric(bytes[i - 1]) { return true }
            i += 1
        }
        return false
        }
    }

    // MARK: HTTP

    /// An HTTP header name (an RFC 7230 token): `^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$`
    static let headerName = Pattern(#"^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$"#) {
        !$0.isEmpty && $0.utf8.allSatisfy(Bytes.isTokenCharacter)
    }

    /// An HTTP header value: printable ASCII, single spaces or tabs between words.
    static let headerValue = Pattern(#"^[!-~]+([\t ]?[!-~]+)*$"#) {
        var previousBlank = true  // no blank first
        for byte in $0.utf8 {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                if previousBlank { return false }
                previousBlank = true
            } else if byte >= 0x21, byte <= 0x7E {
                previousBlank = false
            } else {
                return false
            }
        }
        return !previousBlank
    }

    /// A Gateway API Duration (GEP-2257): one to four `<1–5 digits><h|m|s|ms>`.
    static let duration = Pattern(#"^([0-9]{1,5}(h|m|s|ms)){1,4}$"#) { Bytes.with($0) { bytes in
        var i = 0
        var parts = 0
        while i < bytes.count {
            let start = i
            while i < bytes.count, Bytes.isDigit(bytes[i]) { i += 1 }
            guard (1...5).contains(i - start), i < bytes.count else { return false }
            switch bytes[i] {
            case UInt8(ascii: "h"), UInt8(ascii: "s"): i += 1
            case UInt8(ascii: "m"): i += (i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "s")) ? 2 : 1
            default: return false
            }
            parts += 1
        }
        return (1...4).contains(parts)
    } }

    /// A path (RFC 3986 path characters and percent-encodings):
    /// `^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$`
    static let path = Pattern(#"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$"#) { Bytes.with($0) { bytes in
        guard !bytes.isEmpty else { return false }
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, Bytes.isHexDigit(bytes[i + 1]), Bytes.isHexDigit(bytes[i + 2]) else { return false }
                i += 3
            } else {
                guard Bytes.isURIPathCharacter(bytes[i]) else { return false }
                i += 1
            }
        }
        return true
    } }

    /// A CORS origin: `*`, or `http(s)://host[:port]` whose host is `*` or DNS-like
    /// labels after an optional `*.`.
    static let corsOrigin = Pattern(
        #"(^\*$)|(^(http(s)?):\/\/(((\*\.)?([a-zA-Z0-9\-]+\.)*[a-zA-Z0-9-]+|\*)(:([0-9]{1,5}))?)$)"#
    ) { text in
        if text == "*" { return true }
        var bytes = text.utf8[...]
        if bytes.starts(with: "https://".utf8) {
            bytes = bytes.dropFirst(8)
        } else if bytes.starts(with: "http://".utf8) {
            bytes = bytes.dropFirst(7)
        } else {
            return false
        }
        // The host has no `:`; the port is what follows the first one.
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            let port = bytes[bytes.index(after: colon)...]
            guard (1...5).contains(port.count), port.allSatisfy(Bytes.isDigit) else { return false }
            bytes = bytes[..<colon]
        }
        if bytes.elementsEqual("*".utf8) { return true }
        if bytes.starts(with: "*.".utf8) { bytes = bytes.dropFirst(2) }
        let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.allSatisfy { Bytes.isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
        }
    }

    // MARK: gRPC

    /// A gRPC service name for an Exact match: `^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`.
    /// Case folding is Unicode's, as in Go: `ſ` (U+017F) folds to `s` and `K` (U+212A)
    /// to `k`, so they match too.
    static let grpcService = Pattern(#"^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$"#) { text in
        var scalars = Substring(text).unicodeScalars[...]
        if scalars.first == "." { scalars = scalars.dropFirst() }
        func letter(_ s: Unicode.Scalar) -> Bool {
            (s.isASCII && (Bytes.isLetter(UInt8(s.value)) || s == "_")) || s == "\u{017F}" || s == "\u{212A}"
        }
        let parts = scalars.split(separator: ".", omittingEmptySubsequences: false)
        return parts.allSatisfy { part in
            guard let first = part.first, letter(first) else { return false }
            return part.allSatisfy { letter($0) || ($0.isASCII && Bytes.isDigit(UInt8($0.value))) }
        }
    }

    /// A gRPC method name for an Exact match: `^[A-Za-z_][A-Za-z_0-9]*$`
    static let grpcMethod = Pattern("^[A-Za-z_][A-Za-z_0-9]*$") {
        guard let first = $0.utf8.first, Bytes.isLetter(first) || first == UInt8(ascii: "_") else { return false }
        return $0.utf8.allSatisfy { Bytes.isAlphanumeric($0) || $0 == UInt8(ascii: "_") }
    }

    // MARK: labels, annotations, TLS

    /// A label value: `^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`
    static let labelValue = Pattern("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$") {
        $0.isEmpty || Bytes.isQualifiedNamePart($0.utf8[...], maxLength: nil)
    }

    /// A label or annotation key: an optional subdomain and `/`, then a name of at most
    /// 63 characters.
    static let labelKey = Pattern(
        #"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$"#
    ) {
        let bytes = $0.utf8[...]
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else {
            return Bytes.isQualifiedNamePart(bytes, maxLength: 63)
        }
        return Bytes.isSubdomain(bytes[..<slash])
            && Bytes.isQualifiedNamePart(bytes[bytes.index(after: slash)...], maxLength: 63)
    }

    /// BackendTLSPolicy `wellKnownCACertificates`: `System`, or a domain-prefixed name.
    static let wellKnownCACertificates = Pattern(
        #"^(System|([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]))$"#
    ) {
        if $0 == "System" { return true }
        let bytes = $0.utf8[...]
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else { return false }
        return Bytes.isSubdomain(bytes[..<slash])
            && Bytes.isQualifiedNamePart(bytes[bytes.index(after: slash)...], maxLength: 63)
    }

    /// A SubjectAltName URI: it must start with `scheme://` (the pattern has no `$`, so
    /// anything may follow). `^(([^:/?#]+):)(//([^/?#]*))([^?#]*)(\?([^#]*))?(#(.*))?`
    static let uri = Pattern(#"^(([^:/?#]+):)(//([^/?#]*))([^?#]*)(\?([^#]*))?(#(.*))?"#) {
        let bytes = $0.utf8[...]
        guard let stop = bytes.firstIndex(where: { ":/?#".utf8.contains($0) }), stop > bytes.startIndex,
            bytes[stop] == UInt8(ascii: ":")
        else { return false }
        return bytes[bytes.index(after: stop)...].starts(with: "//".utf8)
    }
}

/// Byte classes for the matchers.
enum Bytes {
    /// Whether `needle` occurs in `text`, byte by byte (Foundation's `contains` goes
    /// through NSString).
    static func contains(_ text: String, _ needle: StaticString) -> Bool {
        needle.withUTF8Buffer { needle in
            with(text) { bytes in
                guard needle.count <= bytes.count else { return false }
                var i = 0
                while i + needle.count <= bytes.count {
                    var j = 0
                    while j < needle.count, bytes[i + j] == needle[j] { j += 1 }
                    if j == needle.count { return true }
                    i += 1
                }
                return false
            }
        }
    }

    /// `body` over the string's UTF-8 bytes, copied only when the string is not stored
    /// contiguously (bridged strings).
    static func with(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    @inline(__always) static func isLower(_ b: UInt8) -> Bool { b >= 0x61 && b <= 0x7A }
    @inline(__always) static func isLetter(_ b: UInt8) -> Bool { isLower(b) || (b >= 0x41 && b <= 0x5A) }
    @inline(__always) static func isAlphanumeric(_ b: UInt8) -> Bool { isLetter(b) || isDigit(b) }
    @inline(__always) static func isLowerAlphanumeric(_ b: UInt8) -> Bool { isLower(b) || isDigit(b) }
    @inline(__always) static func isHexDigit(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46)
    }

    /// `[A-Za-z0-9!#$%&'*+\-.^_\x60|~]`
    static func isTokenCharacter(_ b: UInt8) -> Bool {
        if isAlphanumeric(b) { return true }
        switch b {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    /// `[A-Za-z0-9\/\-._~%!$&'()*+,;=:]`
    static func isPathCharacter(_ b: UInt8) -> Bool {
        if isAlphanumeric(b) { return true }
        switch b {
        case UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
            UInt8(ascii: "%"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","),
            UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: ":"):
            return true
        default: return false
        }
    }

    /// `[-A-Za-z0-9/._~!$&'()*+,;=:@]`
    static func isURIPathCharacter(_ b: UInt8) -> Bool {
        b == UInt8(ascii: "@") || (b != UInt8(ascii: "%") && isPathCharacter(b))
    }

    /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
    static func isLabel(_ bytes: Substring.UTF8View) -> Bool {
        guard let first = bytes.first, let last = bytes.last, isLowerAlphanumeric(first), isLowerAlphanumeric(last)
        else { return false }
        return bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// Labels joined by `.`
    static func isSubdomain(_ bytes: Substring.UTF8View) -> Bool {
        var start = bytes.startIndex
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: ".") {
                guard isLabel(bytes[start..<index]) else { return false }
                start = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        return isLabel(bytes[start..<bytes.endIndex])
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most `maxLength` bytes.
    static func isQualifiedNamePart(_ bytes: Substring.UTF8View, maxLength: Int?) -> Bool {
        guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first), isAlphanumeric(last) else {
            return false
        }
        if let maxLength, bytes.count > maxLength { return false }
        return bytes.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
    }
}
