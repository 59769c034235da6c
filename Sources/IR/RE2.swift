/// Regular expressions as Envoy compiles them: RE2 syntax.
public enum RE2 {
    /// `literal` as an RE2 pattern that matches exactly it.
    public static func escape(_ literal: String) -> String {
        literal.map { "\\^$.|?*+()[]{}".contains($0) ? "\\\($0)" : String($0) }.joined()
    }
}
