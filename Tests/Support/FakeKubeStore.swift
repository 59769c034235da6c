import Foundation
import GatewayModel
import Synchronization

/// A resource type the fake API server serves, as a CRD or a built-in type declares it.
struct ResourceType: Sendable, Hashable {
    let group: String
    let version: String
    /// Plural, lowercase: "services", "httproutes".
    let resource: String
    let kind: String
    let namespaced: Bool
    /// Has a `/status` subresource: the main resource ignores status, `/status` all else.
    let hasStatus: Bool
    /// Custom resources keep kind/apiVersion in list items; built-in types do not.
    let isCRD: Bool

    var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    var id: String { "\(group)/\(version)/\(resource)" }
    /// As the server names it in messages: "services", "gateways.gateway.networking.k8s.io".
    var qualifiedResource: String { group.isEmpty ? resource : "\(resource).\(group)" }

    static let core: [ResourceType] = [
        ResourceType(group: "", version: "v1", resource: "services", kind: "Service", namespaced: true, hasStatus: true, isCRD: false),
        ResourceType(group: "", version: "v1", resource: "secrets", kind: "Secret", namespaced: true, hasStatus: false, isCRD: false),
        ResourceType(group: "", version: "v1", resource: "pods", kind: "Pod", namespaced: true, hasStatus: true, isCRD: false),
        ResourceType(group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true, hasStatus: false, isCRD: false),
        ResourceType(group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false, hasStatus: true, isCRD: false),
        ResourceType(
            group: "networking.k8s.io", version: "v1", resource: "ingresses", kind: "Ingress", namespaced: true, hasStatus: true,
            isCRD: false),
        ResourceType(
            group: "networking.k8s.io", version: "v1", resource: "ingressclasses", kind: "IngressClass", namespaced: false,
            hasStatus: false, isCRD: false),
        ResourceType(
            group: "discovery.k8s.io", version: "v1", resource: "endpointslices", kind: "EndpointSlice", namespaced: true,
            hasStatus: false, isCRD: false),
        ResourceType(
            group: "coordination.k8s.io", version: "v1", resource: "leases", kind: "Lease", namespaced: true,
            hasStatus: false, isCRD: false),
    ]
}

/// An object's place in its resource: namespace ("" when cluster-scoped), then name.
struct ObjectKey: Hashable, Comparable, Sendable {
    let namespace: String
    let name: String

    static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name)
    }
}

/// One committed change, kept until `compact()` for watches and consistent list pages.
struct StoredEvent: Sendable {
    enum Kind: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED" }
    let resourceVersion: Int
    let typeID: String
    let key: ObjectKey
    let kind: Kind
    /// The object as committed; for a deletion its last state, carrying the deletion's RV.
    let object: JSONValue
    /// The state before (nil for an addition).
    let previous: JSONValue?
}

/// A registered watch: which objects it wants and where its lines go. The sink is
/// called with the store's lock held, so lines reach it in resourceVersion order.
struct Watcher: Sendable {
    let type: ResourceType
    let filter: KubeFilter
    let sink: @Sendable (String) -> Void

    /// The line this watch sees for `event`, if any: an object that starts matching the
    /// selectors is ADDED, one that stops matching is DELETED (as the watch cache does).
    func line(for event: StoredEvent) -> String? {
        let now = filter.matches(event.object)
        let before = event.previous.map(filter.matches) ?? false
        switch event.kind {
        case .added:
            return now ? Self.line(.added, event.object) : nil
        case .deleted:
            return now ? Self.line(.deleted, event.object) : nil
        case .modified:
            switch (before, now) {
            case (true, true): return Self.line(.modified, event.object)
            case (false, true): return Self.line(.added, event.object)
            case (true, false):
                var last = event.previous!
                last.setMeta("resourceVersion", .string(String(event.resourceVersion)))
                return Self.line(.deleted, last)
            case (false, false): return nil
            }
        }
    }

    static func line(_ kind: StoredEvent.Kind, _ object: JSONValue) -> String {
        JSONValue.object(["type": .string(kind.rawValue), "object": object]).text + "\n"
    }
}

extension FakeKubeAPI {
    /// Everything the API server keeps in etcd: resource types (CRDs included), objects,
    /// the resourceVersion counter and the history since the last compaction. It outlives
    /// a server: pass it to ``FakeKubeAPI/start(options:port:ca:state:)`` to restart.
    public final class Store: Sendable {
        let state: Mutex<StoreState>

        init() {
            var state = StoreState()
            for type in ResourceType.core { state.types[type.id] = type }
            self.state = Mutex(state)
        }

        /// The current global resourceVersion.
        public var resourceVersion: String { state.withLock { String($0.resourceVersion) } }
    }

    /// A failure as the API server reports it: a `Status` object with this code and reason.
    public struct StatusError: Error, Sendable, CustomStringConvertible {
        public let code: Int
        public let reason: String
        public let message: String
        var details: JSONValue? = nil

        public var description: String { "\(code) \(reason): \(message)" }

        var json: JSONValue {
            var status: JSONValue = .object([
                "kind": "Status", "apiVersion": "v1", "metadata": .object([:]), "status": "Failure",
                "message": .string(message), "reason": .string(reason), "code": .int(code),
            ])
            status["details"] = details
            return status
        }

        static let unauthorized = StatusError(code: 401, reason: "Unauthorized", message: "Unauthorized")
        static let noSuchPath = StatusError(
            code: 404, reason: "NotFound", message: "the server could not find the requested resource",
            details: .object([:]))

        static func badRequest(_ message: String) -> StatusError {
            StatusError(code: 400, reason: "BadRequest", message: message)
        }

        static func notFound(_ type: ResourceType, _ name: String) -> StatusError {
            StatusError(
                code: 404, reason: "NotFound", message: "\(type.qualifiedResource) \"\(name)\" not found",
                details: details(type, name))
        }

        static func conflict(_ type: ResourceType, _ name: String) -> StatusError {
            StatusError(
                code: 409, reason: "Conflict",
                message: "Operation cannot be fulfilled on \(type.qualifiedResource) \"\(name)\": the object has been "
                    + "modified; please apply your changes to the latest version and try again",
                details: details(type, name))
        }

        static func details(_ type: ResourceType, _ name: String) -> JSONValue {
            var details: JSONValue = .object(["name": .string(name), "kind": .string(type.resource)])
            if !type.group.isEmpty { details["group"] = .string(type.group) }
            return details
        }
    }
}

/// The store's data; every method runs with the store's lock held.
struct StoreState {
    var resourceVersion = 1
    /// Events at or below this RV are forgotten: older watches and continues get 410.
    var compactedRV = 1
    var types: [String: ResourceType] = [:]
    var objects: [String: [ObjectKey: JSONValue]] = [:]
    var history: [StoredEvent] = []
    var watchers: [UInt64: Watcher] = [:]
    var nextWatcherID: UInt64 = 0

    func type(apiVersion: String, kind: String) throws(FakeKubeAPI.StatusError) -> ResourceType {
        guard let type = types.values.first(where: { $0.apiVersion == apiVersion && $0.kind == kind }) else {
            throw FakeKubeAPI.StatusError(
                code: 404, reason: "NotFound", message: "no matches for kind \"\(kind)\" in version \"\(apiVersion)\"")
        }
        return type
    }

    func get(_ type: ResourceType, _ key: ObjectKey) -> JSONValue? { objects[type.id]?[key] }

    // MARK: Writes

    /// Checks kind/apiVersion (filling them in when absent); the body must be an object.
    private func typed(_ type: ResourceType, _ body: JSONValue) throws(FakeKubeAPI.StatusError) -> JSONValue {
        guard case .object = body else { throw .badRequest("the body of the request was not a JSON object") }
        var object = body
        for (field, expected) in [("kind", type.kind), ("apiVersion", type.apiVersion)] {
            let given = object[field]?.stringValue ?? ""
            if !given.isEmpty && given != expected {
                throw .badRequest("\(field) \"\(given)\" does not match the expected \"\(expected)\"")
            }
            object[field] = .string(expected)
        }
        return object
    }

    /// POST, or the test's `create`: `namespace` is the one in the URL (nil: take the
    /// body's, defaulting to "default"). `fromRequest` drops the status as the server does.
    mutating func create(_ type: ResourceType, namespace: String?, body: JSONValue, fromRequest: Bool)
        throws(FakeKubeAPI.StatusError) -> JSONValue
    {
        var object = try typed(type, body)
        var name = object.meta("name")
        let generateName = object.meta("generateName")
        if name.isEmpty && !generateName.isEmpty {
            name = generateName + String((0..<5).map { _ in "bcdfghjklmnpqrstvwxz2456789".randomElement()! })
        }
        guard !name.isEmpty else {
            throw FakeKubeAPI.StatusError(
                code: 422, reason: "Invalid",
                message: "\(type.kind) \"\" is invalid: metadata.name: Required value: name or generateName is required")
        }
        var objectNamespace = ""
        if type.namespaced {
            let given = object.meta("namespace")
            if let namespace, !given.isEmpty, given != namespace {
                throw .badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            objectNamespace = namespace ?? (given.isEmpty ? "default" : given)
        }
        let key = ObjectKey(namespace: objectNamespace, name: name)
        if get(type, key) != nil {
            throw FakeKubeAPI.StatusError(
                code: 409, reason: "AlreadyExists", message: "\(type.qualifiedResource) \"\(name)\" already exists",
                details: FakeKubeAPI.StatusError.details(type, name))
        }
        object.setMeta("name", .string(name))
        object.setMeta("namespace", type.namespaced ? .string(objectNamespace) : nil)
        object.setMeta("uid", .string(UUID().uuidString.lowercased()))
        object.setMeta("creationTimestamp", .string(Date().formatted(.iso8601)))
        object.setMeta("generation", .int(1))
        object.setMeta("resourceVersion", nil)
        object.setMeta("deletionTimestamp", nil)
        if fromRequest && type.hasStatus { object["status"] = nil }
        if type.group.isEmpty && type.kind == "Secret" && (object["type"]?.stringValue ?? "").isEmpty {
            object["type"] = "Opaque"
        }
        return commit(type, key, .added, object: object, previous: nil)
    }

    enum UpdateMode { case main, status, whole }

    /// PUT (`.main`: status kept when the type has a status subresource; `.status`: only
    /// the status taken), or the test's `update` (`.whole`).
    mutating func update(
        _ type: ResourceType, namespace: String?, name: String?, body: JSONValue, mode: UpdateMode
    ) throws(FakeKubeAPI.StatusError) -> JSONValue {
        let object = try typed(type, body)
        let bodyName = object.meta("name")
        if let name, !bodyName.isEmpty, bodyName != name {
            throw .badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        let bodyNamespace = object.meta("namespace")
        if let namespace, !bodyNamespace.isEmpty, bodyNamespace != namespace {
            throw .badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        let key = ObjectKey(
            namespace: type.namespaced ? namespace ?? (bodyNamespace.isEmpty ? "default" : bodyNamespace) : "",
            name: name ?? bodyName)
        guard let old = get(type, key) else { throw .notFound(type, key.name) }
        try checkPrecondition(type, object, old)
        var candidate: JSONValue
        switch mode {
        case .whole:
            candidate = object
        case .main:
            candidate = object
            if type.hasStatus { candidate["status"] = old["status"] }
        case .status:
            guard type.hasStatus else { throw .noSuchPath }
            candidate = old
            candidate["status"] = object["status"]
        }
        return write(type, key, old: old, candidate: candidate)
    }

    /// PATCH with a JSON merge patch, onto the object or (`status`) its status only.
    mutating func patch(_ type: ResourceType, _ key: ObjectKey, patch: JSONValue, status: Bool)
        throws(FakeKubeAPI.StatusError) -> JSONValue
    {
        guard case .object = patch else { throw .badRequest("the patch was not a JSON object") }
        guard let old = get(type, key) else { throw .notFound(type, key.name) }
        try checkPrecondition(type, patch, old)
        let patched = JSONValue.mergePatch(old, patch)
        var candidate = patched
        if status {
            guard type.hasStatus else { throw .noSuchPath }
            candidate = old
            candidate["status"] = patched["status"]
        } else if type.hasStatus {
            candidate["status"] = old["status"]
        }
        return write(type, key, old: old, candidate: try typed(type, candidate))
    }

    mutating func delete(_ type: ResourceType, _ key: ObjectKey) throws(FakeKubeAPI.StatusError) -> JSONValue {
        guard let old = get(type, key) else { throw .notFound(type, key.name) }
        return commit(type, key, .deleted, object: old, previous: old)
    }

    /// Optimistic concurrency: a resourceVersion in the body must be the stored one.
    private func checkPrecondition(_ type: ResourceType, _ body: JSONValue, _ old: JSONValue)
        throws(FakeKubeAPI.StatusError)
    {
        let given = body.meta("resourceVersion")
        if !given.isEmpty && given != old.meta("resourceVersion") { throw .conflict(type, old.meta("name")) }
    }

    /// Commits `candidate` over `old`, keeping the fields only the server sets; bumps the
    /// generation when anything outside metadata and status changed. An update that
    /// changes nothing commits nothing (no new resourceVersion, no event).
    private mutating func write(_ type: ResourceType, _ key: ObjectKey, old: JSONValue, candidate: JSONValue)
        -> JSONValue
    {
        var object = candidate
        for field in ["name", "namespace", "uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp"] {
            object.setMeta(field, old["metadata"]?[field])
        }
        func spec(_ value: JSONValue) -> JSONValue {
            var value = value
            value["metadata"] = nil
            value["status"] = nil
            return value
        }
        if spec(object) != spec(old) {
            object.setMeta("generation", .int((old["metadata"]?["generation"]?.intValue ?? 0) + 1))
        }
        if object == old { return old }
        return commit(type, key, .modified, object: object, previous: old)
    }

    /// Takes the next resourceVersion, stores the change, records it and tells the watches.
    private mutating func commit(
        _ type: ResourceType, _ key: ObjectKey, _ kind: StoredEvent.Kind, object: JSONValue, previous: JSONValue?
    ) -> JSONValue {
        resourceVersion += 1
        var stored = object
        stored.setMeta("resourceVersion", .string(String(resourceVersion)))
        objects[type.id, default: [:]][key] = kind == .deleted ? nil : stored
        let event = StoredEvent(
            resourceVersion: resourceVersion, typeID: type.id, key: key, kind: kind, object: stored, previous: previous)
        history.append(event)
        for watcher in watchers.values where watcher.type.id == type.id {
            if let line = watcher.line(for: event) { watcher.sink(line) }
        }
        return stored
    }

    // MARK: Reads

    /// A LIST answer; `continueToken` resumes a previous page at its snapshot.
    func list(_ type: ResourceType, filter: KubeFilter, limit: Int?, continueToken: String?)
        throws(FakeKubeAPI.StatusError) -> JSONValue
    {
        var snapshotRV = resourceVersion
        var after: ObjectKey?
        if let continueToken, !continueToken.isEmpty {
            guard let token = ContinueToken(encoded: continueToken) else {
                throw .badRequest("continue key is not valid: \(continueToken)")
            }
            if token.rv < compactedRV {
                throw FakeKubeAPI.StatusError(
                    code: 410, reason: "Expired",
                    message: "The provided continue parameter is too old to display a consistent list result. "
                        + "You can start a new list without the continue parameter.")
            }
            snapshotRV = token.rv
            after = ObjectKey(namespace: token.namespace, name: token.name)
        }
        var items = snapshot(type, at: snapshotRV)
            .filter { entry in after.map { entry.key > $0 } ?? true }
            .filter { filter.matches($0.value) }
            .sorted { $0.key < $1.key }
        var metadata: [String: JSONValue] = ["resourceVersion": .string(String(snapshotRV))]
        if let limit, limit > 0, items.count > limit {
            metadata["remainingItemCount"] = .int(items.count - limit)
            items = Array(items.prefix(limit))
            let last = items[items.count - 1].key
            metadata["continue"] = .string(
                ContinueToken(rv: snapshotRV, namespace: last.namespace, name: last.name).encoded)
        }
        return .object([
            "kind": .string(type.kind + "List"), "apiVersion": .string(type.apiVersion),
            "metadata": .object(metadata),
            "items": .array(
                items.map { entry in
                    var item = entry.value
                    if !type.isCRD {
                        item["kind"] = nil
                        item["apiVersion"] = nil
                    }
                    return item
                }),
        ])
    }

    /// The objects of `type` as they were at `rv` (rv at or after the compaction point),
    /// by undoing the later history.
    private func snapshot(_ type: ResourceType, at rv: Int) -> [ObjectKey: JSONValue] {
        var objects = self.objects[type.id] ?? [:]
        guard rv < resourceVersion else { return objects }
        for event in history.reversed() {
            guard event.resourceVersion > rv else { break }
            guard event.typeID == type.id else { continue }
            objects[event.key] = event.previous
        }
        return objects
    }

    // MARK: Watches

    enum WatchStart {
        case started(UInt64)
        /// The requested RV is compacted: the single ERROR line to send.
        case expired(String)
    }

    /// Registers a watch after sending it what it missed: every event after `rv`, or
    /// (rv nil or 0) an ADDED for each current object.
    mutating func watch(_ type: ResourceType, filter: KubeFilter, from rv: Int?, sink: @escaping @Sendable (String) -> Void)
        -> WatchStart
    {
        let watcher = Watcher(type: type, filter: filter, sink: sink)
        if let rv, rv > 0 {
            if rv < compactedRV {
                let status = FakeKubeAPI.StatusError(
                    code: 410, reason: "Expired", message: "too old resource version: \(rv) (\(compactedRV))")
                return .expired(JSONValue.object(["type": "ERROR", "object": status.json]).text + "\n")
            }
            for event in history where event.resourceVersion > rv && event.typeID == type.id {
                if let line = watcher.line(for: event) { sink(line) }
            }
        } else {
            for (_, object) in (objects[type.id] ?? [:]).sorted(by: { $0.key < $1.key }) where filter.matches(object) {
                sink(Watcher.line(.added, object))
            }
        }
        nextWatcherID += 1
        watchers[nextWatcherID] = watcher
        return .started(nextWatcherID)
    }

    /// Sends a BOOKMARK at the current resourceVersion to one watch.
    func bookmark(_ id: UInt64) {
        guard let watcher = watchers[id] else { return }
        let object: JSONValue = .object([
            "kind": .string(watcher.type.kind), "apiVersion": .string(watcher.type.apiVersion),
            "metadata": .object(["resourceVersion": .string(String(resourceVersion))]),
        ])
        watcher.sink(JSONValue.object(["type": "BOOKMARK", "object": object]).text + "\n")
    }

    mutating func compact() {
        compactedRV = resourceVersion
        history.removeAll()
    }
}

/// The opaque `continue` value: the snapshot's resourceVersion and the last key returned.
struct ContinueToken: Codable {
    let rv: Int
    let namespace: String
    let name: String

    init(rv: Int, namespace: String, name: String) {
        self.rv = rv
        self.namespace = namespace
        self.name = name
    }

    init?(encoded: String) {
        guard let data = Data(base64Encoded: encoded),
            let token = try? JSONDecoder().decode(ContinueToken.self, from: data)
        else { return nil }
        self = token
    }

    var encoded: String { ((try? JSONEncoder().encode(self)) ?? Data()).base64EncodedString() }
}
