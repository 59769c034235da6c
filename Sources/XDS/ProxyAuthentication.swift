import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization
import X509

/// Who a proxy is, as its stream proves it: the SPIFFE ID of its client certificate, or
/// of the Kubernetes service account whose token it sent (checked with a TokenReview).
public struct ProxyIdentity: Sendable, Hashable, CustomStringConvertible {
    public enum Proof: String, Sendable {
        /// A client certificate the xDS server's TLS verified (its SPIFFE URI SAN).
        case certificate
        /// A service account token (`authorization: Bearer …` gRPC metadata).
        case token
    }

    /// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
    public let spiffeID: String
    public let proof: Proof

    public init(spiffeID: String, proof: Proof) {
        self.spiffeID = spiffeID
        self.proof = proof
    }

    public var description: String { "\(spiffeID) (by \(proof.rawValue))" }

    /// The namespace of a `…/ns/<namespace>/sa/<name>` ID.
    public var namespace: String? {
        let parts = spiffeID.split(separator: "/", omittingEmptySubsequences: false)
        guard let index = parts.firstIndex(of: "ns"), index + 1 < parts.count else { return nil }
        return String(parts[index + 1])
    }
}

/// Checks a service account token with the Kubernetes API (TokenReview).
public protocol TokenReviewer: Sendable {
    /// The token's service account, or why it is not accepted.
    func review(_ token: String) async -> Result<(namespace: String, serviceAccount: String), TokenRejection>
}

public struct TokenRejection: Error, Sendable, CustomStringConvertible {
    public let message: String
    /// The API server said the token is not valid (remembered like an answer); false
    /// when it could not be asked (asked again at the next stream).
    public let definitive: Bool
    public init(_ message: String, definitive: Bool = false) {
        self.message = message
        self.definitive = definitive
    }
    public var description: String { message }
}

/// What a stream proved about itself, put in its server context by
/// ``ProxyAuthenticator`` for the discovery service to decide on.
struct ProxyCredentials: ServerContext.TransportSpecific {
    var identity: ProxyIdentity?
    /// Credentials were presented but not accepted: why.
    var problem: String?
}

/// A server interceptor that works out each stream's ``ProxyIdentity``: from the
/// client certificate the TLS handshake verified, else from a bearer token in the
/// request metadata. It decides nothing: ``XDSAccess`` does, once the stream names its
/// group.
struct ProxyAuthenticator: ServerInterceptor {
    let trustDomain: String
    let reviewer: (any TokenReviewer)?
    let cache: TokenCache

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        var context = context
        context.transportSpecific = await credentials(metadata: request.metadata, transport: context.transportSpecific)
        return try await next(request, context)
    }

    func credentials(metadata: Metadata, transport: (any ServerContext.TransportSpecific)?) async -> ProxyCredentials {
        if let certificate = (transport as? HTTP2ServerTransport.Posix.Context)?.peerCertificate {
            let uris = ((try? certificate.extensions.subjectAlternativeNames) ?? nil)?.compactMap { name -> String? in
                if case .uniformResourceIdentifier(let uri) = name { return uri }
                return nil
            } ?? []
            guard let id = uris.first(where: { $0.hasPrefix("spiffe://") }) else {
                return ProxyCredentials(problem: "the client certificate has no SPIFFE ID (a spiffe:// URI SAN)")
            }
            guard id.hasPrefix("spiffe://\(trustDomain)/") else {
                return ProxyCredentials(problem: "the client certificate's SPIFFE ID \(id) is not of trust domain \(trustDomain)")
            }
            return ProxyCredentials(identity: ProxyIdentity(spiffeID: id, proof: .certificate))
        }
        guard let header = metadata["authorization"].first(where: { _ in true }) else { return ProxyCredentials() }
        guard case .string(let value) = header else { return ProxyCredentials(problem: "the authorization metadata is not text") }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return ProxyCredentials(problem: "the authorization metadata is not `Bearer <service account token>`")
        }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        guard let reviewer else {
            return ProxyCredentials(problem: "a token was sent, but Chancery has no Kubernetes API to review it (serve --kubeconfig or --in-cluster)")
        }
        let result: Result<(namespace: String, serviceAccount: String), TokenRejection>
        if let known = cache.lookup(token) {
            result = known
        } else {
            result = await reviewer.review(token)
            if case .failure(let rejection) = result, !rejection.definitive {} else { cache.store(token, result) }
        }
        switch result {
        case .success(let account):
            return ProxyCredentials(
                identity: ProxyIdentity(
                    spiffeID: "spiffe://\(trustDomain)/ns/\(account.namespace)/sa/\(account.serviceAccount)", proof: .token))
        case .failure(let rejection):
            return ProxyCredentials(problem: "the service account token was not accepted: \(rejection.message)")
        }
    }
}

/// Token reviews, remembered a minute: a reconnecting fleet does not review each token
/// again (a revoked token is refused within a minute).
final class TokenCache: Sendable {
    private let entries = Mutex<[String: (result: Result<(namespace: String, serviceAccount: String), TokenRejection>, until: Date)]>([:])
    let lifetime: TimeInterval

    init(lifetime: TimeInterval = 60) { self.lifetime = lifetime }

    func lookup(_ token: String) -> Result<(namespace: String, serviceAccount: String), TokenRejection>? {
        entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            guard entry.until > Date() else {
                entries[token] = nil
                return nil
            }
            return entry.result
        }
    }

    func store(_ token: String, _ result: Result<(namespace: String, serviceAccount: String), TokenRejection>) {
        entries.withLock { entries in
            if entries.count > 10_000 { entries.removeAll() }
            entries[token] = (result, Date() + lifetime)
        }
    }
}

/// Who may receive which group's configuration (docs/mesh-security.md):
/// - a sidecar group (`sidecar:NS/POD`) only the Pod's own identity (its namespace and
///   service account);
/// - a node-level proxy's group (`node:NAME`) only a trusted identity
///   (`serve --xds-trusted-identity`), as it carries every Pod's traffic on its node;
/// - a Gateway's group (`NS/NAME`) an identity of that namespace or a trusted one;
///   any other group (a GatewayClass's, an Ingress class's) a trusted identity.
///
/// With `required`, a stream without credentials is refused; with `open` (loopback and
/// tests) it is served, but credentials it does present must own the group.
public final class XDSAccess: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case open, required
    }

    public let mode: Mode
    public let trusted: Set<String>
    /// Sidecar groups → the SPIFFE ID of their Pod, from the last translation.
    private let owners = Mutex<[String: String]>([:])

    public init(mode: Mode, trusted: Set<String> = []) {
        self.mode = mode
        self.trusted = trusted
    }

    /// The owner of every sidecar group, after a translation.
    public func setSidecarOwners(_ owners: [String: String]) {
        self.owners.withLock { $0 = owners }
    }

    /// Why a stream with these credentials may not have `group`'s configuration; nil
    /// when it may.
    func refusal(_ credentials: ProxyCredentials?, group: String) -> String? {
        if let problem = credentials?.problem { return problem }
        guard let identity = credentials?.identity else {
            return mode == .required
                ? "no credentials: xDS here needs a client certificate or a service account token (authorization: Bearer …)"
                : nil
        }
        if group.hasPrefix(MeshGrouping.sidecarPrefix) {
            let pod = String(group.dropFirst(MeshGrouping.sidecarPrefix.count))
            guard let owner = owners.withLock({ $0[group] }) else {
                return "\(identity) asks for the sidecar configuration of Pod \(pod), which is not a mesh Pod Chancery knows"
            }
            guard owner == identity.spiffeID else {
                return "\(identity) asks for the sidecar configuration of Pod \(pod), which runs as \(owner)"
            }
            return nil
        }
        if trusted.contains(identity.spiffeID) { return nil }
        if group.hasPrefix(MeshGrouping.nodePrefix) {
            return "\(identity) asks for node-level proxy group \(group), which carries the traffic of every Pod on the node; only identities given with --xds-trusted-identity may"
        }
        let parts = group.split(separator: "/", maxSplits: 1)
        if parts.count == 2, identity.namespace == String(parts[0]) { return nil }
        return "\(identity) asks for proxy group \(group), which is not of its namespace \(identity.namespace ?? "?"); only identities given with --xds-trusted-identity may"
    }
}
