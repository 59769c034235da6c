import Foundation
import GatewayModel
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import X509

/// A loopback Kubernetes API server for tests: HTTPS, bearer-token or client-certificate
/// authentication, and the API machinery of
/// https://kubernetes.io/docs/reference/using-api/api-concepts/ — one global
/// resourceVersion, LIST with limit/continue and label/field selectors, WATCH with
/// bookmarks and 410 Gone after `compact()`, optimistic concurrency (409), the status
/// subresource (PUT and JSON merge PATCH).
///
/// Built-in types served from the start: v1 services, secrets, configmaps, namespaces,
/// discovery.k8s.io/v1 endpointslices, coordination.k8s.io/v1 leases. Custom resources
/// only after ``installCRD(group:version:resource:kind:namespaced:)`` or
/// ``installGatewayAPI()``.
public final class FakeKubeAPI: Sendable {
    public struct Options: Sendable {
        /// Accepted bearer tokens (`Authorization: Bearer X`).
        public var tokens: Set<String> = ["test-token"]
        /// If set, client certificates it signed (with the clientAuth usage) are accepted
        /// too; the user is the certificate's CN.
        public var clientCA: TestCA? = nil
        /// Quiet time after which a watch with `allowWatchBookmarks=true` gets a BOOKMARK
        /// (real servers: about a minute).
        public var bookmarkInterval: Duration = .seconds(1)
        public init() {}
    }

    public let port: Int
    /// The CA that signed the server's certificate (SANs: IP 127.0.0.1, DNS localhost).
    public let ca: TestCA
    /// The data; it survives ``stop()``: pass it to ``start(options:port:ca:state:)``
    /// with the same port and CA to restart the server.
    public let store: Store
    public var url: String { "https://127.0.0.1:\(port)" }

    private let channel: any Channel
    private let server: ServerContext

    /// A new service account token for `namespace/name`, which TokenReview
    /// (`POST /apis/authentication.k8s.io/v1/tokenreviews`) then says is that account's.
    /// (Real tokens are JWTs signed by the API server; this one is opaque, which a
    /// TokenReview caller cannot tell.)
    public func serviceAccountToken(namespace: String, name: String) -> String {
        let token = "sa-" + UUID().uuidString
        server.serviceAccountTokens.withLock { $0[token] = (namespace, name) }
        return token
    }

    public static func start(
        options: Options = .init(), port: Int = 0, ca: TestCA? = nil, state: Store? = nil
    ) async throws -> FakeKubeAPI {
        let ca = try ca ?? TestCA.make(commonName: "Fake Kubernetes API CA")
        let certificate = try ca.issue(
            commonName: "kube-apiserver", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.certificatePEM.utf8))
                .map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        // As kube-apiserver: a client certificate is asked for but not required, and one
        // that does not verify fails authentication (401), not the handshake.
        let clientRoot = try options.clientCA.map { try Certificate(pemEncoded: $0.certificatePEM) }
        if let clientCA = options.clientCA {
            configuration.certificateVerification = .optionalVerification
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(clientCA.certificatePEM.utf8)))
        }
        let context = try NIOSSLContext(configuration: configuration)

        let server = ServerContext(store: state ?? Store(), options: options)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                server.connections.withLock { $0[ObjectIdentifier(channel)] = channel }
                channel.closeFuture.whenComplete { _ in
                    _ = server.connections.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let identity = ClientIdentity()
                    let tls =
                        if let clientRoot {
                            NIOSSLServerHandler(
                                context: context,
                                customVerificationCallback: { chain, promise in
                                    identity.verify(chain, root: clientRoot, promise: promise)
                                })
                        } else {
                            NIOSSLServerHandler(context: context)
                        }
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(KubeHandler(server: server, identity: identity))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        return FakeKubeAPI(port: channel.localAddress!.port!, ca: ca, channel: channel, server: server)
    }

    private init(port: Int, ca: TestCA, channel: any Channel, server: ServerContext) {
        self.port = port
        self.ca = ca
        self.store = server.store
        self.channel = channel
        self.server = server
    }

    /// Closes the listener and every connection, open watches included (as an API
    /// server restart does: the watches end without a final chunk).
    public func stop() async {
        try? await channel.close()
        let open = server.connections.withLock { Array($0.values) }
        for connection in open { try? await connection.close() }
    }

    /// "VERB path?query -> status" of every request this server answered, oldest first.
    public var requestLog: [String] { server.log.withLock { $0 } }

    /// Answers the next `times` requests for `resource` (its plural, in any version and
    /// namespace) with 429 Too Many Requests and `Retry-After: seconds`, as the API
    /// server's priority and fairness does when a client is over its share.
    public func throttle(resource: String, times: Int, retryAfterSeconds: Int) {
        server.throttles.withLock { $0[resource] = Throttle(remaining: times, retryAfter: retryAfterSeconds) }
    }

    /// When each request for a throttled resource arrived: the throttled ones, then every
    /// later one.
    public func arrivals(of resource: String) -> [ContinuousClock.Instant] {
        server.throttles.withLock { $0[resource]?.arrivals ?? [] }
    }

    /// Every watch of `resource` open now goes silent — no events, no bookmarks — while
    /// its connection stays up, as when a path between client and server dies without
    /// either end noticing. Watches started later are served.
    public func stallWatches(of resource: String) {
        server.stalls.withLock { $0[resource] = .now }
    }

    struct Throttle {
        var remaining: Int
        let retryAfter: Int
        var arrivals: [ContinuousClock.Instant] = []
    }

    // MARK: Resource types

    /// Serves a custom resource (with a status subresource, as every Gateway API CRD has).
    public func installCRD(group: String, version: String, resource: String, kind: String, namespaced: Bool) {
        let type = ResourceType(
            group: group, version: version, resource: resource, kind: kind, namespaced: namespaced, hasStatus: true,
            isCRD: true)
        store.state.withLock { $0.types[type.id] = type }
    }

    /// The Gateway API CRDs Chancery reads: gatewayclasses (cluster-scoped), gateways,
    /// httproutes, grpcroutes, backendtlspolicies, listenersets (v1), referencegrants (v1beta1),
    /// tlsroutes, tcproutes, udproutes (v1alpha2).
    public func installGatewayAPI() {
        let group = "gateway.networking.k8s.io"
        installCRD(group: group, version: "v1", resource: "gatewayclasses", kind: "GatewayClass", namespaced: false)
        for (version, resource, kind) in [
            ("v1", "gateways", "Gateway"), ("v1", "httproutes", "HTTPRoute"), ("v1", "grpcroutes", "GRPCRoute"),
            ("v1beta1", "referencegrants", "ReferenceGrant"), ("v1alpha2", "tlsroutes", "TLSRoute"),
            ("v1alpha2", "tcproutes", "TCPRoute"), ("v1alpha2", "udproutes", "UDPRoute"),
            ("v1", "backendtlspolicies", "BackendTLSPolicy"), ("v1", "listenersets", "ListenerSet"),
        ] {
            installCRD(group: group, version: version, resource: resource, kind: kind, namespaced: true)
        }
    }

    // MARK: Test-side object manipulation (no authentication, no request log)

    /// Creates the object (`apiVersion`, `kind`, `metadata.name`; namespace defaults to
    /// "default"); its status is kept. Returns it as stored, with resourceVersion, uid,
    /// creationTimestamp and generation 1. Throws a ``StatusError``.
    @discardableResult
    public func create(_ json: String) throws -> String {
        let body = try parse(json)
        return try store.state.withLock { state throws(StatusError) in
            let type = try state.type(apiVersion: body["apiVersion"]?.stringValue ?? "", kind: body["kind"]?.stringValue ?? "")
            return try state.create(type, namespace: nil, body: body, fromRequest: false).text
        }
    }

    /// Replaces the whole object, status included (a `metadata.resourceVersion` in it must
    /// be current, else 409); generation goes up when anything outside metadata and status
    /// changed; an identical object changes nothing.
    @discardableResult
    public func update(_ json: String) throws -> String {
        let body = try parse(json)
        return try store.state.withLock { state throws(StatusError) in
            let type = try state.type(apiVersion: body["apiVersion"]?.stringValue ?? "", kind: body["kind"]?.stringValue ?? "")
            return try state.update(type, namespace: nil, name: nil, body: body, mode: .whole).text
        }
    }

    public func delete(apiVersion: String, kind: String, namespace: String?, name: String) throws {
        try store.state.withLock { state throws(StatusError) in
            let type = try state.type(apiVersion: apiVersion, kind: kind)
            _ = try state.delete(type, ObjectKey(namespace: type.namespaced ? namespace ?? "default" : "", name: name))
        }
    }

    /// The object as stored now, or nil.
    public func get(apiVersion: String, kind: String, namespace: String?, name: String) -> String? {
        store.state.withLock { state in
            guard let type = try? state.type(apiVersion: apiVersion, kind: kind) else { return nil }
            return state.get(type, ObjectKey(namespace: type.namespaced ? namespace ?? "default" : "", name: name))?.text
        }
    }

    /// Forgets the history: a watch or list continue at an older resourceVersion than the
    /// current one now gets 410 Gone (reason Expired).
    public func compact() {
        store.state.withLock { $0.compact() }
    }

    private func parse(_ json: String) throws(StatusError) -> JSONValue {
        guard let value = try? JSONValue.parse(json) else { throw .badRequest("the object is not valid JSON") }
        return value
    }
}

/// What every connection of one server shares.
final class ServerContext: Sendable {
    let store: FakeKubeAPI.Store
    let tokens: Set<String>
    let bookmarkInterval: TimeAmount
    let log = Mutex<[String]>([])
    let throttles = Mutex<[String: FakeKubeAPI.Throttle]>([:])
    /// By resource: watches begun before this instant are silent.
    let stalls = Mutex<[String: ContinuousClock.Instant]>([:])
    let connections = Mutex<[ObjectIdentifier: any Channel]>([:])
    /// Service account tokens TokenReview recognises: token → (namespace, name).
    let serviceAccountTokens = Mutex<[String: (namespace: String, name: String)]>([:])

    init(store: FakeKubeAPI.Store, options: FakeKubeAPI.Options) {
        self.store = store
        self.tokens = options.tokens
        self.bookmarkInterval = TimeAmount(options.bookmarkInterval)
    }
}

/// The user a connection's client certificate proves, if it does.
final class ClientIdentity: Sendable {
    private let user = Mutex<String?>(nil)

    var name: String? { user.withLock { $0 } }

    /// NIOSSL's verification callback: always lets the handshake go on, and records the
    /// CN when the chain verifies against `root` and the leaf allows client auth.
    func verify(_ chain: [NIOSSLCertificate], root: Certificate, promise: EventLoopPromise<NIOSSLVerificationResult>) {
        guard let parsed = try? chain.map({ try Certificate(derEncoded: $0.toDERBytes()) }), let leaf = parsed.first
        else {
            promise.succeed(.certificateVerified)
            return
        }
        promise.completeWithTask {
            var verifier = Verifier(rootCertificates: CertificateStore([root])) { RFC5280Policy() }
            let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(parsed.dropFirst()))
            let clientAuth = (try? leaf.extensions.extendedKeyUsage)?.contains(.clientAuth) ?? false
            if case .validCertificate = result, clientAuth, let name = leaf.subjectCommonName {
                self.user.withLock { $0 = name }
            }
            return .certificateVerified
        }
    }
}
