import Foundation
import GatewayModel
import Logging
import Metrics
import Synchronization

/// A kind Chancery lists and watches: where it lives in the API.
public struct WatchedKind: Sendable, Hashable {
    public let kind: Kind
    /// API group ("" for core).
    public let group: String
    /// Versions to try, preferred first (a CRD may serve only an older one).
    public let versions: [String]
    public let resource: String
    /// Server-side filter (Secrets: only TLS ones).
    public let fieldSelector: String?

    /// Kinds read only where their project's CRDs are used (Cilium's and Istio's policies
    /// for the mesh): when the identity may not list them (403), they are read as empty,
    /// with a warning, rather than holding back the first configuration.
    public var isOptional: Bool { group == ciliumGroup || group == istioSecurityGroup }

    public static let all: [WatchedKind] = [
        WatchedKind(kind: .gatewayClass, group: gatewayGroup, versions: ["v1", "v1beta1"], resource: "gatewayclasses", fieldSelector: nil),
        WatchedKind(kind: .gateway, group: gatewayGroup, versions: ["v1", "v1beta1"], resource: "gateways", fieldSelector: nil),
        WatchedKind(kind: .listenerSet, group: gatewayGroup, versions: ["v1"], resource: "listenersets", fieldSelector: nil),
        WatchedKind(kind: .httpRoute, group: gatewayGroup, versions: ["v1", "v1beta1"], resource: "httproutes", fieldSelector: nil),
        WatchedKind(kind: .grpcRoute, group: gatewayGroup, versions: ["v1", "v1alpha2"], resource: "grpcroutes", fieldSelector: nil),
        WatchedKind(
            kind: .tlsRoute, group: gatewayGroup, versions: ["v1", "v1alpha3", "v1alpha2"], resource: "tlsroutes", fieldSelector: nil),
        WatchedKind(kind: .tcpRoute, group: gatewayGroup, versions: ["v1alpha2"], resource: "tcproutes", fieldSelector: nil),
        WatchedKind(kind: .udpRoute, group: gatewayGroup, versions: ["v1alpha2"], resource: "udproutes", fieldSelector: nil),
        WatchedKind(
            kind: .referenceGrant, group: gatewayGroup, versions: ["v1", "v1beta1"], resource: "referencegrants", fieldSelector: nil),
        WatchedKind(
            kind: .backendTLSPolicy, group: gatewayGroup, versions: ["v1", "v1alpha3"], resource: "backendtlspolicies",
            fieldSelector: nil),
        WatchedKind(kind: .service, group: "", versions: ["v1"], resource: "services", fieldSelector: nil),
        WatchedKind(
            kind: .endpointSlice, group: "discovery.k8s.io", versions: ["v1"], resource: "endpointslices", fieldSelector: nil),
        // Listener certificates, and the htpasswd files and API keys policies name; never
        // service account tokens or Helm releases (large, many, and of no use here).
        WatchedKind(
            kind: .secret, group: "", versions: ["v1"], resource: "secrets",
            fieldSelector: "type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1,type!=bootstrap.kubernetes.io/token"),
        WatchedKind(kind: .configMap, group: "", versions: ["v1"], resource: "configmaps", fieldSelector: nil),
        WatchedKind(kind: .namespace, group: "", versions: ["v1"], resource: "namespaces", fieldSelector: nil),
        // Mesh workloads; finished Pods serve nothing.
        WatchedKind(
            kind: .pod, group: "", versions: ["v1"], resource: "pods",
            fieldSelector: "status.phase!=Succeeded,status.phase!=Failed"),
        // Cilium's L7 policies for mesh workloads (a cluster without Cilium's CRDs says so once).
        WatchedKind(
            kind: .ciliumNetworkPolicy, group: ciliumGroup, versions: ["v2"], resource: "ciliumnetworkpolicies", fieldSelector: nil),
        // Istio's authorization policies for mesh workloads.
        WatchedKind(
            kind: .authorizationPolicy, group: istioSecurityGroup, versions: ["v1", "v1beta1"], resource: "authorizationpolicies",
            fieldSelector: nil),
        WatchedKind(kind: .ingressClass, group: "networking.k8s.io", versions: ["v1"], resource: "ingressclasses", fieldSelector: nil),
        WatchedKind(kind: .ingress, group: "networking.k8s.io", versions: ["v1"], resource: "ingresses", fieldSelector: nil),
        WatchedKind(
            kind: .securityPolicy, group: envoyGatewayGroup, versions: ["v1alpha1"], resource: "securitypolicies", fieldSelector: nil),
        WatchedKind(
            kind: .backendTrafficPolicy, group: envoyGatewayGroup, versions: ["v1alpha1"], resource: "backendtrafficpolicies",
            fieldSelector: nil),
        WatchedKind(
            kind: .clientTrafficPolicy, group: envoyGatewayGroup, versions: ["v1alpha1"], resource: "clienttrafficpolicies",
            fieldSelector: nil),
    ]

    public var label: String { group.isEmpty ? resource : "\(resource).\(group)" }

    public func apiVersion(_ version: String) -> String { group.isEmpty ? version : "\(group)/\(version)" }

    /// The collection path, in one namespace or across all.
    public func path(version: String, namespace: String?) -> String {
        let root = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if let namespace, kind.isNamespaced { return "\(root)/namespaces/\(namespace)/\(resource)" }
        return "\(root)/\(resource)"
    }

    public func objectPath(version: String, namespace: String?, name: String) -> String {
        path(version: version, namespace: kind.isNamespaced ? namespace : nil) + "/" + name
    }
}

/// An object as the API server last showed it: the decoded manifest (or why it could
/// not be read) and the raw JSON, whose `status` and `resourceVersion` status
/// write-back needs.
public struct ClusterObject: Sendable {
    public let key: ObjectKey
    public let apiVersion: String
    public let resourceVersion: String
    public let raw: Data
    public let manifest: Manifest?
    public let error: ManifestError?
}

/// Lists and watches every kind Chancery reads from a Kubernetes API server and turns
/// them into ResourceSets. Each kind has its own reflector: paginated list, then watch
/// from the list's resourceVersion with bookmarks; `410 Gone` relists; errors back off
/// with jitter and are logged once, in words that say what to fix; a kind whose CRD is
/// not installed counts as synced and empty, is retried and reported, and the others
/// keep working. Sets are published only once every kind has synced.
public final class KubernetesSource: Sendable {
    public let client: KubeClient
    public let namespaces: [String]
    public let pageSize: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let changed: AsyncStream<Void>.Continuation
    private let changeStream: AsyncStream<Void>
    /// When the last object changed (sets are read once changes pause: ``Debounce``).
    private let clock = ChangeClock()
    let backoff: Backoff
    let watchIdleTimeout: Duration
    /// How ``ConfigSource/changes()`` waits for a burst to pause.
    public let debounce: Debounce

    struct State {
        var objects: [WatchedKind: [ObjectKey: ClusterObject]] = [:]
        var synced: Set<WatchedKind> = []
        var problems: [WatchedKind: String] = [:]
        var servedVersion: [WatchedKind: String] = [:]
        /// The API server could not be reached: said once for every kind, not once a kind.
        var unreachable = false
        /// The set ``currentSet()`` last made, and what changed since: objects added,
        /// changed or deleted, kinds listed anew, and whether an object that has or had an
        /// error was among them. The next set is that one with those changes made to it,
        /// so the kinds no event touched keep their revisions.
        var set: ResourceSet?
        var touched: [ObjectKey: WatchedKind] = [:]
        var relisted: Set<WatchedKind> = []
        var errorsChanged = false

        /// Every object as one ResourceSet, built from scratch.
        func wholeSet() -> ResourceSet {
            ResourceSet(manifests: manifests(), errors: errors())
        }

        func manifests() -> [Manifest] {
            WatchedKind.all.flatMap { kind in
                (objects[kind] ?? [:]).values.sorted(by: { $0.key < $1.key }).compactMap(\.manifest)
            }
        }

        /// Every object's error, by kind (in `WatchedKind.all`'s order), then by key.
        func errors() -> [ManifestError] {
            WatchedKind.all.flatMap { kind in
                (objects[kind] ?? [:]).values.filter { $0.error != nil }.sorted(by: { $0.key < $1.key }).compactMap(\.error)
            }
        }
    }

    /// Retry delays: doubling from `base` up to `max`, each scaled by a random 50–100 %.
    public struct Backoff: Sendable {
        public var base: Duration
        public var max: Duration
        public init(base: Duration = .milliseconds(250), max: Duration = .seconds(8)) {
            self.base = base
            self.max = max
        }
        func delay(_ attempt: Int) -> Duration {
            let grown = base * Int(1 << Swift.min(attempt, 16))
            let capped = grown > max ? max : grown
            return capped * Double.random(in: 0.5...1.0)
        }
    }

    /// - Parameter namespaces: watch only these namespaces (cluster-scoped kinds are
    ///   always watched); empty means all.
    /// - Parameter pageSize: objects per list page (`limit`).
    /// - Parameter watchIdleTimeout: a watch that sends nothing (the API server sends
    ///   bookmarks on quiet watches) for this long is started again.
    /// - Parameter debounce: how ``ConfigSource/changes()`` waits for a burst to pause.
    public init(
        client: KubeClient, namespaces: [String] = [], pageSize: Int = 500, backoff: Backoff = Backoff(),
        watchIdleTimeout: Duration = .seconds(120), debounce: Debounce = .adaptive, logger: Logger
    ) {
        self.watchIdleTimeout = watchIdleTimeout
        self.debounce = debounce
        self.client = client
        self.namespaces = namespaces
        self.pageSize = max(pageSize, 1)
        self.backoff = backoff
        self.logger = logger
        (changeStream, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether every kind has been listed (a missing CRD counts: it is empty).
    public var isSynced: Bool { state.withLock { $0.synced.count == WatchedKind.all.count } }

    /// What is not synced yet or not working, by kind, for readiness and logs.
    public var problems: [String] {
        state.withLock { state in
            WatchedKind.all.compactMap { kind in
                if let problem = state.problems[kind] { return "\(kind.label): \(problem)" }
                if !state.synced.contains(kind) { return "\(kind.label): not listed yet" }
                return nil
            }
        }
    }

    /// The objects as last seen, by key (for status write-back).
    public func object(_ key: ObjectKey) -> ClusterObject? {
        state.withLock { state in
            for (kind, objects) in state.objects where kind.kind == key.kind {
                if let object = objects[key] { return object }
            }
            return nil
        }
    }

    /// Every object of a kind as last seen.
    public func objects(of kind: Kind) -> [ClusterObject] {
        state.withLock { state in
            state.objects.filter { $0.key.kind == kind }.values.flatMap(\.values).sorted { $0.key < $1.key }
        }
    }

    /// The version the server serves a kind at (after discovery by listing).
    public func servedVersion(of kind: Kind) -> (WatchedKind, String)? {
        state.withLock { state in
            guard let watched = WatchedKind.all.first(where: { $0.kind == kind }), let version = state.servedVersion[watched]
            else { return nil }
            return (watched, version)
        }
    }

    /// Everything read so far, as one ResourceSet.
    ///
    /// The last set with what the watches saw since put in place: the objects events
    /// named, and every object of a kind listed again.
    public func currentSet() -> ResourceSet {
        state.withLock { state in
            defer {
                state.touched = [:]
                state.relisted = []
                state.errorsChanged = false
            }
            guard var set = state.set else {
                let set = state.wholeSet()
                state.set = set
                return set
            }
            func put(_ key: ObjectKey, from kind: WatchedKind) {
                let manifest = state.objects[kind]?[key]?.manifest
                if set[key] != manifest { set.replace(key, with: manifest) }
            }
            for kind in WatchedKind.all where state.relisted.contains(kind) {
                let listed = Set((state.objects[kind] ?? [:]).keys)
                for key in Set(set.manifests(of: kind.kind).map(\.object.key)).union(listed).sorted() { put(key, from: kind) }
            }
            for (key, kind) in state.touched.sorted(by: { $0.key < $1.key }) where !state.relisted.contains(kind) {
                put(key, from: kind)
            }
            if state.errorsChanged { set.replaceErrors(with: state.errors()) }
            assert(set == state.wholeSet(), "the set made from the last one differs from one built from every object")
            state.set = set
            return set
        }
    }

    /// Runs every reflector until cancelled, yielding a ResourceSet after each change
    /// once all kinds have synced (the first one when they all have).
    ///
    /// `debounce` replaces the source's own (``debounce``) for this stream.
    public func updates(debounce: Debounce? = nil) -> AsyncStream<ResourceSet> {
        let debounce = debounce ?? self.debounce
        let (stream, continuation) = AsyncStream<ResourceSet>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for kind in WatchedKind.all {
                    let scopes: [String?] = kind.kind.isNamespaced && !namespaces.isEmpty ? namespaces.map { $0 } : [nil]
                    group.addTask { await self.reflect(kind, scopes: scopes) }
                }
                group.addTask {
                    var last: ResourceSet?
                    for await _ in self.changeStream {
                        await self.clock.settle(debounce)
                        guard self.isSynced else { continue }
                        let set = self.currentSet()
                        // Compared by what changed since (the set was made from the last).
                        if last.map({ !set.changedKeys(since: $0).isEmpty || set.errors != $0.errors }) ?? true {
                            continuation.yield(set)
                            last = set
                        }
                    }
                }
                await group.waitForAll()
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    // MARK: one kind

    private enum WatchEnd: Error { case relist }

    /// Which CRDs a kind comes with, for the message when they are missing.
    static func crdsNaming(_ kind: WatchedKind) -> String {
        switch kind.group {
        case envoyGatewayGroup: "the Envoy Gateway policy CRDs"
        case ciliumGroup: "Cilium's CRDs (only for CiliumNetworkPolicies in the mesh)"
        case istioSecurityGroup: "Istio's security CRDs (only for AuthorizationPolicies in the mesh)"
        default: "the Gateway API CRDs"
        }
    }

    /// List then watch one kind (in each namespace scope), forever.
    private func reflect(_ kind: WatchedKind, scopes: [String?]) async {
        var attempt = 0
        // Once listed, a kind keeps what it held through errors (policies never vanish
        // because permissions did).
        var listedOnce = false
        while !Task.isCancelled {
            do {
                guard let (version, listed) = try await list(kind, scopes: scopes) else {
                    // No version of this kind is served: its CRD is not installed.
                    report(
                        kind,
                        "the CRD is not installed (tried \(kind.versions.joined(separator: ", "))); retrying — install \(Self.crdsNaming(kind)) to serve this kind")
                    replace(kind, with: [:], version: nil, synced: true)
                    try await Task.sleep(for: backoff.delay(attempt + 4))
                    attempt += 1
                    continue
                }
                replace(kind, with: listed.objects, version: version, synced: true)
                listedOnce = true
                report(kind, nil)
                attempt = 0
                try await watch(kind, version: version, scopes: scopes, from: listed.resourceVersions)
            } catch is CancellationError {
                return
            } catch WatchEnd.relist {
                logger.info("watch expired (410 Gone); listing again", metadata: ["kind": "\(kind.label)"])
                continue
            } catch let failure as KubeClient.Failure where failure.status == 403 && kind.isOptional && !listedOnce {
                report(
                    kind,
                    "forbidden (403): the identity may not list this kind, so it is read as empty; grant list and watch on it (docs/kubernetes.md) to enforce these policies")
                replace(kind, with: [:], version: nil, synced: true)
                try? await Task.sleep(for: backoff.delay(attempt + 4))
                attempt += 1
            } catch {
                let delay = wait(after: error, attempt: attempt)
                report(kind, describe(error), retryIn: delay)
                try? await Task.sleep(for: delay)
                attempt += 1
            }
        }
    }

    /// How long to wait before trying again: as long as the API server asked
    /// (`Retry-After`, a 429 from its priority and fairness or a 5xx), else the backoff.
    private func wait(after error: any Error, attempt: Int) -> Duration {
        (error as? KubeClient.Failure)?.retryAfter ?? backoff.delay(attempt)
    }

    private struct Listed {
        var objects: [ObjectKey: ClusterObject] = [:]
        var resourceVersions: [String] = []
    }

    /// Lists every scope at the first version the server serves; nil when it serves none.
    private func list(_ kind: WatchedKind, scopes: [String?]) async throws -> (String, Listed)? {
        versions: for version in kind.versions {
            var listed = Listed()
            for scope in scopes {
                var continueToken: String?
                var resourceVersion = ""
                repeat {
                    var query = ["limit=\(pageSize)"]
                    if let selector = kind.fieldSelector { query.append("fieldSelector=" + escape(selector)) }
                    if let token = continueToken { query.append("continue=" + escape(token)) }
                    let path = kind.path(version: version, namespace: scope) + "?" + query.joined(separator: "&")
                    let response = try await client.send(.GET, path)
                    if response.status == 404 { continue versions }
                    if response.status == 410 {
                        // The continue token outlived the server's history: start over.
                        throw WatchEnd.relist
                    }
                    guard response.status == 200 else { throw KubeClient.failure(response, path: path) }
                    guard let body = try JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
                        throw KubeClient.Failure(status: 200, message: "list is not a JSON object", path: path)
                    }
                    let metadata = body["metadata"] as? [String: Any] ?? [:]
                    resourceVersion = metadata["resourceVersion"] as? String ?? ""
                    continueToken = (metadata["continue"] as? String).flatMap { $0.isEmpty ? nil : $0 }
                    for item in body["items"] as? [[String: Any]] ?? [] {
                        if let object = decode(item, kind: kind, version: version) { listed.objects[object.key] = object }
                    }
                } while continueToken != nil
                listed.resourceVersions.append(resourceVersion)
            }
            return (version, listed)
        }
        return nil
    }

    /// Watches every scope from its list's resourceVersion; returns only by throwing
    /// (``WatchEnd/relist`` on 410, or the error that ended a watch).
    private func watch(_ kind: WatchedKind, version: String, scopes: [String?], from versions: [String]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (scope, start) in zip(scopes, versions) {
                group.addTask {
                    var resourceVersion = start
                    var failures = 0
                    while !Task.isCancelled {
                        var query = ["watch=1", "allowWatchBookmarks=true", "resourceVersion=\(resourceVersion)"]
                        query.append("timeoutSeconds=\(Int.random(in: 240...300))")
                        if let selector = kind.fieldSelector { query.append("fieldSelector=" + self.escape(selector)) }
                        let path = kind.path(version: version, namespace: scope) + "?" + query.joined(separator: "&")
                        do {
                            for try await line in self.client.watchLines(
                                path, timeout: .seconds(330), idleTimeout: self.watchIdleTimeout)
                            {
                                guard let event = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                                    let type = event["type"] as? String, let object = event["object"] as? [String: Any]
                                else { continue }
                                if type == "ERROR" {
                                    if object["code"] as? Int == 410 { throw WatchEnd.relist }
                                    throw KubeClient.Failure(
                                        status: object["code"] as? Int ?? 500, message: object["message"] as? String ?? "watch error",
                                        path: path)
                                }
                                let metadata = object["metadata"] as? [String: Any] ?? [:]
                                if let next = metadata["resourceVersion"] as? String { resourceVersion = next }
                                self.logger.debug(
                                    "watch event",
                                    metadata: [
                                        "kind": "\(kind.label)", "type": "\(type)", "name": "\(metadata["name"] ?? "")",
                                        "resourceVersion": "\(resourceVersion)",
                                    ])
                                switch type {
                                case "ADDED", "MODIFIED":
                                    if let decoded = self.decode(object, kind: kind, version: version) { self.upsert(kind, decoded) }
                                case "DELETED":
                                    if let decoded = self.decode(object, kind: kind, version: version) {
                                        self.remove(kind, decoded.key)
                                    }
                                default: break  // BOOKMARK: only the resourceVersion moves
                                }
                                failures = 0
                            }
                            // The server ended the watch (timeout, restart): watch again
                            // from where it stopped.
                        } catch WatchEnd.relist {
                            throw WatchEnd.relist
                        } catch let idle as KubeClient.WatchIdle {
                            // Not a failure of the server's: watch again at once, from
                            // the last version seen.
                            self.logger.warning(
                                "\(idle); watching again from resourceVersion \(resourceVersion)",
                                metadata: ["kind": "\(kind.label)"])
                            continue
                        } catch let failure as KubeClient.Failure where failure.status == 410 {
                            throw WatchEnd.relist
                        } catch is CancellationError {
                            return
                        } catch {
                            let delay = self.wait(after: error, attempt: failures)
                            self.report(kind, self.describe(error), retryIn: delay)
                            try await Task.sleep(for: delay)
                            failures += 1
                            continue
                        }
                        self.report(kind, nil)
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    // MARK: state

    private func decode(_ item: [String: Any], kind: WatchedKind, version: String) -> ClusterObject? {
        var item = item
        item["apiVersion"] = kind.apiVersion(version)
        item["kind"] = kind.kind.rawValue
        guard let data = try? JSONSerialization.data(withJSONObject: item, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return nil }
        let metadata = item["metadata"] as? [String: Any] ?? [:]
        guard let name = metadata["name"] as? String else { return nil }
        let namespace = kind.kind.isNamespaced ? (metadata["namespace"] as? String ?? "default") : ""
        let key = ObjectKey(kind.kind, namespace: namespace, name: name)
        let decoded = ManifestDecoder.decode(file: "kubernetes", contents: text)
        var error = decoded.errors.first ?? decoded.fileError
        // Name the object where a file name would be.
        error?.file = "kubernetes \(kind.kind.rawValue) \(namespace.isEmpty ? name : namespace + "/" + name)"
        return ClusterObject(
            key: key, apiVersion: kind.apiVersion(version), resourceVersion: metadata["resourceVersion"] as? String ?? "",
            raw: data, manifest: decoded.manifests.first, error: error)
    }

    private func replace(_ kind: WatchedKind, with objects: [ObjectKey: ClusterObject], version: String?, synced: Bool) {
        state.withLock { state in
            state.objects[kind] = objects
            state.relisted.insert(kind)
            state.errorsChanged = true
            if synced { state.synced.insert(kind) }
            if let version { state.servedVersion[kind] = version } else { state.servedVersion[kind] = nil }
        }
        clock.note()
        changed.yield()
    }

    private func upsert(_ kind: WatchedKind, _ object: ClusterObject) {
        state.withLock { state in
            let old = state.objects[kind, default: [:]].updateValue(object, forKey: object.key)
            state.touched[object.key] = kind
            if old?.error != nil || object.error != nil { state.errorsChanged = true }
        }
        clock.note()
        changed.yield()
    }

    private func remove(_ kind: WatchedKind, _ key: ObjectKey) {
        state.withLock { state in
            guard let old = state.objects[kind]?.removeValue(forKey: key) else { return }
            state.touched[key] = kind
            if old.error != nil { state.errorsChanged = true }
        }
        clock.note()
        changed.yield()
    }

    /// Records (and logs once) what is wrong with a kind, or that it recovered. An API
    /// server that cannot be reached is one line for all kinds, with the backoff, and one
    /// more when it answers again.
    private func report(_ kind: WatchedKind, _ problem: String?, retryIn delay: Duration? = nil) {
        let serverWide = problem?.hasPrefix(Self.unreachable) == true
        let (previous, wentAway, cameBack) = state.withLock { state in
            let previous = state.problems[kind]
            state.problems[kind] = problem
            let wentAway = serverWide && !state.unreachable
            let cameBack = !serverWide && state.unreachable
            if wentAway || cameBack { state.unreachable = serverWide }
            return (previous, wentAway, cameBack)
        }
        if cameBack { logger.notice("the API server at \(client.connection.server) answers again") }
        // The same problem again says nothing new, unless the server just went away again.
        guard previous != problem || wentAway else { return }
        if let problem {
            Counter(label: "chancery_kubernetes_watch_errors_total", dimensions: [("kind", kind.label)]).increment()
            guard serverWide else {
                logger.error("Kubernetes \(kind.label): \(problem)")
                return
            }
            guard wentAway else { return }
            let retry = delay.map { "retrying in \(Self.seconds($0)), then backing off up to \(Self.seconds(backoff.max)) between tries" }
            logger.error(
                "\(problem); every kind waits for it\(retry.map { ", " + $0 } ?? "")",
                metadata: ["server": "\(client.connection.server)"])
        } else if previous?.hasPrefix(Self.unreachable) == false {
            logger.notice("Kubernetes \(kind.label): working again")
        }
    }

    static let unreachable = "cannot reach the API server"

    static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return value < 10 && value.rounded() != value ? String(format: "%.1f s", value) : "\(Int(value.rounded())) s"
    }

    /// An error in words that say what to do about it.
    func describe(_ error: any Error) -> String {
        let server = client.connection.server
        if let failure = error as? KubeClient.Failure {
            switch failure.status {
            case 401:
                return "the API server at \(server) rejected the credentials (401 Unauthorized): check the token or client certificate in the kubeconfig (or the ServiceAccount token)"
            case 403:
                return "forbidden (403): the identity may not list/watch this kind (\(failure.message)); grant it with the ClusterRole in docs/kubernetes.md"
            default:
                return "the API server answered \(failure)"
            }
        }
        if let config = error as? KubeConfigError { return config.description }
        return "\(Self.unreachable) at \(server): \(Self.reason(error))"
    }

    /// A connection failure in the operating system's words (`Connection refused`) where
    /// the error carries an errno, else as the error describes itself.
    public static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        if let range = text.range(of: #"errno: \d+"#, options: .regularExpression),
            let number = Int32(text[range].dropFirst("errno: ".count))
        {
            return String(cString: strerror(number))
        }
        return text
    }

    func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}
