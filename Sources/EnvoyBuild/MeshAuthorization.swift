import EnvoyAPI
import IR
import SwiftProtobuf

/// A mesh chain's authorization in Envoy's RBAC filters. Callers are decided on the
/// connection (network RBAC: a caller no rule could ever allow is cut off before a byte
/// reaches the workload); requests over HTTP (HTTP RBAC: a request no rule allows gets
/// 403 from Envoy).
enum MeshAuthorization {
    /// The network filters that come before the chain's proxy: deny rules that look at
    /// callers alone, then the callers any allow rule could admit.
    static func networkFilters(_ plan: MeshAuthorizationPlan, http: Bool, statPrefix: String)
        -> [Envoy_Config_Listener_V3_Filter]
    {
        var filters: [Envoy_Config_Listener_V3_Filter] = []
        // On a TCP chain a rule about requests can never be checked: an allow rule lets
        // no one in, a deny rule keeps all its callers out (as Istio does), both failing
        // closed. (The planner serves ports with such rules as HTTP where it can.)
        let callerDenies = plan.deny.filter { !http || $0.requests == nil }
        if !callerDenies.isEmpty {
            filters.append(network(action: .deny, policies: callerDenies.map { ($0.name, $0.principals, nil) }, statPrefix: statPrefix + "deny."))
        }
        if let allow = plan.allow {
            let admitted = allow.filter { http || $0.requests == nil }
            filters.append(network(action: .allow, policies: admitted.map { ($0.name, $0.principals, nil) }, statPrefix: statPrefix + "allow."))
        }
        return filters
    }

    /// The HTTP filters that come first in the chain's connection manager: deny rules
    /// about requests, then (when an allow rule looks at requests) the allow rules.
    static func httpFilters(_ plan: MeshAuthorizationPlan)
        -> [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter]
    {
        var filters: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter] = []
        let requestDenies = plan.deny.filter { $0.requests != nil }
        if !requestDenies.isEmpty {
            filters.append(http(name: "deny", action: .deny, rules: requestDenies))
        }
        if let allow = plan.allow, allow.contains(where: { $0.requests != nil }) {
            filters.append(http(name: "allow", action: .allow, rules: allow))
        }
        return filters
    }

    private static func network(
        action: Envoy_Config_Rbac_V3_RBAC.Action, policies: [(String, [MeshPrincipal], [MeshRequestMatch]?)],
        statPrefix: String
    ) -> Envoy_Config_Listener_V3_Filter {
        var rbac = Envoy_Extensions_Filters_Network_Rbac_V3_RBAC()
        rbac.statPrefix = statPrefix
        rbac.rules = rules(action: action, policies: policies)
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.rbac"
        filter.typedConfig = try! .packing(rbac)
        return filter
    }

    private static func http(name: String, action: Envoy_Config_Rbac_V3_RBAC.Action, rules planned: [MeshAuthorizationRule])
        -> Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter
    {
        var rbac = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC()
        rbac.rules = rules(action: action, policies: planned.map { ($0.name, $0.principals, $0.requests) })
        var filter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        filter.name = "envoy.filters.http.rbac/mesh-\(name)"
        filter.typedConfig = try! .packing(rbac)
        return filter
    }

    /// One RBAC policy per rule (named after it). With `.allow` and no rules, Envoy
    /// refuses everything, as a policy that admits no one must.
    private static func rules(
        action: Envoy_Config_Rbac_V3_RBAC.Action, policies: [(name: String, principals: [MeshPrincipal], requests: [MeshRequestMatch]?)]
    ) -> Envoy_Config_Rbac_V3_RBAC {
        var rbac = Envoy_Config_Rbac_V3_RBAC()
        rbac.action = action
        for (index, rule) in policies.enumerated() {
            var policy = Envoy_Config_Rbac_V3_Policy()
            policy.principals = [principal(rule.principals)]
            policy.permissions = [permission(rule.requests)]
            // Rule names are unique in a policy; the index keeps two policies' rules apart.
            rbac.policies["\(index)/\(rule.name)"] = policy
        }
        return rbac
    }

    static func principal(_ principals: [MeshPrincipal]) -> Envoy_Config_Rbac_V3_Principal {
        let each = principals.map { planned -> Envoy_Config_Rbac_V3_Principal in
            var principal = Envoy_Config_Rbac_V3_Principal()
            switch planned {
            case .any:
                principal.any = true
            case .identity(let id):
                principal = authenticated(id)
            case .workload(let identity, let address):
                var peer = Envoy_Config_Rbac_V3_Principal()
                if let range = MeshListeners.cidr(address) { peer.directRemoteIp = range }
                var set = Envoy_Config_Rbac_V3_Principal.Set()
                set.ids = [authenticated(identity), peer]
                principal.andIds = set
            case .identityPrefix(let prefix):
                var matcher = Envoy_Type_Matcher_V3_StringMatcher()
                matcher.prefix = prefix
                var authenticated = Envoy_Config_Rbac_V3_Principal.Authenticated()
                authenticated.principalName = matcher
                principal.authenticated = authenticated
            case .address(let cidr):
                // The peer of the captured connection: iptables REDIRECT keeps the caller's address.
                if let range = MeshListeners.cidr(cidr) { principal.directRemoteIp = range }
            }
            return principal
        }
        if each.isEmpty {
            // No caller: a principal that matches nothing.
            var anyone = Envoy_Config_Rbac_V3_Principal()
            anyone.any = true
            var nobody = Envoy_Config_Rbac_V3_Principal()
            nobody.notID = anyone
            return nobody
        }
        return AuthorizationFilter.any(each)
    }

    /// A peer whose certificate carries `identity` (the URI SAN Envoy takes first).
    private static func authenticated(_ identity: String) -> Envoy_Config_Rbac_V3_Principal {
        var matcher = Envoy_Type_Matcher_V3_StringMatcher()
        matcher.exact = identity
        var authenticated = Envoy_Config_Rbac_V3_Principal.Authenticated()
        authenticated.principalName = matcher
        var principal = Envoy_Config_Rbac_V3_Principal()
        principal.authenticated = authenticated
        return principal
    }

    static func permission(_ requests: [MeshRequestMatch]?) -> Envoy_Config_Rbac_V3_Permission {
        guard let requests else {
            var permission = Envoy_Config_Rbac_V3_Permission()
            permission.any = true
            return permission
        }
        let each = requests.map { request -> Envoy_Config_Rbac_V3_Permission in
            var parts: [Envoy_Config_Rbac_V3_Permission] = []
            if let method = request.method { parts.append(header(":method", method)) }
            if let path = request.path {
                // The path without its query string, as it reaches the workload.
                var matcher = Envoy_Type_Matcher_V3_PathMatcher()
                matcher.path = Routes.stringMatcher(path)
                var permission = Envoy_Config_Rbac_V3_Permission()
                permission.urlPath = matcher
                parts.append(permission)
            }
            for header in request.headers { parts.append(self.header(header.name, header.value)) }
            var permission = Envoy_Config_Rbac_V3_Permission()
            if parts.isEmpty {
                permission.any = true
            } else if parts.count == 1 {
                permission = parts[0]
            } else {
                var set = Envoy_Config_Rbac_V3_Permission.Set()
                set.rules = parts
                permission.andRules = set
            }
            return permission
        }
        if each.count == 1 { return each[0] }
        var set = Envoy_Config_Rbac_V3_Permission.Set()
        set.rules = each
        var permission = Envoy_Config_Rbac_V3_Permission()
        permission.orRules = set
        return permission
    }

    private static func header(_ name: String, _ value: StringMatch) -> Envoy_Config_Rbac_V3_Permission {
        var matcher = Envoy_Config_Route_V3_HeaderMatcher()
        matcher.name = name
        matcher.stringMatch = Routes.stringMatcher(value)
        var permission = Envoy_Config_Rbac_V3_Permission()
        permission.header = matcher
        return permission
    }
}
