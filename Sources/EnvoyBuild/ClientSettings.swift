import EnvoyAPI
import GatewayModel
import IR
import SwiftProtobuf

/// ClientTrafficPolicy settings in Envoy's terms: the HTTP connection manager's, the
/// listener's limits, and TLS parameters.
enum ClientSettings {
    typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    /// Applies the settings to a connection manager (Chancery's defaults otherwise).
    static func apply(_ settings: ClientSettingsPlan, to hcm: inout HCM) {
        switch settings.clientAddress {
        case .forwardedFor(let hops)? where hops > 0:
            // The last `hops` proxies are trusted: the client is the entry they appended,
            // `hops - 1` from the right (Envoy counts the additional trusted hops).
            var xff = Envoy_Extensions_Http_OriginalIpDetection_Xff_V3_XffConfig()
            xff.xffNumTrustedHops = UInt32(hops - 1)
            hcm.useRemoteAddress = Google_Protobuf_BoolValue(false)
            hcm.originalIpDetectionExtensions = [extensionConfig("envoy.extensions.http.original_ip_detection.xff", xff)]
        case .forwardedForFrom(let ranges)?:
            var cidrs = Envoy_Extensions_Http_OriginalIpDetection_Xff_V3_XffTrustedCidrs()
            cidrs.cidrs = ranges.map { range in
                var cidr = Envoy_Config_Core_V3_CidrRange()
                cidr.addressPrefix = range.maskedAddress
                cidr.prefixLen = Google_Protobuf_UInt32Value(UInt32(range.prefixLength))
                return cidr
            }
            var xff = Envoy_Extensions_Http_OriginalIpDetection_Xff_V3_XffConfig()
            xff.xffTrustedCidrs = cidrs
            hcm.useRemoteAddress = Google_Protobuf_BoolValue(false)
            hcm.originalIpDetectionExtensions = [extensionConfig("envoy.extensions.http.original_ip_detection.xff", xff)]
        case .header(let name, let failClosed)?:
            var header = Envoy_Extensions_Http_OriginalIpDetection_CustomHeader_V3_CustomHeaderConfig()
            header.headerName = name
            if failClosed {
                var status = Envoy_Type_V3_HttpStatus()
                status.code = .forbidden
                header.rejectWithStatus = status
            }
            hcm.useRemoteAddress = Google_Protobuf_BoolValue(false)
            hcm.originalIpDetectionExtensions = [
                extensionConfig("envoy.extensions.http.original_ip_detection.custom_header", header)
            ]
        default: break
        }
        if let timeout = settings.requestReceivedTimeoutMilliseconds { hcm.requestTimeout = Routes.duration(timeout) }
        if let idle = settings.idleTimeoutMilliseconds { hcm.commonHTTPProtocolOptions.idleTimeout = Routes.duration(idle) }
        switch settings.underscores {
        case .allow?: hcm.commonHTTPProtocolOptions.headersWithUnderscoresAction = .allow
        case .reject?: hcm.commonHTTPProtocolOptions.headersWithUnderscoresAction = .rejectRequest
        case .drop?: hcm.commonHTTPProtocolOptions.headersWithUnderscoresAction = .dropHeader
        case nil: break
        }
        if settings.enableTrailers { hcm.httpProtocolOptions.enableTrailers = true }
        if settings.preserveHeaderCase {
            var format = Envoy_Config_Core_V3_Http1ProtocolOptions.HeaderKeyFormat()
            format.statefulFormatter = extensionConfig(
                "envoy.http.stateful_header_formatters.preserve_case",
                Envoy_Extensions_Http_HeaderFormatters_PreserveCase_V3_PreserveCaseFormatterConfig())
            hcm.httpProtocolOptions.headerKeyFormat = format
        }
        if let host = settings.http10DefaultHost {
            hcm.httpProtocolOptions.acceptHTTP10 = true
            hcm.httpProtocolOptions.defaultHostForHTTP10 = host
        }
        switch settings.requestID {
        case .preserveOrGenerate?:
            hcm.generateRequestID = Google_Protobuf_BoolValue(true)
            hcm.preserveExternalRequestID = true
        case .preserve?:
            hcm.generateRequestID = Google_Protobuf_BoolValue(false)
            hcm.preserveExternalRequestID = true
        case .generate?:
            hcm.generateRequestID = Google_Protobuf_BoolValue(true)
            hcm.preserveExternalRequestID = false
        case .disable?:
            hcm.generateRequestID = Google_Protobuf_BoolValue(false)
            hcm.preserveExternalRequestID = false
        case nil: break
        }
        if let xfcc = settings.forwardClientCert {
            switch xfcc.mode {
            case "ForwardOnly": hcm.forwardClientCertDetails = .forwardOnly
            case "AppendForward": hcm.forwardClientCertDetails = .appendForward
            case "SanitizeSet": hcm.forwardClientCertDetails = .sanitizeSet
            case "AlwaysForwardOnly": hcm.forwardClientCertDetails = .alwaysForwardOnly
            default: hcm.forwardClientCertDetails = .sanitize
            }
            if !xfcc.details.isEmpty {
                var details = HCM.SetCurrentClientCertDetails()
                if xfcc.details.contains("Subject") { details.subject = Google_Protobuf_BoolValue(true) }
                details.cert = xfcc.details.contains("Cert")
                details.chain = xfcc.details.contains("Chain")
                details.dns = xfcc.details.contains("DNS")
                details.uri = xfcc.details.contains("URI")
                hcm.setCurrentClientCertDetails = details
            }
        }
    }

    /// The connection_limit network filter, placed before the connection manager.
    static func connectionLimit(_ settings: ClientSettingsPlan?, statPrefix: String) -> Envoy_Config_Listener_V3_Filter? {
        guard let limit = settings?.connectionLimit else { return nil }
        var config = Envoy_Extensions_Filters_Network_ConnectionLimit_V3_ConnectionLimit()
        config.statPrefix = statPrefix
        config.maxConnections = Google_Protobuf_UInt64Value(UInt64(limit))
        if let delay = settings?.connectionLimitDelayMilliseconds { config.delay = Routes.duration(delay) }
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.connection_limit"
        filter.typedConfig = try! .packing(config)
        return filter
    }

    static func tlsParameters(_ plan: DownstreamTLSPlan) -> Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters {
        func version(_ text: String?) -> Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters.TlsProtocol {
            switch text {
            case "1.0": .tlsv10
            case "1.1": .tlsv11
            case "1.2": .tlsv12
            case "1.3": .tlsv13
            default: .tlsAuto
            }
        }
        var parameters = Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters()
        parameters.tlsMinimumProtocolVersion = version(plan.minVersion)
        parameters.tlsMaximumProtocolVersion = version(plan.maxVersion)
        parameters.cipherSuites = plan.ciphers
        parameters.ecdhCurves = plan.ecdhCurves
        parameters.signatureAlgorithms = plan.signatureAlgorithms
        return parameters
    }

    static func extensionConfig(_ name: String, _ message: some SwiftProtobuf.Message) -> Envoy_Config_Core_V3_TypedExtensionConfig {
        var config = Envoy_Config_Core_V3_TypedExtensionConfig()
        config.name = name
        config.typedConfig = try! .packing(message)
        return config
    }
}
