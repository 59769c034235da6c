import Foundation
import Synchronization
import Testing
import TestSupport

/// The test Kubernetes API server, checked over real HTTPS against the API concepts
/// (https://kubernetes.io/docs/reference/using-api/api-concepts/) a client relies on.
@Suite struct FakeKubeAPITests {
    @Test func authenticationByTokenOrClientCertificate() async throws {
        let clientCA = try TestCA.make(commonName: "Kube client CA")
        var options = FakeKubeAPI.Options()
        options.clientCA = clientCA
        let api = try await FakeKubeAPI.start(options: options)
        let path = "/api/v1/namespaces/default/configmaps"

        let anonymous = try await kubeRequest(api, method: "GET", path: path, token: nil)
        #expect(anonymous.status == 401)
        let status = try Doc(anonymous.body)
        #expect(status["kind"].string == "Status")
        #expect(status["apiVersion"].string == "v1")
        #expect(status["status"].string == "Failure")
        #expect(status["message"].string == "Unauthorized")
        #expect(status["reason"].string == "Unauthorized")
        #expect(status["code"].int == 401)
        #expect(try await kubeRequest(api, method: "GET", path: path, token: "wrong").status == 401)
        #expect(try await kubeRequest(api, method: "GET", path: path).status == 200)

        let alice = try clientCA.issue(commonName: "alice", dnsNames: [], clientAuth: true)
        #expect(try await kubeRequest(api, method: "GET", path: path, token: nil, clientCertificate: alice).status == 200)
        let mallory = try TestCA.make(commonName: "Other CA").issue(commonName: "mallory", dnsNames: [], clientAuth: true)
        #expect(try await kubeRequest(api, method: "GET", path: path, token: nil, clientCertificate: mallory).status == 401)
        // Signed by the right CA but not for client authentication.
        let serverOnly = try clientCA.issue(commonName: "bob", dnsNames: [])
        #expect(try await kubeRequest(api, method: "GET", path: path, token: nil, clientCertificate: serverOnly).status == 401)

        #expect(api.requestLog.first == "GET \(path) -> 401")
        #expect(api.url == "https://127.0.0.1:\(api.port)")
        let version = try Doc(try await kubeRequest(api, method: "GET", path: "/version").body)
        #expect(version["gitVersion"].string == "v1.34.0")
        await api.stop()
    }

    @Test func createGetAndPaginatedListAtOneSnapshot() async throws {
        let api = try await FakeKubeAPI.start()
        let collection = "/api/v1/namespaces/default/configmaps"
        var versions: [Int] = []
        for index in [5, 3, 1, 4, 2] {
            let created = try await kubeRequest(
                api, method: "POST", path: collection, body: configMap("cm-\(index)", data: "\(index)"))
            #expect(created.status == 201)
            let object = try Doc(created.body)
            #expect(object["metadata"]["namespace"].string == "default")
            #expect(object["metadata"]["uid"].string?.isEmpty == false)
            #expect(object["metadata"]["creationTimestamp"].string?.hasSuffix("Z") == true)
            #expect(object["metadata"]["generation"].int == 1)
            versions.append(try #require(Int(object["metadata"]["resourceVersion"].string ?? "")))
        }
        #expect(versions == versions.sorted() && Set(versions).count == 5)
        try api.create(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-0","namespace":"other"}}"#)

        let got = try await kubeRequest(api, method: "GET", path: collection + "/cm-3")
        #expect(got.status == 200)
        #expect(try Doc(got.body)["data"]["k"].string == "3")
        #expect(try Doc(got.body)["kind"].string == "ConfigMap")
        let missing = try await kubeRequest(api, method: "GET", path: collection + "/missing")
        #expect(missing.status == 404)
        #expect(try Doc(missing.body)["reason"].string == "NotFound")
        #expect(try Doc(missing.body)["message"].string == #"configmaps "missing" not found"#)
        let duplicate = try await kubeRequest(api, method: "POST", path: collection, body: configMap("cm-1", data: "x"))
        #expect(duplicate.status == 409)
        #expect(try Doc(duplicate.body)["reason"].string == "AlreadyExists")

        let first = try Doc(try await kubeRequest(api, method: "GET", path: collection + "?limit=2").body)
        #expect(first["kind"].string == "ConfigMapList")
        #expect(first["apiVersion"].string == "v1")
        #expect(names(first) == ["cm-1", "cm-2"])
        #expect(first["metadata"]["remainingItemCount"].int == 3)
        let snapshotRV = try #require(first["metadata"]["resourceVersion"].string)
        #expect(snapshotRV == api.store.resourceVersion)
        let token1 = try #require(first["metadata"]["continue"].string)

        // Changes between pages do not show in the pages that follow: one snapshot.
        try api.delete(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "cm-3")
        try api.create(configMap("cm-6", data: "6"))

        let second = try Doc(
            try await kubeRequest(api, method: "GET", path: collection + "?limit=2&continue=\(q(token1))").body)
        #expect(names(second) == ["cm-3", "cm-4"])
        #expect(second["metadata"]["resourceVersion"].string == snapshotRV)
        let token2 = try #require(second["metadata"]["continue"].string)
        let third = try Doc(
            try await kubeRequest(api, method: "GET", path: collection + "?limit=2&continue=\(q(token2))").body)
        #expect(names(third) == ["cm-5"])
        #expect(third["metadata"]["resourceVersion"].string == snapshotRV)
        #expect(!third["metadata"]["continue"].exists)

        let fresh = try Doc(try await kubeRequest(api, method: "GET", path: collection).body)
        #expect(names(fresh) == ["cm-1", "cm-2", "cm-4", "cm-5", "cm-6"])
        #expect(Int(fresh["metadata"]["resourceVersion"].string ?? "")! > Int(snapshotRV)!)
        // Built-in types: list items carry no kind/apiVersion.
        #expect(!fresh["items"].array[0]["kind"].exists)

        let everywhere = try Doc(try await kubeRequest(api, method: "GET", path: "/api/v1/configmaps").body)
        #expect(names(everywhere) == ["cm-1", "cm-2", "cm-4", "cm-5", "cm-6", "cm-0"])
        await api.stop()
    }

    @Test func labelAndFieldSelectors() async throws {
        let api = try await FakeKubeAPI.start()
        try api.create(secret("tls-a", type: "kubernetes.io/tls", labels: #"{"app":"web","env":"prod"}"#))
        try api.create(secret("tls-b", type: "kubernetes.io/tls", labels: #"{"app":"db"}"#))
        try api.create(secret("opaque-c", type: nil, labels: #"{"app":"web"}"#))
        try api.create(secret("tls-d", namespace: "other", type: "kubernetes.io/tls", labels: #"{"app":"web","env":"dev"}"#))
        let collection = "/api/v1/namespaces/default/secrets"
        func list(_ path: String) async throws -> [String] {
            let answer = try await kubeRequest(api, method: "GET", path: path)
            #expect(answer.status == 200, "\(path): \(answer.body)")
            return names(try Doc(answer.body))
        }

        #expect(try await list(collection + "?labelSelector=\(q("app=web"))") == ["opaque-c", "tls-a"])
        #expect(try await list(collection + "?labelSelector=\(q("app==web"))") == ["opaque-c", "tls-a"])
        #expect(try await list(collection + "?labelSelector=\(q("app!=web"))") == ["tls-b"])
        #expect(try await list(collection + "?labelSelector=\(q("app in (web, db)"))") == ["opaque-c", "tls-a", "tls-b"])
        #expect(try await list(collection + "?labelSelector=\(q("app notin (web)"))") == ["tls-b"])
        #expect(try await list(collection + "?labelSelector=\(q("env"))") == ["tls-a"])
        #expect(try await list(collection + "?labelSelector=\(q("!env"))") == ["opaque-c", "tls-b"])
        #expect(try await list(collection + "?labelSelector=\(q("app=web,env=prod"))") == ["tls-a"])
        #expect(try await list(collection + "?labelSelector=\(q("app in (web),env notin (prod)"))") == ["opaque-c"])

        #expect(try await list(collection + "?fieldSelector=\(q("type=kubernetes.io/tls"))") == ["tls-a", "tls-b"])
        #expect(try await list(collection + "?fieldSelector=\(q("type=Opaque"))") == ["opaque-c"])
        #expect(try await list("/api/v1/secrets?fieldSelector=\(q("type=kubernetes.io/tls"))") == ["tls-a", "tls-b", "tls-d"])
        #expect(try await list(collection + "?fieldSelector=\(q("metadata.name=tls-b"))") == ["tls-b"])
        #expect(try await list("/api/v1/secrets?fieldSelector=\(q("metadata.namespace=other"))") == ["tls-d"])
        #expect(
            try await list("/api/v1/secrets?fieldSelector=\(q("type=kubernetes.io/tls"))&labelSelector=\(q("env"))")
                == ["tls-a", "tls-d"])
        let unsupported = try await kubeRequest(api, method: "GET", path: collection + "?fieldSelector=\(q("spec.x=y"))")
        #expect(unsupported.status == 400)
        #expect(
            try await kubeRequest(api, method: "GET", path: "/api/v1/configmaps?fieldSelector=\(q("type=x"))").status == 400)

        // A watch with the same field selector sees only TLS secrets.
        let watch = WatchRecorder(
            kubeWatch(
                api,
                path: "/api/v1/secrets?watch=1&resourceVersion=\(api.store.resourceVersion)&fieldSelector="
                    + q("type=kubernetes.io/tls")))
        try await Task.sleep(for: .milliseconds(200))
        try api.create(secret("opaque-e", type: nil, labels: "{}"))
        try api.create(secret("tls-f", type: "kubernetes.io/tls", labels: "{}"))
        let events = try await watch.waitFor(1)
        #expect(events[0]["type"].string == "ADDED")
        #expect(events[0]["object"]["metadata"]["name"].string == "tls-f")
        try await Task.sleep(for: .milliseconds(200))
        #expect(watch.lines.count == 1)
        watch.stop()
        await api.stop()
    }

    @Test func watchFromAListSeesAddedModifiedDeletedInOrder() async throws {
        let api = try await FakeKubeAPI.start()
        let collection = "/api/v1/namespaces/default/services"
        try api.create(service("before", port: 80))
        let listed = try Doc(try await kubeRequest(api, method: "GET", path: collection).body)
        let rv = try #require(listed["metadata"]["resourceVersion"].string)

        let watch = WatchRecorder(kubeWatch(api, path: collection + "?watch=1&resourceVersion=\(rv)"))
        let fromNow = WatchRecorder(kubeWatch(api, path: collection + "?watch=true"))
        let labelled = WatchRecorder(
            kubeWatch(api, path: collection + "?watch=1&resourceVersion=\(rv)&labelSelector=\(q("tier=front"))"))
        try await Task.sleep(for: .milliseconds(200))

        #expect(try await kubeRequest(api, method: "POST", path: collection, body: service("web", port: 80)).status == 201)
        #expect(try await kubeRequest(api, method: "PUT", path: collection + "/web", body: service("web", port: 8080)).status == 200)
        #expect(try await kubeRequest(api, method: "DELETE", path: collection + "/web").status == 200)

        let events = try await watch.waitFor(3)
        #expect(events.map { $0["type"].string ?? "" } == ["ADDED", "MODIFIED", "DELETED"])
        #expect(events.allSatisfy { $0["object"]["metadata"]["name"].string == "web" })
        #expect(events.allSatisfy { $0["object"]["kind"].string == "Service" && $0["object"]["apiVersion"].string == "v1" })
        #expect(events[1]["object"]["spec"]["ports"].array.first?["port"].int == 8080)
        #expect(events[1]["object"]["metadata"]["generation"].int == 2)
        let versions = events.compactMap { Int($0["object"]["metadata"]["resourceVersion"].string ?? "") }
        #expect(versions.count == 3 && versions == versions.sorted() && versions[0] > Int(rv)!)
        #expect(versions.last.map(String.init) == api.store.resourceVersion)

        // Without a resourceVersion: the current objects first, as ADDED.
        let initial = try await fromNow.waitFor(1)
        #expect(initial[0]["type"].string == "ADDED")
        #expect(initial[0]["object"]["metadata"]["name"].string == "before")

        // Leaving a label selector is a DELETED, entering it an ADDED.
        try api.create(service("front", port: 80, labels: #"{"tier":"front"}"#))
        try api.update(service("front", port: 80, labels: #"{"tier":"back"}"#))
        try api.update(service("front", port: 80, labels: #"{"tier":"front"}"#))
        let moves = try await labelled.waitFor(3)
        #expect(moves.map { $0["type"].string ?? "" } == ["ADDED", "DELETED", "ADDED"])
        #expect(moves[1]["object"]["metadata"]["labels"]["tier"].string == "front")
        for recorder in [watch, fromNow, labelled] { recorder.stop() }
        await api.stop()
    }

    @Test func bookmarksAndTimeoutSeconds() async throws {
        #expect(FakeKubeAPI.Options().bookmarkInterval == .seconds(1))
        var options = FakeKubeAPI.Options()
        options.bookmarkInterval = .milliseconds(200)
        let api = try await FakeKubeAPI.start(options: options)
        try api.create(configMap("a", data: "1"))
        let rv = api.store.resourceVersion
        let collection = "/api/v1/namespaces/default/configmaps"
        let watch = WatchRecorder(
            kubeWatch(api, path: collection + "?watch=1&resourceVersion=\(rv)&allowWatchBookmarks=true&timeoutSeconds=30"))
        let noBookmarks = WatchRecorder(kubeWatch(api, path: collection + "?watch=1&resourceVersion=\(rv)"))

        let bookmark = try await watch.waitFor(1, timeout: .seconds(30))[0]
        #expect(bookmark["type"].string == "BOOKMARK")
        #expect(bookmark["object"]["kind"].string == "ConfigMap")
        #expect(bookmark["object"]["apiVersion"].string == "v1")
        #expect(bookmark["object"]["metadata"]["resourceVersion"].string == rv)
        #expect(!bookmark["object"]["metadata"]["name"].exists)

        try api.create(configMap("b", data: "2"))
        // Bookmarks keep coming every 200 ms; on a loaded machine several may arrive before the event.
        let later = try await watch.waitUntil(timeout: .seconds(30)) { events in
            guard let added = events.firstIndex(where: { $0["type"].string == "ADDED" }) else { return false }
            return events[(added + 1)...].contains { $0["type"].string == "BOOKMARK" }
        }
        let added = try #require(later.firstIndex { $0["type"].string == "ADDED" })
        #expect(later[added]["object"]["metadata"]["name"].string == "b")
        let next = try #require(later[(added + 1)...].first { $0["type"].string == "BOOKMARK" })
        #expect(next["object"]["metadata"]["resourceVersion"].string == api.store.resourceVersion)

        // timeoutSeconds ends the response cleanly (30 s: a full run's first wave stalled this process for
        // about 20 s, before the first bookmark or after the event).
        try await watch.waitForEnd(timeout: .seconds(40))
        #expect(watch.failure == nil)
        #expect(noBookmarks.lines.count == 1)
        #expect(noBookmarks.lines.allSatisfy { $0.contains(#""type":"ADDED""#) })
        noBookmarks.stop()
        await api.stop()
    }

    @Test func compactionExpiresOldWatchesAndContinues() async throws {
        let api = try await FakeKubeAPI.start()
        let collection = "/api/v1/namespaces/default/configmaps"
        try api.create(configMap("a", data: "1"))
        try api.create(configMap("b", data: "2"))
        let page = try Doc(try await kubeRequest(api, method: "GET", path: collection + "?limit=1").body)
        let token = try #require(page["metadata"]["continue"].string)
        let oldRV = try #require(page["metadata"]["resourceVersion"].string)
        try api.create(configMap("c", data: "3"))

        // Before compaction the history is there.
        let replay = WatchRecorder(kubeWatch(api, path: collection + "?watch=1&resourceVersion=\(oldRV)"))
        #expect(try await replay.waitFor(1)[0]["object"]["metadata"]["name"].string == "c")
        replay.stop()

        api.compact()
        let current = api.store.resourceVersion
        let expired = WatchRecorder(kubeWatch(api, path: collection + "?watch=1&resourceVersion=\(oldRV)"))
        try await expired.waitForEnd()
        #expect(expired.failure == nil)
        let events = expired.documents
        #expect(events.count == 1)
        #expect(events.first?["type"].string == "ERROR")
        let status = try #require(events.first?["object"])
        #expect(status["kind"].string == "Status")
        #expect(status["status"].string == "Failure")
        #expect(status["code"].int == 410)
        #expect(status["reason"].string == "Expired")
        #expect(status["message"].string == "too old resource version: \(oldRV) (\(current))")

        let gone = try await kubeRequest(api, method: "GET", path: collection + "?limit=1&continue=\(q(token))")
        #expect(gone.status == 410)
        #expect(try Doc(gone.body)["reason"].string == "Expired")

        // A new list and a watch from its RV work.
        let relist = try Doc(try await kubeRequest(api, method: "GET", path: collection).body)
        #expect(names(relist) == ["a", "b", "c"])
        let fresh = WatchRecorder(
            kubeWatch(
                api, path: collection + "?watch=1&resourceVersion=\(relist["metadata"]["resourceVersion"].string ?? "")"))
        try await Task.sleep(for: .milliseconds(200))
        try api.create(configMap("d", data: "4"))
        #expect(try await fresh.waitFor(1)[0]["object"]["metadata"]["name"].string == "d")
        fresh.stop()
        await api.stop()
    }

    @Test func staleUpdatesConflictOnLeases() async throws {
        let api = try await FakeKubeAPI.start()
        let collection = "/apis/coordination.k8s.io/v1/namespaces/chancery/leases"
        let created = try await kubeRequest(api, method: "POST", path: collection, body: lease(holder: "a", transitions: 0))
        #expect(created.status == 201)
        let rv0 = try #require(try Doc(created.body)["metadata"]["resourceVersion"].string)
        #expect(try Doc(created.body)["spec"]["leaseDurationSeconds"].int == 15)

        let renewed = try await kubeRequest(
            api, method: "PUT", path: collection + "/leader", body: lease(holder: "b", transitions: 1, resourceVersion: rv0))
        #expect(renewed.status == 200)
        let rv1 = try #require(try Doc(renewed.body)["metadata"]["resourceVersion"].string)
        #expect(Int(rv1)! > Int(rv0)!)

        let stale = try await kubeRequest(
            api, method: "PUT", path: collection + "/leader", body: lease(holder: "c", transitions: 1, resourceVersion: rv0))
        #expect(stale.status == 409)
        let status = try Doc(stale.body)
        #expect(status["reason"].string == "Conflict")
        #expect(status["code"].int == 409)
        #expect(status["message"].string?.contains("the object has been modified") == true)
        let current = try Doc(try await kubeRequest(api, method: "GET", path: collection + "/leader").body)
        #expect(current["spec"]["holderIdentity"].string == "b")
        #expect(current["metadata"]["resourceVersion"].string == rv1)

        #expect(throws: FakeKubeAPI.StatusError.self) {
            try api.update(lease(holder: "d", transitions: 2, resourceVersion: rv0))
        }
        // Without a resourceVersion the update is unconditional.
        let unconditional = try await kubeRequest(
            api, method: "PUT", path: collection + "/leader", body: lease(holder: "e", transitions: 2))
        #expect(unconditional.status == 200)
        let absent = try await kubeRequest(
            api, method: "PUT", path: collection + "/nobody", body: lease(holder: "e", transitions: 0, name: "nobody"))
        #expect(absent.status == 404)
        #expect(try await kubeRequest(api, method: "DELETE", path: collection + "/leader").status == 200)
        #expect(api.get(apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: "chancery", name: "leader") == nil)
        await api.stop()
    }

    @Test func statusSubresourceLeavesGenerationAndSkipsNoOps() async throws {
        let api = try await FakeKubeAPI.start()
        api.installGatewayAPI()
        let stored = try Doc(try api.create(gateway(className: "chancery")))
        #expect(stored["metadata"]["generation"].int == 1)
        let rv0 = try #require(stored["metadata"]["resourceVersion"].string)
        let path = "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/gw"

        // PUT status: the status is taken, the spec in the body is not.
        let put = try await kubeRequest(
            api, method: "PUT", path: path + "/status",
            body: gateway(className: "other", status: #"{"conditions":[{"type":"Accepted","status":"True"}]}"#, resourceVersion: rv0))
        #expect(put.status == 200)
        let afterPut = try Doc(put.body)
        #expect(afterPut["spec"]["gatewayClassName"].string == "chancery")
        #expect(afterPut["status"]["conditions"].array.first?["type"].string == "Accepted")
        #expect(afterPut["metadata"]["generation"].int == 1)
        #expect(afterPut["metadata"]["resourceVersion"].string != rv0)
        let stalePut = try await kubeRequest(
            api, method: "PUT", path: path + "/status",
            body: gateway(className: "chancery", status: "{}", resourceVersion: rv0))
        #expect(stalePut.status == 409)

        // Merge PATCH of the status: merged, generation untouched.
        let patch = #"{"status":{"addresses":[{"type":"IPAddress","value":"10.0.0.1"}]}}"#
        let patched = try await kubeRequest(
            api, method: "PATCH", path: path + "/status", body: patch, contentType: "application/merge-patch+json")
        #expect(patched.status == 200)
        let afterPatch = try Doc(patched.body)
        #expect(afterPatch["status"]["conditions"].array.count == 1)
        #expect(afterPatch["status"]["addresses"].array.first?["value"].string == "10.0.0.1")
        #expect(afterPatch["metadata"]["generation"].int == 1)
        let jsonPatch = try await kubeRequest(
            api, method: "PATCH", path: path + "/status", body: patch, contentType: "application/json-patch+json")
        #expect(jsonPatch.status == 415)

        // No-op status writes: no new resourceVersion and no watch event.
        let rvBefore = api.store.resourceVersion
        let watch = WatchRecorder(
            kubeWatch(api, path: "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways?watch=1&resourceVersion=\(rvBefore)"))
        try await Task.sleep(for: .milliseconds(200))
        let same = try await kubeRequest(
            api, method: "PATCH", path: path + "/status", body: patch, contentType: "application/merge-patch+json")
        #expect(same.status == 200)
        #expect(try Doc(same.body)["metadata"]["resourceVersion"].string == rvBefore)
        let unchanged = try Doc(
            try #require(
                api.get(apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway", namespace: "default", name: "gw")))
        let samePut = try await kubeRequest(api, method: "PUT", path: path + "/status", body: try unchanged.text())
        #expect(samePut.status == 200)
        #expect(api.store.resourceVersion == rvBefore)

        // A spec change through the main resource bumps the generation; its status is ignored.
        let specChange = try await kubeRequest(api, method: "PUT", path: path, body: gateway(className: "other", status: "{}"))
        #expect(specChange.status == 200)
        #expect(try Doc(specChange.body)["metadata"]["generation"].int == 2)
        #expect(try Doc(specChange.body)["status"]["addresses"].array.count == 1)
        let events = try await watch.waitFor(1)
        #expect(events[0]["type"].string == "MODIFIED")
        #expect(events[0]["object"]["metadata"]["generation"].int == 2)
        try await Task.sleep(for: .milliseconds(200))
        #expect(watch.lines.count == 1)
        watch.stop()

        #expect(api.requestLog.filter { $0.contains("/status") && $0.hasSuffix("-> 200") }.count == 4)
        // A status PUT on a type without a status subresource does not exist.
        try api.create(configMap("plain", data: "1"))
        let noStatus = try await kubeRequest(
            api, method: "PUT", path: "/api/v1/namespaces/default/configmaps/plain/status",
            body: configMap("plain", data: "2"))
        #expect(noStatus.status == 404)
        // POST drops the status of a type with a status subresource.
        let posted = try await kubeRequest(
            api, method: "POST", path: "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways",
            body: gateway(className: "x", status: #"{"conditions":[]}"#, name: "gw2"))
        #expect(posted.status == 201)
        #expect(!(try Doc(posted.body))["status"].exists)
        await api.stop()
    }

    @Test func aMissingCRDIsNotFoundUntilInstalled() async throws {
        let api = try await FakeKubeAPI.start()
        let collection = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes"
        let missing = try await kubeRequest(api, method: "GET", path: collection)
        #expect(missing.status == 404)
        #expect(try Doc(missing.body)["reason"].string == "NotFound")
        #expect(try Doc(missing.body)["message"].string == "the server could not find the requested resource")
        let watch = WatchRecorder(kubeWatch(api, path: collection + "?watch=1"))
        try await watch.waitForEnd()
        #expect(watch.failure?.contains("404") == true)
        #expect(try await kubeRequest(api, method: "GET", path: "/apis/gateway.networking.k8s.io/v1").status == 404)
        #expect(throws: FakeKubeAPI.StatusError.self) { try api.create(httpRoute("r0")) }

        api.installCRD(group: "gateway.networking.k8s.io", version: "v1", resource: "httproutes", kind: "HTTPRoute", namespaced: true)
        let list = try await kubeRequest(api, method: "GET", path: collection)
        #expect(list.status == 200)
        #expect(try Doc(list.body)["kind"].string == "HTTPRouteList")
        #expect(try Doc(list.body)["apiVersion"].string == "gateway.networking.k8s.io/v1")
        let discovery = try Doc(try await kubeRequest(api, method: "GET", path: "/apis/gateway.networking.k8s.io/v1").body)
        #expect(discovery["resources"].array.contains { $0["name"].string == "httproutes" && $0["kind"].string == "HTTPRoute" })
        #expect(try await kubeRequest(api, method: "POST", path: collection, body: httpRoute("r1")).status == 201)
        let items = try Doc(try await kubeRequest(api, method: "GET", path: collection).body)["items"].array
        #expect(items.count == 1)
        #expect(items.first?["kind"].string == "HTTPRoute")
        // Still not installed: the other Gateway API kinds.
        #expect(try await kubeRequest(api, method: "GET", path: "/apis/gateway.networking.k8s.io/v1/gateways").status == 404)
        await api.stop()
    }

    @Test func restartOnTheSamePortKeepsObjectsAndResourceVersions() async throws {
        let api = try await FakeKubeAPI.start()
        api.installGatewayAPI()
        let created = try Doc(try api.create(configMap("kept", data: "1")))
        let rv = api.store.resourceVersion
        let collection = "/api/v1/namespaces/default/configmaps"
        let watch = WatchRecorder(kubeWatch(api, path: collection + "?watch=1&resourceVersion=\(rv)"))
        try await Task.sleep(for: .milliseconds(200))

        await api.stop()
        try await watch.waitForEnd()
        #expect(watch.failure != nil)  // the connection dropped: no clean end
        await #expect(throws: (any Error).self) { try await kubeRequest(api, method: "GET", path: collection) }

        let again = try await FakeKubeAPI.start(port: api.port, ca: api.ca, state: api.store)
        #expect(again.port == api.port)
        let got = try Doc(try await kubeRequest(again, method: "GET", path: collection + "/kept").body)
        #expect(got["metadata"]["resourceVersion"].string == created["metadata"]["resourceVersion"].string)
        #expect(got["metadata"]["uid"].string == created["metadata"]["uid"].string)
        let list = try Doc(try await kubeRequest(again, method: "GET", path: collection).body)
        #expect(list["metadata"]["resourceVersion"].string == rv)
        #expect(try await kubeRequest(again, method: "GET", path: "/apis/gateway.networking.k8s.io/v1/gateways").status == 200)

        let resumed = WatchRecorder(kubeWatch(again, path: collection + "?watch=1&resourceVersion=\(rv)"))
        try await Task.sleep(for: .milliseconds(200))
        try again.create(configMap("new", data: "2"))
        let event = try await resumed.waitFor(1)[0]
        #expect(event["object"]["metadata"]["name"].string == "new")
        #expect(event["object"]["metadata"]["resourceVersion"].string == String(Int(rv)! + 1))
        resumed.stop()
        await again.stop()
    }
}

// MARK: Helpers

/// Read-only view of a parsed JSON document.
private struct Doc {
    let value: Any?

    init(_ text: String) throws {
        value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    init(value: Any?) { self.value = value }

    subscript(key: String) -> Doc { Doc(value: (value as? [String: Any])?[key]) }
    var string: String? { value as? String }
    var int: Int? { value as? Int }
    var array: [Doc] { ((value as? [Any]) ?? []).map { Doc(value: $0) } }
    var exists: Bool { value != nil && !(value is NSNull) }

    func text() throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value ?? NSNull()), as: UTF8.self)
    }
}

/// The names of a list's items, in order.
private func names(_ list: Doc) -> [String] { list["items"].array.map { $0["metadata"]["name"].string ?? "" } }

/// Percent-encodes a query value.
private func q(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"))!
}

private func configMap(_ name: String, data: String) -> String {
    #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)"},"data":{"k":"\#(data)"}}"#
}

private func secret(_ name: String, namespace: String = "default", type: String?, labels: String) -> String {
    let typeField = type.map { #","type":"\#($0)""# } ?? ""
    return #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"\#(name)","namespace":"\#(namespace)","labels":\#(labels)},"data":{}\#(typeField)}"#
}

private func service(_ name: String, port: Int, labels: String = "{}") -> String {
    #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"\#(name)","labels":\#(labels)},"spec":{"ports":[{"port":\#(port)}]}}"#
}

private func lease(holder: String, transitions: Int, resourceVersion: String? = nil, name: String = "leader") -> String {
    let rv = resourceVersion.map { #","resourceVersion":"\#($0)""# } ?? ""
    return #"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"\#(name)","namespace":"chancery"\#(rv)},"spec":{"holderIdentity":"\#(holder)","leaseDurationSeconds":15,"leaseTransitions":\#(transitions)}}"#
}

private func gateway(className: String, status: String? = nil, resourceVersion: String? = nil, name: String = "gw") -> String {
    let rv = resourceVersion.map { #","resourceVersion":"\#($0)""# } ?? ""
    let statusField = status.map { #","status":\#($0)"# } ?? ""
    return #"{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"\#(name)","namespace":"default"\#(rv)},"spec":{"gatewayClassName":"\#(className)","listeners":[{"name":"http","port":80,"protocol":"HTTP"}]}\#(statusField)}"#
}

private func httpRoute(_ name: String) -> String {
    #"{"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":"\#(name)","namespace":"default"},"spec":{"parentRefs":[{"name":"gw"}]}}"#
}

/// Collects a watch's lines in the background, so a test can wait for them with a deadline.
private final class WatchRecorder: Sendable {
    private let state = Mutex<(lines: [String], ended: Bool, failure: String?)>(([], false, nil))
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(_ stream: AsyncThrowingStream<String, any Error>) {
        let task = Task { [self] in
            do {
                for try await line in stream { self.state.withLock { $0.lines.append(line) } }
                self.state.withLock { $0.ended = true }
            } catch {
                self.state.withLock {
                    $0.ended = true
                    $0.failure = "\(error)"
                }
            }
        }
        self.task.withLock { $0 = task }
    }

    var lines: [String] { state.withLock { $0.lines } }
    var failure: String? { state.withLock { $0.failure } }
    var documents: [Doc] { lines.compactMap { try? Doc($0) } }

    // The waits are bounds, not what is tested: the first tests of a loaded run can stall
    // for 20 s before anything is scheduled, so they allow 30 s for what takes milliseconds.

    /// The first `count` events, once that many arrived (or fails after `timeout`).
    func waitFor(_ count: Int, timeout: Duration = .seconds(30)) async throws -> [Doc] {
        let deadline = ContinuousClock.now + timeout
        while lines.count < count && ContinuousClock.now < deadline && !state.withLock({ $0.ended }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let lines = self.lines
        try #require(lines.count >= count, "got \(lines.count) of \(count) events: \(lines), failure: \(failure ?? "none")")
        return try lines.prefix(count).map { try Doc($0) }
    }

    /// All events so far, once they satisfy `done` (or fails after `timeout`).
    func waitUntil(timeout: Duration = .seconds(30), _ done: ([Doc]) -> Bool) async throws -> [Doc] {
        let deadline = ContinuousClock.now + timeout
        while !done(documents) && ContinuousClock.now < deadline && !state.withLock({ $0.ended }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let documents = self.documents
        try #require(done(documents), "the events never matched: \(lines), failure: \(failure ?? "none")")
        return documents
    }

    func waitForEnd(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !state.withLock({ $0.ended }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(state.withLock { $0.ended }, "the watch did not end: \(lines)")
    }

    func stop() { task.withLock { $0?.cancel() } }
}
