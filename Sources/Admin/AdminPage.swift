import Foundation
import GatewayModel
import Translation
import XDS

/// The page at `/`: proxy groups and their versions, every proxy and whether it is in
/// sync, and every rejected object with its reason. Plain HTML, no JavaScript;
/// reload to refresh.
enum AdminPage {
    static func render(_ server: AdminServer) -> String {
        var html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Chancery</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
            h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
            table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
            th { background: #f4f4f4; } .ok { color: #1a7f37; } .bad { color: #c62828; font-weight: 600; } code { font-size: 12px; }
            </style></head><body>
            <h1>Chancery</h1>
            """
        let (ready, reason) = server.state.readiness
        html += "<p id=\"readiness\">\(ready ? "<span class=ok>ready</span>" : "<span class=bad>not ready</span>: \(escape(reason))")</p>"

        html += "<h2>Proxy groups</h2><table id=\"groups\"><tr><th>group</th><th>version</th><th>resources</th><th>proxies in sync</th></tr>"
        for group in server.cache.groups {
            guard let summary = server.summary(group) else { continue }
            let resources = summary.resources.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            let sync = "\(summary.proxiesInSync)/\(summary.proxies)"
            let cls = summary.proxiesInSync == summary.proxies ? "ok" : "bad"
            html += "<tr><td>\(escape(group))</td><td><code>\(summary.version)</code></td><td>\(resources)</td><td class=\(cls)>\(sync)</td></tr>"
        }
        html += "</table>"

        html += "<h2>Proxies</h2><table id=\"proxies\"><tr><th>node</th><th>group</th><th>protocol</th><th>state</th><th>last rejection</th></tr>"
        for client in server.registry.all {
            let nack = client.types.sorted { $0.key < $1.key }.compactMap { type, status -> String? in
                guard let nack = status.lastNack else { return nil }
                return "\(type.shortName) \(nack.version): \(nack.message)"
            }.first
            let state = client.inSync ? "<span class=ok>in sync</span>" : "<span class=bad>behind</span>"
            html += "<tr><td>\(escape(client.nodeID))</td><td>\(escape(client.group))</td><td>\(client.service) \(client.transport.rawValue)</td><td>\(state)</td><td>\(escape(nack ?? ""))</td></tr>"
        }
        html += "</table>"

        html += "<h2>Rejected objects</h2><table id=\"rejected\"><tr><th>object</th><th>from</th><th>why</th></tr>"
        let objects = server.objects(kind: nil, namespace: nil, onlyRejected: true)
        for error in objects.readErrors {
            html += "<tr><td class=bad>unreadable</td><td></td><td>\(escape(error))</td></tr>"
        }
        for object in objects.objects {
            let name =
                [object.kind, object.namespace.map { $0 + "/" + object.name } ?? object.name].joined(separator: " ")
                + (object.quarantined ? " (quarantined)" : "")
            var reasons = object.conditions.filter { !$0.isTrue && $0.type != .conflicted }.map { "\($0.type) \($0.reason): \($0.message)" }
            reasons += (object.listeners ?? []).flatMap { listener in
                listener.conditions.filter { ($0.type == .accepted || $0.type == .resolvedRefs) && !$0.isTrue }
                    .map { "listener \(listener.name): \($0.reason): \($0.message)" }
            }
            reasons += (object.parents ?? []).flatMap { parent in
                parent.conditions.filter { !$0.isTrue }.map { "parent \(parent.parentRef.name): \($0.reason): \($0.message)" }
            }
            reasons += (object.ancestors ?? []).flatMap { ancestor in
                ancestor.conditions.filter { !$0.isTrue }.map { "for Gateway \(ancestor.ancestorRef.name): \($0.reason): \($0.message)" }
            }
            html += "<tr><td class=bad>\(escape(name))</td><td>\(escape(object.origin ?? ""))</td><td>\(reasons.map(escape).joined(separator: "<br>"))</td></tr>"
        }
        if objects.objects.isEmpty && objects.readErrors.isEmpty { html += "<tr><td colspan=3 class=ok>none</td></tr>" }
        html += "</table><p>JSON: <a href=\"/api/v1/snapshots\">snapshots</a>, <a href=\"/api/v1/clients\">clients</a>, <a href=\"/api/v1/objects\">objects</a>, <a href=\"/api/v1/quarantine\">quarantine</a>, <a href=\"/metrics\">metrics</a></p></body></html>\n"
        return html
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
