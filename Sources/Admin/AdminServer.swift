import EnvoyAPI
import EnvoyBuild
import Foundation
import GatewayModel
import Hummingbird
import IR
import Logging
import NIOCore
import Prometheus
import SwiftProtobuf
import Synchronization
import Translation
import XDS

/// The admin HTTP endpoint: health, objects and their status, snapshots, connected
/// proxies, propagation, Prometheus metrics and a page for people.
///
/// It binds loopback by default; any other address needs a bearer token, checked on
/// every path but `/healthz` and `/readyz`. Errors are `{"error": {"code", "message"}}`.
public final class AdminServer: Sendable {
    public let cache: SnapshotCache
    public let registry: ClientRegistry
    public let state: AdminState
    public let metrics: PrometheusCollectorRegistry
    private let address: HostPort
    let token: String?
    private let bound = Mutex<HostPort?>(nil)
    private let processMetrics = ProcessMetrics()
    private let logger: Logger
    /// How `POST /api/v1/plan` translates candidates: as the server translates its own.
    let planner: Planner

    public struct InsecureBinding: Error, CustomStringConvertible {
        public let address: HostPort
        public var description: String {
            "the admin endpoint would listen on \(address), beyond loopback: give --admin-token-file so requests need a bearer token"
        }
    }

    public init(
        address: HostPort, token: String?, cache: SnapshotCache, registry: ClientRegistry, state: AdminState,
        metrics: PrometheusCollectorRegistry, planner: Planner = Planner(), logger: Logger = Logger(label: "chancery.admin")
    ) throws {
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(address.host) || address.host.hasPrefix("127.")
        guard loopback || token != nil else { throw InsecureBinding(address: address) }
        self.address = address
        self.token = token
        self.cache = cache
        self.registry = registry
        self.state = state
        self.metrics = metrics
        self.planner = planner
        self.logger = logger
    }

    /// Serves until the task is cancelled (or, in a ServiceGroup, until it shuts down).
    public func run() async throws {
        let app = Application(
            router: router(),
            configuration: .init(address: .hostname(address.host == "localhost" ? "127.0.0.1" : address.host, port: address.port)),
            onServerRunning: { [self] channel in
                if let port = channel.localAddress?.port {
                    self.bound.withLock { $0 = HostPort(host: channel.localAddress?.ipAddress ?? "127.0.0.1", port: port) }
                }
            },
            logger: logger)
        try await app.run()
    }

    public struct NotListening: Error, CustomStringConvertible {
        public let address: HostPort
        public var description: String {
            "the admin endpoint did not start listening on \(address) within 10 s (--admin-address)"
        }
    }

    /// The address actually bound, once listening (waits up to 10 s).
    public func boundAddress() async throws -> HostPort {
        for _ in 0..<1000 {
            if let address = bound.withLock({ $0 }) { return address }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw NotListening(address: address)
    }

    /// Every route: health checks open to all; the rest behind the bearer token when
    /// there is one. Each collection is one area of the API (``AdminRoutes``).
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.addRoutes(AdminRoutes.health(self))
        let guarded = RouteCollection(context: BasicRequestContext.self)
        if let token { guarded.add(middleware: BearerToken(token: token, server: self)) }
        guarded.addRoutes(AdminRoutes.page(self))
        guarded.addRoutes(AdminRoutes.metrics(self))
        guarded.addRoutes(AdminRoutes.objects(self), atPath: "/api/v1")
        guarded.addRoutes(AdminRoutes.clients(self), atPath: "/api/v1")
        guarded.addRoutes(AdminRoutes.snapshots(self), atPath: "/api/v1")
        guarded.addRoutes(AdminRoutes.plans(self), atPath: "/api/v1")
        guarded.addRoutes(AdminRoutes.mesh(self), atPath: "/api/v1")
        guarded.addRoutes(AdminRoutes.plan(self), atPath: "/api/v1")
        router.addRoutes(guarded)
        return router
    }

    /// `/api/v1/snapshots/{group}`, `…/{group}/diff`, `…/{group}/versions/{v}`, where a
    /// group may be `namespace/name` (with or without its `/` encoded).
    func snapshotRoute(_ parts: [String], query: Parameters) throws -> Response {
        var segments = parts.map { $0.removingPercentEncoding ?? $0 }
        var action = "resources"
        var version: String?
        if segments.count >= 2, segments[segments.count - 2] == "versions" {
            version = segments.removeLast()
            segments.removeLast()
            action = "version"
        } else if segments.last == "diff" {
            segments.removeLast()
            action = "diff"
        }
        let group = segments.joined(separator: "/")
        guard state.current != nil else {
            return error(.serviceUnavailable, "not_ready", "nothing is served yet: \(state.readiness.reason)")
        }
        guard cache.groups.contains(group) else {
            return error(.notFound, "unknown_group", "no proxy group \"\(group)\"; groups: \(cache.groups.joined(separator: ", "))")
        }
        switch action {
        case "version":
            guard let version, let timeline = timeline(group: group, version: version) else {
                return error(.notFound, "unknown_version", "group \(group) has no recent version \(version ?? "")")
            }
            return try json(timeline)
        case "diff":
            let history = cache.history(for: group)
            let from = query.get("from") ?? (history.count > 1 ? history[history.count - 2].version : "")
            let to = query.get("to") ?? history.last?.version ?? ""
            guard let a = cache.record(for: group, version: from), let b = cache.record(for: group, version: to) else {
                return error(
                    .badRequest, "unknown_version",
                    "diff needs two recent versions of \(group) (from, to); recent: \(history.map(\.version).joined(separator: ", "))")
            }
            return try json(diff(group: group, a.snapshot, b.snapshot, from: from, to: to))
        default:
            return try resources(group: group, type: query.get("type"), name: query.get("name"))
        }
    }

    /// `/api/v1/ir/{group}`: the plan the translator made for the group (its
    /// intermediate representation), private keys redacted.
    func planRoute(_ parts: [String]) throws -> Response {
        let group = parts.map { $0.removingPercentEncoding ?? $0 }.joined(separator: "/")
        guard let current = state.current, let plan = current.result.plans[group] else {
            let known = state.current?.result.plans.keys.sorted().joined(separator: ", ") ?? ""
            return error(.notFound, "unknown_group", "no proxy group \"\(group)\"; groups: \(known)")
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: try plan.json())))
    }

    // MARK: builders

    func objects(kind: String?, namespace: String?, onlyRejected: Bool) -> Views.Objects {
        guard let current = state.current else { return Views.Objects(objects: [], readErrors: []) }
        let nacks = Rejections.conditions(registry: registry, result: current.result, set: current.set)
        var keys = Set(current.set.manifests.keys).union(current.result.statuses.keys)
        keys.formUnion(nacks.keys)
        var objects: [Views.Object] = []
        for key in keys.sorted() {
            if let kind, key.kind.rawValue.lowercased() != kind.lowercased() { continue }
            if let namespace, key.namespace != namespace { continue }
            let status = Rejections.merged(current.result.statuses[key], nacks[key])
            let quarantined = current.quarantine.contains { $0.key == key }
            let rejected = status.isRejected || nacks[key] != nil || quarantined
            if onlyRejected, !rejected { continue }
            objects.append(
                Views.Object(
                    kind: key.kind.rawValue, namespace: key.namespace.isEmpty ? nil : key.namespace, name: key.name,
                    origin: current.set[key]?.origin.description, rejected: rejected, quarantined: quarantined,
                    conditions: status.conditions,
                    listeners: status.listeners, addresses: status.addresses, attachedListenerSets: status.attachedListenerSets,
                    parents: status.parents, ancestors: status.ancestors, policies: current.result.effectivePolicies[key]))
        }
        return Views.Objects(objects: objects, readErrors: current.result.readErrors.map(\.description))
    }

    func quarantined() -> [Views.Quarantined] {
        (state.current?.quarantine ?? []).map { entry in
            Views.Quarantined(
                kind: entry.key.kind.rawValue, namespace: entry.key.namespace.isEmpty ? nil : entry.key.namespace,
                name: entry.key.name, message: entry.message, since: entry.since,
                serving: entry.fallback == nil ? "nothing (new object)" : "previous version")
        }
    }

    func summary(_ group: String) -> Views.SnapshotSummary? {
        let history = cache.history(for: group)
        guard let record = history.last else { return nil }
        let clients = registry.clients(inGroup: group)
        var counts: [String: Int] = [:]
        for type in ResourceType.allCases { counts[type.plural] = record.snapshot[type].count }
        return Views.SnapshotSummary(
            group: group, version: record.version, resources: counts, builtAt: record.setAt, seenAt: record.seenAt,
            translatedAt: record.translatedAt, proxies: clients.count,
            proxiesInSync: clients.filter { $0.syncedVersion == record.version }.count,
            versions: history.map(\.version))
    }

    func timeline(group: String, version: String) -> Views.VersionTimeline? {
        guard let record = cache.record(for: group, version: version) else { return nil }
        let clients = registry.clients(inGroup: group)
        let proxies = clients.map { client in
            let nack = client.types.values.compactMap { $0.currentNack?.message }.first
            return Views.ProxyVersionState(
                nodeID: client.nodeID, firstSentAt: client.firstSentAt[version], ackedAt: client.ackedAt[version],
                inSync: client.syncedVersion == version, nack: nack)
        }
        let acked = proxies.compactMap(\.ackedAt)
        return Views.VersionTimeline(
            group: group, version: version, current: cache.history(for: group).last?.version == version,
            seenAt: record.seenAt, translatedAt: record.translatedAt, setAt: record.setAt,
            firstSentAt: proxies.compactMap(\.firstSentAt).min(),
            allAckedAt: !proxies.isEmpty && acked.count == proxies.count ? acked.max() : nil, proxies: proxies,
            quarantined: (state.current?.quarantine ?? []).filter { $0.group == group }.map { "\($0.key): \($0.message)" })
    }

    func diff(group: String, _ a: Snapshot, _ b: Snapshot, from: String, to: String) -> Views.Diff {
        let changes = resourceChanges(a, b, from: "version \(from)", to: "version \(to)")
        func named(_ change: String) -> [String] { changes.filter { $0.change == change }.map(\.resource) }
        return Views.Diff(
            group: group, from: from, to: to, added: named("added"), removed: named("removed"), changed: named("changed"),
            changes: changes)
    }

    /// The group's current resources as Envoy's proto-JSON; secrets with key material
    /// replaced by `"[redacted]"`.
    func resources(group: String, type: String?, name: String?) throws -> Response {
        let snapshot = cache.snapshot(for: group)
        var body: [String: Any] = ["group": group, "version": snapshot.version]
        for resourceType in ResourceType.allCases {
            if let type, type != resourceType.plural, type != resourceType.resourceKind.rawValue, type != resourceType.shortName {
                continue
            }
            var items: [Any] = []
            for resource in snapshot[resourceType].values.sorted(by: { $0.name < $1.name }) {
                if let name, resource.name != name { continue }
                items.append(["name": resource.name, "version": resource.version, "resource": try jsonObject(resource)])
            }
            body[resourceType.plural] = items
        }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The resource as Envoy's proto-JSON, parsed; key material, API keys and password
    /// hashes redacted.
    func jsonObject(_ resource: Resource) throws -> Any {
        Redaction.redact(try JSONSerialization.jsonObject(with: Data(try jsonText(resource).utf8)))
    }

    private func jsonText(_ resource: Resource) throws -> String {
        switch resource.type {
        case .listener: try EnvoyJSON.encode(resource.decode(as: Envoy_Config_Listener_V3_Listener.self))
        case .scopedRoute:
            try EnvoyJSON.encode(resource.decode(as: Envoy_Config_Route_V3_ScopedRouteConfiguration.self))
        case .route: try EnvoyJSON.encode(resource.decode(as: Envoy_Config_Route_V3_RouteConfiguration.self))
        case .cluster: try EnvoyJSON.encode(resource.decode(as: Envoy_Config_Cluster_V3_Cluster.self))
        case .endpoint: try EnvoyJSON.encode(resource.decode(as: Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self))
        case .secret: try EnvoyJSON.encode(resource.decode(as: Envoy_Extensions_TransportSockets_Tls_V3_Secret.self))
        }
    }

    // MARK: metrics

    func prometheusText() -> String {
        // Gauges that describe the present are set from state at each scrape.
        for group in cache.groups {
            let snapshot = cache.snapshot(for: group)
            for type in ResourceType.allCases {
                metrics.makeGauge(
                    descriptor: gauge("snapshot", "resources", "Resources in the group's current snapshot, by type"),
                    labels: [("group", group), ("type", type.shortName)]
                ).set(Double(snapshot[type].count))
            }
        }
        var connected: [String: [String: Int]] = [:]
        for client in registry.all { connected[client.group, default: [:]][client.transport.rawValue, default: 0] += 1 }
        for group in Set(connected.keys).union(cache.groups) {
            for transport in ["sotw", "delta"] {
                metrics.makeGauge(
                    descriptor: gauge("connected", "proxies", "Connected proxies by group and protocol"),
                    labels: [("group", group), ("protocol", transport)]
                ).set(Double(connected[group]?[transport] ?? 0))
            }
        }
        if let current = state.current {
            // By kind, as the objects view counts them (quarantined and NACKed included),
            // every kind listed (a kind back to none reads 0); what could not be read at
            // all is `unreadable` unless its kind is known.
            var rejected: [String: Int] = [:]
            for object in objects(kind: nil, namespace: nil, onlyRejected: true).objects { rejected[object.kind, default: 0] += 1 }
            for error in current.result.readErrors { rejected[error.object?.kind.rawValue ?? "unreadable", default: 0] += 1 }
            for kind in Kind.allCases.map(\.rawValue) + ["unreadable"] {
                metrics.makeGauge(
                    descriptor: gauge("rejected", "objects", "Objects not (fully) accepted or not read, by kind"),
                    labels: [("kind", kind)]
                ).set(Double(rejected[kind] ?? 0))
            }
            metrics.makeGauge(descriptor: gauge("read", "objects", "Objects read from all sources")).set(
                Double(current.set.manifests.count))
        }
        metrics.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "chancery", metricName: "build", unitName: "info", helpText: "Always 1: the version running, and its compiler"),
            labels: [("version", BuildInfo.version), ("swift", BuildInfo.swift)]
        ).set(1.0)
        processMetrics.record(into: metrics)
        var buffer: [UInt8] = []
        metrics.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    private func gauge(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "chancery", metricName: name, unitName: unit, helpText: help)
    }

    // MARK: responses

    func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        let data = try encoder.encode(value)
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    func text(_ text: String, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: .ok, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    func html(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        let body = Views.ErrorBody(error: .init(code: code, message: message))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Key material never leaves Chancery: in any JSON it shows, the values of fields that
/// carry private keys or passwords are replaced, and so are the API keys and password
/// hashes of policies' filters (their client and user names stay).
public enum Redaction {
    static let sensitive: Set<String> = ["private_key", "password", "session_ticket_keys", "keys"]

    public static func redact(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            var out: [String: Any] = [:]
            let type = object["@type"] as? String ?? ""
            for (key, inner) in object {
                if sensitive.contains(key) {
                    out[key] = "[redacted]"
                } else if type.contains(".api_key_auth."), key == "credentials", let credentials = inner as? [[String: Any]] {
                    out[key] = credentials.map { credential in credential.merging(["key": "[redacted]"]) { _, new in new } }
                } else if type.contains(".basic_auth."), key == "users" {
                    out[key] = "[redacted]"
                } else {
                    out[key] = redact(inner)
                }
            }
            return out
        }
        if let array = value as? [Any] { return array.map(redact) }
        return value
    }
}
