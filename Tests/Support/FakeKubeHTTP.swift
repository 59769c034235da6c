import Foundation
import GatewayModel
import NIOCore
import NIOHTTP1

/// What a request path names, once its group, version and resource are known to exist.
private enum Target {
    case collection(ResourceType, namespace: String?)
    case object(ResourceType, ObjectKey)
    case status(ResourceType, ObjectKey)
    /// Discovery and version documents.
    case document(JSONValue)
}

/// One HTTP/1.1 connection of ``FakeKubeAPI``: authenticates, routes, answers; a watch
/// turns the response into a chunked stream of JSON lines until it times out or the
/// connection closes.
final class KubeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: ServerContext
    private let identity: ClientIdentity
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var context: ChannelHandlerContext?

    private struct ActiveWatch {
        let generation: UInt64
        /// The resource (plural) and when the watch began, to tell whether it is stalled.
        var resource = ""
        var started = ContinuousClock.now
        var storeID: UInt64?
        let keepAlive: Bool
        let bookmarks: Bool
        var bookmarkTimer: Scheduled<Void>?
        var timeout: Scheduled<Void>?
    }
    private var watch: ActiveWatch?
    private var watchGeneration: UInt64 = 0

    init(server: ServerContext, identity: ClientIdentity) {
        self.server = server
        self.identity = identity
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var buffer):
            body.writeBuffer(&buffer)
        case .end:
            guard let head, watch == nil else { return }
            self.head = nil
            handle(context: context, head: head)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        endWatch()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: Requests

    private func handle(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let (path, query) = Self.split(head.uri)
        do throws(FakeKubeAPI.StatusError) {
            guard authenticated(head) else { throw .unauthorized }
            if let retryAfter = throttled(path) {
                respond(
                    context, head, 429,
                    FakeKubeAPI.StatusError(
                        code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later.",
                        details: .object(["retryAfterSeconds": .int(retryAfter)])
                    ).json,
                    headers: [("retry-after", String(retryAfter))])
                return
            }
            if path == "/apis/authentication.k8s.io/v1/tokenreviews" {
                guard head.method == .POST else { throw methodNotAllowed(head.method) }
                respond(context, head, 201, try tokenReview(try requestBody()))
                return
            }
            switch try route(path) {
            case .document(let document):
                guard head.method == .GET else { throw methodNotAllowed(head.method) }
                respond(context, head, 200, document)
            case .collection(let type, let namespace):
                try collection(context, head, type, namespace, query)
            case .object(let type, let key):
                try object(context, head, type, key, status: false)
            case .status(let type, let key):
                try object(context, head, type, key, status: true)
            }
        } catch {
            respond(context, head, error.code, error.json)
        }
    }

    /// The Retry-After of a throttled resource this request is for (counting it down),
    /// or nil to serve it.
    private func throttled(_ path: String) -> Int? {
        let segments = path.split(separator: "/")
        return server.throttles.withLock { throttles -> Int? in
            for (resource, var throttle) in throttles where segments.contains(Substring(resource)) {
                throttle.arrivals.append(.now)
                defer { throttles[resource] = throttle }
                guard throttle.remaining > 0 else { return nil }
                throttle.remaining -= 1
                return throttle.retryAfter
            }
            return nil
        }
    }

    private func authenticated(_ head: HTTPRequestHead) -> Bool {
        if let authorization = head.headers.first(name: "authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer",
                server.tokens.contains(parts[1].trimmingCharacters(in: .whitespaces))
            {
                return true
            }
        }
        return identity.name != nil
    }

    private func methodNotAllowed(_ method: NIOHTTP1.HTTPMethod) -> FakeKubeAPI.StatusError {
        FakeKubeAPI.StatusError(
            code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
    }

    private func collection(
        _ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ type: ResourceType, _ namespace: String?,
        _ query: [String: String]
    ) throws(FakeKubeAPI.StatusError) {
        switch head.method {
        case .GET:
            let filter = KubeFilter(
                namespace: namespace,
                labels: try LabelRequirement.parse(query["labelSelector"] ?? ""),
                fields: try FieldRequirement.parse(query["fieldSelector"] ?? "", kind: type.kind, group: type.group))
            if let watch = query["watch"], watch == "1" || watch == "true" {
                try startWatch(context, head, type, filter, query)
                return
            }
            let limit = query["limit"].flatMap { Int($0) }
            let list = try server.store.state.withLock { state throws(FakeKubeAPI.StatusError) in
                try state.list(type, filter: filter, limit: limit, continueToken: query["continue"])
            }
            respond(context, head, 200, list)
        case .POST:
            guard type.namespaced == (namespace != nil) else { throw methodNotAllowed(head.method) }
            let body = try requestBody()
            let created = try server.store.state.withLock { state throws(FakeKubeAPI.StatusError) in
                try state.create(type, namespace: namespace, body: body, fromRequest: true)
            }
            respond(context, head, 201, created)
        default:
            throw methodNotAllowed(head.method)
        }
    }

    private func object(
        _ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ type: ResourceType, _ key: ObjectKey, status: Bool
    ) throws(FakeKubeAPI.StatusError) {
        let store = server.store
        let namespace = type.namespaced ? key.namespace : nil
        let result: JSONValue
        switch head.method {
        case .GET:
            guard let object = store.state.withLock({ $0.get(type, key) }) else { throw .notFound(type, key.name) }
            result = object
        case .PUT:
            let body = try requestBody()
            result = try store.state.withLock { state throws(FakeKubeAPI.StatusError) in
                try state.update(type, namespace: namespace, name: key.name, body: body, mode: status ? .status : .main)
            }
        case .PATCH:
            let contentType = head.headers.first(name: "content-type")?.split(separator: ";").first
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard contentType == "application/merge-patch+json" else {
                throw FakeKubeAPI.StatusError(
                    code: 415, reason: "UnsupportedMediaType",
                    message: "the body of the request was in an unknown format - accepted media types include: "
                        + "application/merge-patch+json")
            }
            let patch = try requestBody()
            result = try store.state.withLock { state throws(FakeKubeAPI.StatusError) in
                try state.patch(type, key, patch: patch, status: status)
            }
        case .DELETE where !status:
            result = try store.state.withLock { state throws(FakeKubeAPI.StatusError) in try state.delete(type, key) }
        default:
            throw methodNotAllowed(head.method)
        }
        respond(context, head, 200, result)
    }

    /// TokenReview (authentication.k8s.io/v1): the review with its `status` — the
    /// token's user when it is a service account token this server issued.
    private func tokenReview(_ review: JSONValue) throws(FakeKubeAPI.StatusError) -> JSONValue {
        guard review["kind"]?.stringValue == "TokenReview", let token = review["spec"]?["token"]?.stringValue else {
            throw .badRequest("a TokenReview with spec.token is expected")
        }
        var result = review
        if let account = server.serviceAccountTokens.withLock({ $0[token] }) {
            let user: JSONValue = .object([
                "username": .string("system:serviceaccount:\(account.namespace):\(account.name)"),
                "uid": .string("uid-\(account.namespace)-\(account.name)"),
                "groups": .array([
                    "system:serviceaccounts", .string("system:serviceaccounts:\(account.namespace)"), "system:authenticated",
                ]),
            ])
            var status: [String: JSONValue] = ["authenticated": .bool(true), "user": user]
            if let audiences = review["spec"]?["audiences"] { status["audiences"] = audiences }
            result["status"] = .object(status)
        } else {
            result["status"] = .object(["authenticated": .bool(false), "error": "invalid bearer token"])
        }
        return result
    }

    private func requestBody() throws(FakeKubeAPI.StatusError) -> JSONValue {
        guard let value = try? JSONValue.parse(body.readableBytesView) else {
            throw .badRequest("the body of the request could not be decoded as JSON")
        }
        return value
    }

    // MARK: Routing

    private func route(_ path: String) throws(FakeKubeAPI.StatusError) -> Target {
        let segments = path.split(separator: "/").map(String.init)
        let types = server.store.state.withLock { Array($0.types.values) }
        switch segments.first ?? "" {
        case "version" where segments.count == 1:
            return .document(["major": "1", "minor": "34", "gitVersion": "v1.34.0", "platform": "linux/amd64"])
        case "api" where segments.count == 1:
            return .document(["kind": "APIVersions", "versions": .array(["v1"])])
        case "apis" where segments.count == 1:
            return .document(Self.groupList(types))
        case "api" where segments.count >= 2:
            return try route(group: "", version: segments[1], Array(segments.dropFirst(2)), types)
        case "apis" where segments.count >= 3:
            return try route(group: segments[1], version: segments[2], Array(segments.dropFirst(3)), types)
        default:
            throw .noSuchPath
        }
    }

    private func route(group: String, version: String, _ rest: [String], _ all: [ResourceType])
        throws(FakeKubeAPI.StatusError) -> Target
    {
        let types = all.filter { $0.group == group && $0.version == version }
        guard !types.isEmpty else { throw .noSuchPath }
        func type(_ resource: String, namespaced: Bool) throws(FakeKubeAPI.StatusError) -> ResourceType {
            guard let type = types.first(where: { $0.resource == resource && $0.namespaced == namespaced }) else {
                throw .noSuchPath
            }
            return type
        }
        func any(_ resource: String) throws(FakeKubeAPI.StatusError) -> ResourceType {
            guard let type = types.first(where: { $0.resource == resource }) else { throw .noSuchPath }
            return type
        }
        // `namespaces/{name}/status` is the namespace's status, `namespaces/{ns}/{resource}` a collection.
        let namespaceStatus = rest.count == 3 && rest[0] == "namespaces" && rest[2] == "status"
            && types.contains { $0.resource == "namespaces" }
        switch rest.count {
        case 0:
            return .document(Self.resourceList(group: group, version: version, types))
        case 1:
            return .collection(try any(rest[0]), namespace: nil)
        case 2:
            return .object(try type(rest[0], namespaced: false), ObjectKey(namespace: "", name: rest[1]))
        case 3 where rest[0] == "namespaces" && !namespaceStatus:
            return .collection(try type(rest[2], namespaced: true), namespace: rest[1])
        case 3 where rest[2] == "status":
            return .status(try type(rest[0], namespaced: false), ObjectKey(namespace: "", name: rest[1]))
        case 4 where rest[0] == "namespaces":
            return .object(try type(rest[2], namespaced: true), ObjectKey(namespace: rest[1], name: rest[3]))
        case 5 where rest[0] == "namespaces" && rest[4] == "status":
            return .status(try type(rest[2], namespaced: true), ObjectKey(namespace: rest[1], name: rest[3]))
        default:
            throw .noSuchPath
        }
    }

    private static func resourceList(group: String, version: String, _ types: [ResourceType]) -> JSONValue {
        var resources: [JSONValue] = []
        for type in types.sorted(by: { $0.resource < $1.resource }) {
            let verbs: [JSONValue] = ["create", "delete", "get", "list", "patch", "update", "watch"]
            resources.append([
                "name": .string(type.resource), "singularName": .string(type.kind.lowercased()),
                "namespaced": .bool(type.namespaced), "kind": .string(type.kind), "verbs": .array(verbs),
            ])
            if type.hasStatus {
                resources.append([
                    "name": .string(type.resource + "/status"), "singularName": "",
                    "namespaced": .bool(type.namespaced), "kind": .string(type.kind),
                    "verbs": .array(["get", "patch", "update"]),
                ])
            }
        }
        return [
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"), "resources": .array(resources),
        ]
    }

    private static func groupList(_ types: [ResourceType]) -> JSONValue {
        var versions: [String: Set<String>] = [:]
        for type in types where !type.group.isEmpty { versions[type.group, default: []].insert(type.version) }
        let groups: [JSONValue] = versions.keys.sorted().map { group in
            let list: [JSONValue] = versions[group]!.sorted().map {
                ["groupVersion": .string("\(group)/\($0)"), "version": .string($0)]
            }
            return ["name": .string(group), "versions": .array(list), "preferredVersion": list[0]]
        }
        return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups)]
    }

    /// Path and query (percent-decoded, `+` as space; the first value of each name).
    private static func split(_ uri: String) -> (String, [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let nameValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                func decode(_ text: Substring) -> String {
                    let spaced = text.replacingOccurrences(of: "+", with: " ")
                    return spaced.removingPercentEncoding ?? spaced
                }
                let name = decode(nameValue[0])
                if query[name] == nil { query[name] = nameValue.count == 2 ? decode(nameValue[1]) : "" }
            }
        }
        return (String(parts[0]), query)
    }

    // MARK: Responses

    private func log(_ head: HTTPRequestHead, _ status: Int) {
        server.log.withLock { $0.append("\(head.method.rawValue) \(head.uri) -> \(status)") }
    }

    private func respond(
        _ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: Int, _ json: JSONValue,
        headers extra: [(String, String)] = []
    ) {
        log(request, status)
        let body = ByteBuffer(string: json.text)
        var headers = HTTPHeaders(extra)
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(body.readableBytes))
        if !request.isKeepAlive { headers.add(name: "connection", value: "close") }
        let head = HTTPResponseHead(
            version: request.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !request.isKeepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    // MARK: Watch

    private func startWatch(
        _ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ type: ResourceType, _ filter: KubeFilter,
        _ query: [String: String]
    ) throws(FakeKubeAPI.StatusError) {
        var rv: Int?
        if let given = query["resourceVersion"], !given.isEmpty {
            guard let value = Int(given) else { throw .badRequest("invalid resource version: \(given)") }
            rv = value
        }
        log(request, 200)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "transfer-encoding", value: "chunked")
        context.writeAndFlush(
            wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .ok, headers: headers))),
            promise: nil)

        watchGeneration += 1
        let generation = watchGeneration
        watch = ActiveWatch(
            generation: generation, resource: type.resource, keepAlive: request.isKeepAlive,
            bookmarks: query["allowWatchBookmarks"] == "true" || query["allowWatchBookmarks"] == "1")
        // Lines come from the store's lock on any thread; they are written on this loop,
        // in the order the store produced them.
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let start = server.store.state.withLock { state in
            state.watch(type, filter: filter, from: rv) { line in
                loop.execute { handler.value.deliver(line, generation: generation) }
            }
        }
        switch start {
        case .expired(let line):
            deliver(line, generation: generation)
            endWatch()
        case .started(let id):
            watch?.storeID = id
            resetBookmarkTimer()
            if let seconds = query["timeoutSeconds"].flatMap({ Int64($0) }), seconds > 0 {
                watch?.timeout = loop.assumeIsolated().scheduleTask(in: .seconds(seconds)) { self.endWatch() }
            }
        }
    }

    private func deliver(_ line: String, generation: UInt64) {
        guard let context, let current = watch, current.generation == generation else { return }
        // A stalled watch (a dead path the connection does not notice) sends nothing.
        if let since = server.stalls.withLock({ $0[current.resource] }), current.started < since { return }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: line)))), promise: nil)
        resetBookmarkTimer()
    }

    /// A bookmark after every `bookmarkInterval` without a line, when the client allows them.
    private func resetBookmarkTimer() {
        guard let context, let current = watch, current.bookmarks, let id = current.storeID else { return }
        current.bookmarkTimer?.cancel()
        let store = server.store
        watch?.bookmarkTimer = context.eventLoop.assumeIsolated().scheduleTask(in: server.bookmarkInterval) {
            store.state.withLock { $0.bookmark(id) }
        }
    }

    /// Ends the current watch with the terminating chunk (timeout, expired RV); on a
    /// closed connection only unregisters it.
    private func endWatch() {
        guard let current = watch else { return }
        watch = nil
        current.bookmarkTimer?.cancel()
        current.timeout?.cancel()
        if let id = current.storeID {
            _ = server.store.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        guard let context, context.channel.isActive else { return }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !current.keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
