import EnvoyAPI
import Foundation
import SwiftProtobuf

extension ProxyConfig {
    /// The resources as Envoy's proto-JSON (field names as in Envoy's docs and
    /// `config_dump`), pretty-printed with sorted keys: stable enough to diff and to
    /// pin in golden files.
    public func json() throws -> String {
        try PrettyJSON.format(rawJSON())
    }

    func rawJSON() throws -> String {
        func array(_ messages: [some SwiftProtobuf.Message]) throws -> String {
            let items = try messages.map { try EnvoyJSON.encode($0) }
            return "[" + items.joined(separator: ",") + "]"
        }
        // Scopes only in the scoped layout, so the single layout's JSON stays as it was.
        let scopes = scopedRoutes.isEmpty ? "" : try "\"scoped_routes\":\(array(scopedRoutes)),"
        return try """
            {"listeners":\(array(listeners)),\(scopes)"routes":\(array(routes)),"clusters":\(array(clusters)),\
            "endpoints":\(array(endpoints)),"secrets":\(array(secrets.map(\.redacted)))}
            """
    }

    /// Types that appear inside `Any` fields of what the translator produces, so that
    /// JSON shows them expanded with their `@type`.
    static let registerAnyTypes: Void = {
        let types: [any SwiftProtobuf.Message.Type] = [
            Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.self,
            Envoy_Extensions_Filters_Http_Router_V3_Router.self,
            Envoy_Extensions_Filters_Http_Cors_V3_Cors.self,
            Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy.self,
            Envoy_Extensions_Filters_Http_Rbac_V3_RBAC.self,
            Envoy_Extensions_Filters_Http_Buffer_V3_Buffer.self,
            Envoy_Extensions_Filters_Http_Buffer_V3_BufferPerRoute.self,
            Envoy_Extensions_Filters_Http_Rbac_V3_RBACPerRoute.self,
            Envoy_Extensions_Filters_Http_StatefulSession_V3_StatefulSession.self,
            Envoy_Extensions_Filters_Http_StatefulSession_V3_StatefulSessionPerRoute.self,
            Envoy_Extensions_Http_StatefulSession_Cookie_V3_CookieBasedSessionState.self,
            Envoy_Extensions_Http_StatefulSession_Header_V3_HeaderBasedSessionState.self,
            Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.self,
            Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext.self,
            Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext.self,
            Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector.self,
            Envoy_Extensions_Filters_Udp_UdpProxy_V3_UdpProxyConfig.self,
            Envoy_Extensions_Filters_Udp_UdpProxy_V3_Route.self,
            Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions.self,
            Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault.self,
            Envoy_Extensions_Filters_Http_ApiKeyAuth_V3_ApiKeyAuth.self,
            Envoy_Extensions_Filters_Http_ApiKeyAuth_V3_ApiKeyAuthPerRoute.self,
            Envoy_Extensions_Filters_Http_BasicAuth_V3_BasicAuth.self,
            Envoy_Extensions_Filters_Http_BasicAuth_V3_BasicAuthPerRoute.self,
            Envoy_Extensions_Filters_Http_LocalRatelimit_V3_LocalRateLimit.self,
            Envoy_Extensions_Http_OriginalIpDetection_Xff_V3_XffConfig.self,
            Envoy_Extensions_Http_OriginalIpDetection_CustomHeader_V3_CustomHeaderConfig.self,
            Envoy_Extensions_Filters_Network_ConnectionLimit_V3_ConnectionLimit.self,
            Envoy_Extensions_Http_HeaderFormatters_PreserveCase_V3_PreserveCaseFormatterConfig.self,
            Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication.self,
            Envoy_Extensions_Filters_Http_JwtAuthn_V3_PerRouteConfig.self,
            Envoy_Extensions_Filters_Network_Rbac_V3_RBAC.self,
        ]
        for type in types { _ = Google_Protobuf_Any.register(messageType: type) }
    }()
}

/// Envoy's proto-JSON for single messages (field names as Envoy's docs and
/// `config_dump` print them), with the `Any` types Chancery produces expanded.
public enum EnvoyJSON {
    public static func encode(_ message: some SwiftProtobuf.Message) throws -> String {
        ProxyConfig.registerAnyTypes
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        options.useDeterministicOrdering = true
        return try message.jsonString(options: options)
    }
}

extension ProxyConfig {
    /// Several groups' resources, keyed by group, as in ``ProxyConfig/json()``.
    public static func json(_ groups: [String: ProxyConfig]) throws -> String {
        let entries = try groups.keys.sorted().map { group in
            "\(try PrettyJSON.quote(group)):\(try groups[group]!.rawJSON())"
        }
        return try PrettyJSON.format("{" + entries.joined(separator: ",") + "}")
    }
}

/// Re-indents JSON with sorted keys (Foundation), so output is byte-stable.
public enum PrettyJSON {
    public static func format(_ json: String) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
        let data = try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func quote(_ text: String) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed]), as: UTF8.self)
    }
}

extension Envoy_Extensions_TransportSockets_Tls_V3_Secret {
    /// The secret as inspection output may show it: the private key replaced.
    public var redacted: Self {
        guard case .tlsCertificate(let certificate)? = type, certificate.hasPrivateKey else { return self }
        var copy = self
        var placeholder = Envoy_Config_Core_V3_DataSource()
        placeholder.inlineString = "[redacted]"
        copy.tlsCertificate.privateKey = placeholder
        return copy
    }
}
