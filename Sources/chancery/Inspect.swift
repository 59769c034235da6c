import ArgumentParser
import Foundation
import GatewayModel
import XDS

/// Prints a document in the format asked for, or the table the command makes of it.
private func emit(_ value: JSONValue, _ format: OutputFormat, table render: () -> String) {
    switch format {
    case .json: say(value.json, newline: false)
    case .yaml: say(value.yaml, newline: false)
    case .table: say(render(), newline: false)
    }
}

/// One proxy as `status` shows it: its streams merged (per-type services open one a type).
struct ProxyRow {
    var node: String
    var group: String
    var protocols: [String]
    var versions: [String: String]
    var state: String
    var since: Date?

    static let types = ["LDS", "RDS", "CDS", "EDS", "SDS"]

    static func rows(_ clients: [JSONValue]) -> [ProxyRow] {
        var byNode: [String: [JSONValue]] = [:]
        for client in clients { byNode[client["nodeID"].string ?? "?", default: []].append(client) }
        return byNode.keys.sorted().map { node in
            let streams = byNode[node]!
            var versions: [String: String] = [:]
            var rejectedAt: Date?
            var waitingSince: Date?
            for stream in streams {
                for (type, state) in stream["types"].object {
                    let nack = state["lastNack"]
                    let rejected = nack != nil && nack["nonce"].string == state["sentNonce"].string  // a NACK of the last push
                    if rejected { rejectedAt = max(rejectedAt ?? .distantPast, nack["at"].date ?? .distantPast) }
                    let acked = state["ackedVersion"].string.map { String($0.prefix(8)) } ?? "-"
                    versions[type] = rejected ? "\(acked)!" : acked
                    if state["ackedVersion"] != state["sentVersion"], let sent = state["sentAt"].date {
                        waitingSince = min(waitingSince ?? sent, sent)
                    }
                }
            }
            let group = streams[0]["group"].string ?? "?"
            let protocols = Set(streams.map { stream in
                let service = stream["service"].string ?? "ADS"
                return "\(stream["transport"].string ?? "?")\(service == "ADS" ? "" : "/" + service)"
            }).sorted()
            let state: String
            let since: Date?
            if streams.contains(where: { $0["knownGroup"].bool == false }) {
                (state, since) = ("unknown group", streams.compactMap { $0["connectedAt"].date }.min())
            } else if let rejectedAt {
                (state, since) = ("rejected", rejectedAt)
            } else if streams.allSatisfy({ $0["inSync"].bool == true }) {
                (state, since) = ("in sync", streams.compactMap { $0["syncedAt"].date }.max())
            } else {
                (state, since) = ("behind", waitingSince ?? streams.compactMap { $0["connectedAt"].date }.min())
            }
            return ProxyRow(node: node, group: group, protocols: protocols, versions: versions, state: state, since: since)
        }
    }

    static func table(_ rows: [ProxyRow]) -> String {
        guard !rows.isEmpty else { return "No proxy is connected.\n" }
        // Scoped routes only when some proxy holds them (the scoped route layout).
        let types = rows.contains { $0.versions["SRDS"] != nil } ? ["LDS", "SRDS"] + types.dropFirst() : types
        return chancery.table(
            ["NODE", "GROUP", "PROTOCOL"] + types + ["STATE", "SINCE"],
            rows.map { row in
                [row.node, row.group, row.protocols.joined(separator: ",")] + types.map { row.versions[$0] ?? "-" }
                    + [row.state, ago(row.since)]
            })
    }
}

extension Chancery {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every connected proxy: its group, protocol, the version of each type it ACKed, and whether it is in sync.",
            discussion: """
                STATE is `in sync` (it holds its group's current version), `behind` (a push is not
                ACKed yet), `rejected` (it NACKed the last push of a type: see chancery describe
                or the admin page for Envoy's words) or `unknown group` (no proxy group has the
                name its bootstrap gives). A `!` after a version marks the type it rejected.
                """)

        @OptionGroup var connection: AdminClientOptions

        @Option(name: .shortAndLong, help: "Output: table, json or yaml.")
        var output: OutputFormat = .table

        func run() async throws {
            let clients = try await connection.client().get("/api/v1/clients")
            emit(clients, output) { ProxyRow.table(ProxyRow.rows(clients["clients"].array)) }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List gateways, routes, policies, proxy groups or proxies of a running server.",
            discussion: """
                WHAT is one of: \(Get.objectKinds.keys.filter { $0.hasSuffix("s") }.sorted().joined(separator: ", ")), groups, proxies (or a kind's singular).
                Objects show their state (ok, REJECTED, QUARANTINED), their own conditions and,
                for routes and policies, those towards each parent.
                """)

        static let routeKinds: [Kind] = [.httpRoute, .grpcRoute, .tlsRoute, .tcpRoute, .udpRoute]
        static let policyKinds: [Kind] = Kind.allCases.filter { $0.rawValue.hasSuffix("Policy") }
        static let objectKinds: [String: [Kind]] = {
            var kinds: [String: [Kind]] = ["routes": routeKinds, "policies": policyKinds]
            for kind in Kind.allCases {
                let name = kind.rawValue.lowercased()
                // policy → policies, gateway → gateways, ingress → ingresses.
                let consonantY = name.hasSuffix("y") && !"aeiou".contains(name.dropLast().last ?? "a")
                let plural = name.hasSuffix("s") ? name + "es" : consonantY ? name.dropLast() + "ies" : name + "s"
                kinds[plural] = [kind]
                kinds[name] = [kind]
            }
            return kinds
        }()

        @Argument(help: "gateways, routes, policies, groups, proxies, or a kind's plural (httproutes, listenersets, …).")
        var what: String

        @Option(name: .shortAndLong, help: "Only objects of this namespace.")
        var namespace: String?

        @OptionGroup var connection: AdminClientOptions

        @Option(name: .shortAndLong, help: "Output: table, json or yaml.")
        var output: OutputFormat = .table

        func run() async throws {
            let client = try connection.client()
            switch what.lowercased() {
            case "proxies", "proxy":
                let clients = try await client.get("/api/v1/clients")
                emit(clients, output) { ProxyRow.table(ProxyRow.rows(clients["clients"].array)) }
            case "groups", "group":
                let snapshots = try await client.get("/api/v1/snapshots")
                emit(snapshots, output) { Self.groupTable(snapshots["snapshots"].array) }
            default:
                guard let kinds = Self.objectKinds[what.lowercased()] else {
                    throw ValidationError(
                        "cannot list \"\(what)\": give one of \(Self.objectKinds.keys.sorted().joined(separator: ", ")), groups, proxies")
                }
                let names = Set(kinds.map(\.rawValue))
                let all = try await client.get("/api/v1/objects")
                let objects = all["objects"].array.filter {
                    names.contains($0["kind"].string ?? "") && (namespace == nil || $0["namespace"].string == namespace)
                }
                emit(.object(["objects": .array(objects)]), output) { Self.objectTable(objects) }
            }
        }

        /// Route configurations, and scopes when there are (the scoped route layout).
        static func routes(_ counts: JSONValue?) -> String {
            let scoped = counts["scoped_routes"].int ?? 0
            return "\(counts["routes"].int ?? 0)" + (scoped > 0 ? " +\(scoped) scoped" : "")
        }

        static func groupTable(_ groups: [JSONValue]) -> String {
            guard !groups.isEmpty else { return "No proxy group.\n" }
            return table(
                ["GROUP", "VERSION", "LISTENERS", "ROUTES", "CLUSTERS", "ENDPOINTS", "SECRETS", "PROXIES", "IN SYNC", "BUILT"],
                groups.map { group in
                    let counts = group["resources"]
                    return [
                        group["group"].string ?? "?", group["version"].string ?? "?",
                        "\(counts["listeners"].int ?? 0)", routes(counts), "\(counts["clusters"].int ?? 0)",
                        "\(counts["endpoints"].int ?? 0)", "\(counts["secrets"].int ?? 0)", "\(group["proxies"].int ?? 0)",
                        "\(group["proxiesInSync"].int ?? 0)", ago(group["builtAt"].date),
                    ]
                })
        }

        static func objectTable(_ objects: [JSONValue]) -> String {
            guard !objects.isEmpty else { return "No object.\n" }
            return table(
                ["KIND", "NAMESPACE", "NAME", "STATE", "CONDITIONS", "ORIGIN"],
                objects.map { object in
                    [
                        object["kind"].string ?? "?", object["namespace"].string ?? "-", object["name"].string ?? "?",
                        state(object), conditionSummary(object), object["origin"].string ?? "-",
                    ]
                })
        }

        static func state(_ object: JSONValue?) -> String {
            object["quarantined"].bool == true ? "QUARANTINED" : object["rejected"].bool == true ? "REJECTED" : "ok"
        }

        /// `Accepted Programmed` for the object's own conditions that hold, the others as
        /// `Type=Status`; for each parent or ancestor, `name: …` the same way.
        static func conditionSummary(_ object: JSONValue?) -> String {
            func terse(_ conditions: [JSONValue]) -> String {
                conditions.map { condition in
                    let type = condition["type"].string ?? "?"
                    let status = condition["status"].string ?? "?"
                    return status == "True" ? type : "\(type)=\(status)(\(condition["reason"].string ?? ""))"
                }.joined(separator: " ")
            }
            var parts: [String] = []
            if !object["conditions"].array.isEmpty { parts.append(terse(object["conditions"].array)) }
            for parent in object["parents"].array {
                parts.append("\(refName(parent["parentRef"])): \(terse(parent["conditions"].array))")
            }
            for ancestor in object["ancestors"].array {
                parts.append("\(refName(ancestor["ancestorRef"])): \(terse(ancestor["conditions"].array))")
            }
            return parts.joined(separator: "; ")
        }

        static func refName(_ ref: JSONValue?) -> String {
            let namespace = ref["namespace"].string.map { $0 + "/" } ?? ""
            let section = ref["sectionName"].string.map { "#" + $0 } ?? ""
            return "\(namespace)\(ref["name"].string ?? "?")\(section)"
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One object: its conditions, the proxy groups and proxies that carry it, and the Envoy resources it produced.")

        @Argument(help: "The kind: gateway, httproute, grpcroute, listenerset, backendtlspolicy, … (singular or plural).")
        var kind: String

        @Argument(help: "NAMESPACE/NAME, or NAME for a cluster-scoped kind (GatewayClass).")
        var name: String

        @OptionGroup var connection: AdminClientOptions

        @Option(name: .shortAndLong, help: "Output: table, json or yaml.")
        var output: OutputFormat = .table

        func run() async throws {
            let lowered = kind.lowercased()
            guard
                let kind = Kind.allCases.first(where: {
                    let name = $0.rawValue.lowercased()
                    return lowered == name || lowered == name + "s" || lowered == name + "es"
                })
            else {
                throw ValidationError("no kind \"\(self.kind)\"; kinds: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let path = name.split(separator: "/").map { AdminClient.segment(String($0)) }.joined(separator: "/")
            let described = try await connection.client().get("/api/v1/objects/\(kind.rawValue)/\(path)")
            emit(described, output) { Self.text(described) }
        }

        static func text(_ described: JSONValue?) -> String {
            let object = described["object"]
            let namespace = object["namespace"].string.map { $0 + "/" } ?? ""
            var out = "\(object["kind"].string ?? "?") \(namespace)\(object["name"].string ?? "?")\n"
            out += "Origin:  \(object["origin"].string ?? "(the Kubernetes API)")\n"
            out += "State:   \(Get.state(object))\n"
            func conditions(_ list: [JSONValue], indent: String) {
                for condition in list {
                    out +=
                        "\(indent)\(condition["type"].string ?? "?")=\(condition["status"].string ?? "?") (\(condition["reason"].string ?? "")) \(condition["message"].string ?? "")\n"
                }
            }
            if !object["conditions"].array.isEmpty {
                out += "Conditions:\n"
                conditions(object["conditions"].array, indent: "  ")
            }
            for listener in object["listeners"].array {
                out += "Listener \(listener["name"].string ?? "?") (attached routes: \(listener["attachedRoutes"].int ?? 0)):\n"
                conditions(listener["conditions"].array, indent: "  ")
            }
            for parent in object["parents"].array {
                out += "Parent \(parent["parentRef"]["kind"].string ?? "Gateway") \(Get.refName(parent["parentRef"])):\n"
                conditions(parent["conditions"].array, indent: "  ")
            }
            for ancestor in object["ancestors"].array {
                out += "For \(Get.refName(ancestor["ancestorRef"])):\n"
                conditions(ancestor["conditions"].array, indent: "  ")
            }
            let policies = object["policies"].array
            if !policies.isEmpty { out += "Policies in effect:\n" }
            for policy in policies {
                let features = policy["features"].array.compactMap(\.stringValue).joined(separator: ", ")
                out +=
                    "  \(policy["policy"]["kind"].string ?? "?") \(Get.refName(policy["policy"])) (\(features)) for rule \(policy["rule"].string ?? "?") on Gateway \(Get.refName(policy["gateway"])) listener \(policy["listener"].string ?? "?")\n"
            }
            let carriers = described["carriedBy"].array
            if carriers.isEmpty {
                out += "Carried by: no proxy group (it produced no Envoy resource)\n"
            }
            for carrier in carriers {
                out += "Carried by group \(carrier["group"].string ?? "?") (version \(carrier["version"].string ?? "?")):\n"
                out += "  resources: \(carrier["resources"].array.compactMap(\.stringValue).joined(separator: ", "))\n"
                let proxies = carrier["proxies"].array.map { "\($0["nodeID"].string ?? "?") (\($0["inSync"].bool == true ? "in sync" : "behind"))" }
                out += "  proxies:   \(proxies.isEmpty ? "none connected" : proxies.joined(separator: ", "))\n"
            }
            return out
        }
    }

    struct ConfigDump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "config-dump",
            abstract: "What a proxy holds: for each type, the resources of the version it ACKed, in Envoy's JSON.",
            discussion: "Secrets' key material is redacted. For types a proxy subscribes to by name (RDS, EDS), only those names.")

        @Option(help: "The proxy's node id (chancery status lists them).")
        var proxy: String

        @Option(help: "Only this type: listeners, scoped_routes, routes, clusters, endpoints or secrets.")
        var type: String?

        @OptionGroup var connection: AdminClientOptions

        @Option(name: .shortAndLong, help: "Output: json or yaml.")
        var output: OutputFormat = .json

        func run() async throws {
            let query = type.map { "?type=\(AdminClient.segment($0))" } ?? ""
            let dump = try await connection.client().get("/api/v1/clients/\(AdminClient.segment(proxy))/config\(query)")
            emit(dump, output == .table ? .json : output) { "" }
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What changed in a proxy group between two versions: a unified diff of each resource's Envoy JSON.",
            discussion: "Without --from and --to, the group's previous and current versions (chancery get groups shows them).")

        @Option(help: "The proxy group.")
        var group: String

        @Option(help: "The older version (default: the one before the current).")
        var from: String?

        @Option(help: "The newer version (default: the current one).")
        var to: String?

        @OptionGroup var connection: AdminClientOptions

        @Option(name: .shortAndLong, help: "Output: table (the diff), json or yaml.")
        var output: OutputFormat = .table

        func run() async throws {
            var query: [String] = []
            if let from { query.append("from=\(AdminClient.segment(from))") }
            if let to { query.append("to=\(AdminClient.segment(to))") }
            let path = "/api/v1/snapshots/\(AdminClient.segment(group))/diff" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            let diff = try await connection.client().get(path)
            emit(diff, output) {
                let changes = diff["changes"].array
                var out =
                    "group \(diff["group"].string ?? group): version \(diff["from"].string ?? "?") → \(diff["to"].string ?? "?"): "
                    + "\(diff["added"].array.count) added, \(diff["removed"].array.count) removed, \(diff["changed"].array.count) changed\n"
                for change in changes { out += change["diff"].string ?? "" }
                return out
            }
        }
    }
}
