import Crypto
import Foundation

/// An ES256 signing key for JSON Web Tokens in tests, with its public JWKS document.
public struct TestJWTIssuer: Sendable {
    public let issuer: String
    public let keyID: String
    private let key: P256.Signing.PrivateKey

    public init(issuer: String, keyID: String = "test-key") {
        self.issuer = issuer
        self.keyID = keyID
        key = P256.Signing.PrivateKey()
    }

    /// The public key as a JWKS document (`{"keys": [...]}`).
    public var jwks: String {
        let point = key.publicKey.x963Representation  // 0x04 || X || Y
        let x = Self.base64URL(point.dropFirst().prefix(32))
        let y = Self.base64URL(point.dropFirst(33))
        return #"{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"\#(keyID)","x":"\#(x)","y":"\#(y)"}]}"#
    }

    /// A signed token with `iss` (this issuer unless `issuer` says otherwise), `iat`,
    /// `exp` (`expiresIn` from now; negative for an expired token) and `claims`.
    public func token(
        claims: [String: any Sendable] = [:], expiresIn: TimeInterval = 3600, issuer: String? = nil
    ) throws -> String {
        let now = Int(Date().timeIntervalSince1970)
        var payload: [String: Any] = ["iss": issuer ?? self.issuer, "iat": now, "exp": now + Int(expiresIn)]
        for (name, value) in claims { payload[name] = value }
        let header = try JSONSerialization.data(withJSONObject: ["alg": "ES256", "typ": "JWT", "kid": keyID], options: [.sortedKeys])
        let body = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        let input = Self.base64URL(header) + "." + Self.base64URL(body)
        // JWS ES256 signatures are r || s, 32 bytes each.
        let signature = try key.signature(for: Data(input.utf8)).rawRepresentation
        return input + "." + Self.base64URL(signature)
    }

    static func base64URL(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
