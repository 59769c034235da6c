import EnvoyAPI
import Foundation
import GRPCCore
import Logging
import Metrics

/// Serves snapshots from a ``SnapshotCache`` over every xDS discovery service: ADS
/// (state of the world and delta) and the per-type LDS/RDS/CDS/EDS/SDS services.
///
/// Each stream runs one ``StreamSession``; this type only moves requests, snapshots and
/// pushes between the session, the gRPC stream and the ``ClientRegistry``.
public struct DiscoveryService: Sendable {
    public let cache: SnapshotCache
    public let registry: ClientRegistry
    /// Which group each connecting node is served.
    public let grouping: any NodeGrouping
    /// Who may have which group's configuration; nil: anyone (tests of the protocol).
    public let access: XDSAccess?
    let logger: Logger

    public init(
        cache: SnapshotCache, registry: ClientRegistry, grouping: any NodeGrouping = ClusterGrouping(),
        access: XDSAccess? = nil, logger: Logger = Logger(label: "chancery.xds")
    ) {
        self.cache = cache
        self.registry = registry
        self.grouping = grouping
        self.access = access
        self.logger = logger
    }

    /// Refuses (PermissionDenied) a stream whose credentials do not own `group`.
    func authorize(node: Envoy_Config_Core_V3_Node, group: String, context: ServerContext) throws {
        guard let access else { return }
        let credentials = context.transportSpecific as? ProxyCredentials
        guard let reason = access.refusal(credentials, group: group) else { return }
        let first = registry.recordRefusal(
            ClientRegistry.Refusal(
                nodeID: node.id, group: group, peer: context.remotePeer, identity: credentials?.identity?.description,
                reason: reason, at: Date()))
        Counter(label: "chancery_xds_refused_streams_total").increment()
        // Envoy retries within a second: the log says it once per proxy and reason (the
        // admin endpoint counts the rest).
        if first {
            logger.warning(
                "xDS stream refused",
                metadata: ["node": "\(node.id)", "group": "\(group)", "peer": "\(context.remotePeer)", "reason": "\(reason)"])
        }
        throw RPCError(code: .permissionDenied, message: reason)
    }

    /// Every gRPC service this server registers: the generated services, their
    /// state-of-the-world streams writing spliced responses (``SotWSplicing``).
    public var services: [any RegistrableRPCService] {
        [
            SotWSplicing(base: AggregatedService(core: self)),
            SotWSplicing(base: ListenerService(core: self)),
            SotWSplicing(base: RouteService(core: self)),
            SotWSplicing(base: ClusterService(core: self)),
            SotWSplicing(base: EndpointService(core: self)),
            SotWSplicing(base: SecretService(core: self)),
        ]
    }

    private enum Event<Request: Sendable>: Sendable {
        case request(Request)
        case snapshot(Snapshot)
    }

    // MARK: state of the world

    /// The generated services' own state-of-the-world method, which ``SotWSplicing``
    /// replaces when it registers them: every response as a message.
    func stateOfTheWorld(
        requests: RPCAsyncSequence<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>,
        writer: RPCWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>,
        context: ServerContext,
        served: Set<ResourceType>,
        service: String
    ) async throws {
        try await stateOfTheWorld(
            requests: requests, context: context, served: served, service: service, splice: false,
            send: { response in
                switch response {
                case .message(let message):
                    try await writer.write(message)
                case .shared(let buffer):
                    try await writer.write(
                        Envoy_Service_Discovery_V3_DiscoveryResponse(serializedBytes: Array(buffer.readableBytesView)))
                }
            })
    }

    /// `splice`: a push of a type's whole list with the snapshot's nonce is written as
    /// the snapshot's encoding of it (``SotWResponse``), encoded once for every stream.
    func stateOfTheWorld(
        requests: RPCAsyncSequence<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>,
        context: ServerContext,
        served: Set<ResourceType>,
        service: String,
        splice: Bool,
        send: (SotWResponse) async throws -> Void
    ) async throws {
        try await run(
            requests: requests, context: context, mode: .stateOfTheWorld, served: served, service: service,
            node: { $0.hasNode ? $0.node : nil },
            receive: { session, request in session.receive(request) },
            write: { push, snapshot in
                if splice, push.whole, let response = snapshot.wholeResponse(push.type) {
                    try await send(.shared(response))
                    return
                }
                var response = Envoy_Service_Discovery_V3_DiscoveryResponse()
                response.versionInfo = push.version
                response.typeURL = push.type.typeURL
                response.nonce = push.nonce
                response.resources = push.resources.map(\.body)
                try await send(.message(response))
            })
    }

    // MARK: delta

    func delta(
        requests: RPCAsyncSequence<Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, any Error>,
        writer: RPCWriter<Envoy_Service_Discovery_V3_DeltaDiscoveryResponse>,
        context: ServerContext,
        served: Set<ResourceType>,
        service: String
    ) async throws {
        try await run(
            requests: requests, context: context, mode: .delta, served: served, service: service,
            node: { $0.hasNode ? $0.node : nil },
            receive: { session, request in session.receive(request) },
            write: { push, _ in
                var response = Envoy_Service_Discovery_V3_DeltaDiscoveryResponse()
                response.systemVersionInfo = push.version
                response.typeURL = push.type.typeURL
                response.nonce = push.nonce
                response.removedResources = push.removed
                response.resources = push.resources.map { resource in
                    var wire = Envoy_Service_Discovery_V3_Resource()
                    wire.name = resource.name
                    wire.version = resource.version
                    wire.resource = resource.body
                    return wire
                }
                try await writer.write(response)
            })
    }

    // MARK: one stream

    /// Runs one stream: the first request names the node and so the group; from then on
    /// requests and the group's snapshots feed the session, in arrival order, on one task.
    private func run<Request: Sendable>(
        requests: RPCAsyncSequence<Request, any Error>,
        context: ServerContext,
        mode: StreamSession.Mode,
        served: Set<ResourceType>,
        service: String,
        node: @escaping @Sendable (Request) -> Envoy_Config_Core_V3_Node?,
        receive: (inout StreamSession, Request) -> (ResourceType?, RequestOutcome, [Push]),
        write: (Push, Snapshot) async throws -> Void
    ) async throws {
        let (events, continuation) = AsyncStream<Event<Request>>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { continuation.finish() }
                for try await request in requests { continuation.yield(.request(request)) }
            }
            var session = StreamSession(mode: mode, served: served)
            let connectedAt = Date()
            var client: (id: UInt64, group: String, nodeID: String)?
            /// Subscriptions last given to the registry.
            var recorded: [ResourceType: Subscription] = [:]
            defer { if let client { registry.remove(client.id) } }
            let transport: ClientRegistry.Transport = mode == .delta ? .delta : .stateOfTheWorld

            for await event in events {
                let pushes: [Push]
                switch event {
                case .request(let request):
                    if client == nil {
                        guard let node = node(request) else {
                            throw RPCError(
                                code: .invalidArgument,
                                message: "the first discovery request must carry the node (id and cluster)")
                        }
                        let group = grouping.group(of: node)
                        try authorize(node: node, group: group, context: context)
                        let id = registry.register(
                            nodeID: node.id, group: group, peer: context.remotePeer, transport: transport,
                            service: service)
                        client = (id, group, node.id)
                        logger.info(
                            "proxy connected",
                            metadata: [
                                "node": "\(node.id)", "group": "\(group)", "peer": "\(context.remotePeer)",
                                "stream": "\(service)/\(transport.rawValue)",
                            ])
                        _ = session.update(cache.snapshot(for: group))
                        let updates = cache.updates(for: group)
                        tasks.addTask {
                            for await snapshot in updates { continuation.yield(.snapshot(snapshot)) }
                        }
                    }
                    let (type, outcome, out) = receive(&session, request)
                    pushes = out
                    if let client, let type {
                        registry.recordOutcome(client.id, type, outcome)
                        // Most requests are ACKs naming the same resources again.
                        if let subscription = session.types[type]?.subscription, recorded[type] != subscription {
                            registry.recordSubscription(client.id, type, subscription)
                            recorded[type] = subscription
                        }
                        log(outcome, type: type, client: client)
                    }
                case .snapshot(let snapshot):
                    pushes = session.update(snapshot)
                }
                for push in pushes {
                    // The snapshot the push was made from: the next event has not been read.
                    try await write(push, session.snapshot)
                    if let client { registry.recordPush(client.id, push, snapshotVersion: session.snapshotVersion) }
                    if let client {
                        logger.debug(
                            "push",
                            metadata: [
                                "node": "\(client.nodeID)", "type": "\(push.type)", "version": "\(push.version)",
                                "nonce": "\(push.nonce)", "resources": "\(push.resources.count)",
                                "removed": "\(push.removed.count)",
                            ])
                    }
                }
                if let client {
                    let became = registry.recordProgress(
                        client.id, snapshotVersion: session.snapshotVersion, inSync: session.isInSync)
                    // Propagation: a change seen while this proxy was connected, until
                    // the proxy holds it (a fresh connection's first sync is not one).
                    if became, let record = cache.record(for: client.group, version: session.snapshotVersion),
                        record.seenAt >= connectedAt
                    {
                        let seconds = Date().timeIntervalSince(record.seenAt)
                        Timer(label: "chancery_propagation_seconds", dimensions: [("group", client.group)])
                            .recordNanoseconds(Int64(max(0, seconds) * 1e9))
                    }
                }
            }
            if let client {
                logger.info("proxy disconnected", metadata: ["node": "\(client.nodeID)", "group": "\(client.group)"])
            }
            tasks.cancelAll()
        }
    }

    private func log(_ outcome: RequestOutcome, type: ResourceType, client: (id: UInt64, group: String, nodeID: String)) {
        switch outcome {
        case .nack(let nonce, let version, let message):
            logger.warning(
                "proxy rejected a push (NACK)",
                metadata: [
                    "node": "\(client.nodeID)", "group": "\(client.group)", "type": "\(type)",
                    "version": "\(version)", "nonce": "\(nonce)", "error": "\(message)",
                ])
        case .unsupportedType(let url):
            logger.warning("proxy asked for a type Chancery does not serve", metadata: ["type_url": "\(url)"])
        case .ack, .subscribed, .stale, .subscriptionChanged:
            break
        }
    }

    // MARK: fetch (unary)

    func fetch(
        _ request: Envoy_Service_Discovery_V3_DiscoveryRequest, type: ResourceType, context: ServerContext
    ) throws -> Envoy_Service_Discovery_V3_DiscoveryResponse {
        guard request.hasNode else {
            throw RPCError(code: .invalidArgument, message: "a fetch request must carry the node (id and cluster)")
        }
        let group = grouping.group(of: request.node)
        try authorize(node: request.node, group: group, context: context)
        let resources = cache.snapshot(for: group)[type]
        let wanted = request.resourceNames.isEmpty ? resources : resources.filter { request.resourceNames.contains($0.key) }
        var response = Envoy_Service_Discovery_V3_DiscoveryResponse()
        response.typeURL = type.typeURL
        response.versionInfo = ContentHash.of(resources: wanted.values)
        response.resources = wanted.values.sorted { $0.name < $1.name }.map(\.body)
        return response
    }
}
