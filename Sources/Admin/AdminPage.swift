import Foundation
import GatewayModel
import IR
import Translation
import XDS

/// The pages for people: `/`, a dashboard of proxy groups, proxies and every Gateway,
/// route and policy with its conditions; `/groups/{group}[?from=&to=]`, one group's
/// versions, resources and the content diff between two versions. Plain HTML, no
/// JavaScript; reload to refresh.
enum AdminPage {
    static let style = """
        body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
        h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
        table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
        th { background: #f4f4f4; } .ok { color: #1a7f37; } .bad { color: #c62828; font-weight: 600; } .warn { color: #9a6700; }
        tr.bad td { background: #fff4f4; } code, pre { font-size: 12px; } pre { background: #f8f8f8; padding: 8px; overflow-x: auto; }
        .add { color: #1a7f37; } .del { color: #c62828; } .hunk { color: #6639ba; } .muted { color: #777; }
        """

    static func page(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>\(style)</style></head><body>
        \(body)
        <p class=muted>JSON: <a href="/api/v1/snapshots">snapshots</a>, <a href="/api/v1/clients">clients</a>, <a href="/api/v1/objects">objects</a>, <a href="/api/v1/quarantine">quarantine</a>, <a href="/metrics">metrics</a></p>
        </body></html>

        """
    }

    static func render(_ server: AdminServer, now: Date = Date()) -> String {
        var html = "<h1>Chancery</h1>"
        let (ready, reason) = server.state.readiness
        html += "<p id=\"readiness\">\(ready ? "<span class=ok>ready</span>" : "<span class=bad>not ready</span>: \(escape(reason))")"
        if let current = server.state.current {
            html += " · last change translated \(ago(current.translatedAt, now)) ago"
        }
        html += "</p>"

        let groups = server.cache.groups
        html += "<h2>Proxy groups</h2><table id=\"groups\"><tr><th>group</th><th>version</th><th>resources</th><th>proxies in sync</th><th>built</th></tr>"
        for group in groups {
            guard let summary = server.summary(group) else { continue }
            let resources = summary.resources.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            let sync = "\(summary.proxiesInSync)/\(summary.proxies)"
            let cls = summary.proxiesInSync == summary.proxies ? "ok" : "bad"
            html += "<tr><td><a href=\"\(groupLink(group))\">\(escape(group))</a></td><td><code>\(summary.version)</code></td><td>\(resources)</td><td class=\(cls)>\(sync)</td><td>\(ago(summary.builtAt, now)) ago</td></tr>"
        }
        if groups.isEmpty { html += "<tr><td colspan=5 class=muted>none yet</td></tr>" }
        html += "</table>"

        html += "<h2>Proxies</h2><table id=\"proxies\"><tr><th>node</th><th>group</th><th>protocol</th><th>state</th><th>since</th><th>last rejection</th></tr>"
        let known = Set(groups)
        let clients = server.registry.all.sorted { ($0.nodeID, $0.service) < ($1.nodeID, $1.service) }
        for client in clients {
            let nack = client.types.sorted { $0.key < $1.key }.compactMap { type, status -> (String, Date)? in
                guard let nack = status.currentNack ?? status.lastNack else { return nil }
                return ("\(type.shortName) \(nack.version): \(nack.message)", nack.at)
            }.first
            let rejecting = client.types.sorted { $0.key < $1.key }.compactMap { _, status in status.currentNack }.first
            let state: String
            let since: Date?
            var row = ""
            if !known.contains(client.group) {
                state = "<span class=bad>unknown group</span>: no proxy group has this name (check the bootstrap's cluster)"
                since = client.connectedAt
                row = " class=bad"
            } else if client.inSync {
                (state, since) = ("<span class=ok>in sync</span>", client.syncedAt)
            } else if let rejecting {
                (state, since) = ("<span class=bad>rejected</span>", rejecting.at)
                row = " class=bad"
            } else {
                (state, since) = ("<span class=warn>behind</span>", client.types.values.compactMap(\.sentAt).min() ?? client.connectedAt)
            }
            html += "<tr\(row)><td>\(escape(client.nodeID))</td><td>\(escape(client.group))</td><td>\(client.service) \(client.transport.rawValue)</td><td>\(state)</td><td>\(ago(since, now)) ago</td><td>\(escape(nack.map { "\($0.0) (\(ago($0.1, now)) ago)" } ?? ""))</td></tr>"
        }
        if clients.isEmpty { html += "<tr><td colspan=6 class=muted>none connected</td></tr>" }
        html += "</table>"

        let objects = server.objects(kind: nil, namespace: nil, onlyRejected: false)
        if !objects.readErrors.isEmpty {
            html += "<h2>Not read</h2><table id=\"unreadable\"><tr><th>where and why</th></tr>"
            for error in objects.readErrors { html += "<tr class=bad><td>\(escape(error))</td></tr>" }
            html += "</table>"
        }
        let shown: [Kind] = [
            .gatewayClass, .gateway, .listenerSet, .httpRoute, .grpcRoute, .tlsRoute, .tcpRoute, .udpRoute, .ingressClass, .ingress,
        ]
            + Kind.allCases.filter { $0.rawValue.hasSuffix("Policy") }
        let rows = objects.objects.filter { object in shown.contains { $0.rawValue == object.kind } }
            .sorted { (!$0.rejected ? 1 : 0, $0.kind, $0.namespace ?? "", $0.name) < (!$1.rejected ? 1 : 0, $1.kind, $1.namespace ?? "", $1.name) }
        html += "<h2>Gateways, routes, Ingresses and policies</h2><table id=\"objects\"><tr><th>object</th><th>state</th><th>conditions</th><th>from</th></tr>"
        for object in rows {
            let name = [object.kind, object.namespace.map { $0 + "/" + object.name } ?? object.name].joined(separator: " ")
            let state =
                object.quarantined ? "<span class=bad>quarantined</span>" : object.rejected ? "<span class=bad>rejected</span>" : "<span class=ok>ok</span>"
            let status = ObjectStatus(
                conditions: object.conditions, listeners: object.listeners, parents: object.parents, ancestors: object.ancestors)
            let lines = Report.conditions(status).map { escape($0.about) + line($0.condition) }
            html += "<tr\(object.rejected ? " class=bad" : "")><td>\(escape(name))\(object.quarantined ? " (quarantined)" : "")</td><td>\(state)</td><td>\(lines.joined(separator: "<br>"))</td><td>\(escape(object.origin ?? "Kubernetes API"))</td></tr>"
        }
        if rows.isEmpty { html += "<tr><td colspan=4 class=muted>none</td></tr>" }
        html += "</table>"
        return page(title: "Chancery", body: html)
    }

    /// `Type=Status reason: message`, green when it holds as wished, red when not.
    static func line(_ condition: Condition) -> String {
        // Conflicted and the like are good when False.
        let good = condition.isTrue != (condition.type == .conflicted)
        return "<span class=\(good ? "ok" : "bad")>\(escape(condition.type.rawValue))=\(condition.status.rawValue)</span> \(escape("\(condition.reason)")): \(escape(condition.message))"
    }

    /// `/groups/{group}[?from=&to=]`.
    static func group(_ server: AdminServer, _ group: String, from: String?, to: String?, now: Date = Date()) -> String? {
        let history = server.cache.history(for: group)
        guard let current = history.last else { return nil }
        var html = "<p><a href=\"/\">← all groups</a></p><h1>Proxy group \(escape(group))</h1>"
        let clients = server.registry.clients(inGroup: group)
        html += "<p>Version <code>\(current.version)</code>, built \(ago(current.setAt, now)) ago; \(clients.filter { $0.syncedVersion == current.version }.count) of \(clients.count) proxies hold it.</p>"

        html += "<h2>Versions</h2><table id=\"versions\"><tr><th>version</th><th>built</th><th>proxies holding it</th><th></th></tr>"
        for (index, record) in history.enumerated().reversed() {
            let holding = clients.filter { $0.ackedAt[record.version] != nil }.count
            let diff = index > 0 ? "<a href=\"\(groupLink(group))?from=\(history[index - 1].version)&amp;to=\(record.version)\">changes from the version before</a>" : ""
            html += "<tr><td><code>\(record.version)</code>\(index == history.count - 1 ? " (current)" : "")</td><td>\(ago(record.setAt, now)) ago</td><td>\(holding)</td><td>\(diff)</td></tr>"
        }
        html += "</table>"

        let fromVersion = from ?? (history.count > 1 ? history[history.count - 2].version : nil)
        let toVersion = to ?? current.version
        if let fromVersion {
            html += "<h2 id=\"diff\">Changes from <code>\(escape(fromVersion))</code> to <code>\(escape(toVersion))</code></h2>"
            if let a = server.cache.record(for: group, version: fromVersion), let b = server.cache.record(for: group, version: toVersion) {
                let changes = server.resourceChanges(a.snapshot, b.snapshot, from: "version \(fromVersion)", to: "version \(toVersion)")
                if changes.isEmpty { html += "<p class=muted>none</p>" }
                for change in changes {
                    html += "<h3>\(escape(change.change)) \(escape(change.resource))</h3><pre class=diff>\(colored(change.diff))</pre>"
                }
            } else {
                html += "<p class=bad>not among the group's recent versions</p>"
            }
        }

        html += "<h2>Resources</h2><table id=\"resources\"><tr><th>resource</th><th>version</th><th>Envoy JSON</th></tr>"
        for type in ResourceType.allCases {
            for resource in current.snapshot.sorted(type) {
                let key = escape(ResourceKey(type.resourceKind, resource.name).description)
                html += "<tr><td>\(key)</td><td><code>\(resource.version)</code></td><td><details><summary>show</summary><pre>\(escape(server.prettyJSON(resource)))</pre></details></td></tr>"
            }
        }
        html += "</table>"
        return page(title: "Chancery: \(group)", body: html)
    }

    static func colored(_ diff: String) -> String {
        diff.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let text = escape(String(line))
            if line.hasPrefix("+++") || line.hasPrefix("---") { return "<b>\(text)</b>" }
            if line.hasPrefix("@@") { return "<span class=hunk>\(text)</span>" }
            if line.hasPrefix("+") { return "<span class=add>\(text)</span>" }
            if line.hasPrefix("-") { return "<span class=del>\(text)</span>" }
            return text
        }.joined(separator: "\n")
    }

    static func groupLink(_ group: String) -> String {
        "/groups/" + (group.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["-", ".", "_", "~"])) ?? group)
    }

    static func ago(_ date: Date?, _ now: Date) -> String { Elapsed.short(since: date, now: now) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
