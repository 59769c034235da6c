/// A Gateway API conformance feature, as upstream's `pkg/features` names it
/// (`HTTPRouteCORS`). GatewayClass status lists the ones Chancery supports
/// (`status.supportedFeatures`), and the conformance suite reads that list.
public struct FeatureName: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// Every feature of Gateway API v1.6 (`pkg/features` at v1.6.1), and Chancery's share.
/// docs/conformance.md has a row for each, with the test that proves it; a test keeps
/// the two in step.
public enum Features {
    /// Every v1.6 feature, by upstream's files (gateway, httproute, grpcroute, tlsroute,
    /// tcproute, udproute, referencegrant, backendtlspolicy, mesh).
    public static let all: [FeatureName] = [
        "Gateway", "GatewayPort8080", "GatewayStaticAddresses", "GatewayHTTPListenerIsolation",
        "GatewayHTTPSListenerDetectMisdirectedRequests", "GatewayInfrastructurePropagation", "GatewayAddressEmpty",
        "ListenerSet", "GatewayBackendClientCertificate", "GatewayFrontendClientCertificateValidation",
        "GatewayFrontendClientCertificateValidationInsecureFallback",
        "HTTPRoute", "HTTPRouteDestinationPortMatching", "HTTPRouteBackendRequestHeaderModification",
        "HTTPRouteQueryParamMatching", "HTTPRouteMethodMatching", "HTTPRouteResponseHeaderModification",
        "HTTPRoutePortRedirect", "HTTPRouteSchemeRedirect", "HTTPRoutePathRedirect", "HTTPRouteHostRewrite",
        "HTTPRoutePathRewrite", "HTTPRouteRequestMirror", "HTTPRouteRequestMultipleMirrors",
        "HTTPRouteRequestPercentageMirror", "HTTPRouteRequestTimeout", "HTTPRouteBackendTimeout", "HTTPRouteParentRefPort",
        "HTTPRouteBackendProtocolH2C", "HTTPRouteBackendProtocolWebSocket", "HTTPRouteNamedRouteRule", "HTTPRouteCORS",
        "HTTPRoute303RedirectStatusCode", "HTTPRoute307RedirectStatusCode", "HTTPRoute308RedirectStatusCode",
        "HTTPRouteRetry", "HTTPRouteRetryBackendTimeout", "HTTPRouteRetryConnectionError",
        "GRPCRoute", "GRPCRouteNamedRouteRule",
        "TLSRoute", "TLSRouteModeTerminate", "TLSRouteModeMixed",
        "TCPRoute", "UDPRoute", "ReferenceGrant",
        "BackendTLSPolicy", "BackendTLSPolicySANValidation",
        "Mesh", "MeshClusterIPMatching", "MeshConsumerRoute", "MeshHTTPRouteRewritePath", "MeshHTTPRouteSchemeRedirect",
        "MeshHTTPRouteRedirectPort", "MeshHTTPRouteRedirectPath", "MeshHTTPRouteBackendRequestHeaderModification",
        "MeshHTTPRouteQueryParamMatching", "MeshHTTPRouteNamedRouteRule",
    ].map(FeatureName.init(rawValue:))

    /// What Chancery does not support yet; docs/conformance.md says why for each.
    public static let unsupported: Set<FeatureName> = Set(
        [
            "GatewayInfrastructurePropagation", "GatewayAddressEmpty",
            "Mesh", "MeshClusterIPMatching", "MeshConsumerRoute", "MeshHTTPRouteRewritePath",
            "MeshHTTPRouteSchemeRedirect", "MeshHTTPRouteRedirectPort", "MeshHTTPRouteRedirectPath",
            "MeshHTTPRouteBackendRequestHeaderModification", "MeshHTTPRouteQueryParamMatching",
            "MeshHTTPRouteNamedRouteRule",
        ].map(FeatureName.init(rawValue:)))

    /// The features a GatewayClass of Chancery's lists in `status.supportedFeatures`,
    /// sorted (the spec asks for alphabetical order).
    public static let supported: [FeatureName] = all.filter { !unsupported.contains($0) }.sorted()
}
