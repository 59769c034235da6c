import EnvoyAPI
import IR
import SwiftProtobuf

/// Planned clusters as Envoy clusters and ClusterLoadAssignments.
enum Clusters {
    static func cluster(_ plan: ClusterPlan) -> Envoy_Config_Cluster_V3_Cluster {
        switch plan.kind {
        case .service: return serviceCluster(plan.name, settings: plan.settings)
        case .weighted:
            // The backends' settings are alike (a session cluster is made only then).
            var cluster = serviceCluster(plan.name, settings: plan.settings)
            var common = Envoy_Config_Cluster_V3_Cluster.CommonLbConfig()
            common.localityWeightedLbConfig = Envoy_Config_Cluster_V3_Cluster.CommonLbConfig.LocalityWeightedLbConfig()
            cluster.commonLbConfig = common
            return cluster
        case .dns(let host, let port):
            var cluster = Envoy_Config_Cluster_V3_Cluster()
            cluster.name = plan.name
            cluster.type = .strictDns
            cluster.connectTimeout = .init(seconds: 10)
            var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
            assignment.clusterName = plan.name
            var locality = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
            locality.lbEndpoints = [lbEndpoint(Endpoint(address: host, port: port))]
            assignment.endpoints = [locality]
            cluster.loadAssignment = assignment
            if let tls = plan.settings.tls { cluster.transportSocket = UpstreamTLS.transportSocket(tls, http2: false) }
            return cluster
        case .originalDestination:
            // Each connection goes where it was going before a mesh proxy captured it.
            var cluster = Envoy_Config_Cluster_V3_Cluster()
            cluster.name = plan.name
            cluster.type = .originalDst
            cluster.lbPolicy = .clusterProvided
            cluster.connectTimeout = .init(seconds: 10)
            return cluster
        case .reject:
            var cluster = Envoy_Config_Cluster_V3_Cluster()
            cluster.name = plan.name
            cluster.type = .static
            cluster.connectTimeout = .init(seconds: 1)
            var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
            assignment.clusterName = plan.name
            cluster.loadAssignment = assignment
            return cluster
        }
    }

    static func serviceCluster(_ name: String, settings: UpstreamSettings) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = edsCluster(name)
        let idle = settings.traffic?.idleTimeoutMilliseconds
        if settings.http2 || idle != nil {
            var options = Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions()
            var explicit = Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions.ExplicitHttpConfig()
            if settings.http2 {
                explicit.http2ProtocolOptions = Envoy_Config_Core_V3_Http2ProtocolOptions()
            } else {
                explicit.httpProtocolOptions = Envoy_Config_Core_V3_Http1ProtocolOptions()
            }
            options.explicitHTTPConfig = explicit
            if let idle { options.commonHTTPProtocolOptions.idleTimeout = Routes.duration(idle) }
            cluster.typedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"] =
                try! .packing(options)
        }
        if let traffic = settings.traffic { BackendTraffic.apply(traffic, to: &cluster) }
        if let tls = settings.tls {
            cluster.transportSocket = UpstreamTLS.transportSocket(tls, http2: settings.http2)
        } else if settings.unverifiedTLS {
            cluster.transportSocket = UpstreamTLS.unverified(http2: settings.http2)
        }
        if let connect = settings.connectTimeoutMilliseconds { cluster.connectTimeout = Routes.duration(connect) }
        return cluster
    }

    static func edsCluster(_ name: String) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = name
        cluster.type = .eds
        cluster.connectTimeout = .init(seconds: 10)
        var eds = Envoy_Config_Cluster_V3_Cluster.EdsClusterConfig()
        eds.edsConfig = AggregatedSource.ads
        cluster.edsClusterConfig = eds
        return cluster
    }

    /// The endpoints of a cluster discovered over EDS; nil for the rejecting cluster,
    /// whose (empty) endpoints are part of it.
    static func loadAssignment(_ plan: ClusterPlan) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment? {
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        assignment.clusterName = plan.name
        switch plan.kind {
        case .service(let endpoints):
            if !endpoints.isEmpty {
                var locality = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
                locality.lbEndpoints = endpoints.map(lbEndpoint)
                assignment.endpoints = [locality]
            }
        case .weighted(let localities):
            // Each backend a locality weighted by its share (UDP proxying names a
            // single cluster, so weights live here).
            assignment.endpoints = localities.map { planned in
                var locality = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
                locality.lbEndpoints = planned.endpoints.map(lbEndpoint)
                var place = Envoy_Config_Core_V3_Locality()
                place.subZone = planned.name
                locality.locality = place
                locality.loadBalancingWeight = Google_Protobuf_UInt32Value(UInt32(planned.weight))
                return locality
            }
        case .reject, .dns, .originalDestination: return nil
        }
        return assignment
    }

    static func lbEndpoint(_ endpoint: Endpoint) -> Envoy_Config_Endpoint_V3_LbEndpoint {
        var inner = Envoy_Config_Endpoint_V3_Endpoint()
        inner.address = Addresses.socket(endpoint.address, endpoint.port)
        var lb = Envoy_Config_Endpoint_V3_LbEndpoint()
        lb.endpoint = inner
        return lb
    }
}

/// TLS from Envoy to a backend: the SNI, the names the backend's certificate must carry,
/// the CA bundle (an SDS secret) it must chain to, and the certificate Envoy presents.
enum UpstreamTLS {
    /// TLS that checks nothing of the backend's certificate, and sends no SNI.
    static func unverified(http2: Bool) -> Envoy_Config_Core_V3_TransportSocket {
        var upstream = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext()
        if http2 { upstream.commonTlsContext.alpnProtocols = ["h2"] }
        var socket = Envoy_Config_Core_V3_TransportSocket()
        socket.name = "envoy.transport_sockets.tls"
        socket.typedConfig = try! .packing(upstream)
        return socket
    }

    static func transportSocket(_ tls: UpstreamTLSPlan, http2: Bool) -> Envoy_Config_Core_V3_TransportSocket {
        var defaults = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
        defaults.matchTypedSubjectAltNames = tls.subjectAltNames.map { san in
            var matcher = Envoy_Extensions_TransportSockets_Tls_V3_SubjectAltNameMatcher()
            matcher.sanType = san.kind == .uri ? .uri : .dns
            var string = Envoy_Type_Matcher_V3_StringMatcher()
            string.exact = san.value
            matcher.matcher = string
            return matcher
        }
        var combined = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext.CombinedCertificateValidationContext()
        combined.defaultValidationContext = defaults
        combined.validationContextSdsSecretConfig = Secrets.sdsConfig(tls.caSecret)
        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        common.combinedValidationContext = combined
        if let certificate = tls.clientCertificate { common.tlsCertificateSdsSecretConfigs = [Secrets.sdsConfig(certificate)] }
        if http2 { common.alpnProtocols = ["h2"] }
        var upstream = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext()
        upstream.commonTlsContext = common
        upstream.sni = tls.sni
        var socket = Envoy_Config_Core_V3_TransportSocket()
        socket.name = "envoy.transport_sockets.tls"
        socket.typedConfig = try! .packing(upstream)
        return socket
    }
}

/// Planned secrets over SDS, and the TLS contexts that name them.
enum Secrets {
    /// The secret, or nil for a mesh secret without a ``MeshCertificateSource``.
    static func secret(_ plan: SecretPlan, meshCertificates: (any MeshCertificateSource)?)
        -> Envoy_Extensions_TransportSockets_Tls_V3_Secret?
    {
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = plan.name
        switch plan.content {
        case .workloadCertificate(let identity):
            guard let issued = meshCertificates?.certificate(for: identity) else { return nil }
            secret.tlsCertificate = certificate(chainPEM: issued.chainPEM, keyPEM: issued.keyPEM)
        case .meshTrustBundle:
            guard let bundle = meshCertificates?.trustBundlePEM else { return nil }
            var source = Envoy_Config_Core_V3_DataSource()
            source.inlineString = bundle
            secret.validationContext = trusting(source)
        case .certificate(let chainPEM, let keyPEM):
            secret.tlsCertificate = certificate(chainPEM: chainPEM, keyPEM: keyPEM)
        case .trustedCA(let bundle):
            var source = Envoy_Config_Core_V3_DataSource()
            source.inlineString = bundle
            secret.validationContext = trusting(source)
        case .trustedCAFile(let path):
            var source = Envoy_Config_Core_V3_DataSource()
            source.filename = path
            secret.validationContext = trusting(source)
        case .clientCA(let bundle, let acceptUntrusted):
            var source = Envoy_Config_Core_V3_DataSource()
            source.inlineString = bundle
            var context = trusting(source)
            // The CA stays configured so that Envoy still asks for a certificate.
            if acceptUntrusted { context.trustChainVerification = .acceptUntrusted }
            secret.validationContext = context
        }
        return secret
    }

    private static func certificate(chainPEM: String, keyPEM: String) -> Envoy_Extensions_TransportSockets_Tls_V3_TlsCertificate {
        var certificate = Envoy_Extensions_TransportSockets_Tls_V3_TlsCertificate()
        var chain = Envoy_Config_Core_V3_DataSource()
        chain.inlineString = chainPEM
        certificate.certificateChain = chain
        var key = Envoy_Config_Core_V3_DataSource()
        key.inlineString = keyPEM
        certificate.privateKey = key
        return certificate
    }

    private static func trusting(_ source: Envoy_Config_Core_V3_DataSource)
        -> Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext
    {
        var context = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
        context.trustedCa = source
        return context
    }

    static func sdsConfig(_ name: String) -> Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig {
        var config = Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig()
        config.name = name
        config.sdsConfig = AggregatedSource.ads
        return config
    }

    /// A downstream TLS context serving the named certificates (Envoy picks among them by
    /// SNI and key type), offering HTTP/2 and HTTP/1.1 when `alpn` is set.
    static func downstream(
        _ certificates: [String], alpn: [String], clientValidation: ClientValidationPlan? = nil,
        parameters: Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters? = nil
    ) -> Envoy_Config_Core_V3_TransportSocket {
        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        common.tlsCertificateSdsSecretConfigs = certificates.map(sdsConfig)
        common.alpnProtocols = alpn
        if let parameters { common.tlsParams = parameters }
        var downstream = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext()
        if let clientValidation {
            common.validationContextSdsSecretConfig = sdsConfig(clientValidation.caSecret)
            downstream.requireClientCertificate = Google_Protobuf_BoolValue(clientValidation.required)
        }
        downstream.commonTlsContext = common
        var socket = Envoy_Config_Core_V3_TransportSocket()
        socket.name = "envoy.transport_sockets.tls"
        socket.typedConfig = try! .packing(downstream)
        return socket
    }
}

/// Where every dynamic resource comes from: the ADS stream the proxy already has.
enum AggregatedSource {
    static let ads: Envoy_Config_Core_V3_ConfigSource = {
        var source = Envoy_Config_Core_V3_ConfigSource()
        source.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        source.resourceApiVersion = .v3
        return source
    }()
}

enum Addresses {
    static func socket(_ host: String, _ port: Int, udp: Bool = false) -> Envoy_Config_Core_V3_Address {
        var socket = Envoy_Config_Core_V3_SocketAddress()
        socket.address = host
        socket.portValue = UInt32(port)
        if udp { socket.protocol = .udp }
        var address = Envoy_Config_Core_V3_Address()
        address.socketAddress = socket
        return address
    }
}
