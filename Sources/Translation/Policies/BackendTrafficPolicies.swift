import Foundation
import GatewayModel
import IR

/// BackendTrafficPolicy (Envoy Gateway's field names and semantics), its per-route
/// features: local rate limits, retries, the request timeout and fault injection. A
/// policy that cannot be used answers 500 on the routes it governs, as Envoy Gateway's.
enum BackendTrafficPolicies: RoutePolicyKind {
    static let kind = Kind.backendTrafficPolicy
    static let targetKinds: [Kind] = [.gateway, .listenerSet, .httpRoute, .grpcRoute]

    static func resolveAll(in set: ResourceSet) -> [ResolvedRoutePolicy] {
        set.backendTrafficPolicies.map { policy in
            resolve(policy, fields: .backendTrafficPolicy, in: set) { (policy, _) throws(PolicyProblem) in
                try effects(of: policy.spec)
            }
        }
    }

    static func effects(of spec: BackendTrafficPolicy.Spec) throws(PolicyProblem) -> [String: RouteEffect] {
        var result: [String: RouteEffect] = [:]
        if let rateLimit = spec.rateLimit { result["rateLimit"] = .rateLimit(try rateLimitPlan(rateLimit)) }
        if let retry = spec.retry { result["retry"] = try retryEffect(retry) }
        if let timeout = spec.timeout {
            result["timeout"] = .timeouts(
                request: try duration(timeout.http?.requestTimeout, at: "spec.timeout.http.requestTimeout"),
                connect: try positive(timeout.tcp?.connectTimeout, at: "spec.timeout.tcp.connectTimeout"),
                idle: try duration(timeout.http?.connectionIdleTimeout, at: "spec.timeout.http.connectionIdleTimeout"))
        }
        if let fault = spec.faultInjection { result["faultInjection"] = .fault(try faultPlan(fault)) }
        if let balancer = spec.loadBalancer { result["loadBalancer"] = try loadBalancer(balancer) }
        if let breaker = spec.circuitBreaker {
            result["circuitBreaker"] = .circuitBreaker(
                BackendTrafficPlan.CircuitBreaker(
                    maxConnections: breaker.maxConnections, maxPendingRequests: breaker.maxPendingRequests,
                    maxRequests: breaker.maxParallelRequests, maxRetries: breaker.maxParallelRetries))
        }
        if let check = spec.healthCheck { result["healthCheck"] = try healthCheck(check) }
        return result
    }

    /// A duration Envoy needs above zero.
    static func positive(_ text: String?, at path: String) throws(PolicyProblem) -> Int64? {
        guard let milliseconds = try duration(text, at: path) else { return nil }
        guard milliseconds > 0 else { throw PolicyProblem("\(path): must be longer than 0") }
        return milliseconds
    }

    // MARK: clusters

    static func loadBalancer(_ balancer: BackendTrafficPolicy.LoadBalancer) throws(PolicyProblem) -> RouteEffect {
        switch balancer.type {
        case "RoundRobin": return .loadBalancer(.roundRobin, hash: nil)
        case "LeastRequest": return .loadBalancer(.leastRequest, hash: nil)
        case "Random": return .loadBalancer(.random, hash: nil)
        default:
            guard let hash = balancer.consistentHash else {
                throw PolicyProblem("spec.loadBalancer.consistentHash: required for type ConsistentHash")
            }
            let policy: HashPolicyPlan
            switch hash.type {
            case "Header":
                guard let header = hash.header else { throw PolicyProblem("spec.loadBalancer.consistentHash.header: required for type Header") }
                policy = .header(header.name.lowercased())
            case "Cookie":
                guard let cookie = hash.cookie else { throw PolicyProblem("spec.loadBalancer.consistentHash.cookie: required for type Cookie") }
                let ttl = try duration(cookie.ttl, at: "spec.loadBalancer.consistentHash.cookie.ttl").map { max(1, ($0 + 999) / 1000) }
                policy = .cookie(name: cookie.name, ttlSeconds: ttl)
            default: policy = .sourceIP
            }
            if let size = hash.tableSize, !isPrime(size) {
                throw PolicyProblem("spec.loadBalancer.consistentHash.tableSize: \(size) is not a prime number, which Envoy's Maglev table needs")
            }
            return .loadBalancer(.consistentHash(tableSize: hash.tableSize), hash: policy)
        }
    }

    /// A payload's bytes as hex, as Envoy's health checks take them.
    static func hex(_ payload: BackendTrafficPolicy.HealthCheckPayload?, at path: String) throws(PolicyProblem) -> String? {
        guard let payload else { return nil }
        let bytes: [UInt8]
        if payload.type == "Binary" {
            guard let data = payload.binary.flatMap({ Data(base64Encoded: $0) }) else { throw PolicyProblem("\(path).binary: not base64") }
            bytes = Array(data)
        } else {
            bytes = Array((payload.text ?? "").utf8)
        }
        guard !bytes.isEmpty else { throw PolicyProblem("\(path): the payload is empty") }
        return bytes.map { String(format: "%02X", $0) }.joined()
    }

    static func isPrime(_ number: Int) -> Bool {
        guard number >= 2 else { return false }
        var divisor = 2
        while divisor * divisor <= number {
            if number % divisor == 0 { return false }
            divisor += 1
        }
        return true
    }

    /// Envoy Gateway's defaults: passive checks every 3 s, ejecting after 5 consecutive
    /// 5xx for 30 s, at most 10 % of endpoints; active checks every 3 s with a 1 s
    /// timeout, 3 failures to mark an endpoint unhealthy and 1 success to bring it back.
    static func healthCheck(_ check: BackendTrafficPolicy.HealthCheck) throws(PolicyProblem) -> RouteEffect {
        var outlier: BackendTrafficPlan.OutlierDetection?
        if let passive = check.passive {
            outlier = BackendTrafficPlan.OutlierDetection(
                consecutive5xx: passive.consecutive5XxErrors ?? 5, consecutiveGatewayErrors: passive.consecutiveGatewayErrors,
                consecutiveLocalOriginFailures: passive.consecutiveLocalOriginFailures ?? 5,
                splitExternalLocalOriginErrors: passive.splitExternalLocalOriginErrors ?? false,
                intervalMilliseconds: try positive(passive.interval, at: "spec.healthCheck.passive.interval") ?? 3000,
                baseEjectionMilliseconds: try positive(passive.baseEjectionTime, at: "spec.healthCheck.passive.baseEjectionTime") ?? 30000,
                maxEjectionPercent: passive.maxEjectionPercent ?? 10)
        }
        var active: BackendTrafficPlan.HealthCheck?
        if let probe = check.active {
            var http: BackendTrafficPlan.HealthCheck.HTTPCheck?
            var hostname: String?
            switch probe.type {
            case "HTTP":
                guard let settings = probe.http else { throw PolicyProblem("spec.healthCheck.active.http: required for type HTTP") }
                http = .init(path: settings.path, method: settings.method, expectedStatuses: settings.expectedStatuses ?? [200])
                hostname = settings.hostname
            case "TCP": http = nil
            default:
                throw PolicyProblem("spec.healthCheck.active.type: \(probe.type) health checks are not supported by Chancery (HTTP and TCP are)")
            }
            active = BackendTrafficPlan.HealthCheck(
                timeoutMilliseconds: try positive(probe.timeout, at: "spec.healthCheck.active.timeout") ?? 1000,
                intervalMilliseconds: try positive(probe.interval, at: "spec.healthCheck.active.interval") ?? 3000,
                unhealthyThreshold: probe.unhealthyThreshold ?? 3, healthyThreshold: probe.healthyThreshold ?? 1, http: http)
            active?.host = hostname
            if http == nil {
                active?.tcpSend = try hex(probe.tcp?.send, at: "spec.healthCheck.active.tcp.send")
                active?.tcpReceive = try hex(probe.tcp?.receive, at: "spec.healthCheck.active.tcp.receive")
            }
        }
        return .healthCheck(outlier: outlier, active: active)
    }

    // MARK: rate limits

    static let unitSeconds: [String: Int] = [
        "Second": 1, "Minute": 60, "Hour": 3600, "Day": 86400, "Week": 604_800, "Month": 2_592_000, "Year": 31_536_000,
    ]

    /// Local limits: the rule without selectors (at most one) is the route's default
    /// bucket; each other rule a bucket of its own for the requests it selects.
    static func rateLimitPlan(_ rateLimit: BackendTrafficPolicy.RateLimit) throws(PolicyProblem) -> LocalRateLimitPlan {
        guard (rateLimit.type ?? "Local") == "Local" else {
            throw PolicyProblem("spec.rateLimit.type: Global rate limits need a rate limit service; Chancery serves Local ones")
        }
        guard let local = rateLimit.local else { throw PolicyProblem("spec.rateLimit.local: required for a Local rate limit") }
        var plan = LocalRateLimitPlan(defaultLimit: nil, rules: [])
        for (index, rule) in (local.rules ?? []).enumerated() {
            let path = "spec.rateLimit.local.rules[\(index)]"
            guard rule.limit.requests > 0 else { throw PolicyProblem("\(path).limit.requests: must be at least 1") }
            let limit = RateLimitValue(requests: rule.limit.requests, seconds: unitSeconds[rule.limit.unit] ?? 1)
            let selectors = rule.clientSelectors ?? []
            if selectors.isEmpty {
                guard plan.defaultLimit == nil else {
                    throw PolicyProblem("\(path): only one rule may have no clientSelectors (it is the route's default limit)")
                }
                plan.defaultLimit = limit
                continue
            }
            var conditions: [RateLimitRulePlan.Condition] = []
            for (s, selector) in selectors.enumerated() {
                conditions += try self.conditions(selector, at: "\(path).clientSelectors[\(s)]")
            }
            plan.rules.append(RateLimitRulePlan(conditions: conditions, limit: limit))
        }
        // Envoy refills every bucket on the default bucket's timer.
        let base = plan.defaultLimit?.seconds ?? 1
        for (index, rule) in plan.rules.enumerated() where rule.limit.seconds % base != 0 {
            throw PolicyProblem(
                "spec.rateLimit.local.rules: a rule's unit (\(rule.limit.seconds) s, rule \(index + 1) with clientSelectors) must be a multiple of the default rule's (\(base) s)")
        }
        return plan
    }

    static func conditions(_ selector: BackendTrafficPolicy.ClientSelector, at path: String) throws(PolicyProblem)
        -> [RateLimitRulePlan.Condition]
    {
        var result: [RateLimitRulePlan.Condition] = []
        for (index, header) in (selector.headers ?? []).enumerated() {
            let name = header.name.lowercased()
            let invert = header.invert ?? false
            switch header.type ?? "Exact" {
            case "Distinct":
                if invert { throw PolicyProblem("\(path).headers[\(index)].invert: a Distinct header cannot be inverted") }
                result.append(.distinctHeader(name))
            case "RegularExpression":
                let pattern = header.value ?? ""
                if let problem = pattern.isEmpty ? "an empty regular expression" : RE2.problem(pattern) {
                    throw PolicyProblem("\(path).headers[\(index)].value: \(problem)")
                }
                result.append(.header(name: name, value: .regex(pattern), invert: invert))
            default:
                result.append(.header(name: name, value: .exact(header.value ?? ""), invert: invert))
            }
        }
        let methods = selector.methods ?? []
        let listed = methods.filter { !($0.invert ?? false) }.map(\.value)
        if !listed.isEmpty { result.append(.methods(listed, invert: false)) }
        let excluded = methods.filter { $0.invert ?? false }.map(\.value)
        if !excluded.isEmpty { result.append(.methods(excluded, invert: true)) }
        if let match = selector.path {
            let plan = try SecurityPolicies.pathMatch(match.type, match.value, at: "\(path).path")
            // Matched on `:path`, query included: the expression Envoy compiles is larger.
            if let problem = RE2.problem(RateLimitRulePlan.pathPattern(plan)) {
                throw PolicyProblem("\(path).path.value: \(problem)")
            }
            result.append(.path(plan, invert: match.invert ?? false))
        }
        if let cidr = selector.sourceCIDR, let range = AddressRange(cidr.value) {
            result.append(cidr.type == "Distinct" ? .distinctClientAddress(range) : .clientAddress(range))
        }
        return result
    }

    // MARK: retries, timeouts, faults

    /// Envoy Gateway's defaults: two retries; without `retryOn`, on a connection
    /// failure, a refused stream, gRPC's unavailable and cancelled, and 503.
    static func retryEffect(_ retry: BackendTrafficPolicy.Retry) throws(PolicyProblem) -> RouteEffect {
        let triggers: [String]
        let codes: [Int]
        if let retryOn = retry.retryOn {
            triggers = retryOn.triggers ?? []
            codes = (retryOn.httpStatusCodes ?? []).sorted()
        } else {
            triggers = ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"]
            codes = [503]
        }
        let backOff = retry.perRetry?.backOff
        return .retry(
            RetryPlan(
                codes: codes, attempts: retry.numRetries ?? 2,
                backoffMilliseconds: try duration(backOff?.baseInterval, at: "spec.retry.perRetry.backOff.baseInterval"),
                maxBackoffMilliseconds: try duration(backOff?.maxInterval, at: "spec.retry.perRetry.backOff.maxInterval"),
                triggers: triggers),
            perTryMilliseconds: try duration(retry.perRetry?.timeout, at: "spec.retry.perRetry.timeout"))
    }

    /// Shares in parts per million (a percentage may have decimals).
    static func faultPlan(_ fault: BackendTrafficPolicy.FaultInjection) throws(PolicyProblem) -> FaultPlan {
        func share(_ percentage: Double?) -> Int { Int(((percentage ?? 100) * 10_000).rounded()) }
        var delay: Int64?
        if let fixed = fault.delay?.fixedDelay {
            guard let milliseconds = PolicyDuration.milliseconds(in: fixed), milliseconds > 0 else {
                throw PolicyProblem("spec.faultInjection.delay.fixedDelay: \(fixed) is not a duration longer than 0")
            }
            delay = milliseconds
        }
        return FaultPlan(
            delayMilliseconds: delay, delayShare: fault.delay == nil ? 0 : share(fault.delay?.percentage),
            abortHTTPStatus: fault.abort?.httpStatus, abortGRPCStatus: fault.abort?.grpcStatus,
            abortShare: fault.abort == nil ? 0 : share(fault.abort?.percentage))
    }
}
