import Foundation
import GatewayModel
import IR

/// The ingress-nginx annotations Chancery applies to an Ingress's paths, with
/// ingress-nginx's defaults (canaries are ``IngressCanary``'s). A value Chancery cannot use
/// is a note in the Ingress's `Accepted` message, never silently dropped.
struct NginxAnnotations {
    static let prefix = "nginx.ingress.kubernetes.io/"
    static let supported: Set<String> = Set(
        ["use-regex", "rewrite-target", "app-root", "permanent-redirect", "permanent-redirect-code", "temporal-redirect",
         "temporal-redirect-code", "ssl-redirect", "force-ssl-redirect", "backend-protocol", "enable-cors", "cors-allow-origin",
         "cors-allow-methods", "cors-allow-headers", "cors-expose-headers", "cors-allow-credentials", "cors-max-age", "affinity",
         "session-cookie-name", "session-cookie-path", "session-cookie-max-age", "whitelist-source-range", "allowlist-source-range",
         "denylist-source-range", "proxy-connect-timeout", "proxy-read-timeout", "proxy-send-timeout", "proxy-body-size"]
            .map { prefix + $0 })

    /// Paths are case-insensitive regular expressions matched from the start (also when
    /// `rewrite-target` is set): for every path of the host, as ingress-nginx enforces.
    var useRegex = false
    /// The new path, `$1`… naming the path's capture groups.
    var rewriteTarget: String?
    /// `/` is redirected here (302).
    var appRoot: String?
    /// Every path answers with this redirect.
    var redirect: RedirectPlan?
    /// HTTP requests for a host the Ingress has TLS for are redirected to HTTPS (308).
    var sslRedirect = true
    /// …and for every host, TLS or not.
    var forceSSLRedirect = false
    var cors: CORSPlan?
    var session: (name: String, path: String?, ttlSeconds: Int64?)?
    /// `whitelist-source-range` (or `allowlist-source-range`) and `denylist-source-range`.
    var clientAddresses: ClientAddressPlan?
    /// `proxy-connect-timeout`, seconds (ingress-nginx's default 5 is not imposed: Envoy's 10 s stays).
    var connectTimeoutMilliseconds: Int64?
    /// The larger of `proxy-read-timeout` and `proxy-send-timeout` (default 60 s): a
    /// request silent this long is ended; there is no limit on its whole duration.
    var idleTimeoutMilliseconds: Int64 = 60_000
    /// `proxy-body-size` (`8m`, `512k`; `0`: no limit).
    var maxRequestBytes: Int?
    /// `backend-protocol: GRPC` or `GRPCS`: the Services are spoken to over HTTP/2.
    var http2 = false
    /// `backend-protocol: HTTPS` or `GRPCS`: over TLS, their certificates unchecked (as
    /// ingress-nginx's default `proxy_ssl_verify off`); a BackendTLSPolicy, where one
    /// applies, checks them.
    var tls = false
    var notes: [String] = []

    init(_ ingress: Ingress) {
        let annotations = ingress.metadata.annotations ?? [:]
        func value(_ name: String) -> String? {
            annotations[Self.prefix + name].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        func flag(_ name: String, default fallback: Bool) -> Bool {
            guard let text = value(name) else { return fallback }
            switch text.lowercased() {
            case "true": return true
            case "false": return false
            default:
                notes.append("\(name) \"\(text)\" is neither true nor false: \(fallback) is used")
                return fallback
            }
        }
        useRegex = flag("use-regex", default: false)
        rewriteTarget = value("rewrite-target")
        if let root = value("app-root") {
            if root.hasPrefix("/") { appRoot = root } else { notes.append("app-root \"\(root)\" is not a path starting with /: not applied") }
        }
        // Envoy answers redirects with 301, 302, 303, 307 or 308.
        redirect = Self.redirect(
            value("permanent-redirect"), code: value("permanent-redirect-code"), allowed: [301, 302, 303, 307, 308], fallback: 301,
            name: "permanent-redirect", notes: &notes)
        if redirect == nil {
            redirect = Self.redirect(
                value("temporal-redirect"), code: value("temporal-redirect-code"), allowed: [301, 302, 303, 307], fallback: 302,
                name: "temporal-redirect", notes: &notes)
        } else if value("temporal-redirect") != nil {
            notes.append("temporal-redirect is not applied: permanent-redirect is set")
        }
        sslRedirect = flag("ssl-redirect", default: true)
        forceSSLRedirect = flag("force-ssl-redirect", default: false)
        if let text = value("backend-protocol") {
            switch text.uppercased() {
            case "HTTP", "AUTO_HTTP": break
            case "GRPC": http2 = true
            case "HTTPS": tls = true
            case "GRPCS": (http2, tls) = (true, true)
            default: notes.append("backend-protocol \(text) is not supported (HTTP, AUTO_HTTP, HTTPS, GRPC and GRPCS are): HTTP is used")
            }
        }
        if flag("enable-cors", default: false) {
            func list(_ name: String, _ fallback: String) -> [String] {
                (value(name) ?? fallback).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            var maxAge = 1_728_000
            if let text = value("cors-max-age") {
                if let seconds = Int(text), seconds >= 0 { maxAge = seconds } else { notes.append("cors-max-age \"\(text)\" is not a number of seconds: 1728000 is used") }
            }
            cors = CORSPlan(
                allowOrigins: list("cors-allow-origin", "*").map(HTTPRoutePlanner.originMatch),
                allowMethods: list("cors-allow-methods", "GET, PUT, POST, DELETE, PATCH, OPTIONS"),
                allowHeaders: list(
                    "cors-allow-headers",
                    "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"),
                exposeHeaders: list("cors-expose-headers", ""), maxAgeSeconds: maxAge,
                allowCredentials: flag("cors-allow-credentials", default: true))
        }
        func seconds(_ name: String) -> Int64? {
            guard let text = value(name) else { return nil }
            guard let number = Int64(text), number > 0, number <= 86_400 else {
                notes.append("\(name) \"\(text)\" is not a number of seconds from 1 to 86400: not applied")
                return nil
            }
            return number * 1000
        }
        connectTimeoutMilliseconds = seconds("proxy-connect-timeout")
        let read = seconds("proxy-read-timeout")
        let send = seconds("proxy-send-timeout")
        if read != nil || send != nil { idleTimeoutMilliseconds = max(read ?? 60_000, send ?? 60_000) }
        if let text = value("proxy-body-size") {
            if let bytes = Self.size(text) {
                maxRequestBytes = bytes == 0 ? nil : bytes
            } else {
                notes.append("proxy-body-size \"\(text)\" is not a size (8m, 512k, 1g, or bytes): not applied")
            }
        }
        func ranges(_ name: String) -> [AddressRange] {
            guard let text = value(name) else { return [] }
            return text.split(separator: ",").compactMap { part in
                let entry = part.trimmingCharacters(in: .whitespaces)
                guard let range = AddressRange(entry) else {
                    notes.append("\(name): \"\(entry)\" is not an IP address or CIDR block")
                    return nil
                }
                return range
            }
        }
        let noted = notes.count
        let allow = ranges("whitelist-source-range") + ranges("allowlist-source-range")
        let deny = ranges("denylist-source-range")
        if notes.count > noted {
            // A range that cannot be read could be the one that keeps someone out: nobody is let in.
            notes.append("until the source ranges read, every client gets 403")
            clientAddresses = ClientAddressPlan(allow: [], deny: [AddressRange("0.0.0.0/0")!, AddressRange("::/0")!])
        } else if !allow.isEmpty || !deny.isEmpty {
            clientAddresses = ClientAddressPlan(allow: allow, deny: deny)
        }
        if let affinity = value("affinity") {
            if affinity == "cookie" {
                var ttl: Int64?
                if let text = value("session-cookie-max-age") {
                    if let seconds = Int64(text), seconds > 0, seconds <= 315_360_000 {
                        ttl = seconds
                    } else {
                        notes.append("session-cookie-max-age \"\(text)\" is not a number of seconds up to ten years: a session cookie is used")
                    }
                }
                session = (value("session-cookie-name") ?? "INGRESSCOOKIE", value("session-cookie-path"), ttl)
            } else {
                notes.append("affinity \"\(affinity)\" is not supported (cookie is): not applied")
            }
        }
    }

    /// `https://example.com/new` → a redirect there; nil (and a note) for anything else.
    static func redirect(
        _ target: String?, code: String?, allowed: [Int], fallback: Int, name: String, notes: inout [String]
    ) -> RedirectPlan? {
        guard let target else { return nil }
        guard let url = URLComponents(string: target), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else {
            notes.append("\(name) \"\(target)\" is not an http or https URL: not applied")
            return nil
        }
        var status = fallback
        if let code {
            if let number = Int(code), allowed.contains(number) {
                status = number
            } else {
                notes.append("\(name)-code \"\(code)\" is not one of \(allowed.map(String.init).joined(separator: ", ")): \(fallback) is used")
            }
        }
        // As written (percent-encoding and a trailing / kept), with its own query.
        let path = (url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath) + (url.percentEncodedQuery.map { "?" + $0 } ?? "")
        var redirect = RedirectPlan(scheme: scheme, hostname: host, port: url.port, path: .replaceFull(path), statusCode: status)
        redirect.stripQuery = true
        return redirect
    }

    /// nginx's sizes: bytes, or a number with `k`, `m` or `g` (either case); nil for
    /// anything else. Envoy takes up to 4 GiB.
    static func size(_ text: String) -> Int? {
        let units: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        var digits = Substring(text)
        var unit = 1
        if let last = text.last?.lowercased().first, let multiplier = units[last] {
            unit = multiplier
            digits = digits.dropLast()
        }
        guard let number = Int(digits), number >= 0, number <= Int(UInt32.max) / unit else { return nil }
        return number * unit
    }

    /// `/$2` → `/\2`, as Envoy's regex substitution names capture groups.
    static func substitution(_ target: String) -> String {
        var out = ""
        var rest = Substring(target)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest.index(after: dollar)
            let digits = rest[after...].prefix { $0.isNumber }
            out += digits.isEmpty ? "$" : "\\" + digits
            rest = rest[rest.index(after, offsetBy: digits.count)...]
        }
        return out + rest
    }
}
