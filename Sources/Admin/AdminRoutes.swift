import Foundation
import Hummingbird
import NIOCore

/// The admin API's areas, one route collection each, so each can be read and tested on
/// its own (in process, with HummingbirdTesting's router framework).
enum AdminRoutes {
    typealias Routes = RouteCollection<BasicRequestContext>

    /// `/healthz` (the process is up) and `/readyz` (sources read, first snapshots
    /// built): open without a token, for probes.
    static func health(_ server: AdminServer) -> Routes {
        let routes = Routes()
        routes.get("/healthz") { _, _ in server.text("ok\n") }
        routes.get("/readyz") { _, _ in
            let (ready, reason) = server.state.readiness
            return ready ? server.text("ready\n") : server.error(.serviceUnavailable, "not_ready", reason)
        }
        return routes
    }

    /// `/`: the dashboard for people; `/groups/{group}`: one group's versions, resources and changes.
    static func page(_ server: AdminServer) -> Routes {
        let routes = Routes()
        routes.get("/") { _, _ in server.html(AdminPage.render(server)) }
        routes.get("/groups/**") { request, context in
            let group = context.parameters.getCatchAll().map { $0.removingPercentEncoding ?? String($0) }.joined(separator: "/")
            let query = request.uri.queryParameters
            guard let page = AdminPage.group(server, group, from: query.get("from"), to: query.get("to")) else {
                return server.error(.notFound, "unknown_group", "no proxy group \"\(group)\"; groups: \(server.cache.groups.joined(separator: ", "))")
            }
            return server.html(page)
        }
        return routes
    }

    /// `/metrics`: Prometheus text.
    static func metrics(_ server: AdminServer) -> Routes {
        let routes = Routes()
        routes.get("/metrics") { _, _ in server.text(server.prometheusText(), type: "text/plain; version=0.0.4") }
        return routes
    }

    /// `/objects[?kind=&namespace=&rejected=true]`: every object and its status;
    /// `/objects/{kind}/[{namespace}/]{name}`: one object, the groups carrying it and the
    /// Envoy resources it produced; `/quarantine`: the objects set aside because a proxy rejected what they produced.
    static func objects(_ server: AdminServer) -> Routes {
        let routes = Routes()
        routes.get("/objects") { request, _ in
            let query = request.uri.queryParameters
            return try server.json(
                server.objects(kind: query.get("kind"), namespace: query.get("namespace"), onlyRejected: query.get("rejected") == "true"))
        }
        routes.get("/objects/**") { _, context in
            try server.describeRoute(context.parameters.getCatchAll().map { $0.removingPercentEncoding ?? String($0) })
        }
        routes.get("/quarantine") { _, _ in try server.json(["quarantined": server.quarantined()]) }
        return routes
    }

    /// `POST /plan`: candidate manifests (``Views/PlanRequest``) → what serving them would
    /// change (``Views/Plan``); nothing is applied.
    static func plan(_ server: AdminServer) -> Routes {
        let routes = Routes()
        routes.post("/plan") { request, _ in
            let body = try await request.body.collect(upTo: AdminServer.maxPlanBytes)
            let decoded: Views.PlanRequest
            do {
                decoded = try JSONDecoder().decode(Views.PlanRequest.self, from: Data(body.readableBytesView))
            } catch {
                return server.error(.badRequest, "bad_plan", "the body is not a plan request ({\"files\": [{\"path\", \"content\"}], \"prune\"}): \(error)")
            }
            return try server.planResponse(decoded)
        }
        return routes
    }

    /// `/clients[?group=]`: connected proxies and where each type stands;
    /// `/clients/{node}/config[?type=]`: what a proxy holds.
    static func clients(_ server: AdminServer) -> Routes {
        let routes = Routes()
        routes.get("/clients") { request, _ in
            let group = request.uri.queryParameters.get("group")
            let known = Set(server.cache.groups)
            return try server.json(
                Views.Clients(
                    clients: server.registry.all.filter { group == nil || $0.group == group }.map { Views.client($0, knownGroups: known) },
                    refused: server.registry.refused.filter { group == nil || $0.group == group }.map(Views.refusal)))
        }
        routes.get("/clients/**") { request, context in
            try server.clientRoute(context.parameters.getCatchAll().map(String.init), query: request.uri.queryParameters)
        }
        return routes
    }

    /// `/snapshots`, `/snapshots/{group}[/diff|/versions/{v}]`.
    static func snapshots(_ server: AdminServer) -> Routes {
        let routes = Routes()
        routes.get("/snapshots") { _, _ in try server.json(["snapshots": server.cache.groups.compactMap(server.summary)]) }
        routes.get("/snapshots/**") { request, context in
            try server.snapshotRoute(context.parameters.getCatchAll().map(String.init), query: request.uri.queryParameters)
        }
        return routes
    }

    /// `/mesh`: the mesh proxy groups (a sidecar per mesh Pod, a node-level proxy per
    /// node), whom each serves, which proxies are connected to each, and the connected
    /// mesh proxies whose Pod or node Chancery does not know.
    static func mesh(_ server: AdminServer) -> Routes {
        let routes = Routes()
        routes.get("/mesh") { _, _ in try server.json(Views.mesh(server.state.current?.result.mesh ?? [:], clients: server.registry.all)) }
        return routes
    }

    /// `/ir/{group}`: a group's plan, the translator's intermediate representation.
    static func plans(_ server: AdminServer) -> Routes {
        let routes = Routes()
        routes.get("/ir/**") { _, context in try server.planRoute(context.parameters.getCatchAll().map(String.init)) }
        return routes
    }
}

/// Every request must carry `Authorization: Bearer <token>` (constant-time compare).
struct BearerToken: RouterMiddleware {
    typealias Context = BasicRequestContext
    let token: String
    let server: AdminServer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let header = Array((request.headers[.authorization] ?? "").utf8)
        let expected = Array("Bearer \(token)".utf8)
        var difference = UInt8(header.count == expected.count ? 0 : 1)
        for (a, b) in zip(header, expected) { difference |= a ^ b }
        guard difference == 0 else {
            return server.error(.unauthorized, "unauthorized", "send Authorization: Bearer <token from --admin-token-file>")
        }
        return try await next(request, context)
    }
}
