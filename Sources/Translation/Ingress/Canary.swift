import Foundation
import GatewayModel
import IR

/// ingress-nginx's canary: an Ingress annotated `nginx.ingress.kubernetes.io/canary: "true"`
/// serves nothing of its own; where it defines the same host, path and path type as an
/// Ingress of its class, it takes part of that path's requests, chosen in ingress-nginx's
/// order:
/// 1. by header (`canary-by-header`): `always` to the canary, `never` to the main
///    backend; with `canary-by-header-value` that value (or with
///    `canary-by-header-pattern` a match of that RE2 pattern) to the canary; any other
///    value falls through;
/// 2. by cookie (`canary-by-cookie`): `always` or `never`, likewise;
/// 3. by weight (`canary-weight` of `canary-weight-total`, default 100).
/// One canary per path: a second (younger) one says it is not applied there.
struct IngressCanary {
    static let prefix = "nginx.ingress.kubernetes.io/"
    static let annotations: Set<String> = Set(
        ["canary", "canary-weight", "canary-weight-total", "canary-by-header", "canary-by-header-value",
         "canary-by-header-pattern", "canary-by-cookie"].map { prefix + $0 })

    var served: Ingresses.Served
    let className: String
    var header: String?
    var headerValue: String?
    var headerPattern: String?
    var cookie: String?
    var weight = 0
    var total = 100
    /// Where it was applied: `group host path`.
    var appliedTo: [String] = []

    /// Whether the Ingress is a canary (`canary: "true"`).
    static func isCanary(_ ingress: Ingress) -> Bool {
        ingress.metadata.annotations?[prefix + "canary"]?.trimmingCharacters(in: .whitespaces).lowercased() == "true"
    }

    init(served: Ingresses.Served, className: String) {
        self.served = served
        self.className = className
        let annotations = served.ingress.metadata.annotations ?? [:]
        func value(_ name: String) -> String? { annotations[Self.prefix + name].flatMap { $0.isEmpty ? nil : $0 } }
        header = value("canary-by-header")?.lowercased()
        headerValue = value("canary-by-header-value")
        headerPattern = value("canary-by-header-pattern")
        cookie = value("canary-by-cookie")
        if let text = value("canary-weight-total") {
            if let number = Int(text), (1...1_000_000).contains(number) { total = number } else {
                self.served.notes.append("canary-weight-total \"\(text)\" is not an integer from 1 to 1000000: 100 is used")
            }
        }
        if let text = value("canary-weight") {
            if let number = Int(text), (0...1_000_000).contains(number) { weight = min(number, total) } else {
                self.served.notes.append("canary-weight \"\(text)\" is not an integer from 0 to \(total): 0 is used")
            }
        }
        if let cookie, Self.cookieMatch(cookie, "always") == nil {
            self.served.notes.append("canary-by-cookie \"\(cookie)\" is too long a cookie name to match: not applied")
            self.cookie = nil
        }
        if header == nil, headerValue != nil || headerPattern != nil {
            self.served.notes.append("canary-by-header-value and canary-by-header-pattern need canary-by-header: not applied")
        }
        if headerValue != nil, headerPattern != nil {
            self.served.notes.append("canary-by-header-pattern is not applied: canary-by-header-value is set")
            headerPattern = nil
        }
        if let pattern = headerPattern, let problem = RE2.problem(".*(?:\(pattern)).*") {
            self.served.conditions.append(
                Condition(
                    .resolvedRefs, false, reason: .unsupportedValue,
                    message: "canary-by-header-pattern \"\(pattern)\" is refused (\(problem)): only the header's values always and never apply",
                    generation: served.generation))
            headerPattern = nil
        }
    }

    /// A `Cookie` header holding `name=value`; nil when RE2 (Envoy's engine) would refuse
    /// the pattern (a very long name).
    static func cookieMatch(_ name: String, _ value: String) -> String? {
        let pattern = "(^|.*;\\s*)\(RE2.escape(name))=\(value)(;.*|$)"
        return RE2.problem(pattern) == nil ? pattern : nil
    }

    /// The canary's backend for a path it shares with a main Ingress.
    func backend(host: String, path: String, exact: Bool) -> Ingress.Backend? {
        for rule in served.ingress.spec.rules ?? [] where (rule.host ?? "") == host {
            for candidate in rule.http?.paths ?? [] {
                let value = candidate.path.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
                if Ingresses.normalized(value, exact: candidate.pathType == .exact) == path, (candidate.pathType == .exact) == exact {
                    return candidate.backend
                }
            }
        }
        return nil
    }

    /// The routes of one path, canary first: its header and cookie routes, then the main
    /// route, weighted between both when a weight is set.
    func routes(name: String, origin: ObjectKey, match: RouteMatchPlan, main: RouteAction, canary: RouteAction) -> [RoutePlan] {
        var routes: [RoutePlan] = []
        func route(_ suffix: String, _ header: HeaderMatchPlan?, _ action: RouteAction) {
            var match = match
            if let header { match.headers.append(header) }
            routes.append(RoutePlan(name: "\(name)/\(suffix)", origin: suffix.hasPrefix("canary") ? served.key : origin, match: match, action: action))
        }
        if let header {
            if let headerValue {
                route("canary-by-header", HeaderMatchPlan(name: header, value: .exact(headerValue)), canary)
            } else if let headerPattern {
                // ingress-nginx searches the value; Envoy matches a header's regex whole.
                route("canary-by-header", HeaderMatchPlan(name: header, value: .regex(".*(?:\(headerPattern)).*")), canary)
            } else {
                route("canary-by-header", HeaderMatchPlan(name: header, value: .exact("always")), canary)
                route("main-by-header", HeaderMatchPlan(name: header, value: .exact("never")), main)
            }
        }
        if let cookie, let always = Self.cookieMatch(cookie, "always"), let never = Self.cookieMatch(cookie, "never") {
            route("canary-by-cookie", HeaderMatchPlan(name: "cookie", value: .regex(always)), canary)
            route("main-by-cookie", HeaderMatchPlan(name: "cookie", value: .regex(never)), main)
        }
        var weighted = main
        if weight > 0, case .forward(let mainPlan) = main, case .forward(let canaryPlan) = canary {
            var plan = mainPlan
            plan.destinations = mainPlan.destinations.map { var d = $0; d.weight = total - weight; return d }.filter { $0.weight > 0 }
                + canaryPlan.destinations.map { var d = $0; d.weight = weight; return d }
            weighted = .forward(plan)
        }
        routes.append(RoutePlan(name: name, origin: origin, match: match, action: weighted))
        return routes
    }
}
