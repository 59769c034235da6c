import EnvoyAPI
import IR
import SwiftProtobuf

/// BackendTrafficPolicy cluster settings in Envoy's terms: the load balancer, circuit
/// breakers, outlier detection, active health checks and the idle timeout.
enum BackendTraffic {
    static func apply(_ plan: BackendTrafficPlan, to cluster: inout Envoy_Config_Cluster_V3_Cluster) {
        switch plan.loadBalancer {
        case .roundRobin?: cluster.lbPolicy = .roundRobin
        case .leastRequest?: cluster.lbPolicy = .leastRequest
        case .random?: cluster.lbPolicy = .random
        case .consistentHash(let size)?:
            cluster.lbPolicy = .maglev
            if let size {
                var maglev = Envoy_Config_Cluster_V3_Cluster.MaglevLbConfig()
                maglev.tableSize = Google_Protobuf_UInt64Value(UInt64(size))
                cluster.maglevLbConfig = maglev
            }
        case nil: break
        }
        if let breaker = plan.circuitBreaker {
            var thresholds = Envoy_Config_Cluster_V3_CircuitBreakers.Thresholds()
            if let value = breaker.maxConnections { thresholds.maxConnections = uint32(value) }
            if let value = breaker.maxPendingRequests { thresholds.maxPendingRequests = uint32(value) }
            if let value = breaker.maxRequests { thresholds.maxRequests = uint32(value) }
            if let value = breaker.maxRetries { thresholds.maxRetries = uint32(value) }
            var breakers = Envoy_Config_Cluster_V3_CircuitBreakers()
            breakers.thresholds = [thresholds]
            cluster.circuitBreakers = breakers
        }
        if let outlier = plan.outlierDetection {
            var detection = Envoy_Config_Cluster_V3_OutlierDetection()
            if let value = outlier.consecutive5xx { detection.consecutive5Xx = uint32(value) }
            if let value = outlier.consecutiveGatewayErrors {
                detection.consecutiveGatewayFailure = uint32(value)
                detection.enforcingConsecutiveGatewayFailure = uint32(100)
            }
            if let value = outlier.consecutiveLocalOriginFailures { detection.consecutiveLocalOriginFailure = uint32(value) }
            detection.splitExternalLocalOriginErrors = outlier.splitExternalLocalOriginErrors
            if let value = outlier.intervalMilliseconds { detection.interval = Routes.duration(value) }
            if let value = outlier.baseEjectionMilliseconds { detection.baseEjectionTime = Routes.duration(value) }
            if let value = outlier.maxEjectionPercent { detection.maxEjectionPercent = uint32(value) }
            cluster.outlierDetection = detection
        }
        if let active = plan.healthCheck {
            var check = Envoy_Config_Core_V3_HealthCheck()
            check.timeout = Routes.duration(active.timeoutMilliseconds)
            check.interval = Routes.duration(active.intervalMilliseconds)
            check.unhealthyThreshold = uint32(active.unhealthyThreshold)
            check.healthyThreshold = uint32(active.healthyThreshold)
            if let http = active.http {
                var probe = Envoy_Config_Core_V3_HealthCheck.HttpHealthCheck()
                probe.path = http.path
                if let host = active.host { probe.host = host }
                probe.method = method(http.method)
                probe.expectedStatuses = http.expectedStatuses.map { status in
                    var range = Envoy_Type_V3_Int64Range()
                    range.start = Int64(status)
                    range.end = Int64(status) + 1
                    return range
                }
                check.httpHealthCheck = probe
            } else {
                var tcp = Envoy_Config_Core_V3_HealthCheck.TcpHealthCheck()
                if let send = active.tcpSend {
                    var payload = Envoy_Config_Core_V3_HealthCheck.Payload()
                    payload.text = send
                    tcp.send = payload
                }
                if let receive = active.tcpReceive {
                    var payload = Envoy_Config_Core_V3_HealthCheck.Payload()
                    payload.text = receive
                    tcp.receive = [payload]
                }
                check.tcpHealthCheck = tcp
            }
            cluster.healthChecks = [check]
        }
    }

    static func uint32(_ value: Int) -> Google_Protobuf_UInt32Value { Google_Protobuf_UInt32Value(UInt32(clamping: value)) }

    static func method(_ name: String?) -> Envoy_Config_Core_V3_RequestMethod {
        switch name {
        case "HEAD": .head
        case "POST": .post
        case "PUT": .put
        case "DELETE": .delete
        case "CONNECT": .connect
        case "OPTIONS": .options
        case "TRACE": .trace
        case "PATCH": .patch
        case "GET": .get
        default: .methodUnspecified
        }
    }

    /// A route's hash policy for consistent hashing.
    static func hashPolicy(_ plan: HashPolicyPlan) -> Envoy_Config_Route_V3_RouteAction.HashPolicy {
        var policy = Envoy_Config_Route_V3_RouteAction.HashPolicy()
        switch plan {
        case .sourceIP:
            var properties = Envoy_Config_Route_V3_RouteAction.HashPolicy.ConnectionProperties()
            properties.sourceIp = true
            policy.connectionProperties = properties
        case .header(let name):
            var header = Envoy_Config_Route_V3_RouteAction.HashPolicy.Header()
            header.headerName = name
            policy.header = header
        case .cookie(let name, let ttl):
            var cookie = Envoy_Config_Route_V3_RouteAction.HashPolicy.Cookie()
            cookie.name = name
            if let ttl { cookie.ttl = Routes.duration(ttl * 1000) }
            policy.cookie = cookie
        }
        return policy
    }
}
