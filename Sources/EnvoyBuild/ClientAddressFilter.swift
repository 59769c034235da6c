import EnvoyAPI
import IR
import SwiftProtobuf

/// Client address ranges (ingress-nginx's source ranges): Envoy's RBAC filter on
/// listeners with a route that limits them, enforcing nothing there, and per such route
/// one policy allowing the addresses it serves. The others get 403. The address is the
/// connection's peer (`direct_remote_ip`), not a forwarded header's.
struct ClientAddressFilter: HTTPFilter {
    let name = "envoy.filters.http.rbac"

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        guard listener.hasRoute(where: { $0.clientAddresses != nil }) else { return nil }
        return try! .packing(Envoy_Extensions_Filters_Http_Rbac_V3_RBAC())
    }

    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
        guard let plan = route.clientAddresses else { return nil }
        func anyOf(_ blocks: [ClientAddressPlan.Block]) -> Envoy_Config_Rbac_V3_Principal {
            var set = Envoy_Config_Rbac_V3_Principal.Set()
            set.ids = blocks.map { block in
                var cidr = Envoy_Config_Core_V3_CidrRange()
                cidr.addressPrefix = block.address
                cidr.prefixLen = Google_Protobuf_UInt32Value(UInt32(block.prefixLength))
                var principal = Envoy_Config_Rbac_V3_Principal()
                principal.directRemoteIp = cidr
                return principal
            }
            var principal = Envoy_Config_Rbac_V3_Principal()
            principal.orIds = set
            return principal
        }
        var all = Envoy_Config_Rbac_V3_Principal.Set()
        if !plan.allow.isEmpty { all.ids.append(anyOf(plan.allowBlocks)) }
        if !plan.deny.isEmpty {
            var not = Envoy_Config_Rbac_V3_Principal()
            not.notID = anyOf(plan.denyBlocks)
            all.ids.append(not)
        }
        var principal = Envoy_Config_Rbac_V3_Principal()
        principal.andIds = all
        var permission = Envoy_Config_Rbac_V3_Permission()
        permission.any = true
        var policy = Envoy_Config_Rbac_V3_Policy()
        policy.permissions = [permission]
        policy.principals = [principal]
        var rules = Envoy_Config_Rbac_V3_RBAC()
        rules.action = .allow
        rules.policies = ["client-addresses": policy]
        var rbac = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC()
        rbac.rules = rules
        var perRoute = Envoy_Extensions_Filters_Http_Rbac_V3_RBACPerRoute()
        perRoute.rbac = rbac
        return try! .packing(perRoute)
    }
}
