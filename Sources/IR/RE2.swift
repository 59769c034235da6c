import CRE2

/// Regular expressions as Envoy compiles them: RE2 syntax.
public enum RE2 {
    /// `literal` as an RE2 pattern that matches exactly it.
    public static func escape(_ literal: String) -> String {
        literal.map { "\\^$.|?*+()[]{}".contains($0) ? "\\\($0)" : String($0) }.joined()
    }

    /// Envoy refuses a regex whose compiled RE2 program is larger than this (its runtime
    /// key `re2.max_program_size.error_level`, 100 unless an operator raised it).
    public static let maxProgramSize = 100

    /// Whether this build links RE2 (Debian's `libre2-dev` was there when it was built).
    public static var isAvailable: Bool { chancery_re2_available() != 0 }

    /// Why Envoy would refuse `pattern` — RE2's own error, or a program over Envoy's
    /// size limit — or nil when Envoy compiles it.
    public static func problem(_ pattern: String) -> String? {
        var error = [CChar](repeating: 0, count: 256)
        let bytes = Array(pattern.utf8)
        let size = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                chancery_re2_program_size(chars.baseAddress, chars.count, &error, error.count)
            }
        }
        switch size {
        case -2:
            return "this build of Chancery has no RE2 (install libre2-dev and build again), so no regular expression is served"
        case -1:
            let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return "RE2 refuses it: \(message)"
        case let size where size > maxProgramSize:
            return "its RE2 program size is \(size), over Envoy's limit of \(maxProgramSize); simplify it"
        default:
            return nil
        }
    }

    /// A prefix rewrite as a regex where Envoy's plain prefix rewrite would double or
    /// lose the `/` between the replacement and the rest of the path (`/foo/bar` with
    /// `/foo` → `/` gives `/bar`): the pattern and its substitution.
    public static func prefixRewrite(prefix: String, replacement: String) -> (pattern: String, substitution: String)? {
        guard replacement == "/" || prefix == "/" else { return nil }
        let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        let base = replacement.hasSuffix("/") ? String(replacement.dropLast()) : replacement
        return ("^" + escape(trimmed) + "(/|$)(.*)", base + "/\\2")
    }
}
