/// The checks Kubernetes' API server makes with the Gateway API CRDs' schemas (enums,
/// ranges, fields that go together), so that file mode rejects what `kubectl apply`
/// would reject, naming the field.
enum Validation {
    struct Problem {
        var path: [PathComponent]
        var message: String
    }

    /// `^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`, the
    /// Gateway API's Hostname pattern.
    static func isHostname(_ value: String) -> Bool {
        var rest = Substring(value)
        if rest.hasPrefix("*.") { rest = rest.dropFirst(2) }
        return rest.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard let first = label.first, let last = label.last, first != "-", last != "-" else { return false }
            return label.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
        }
    }

    static func problems(of object: KubeObject) -> [Problem] {
        var problems: [Problem] = []
        func check(_ ok: Bool, _ path: [PathComponent], _ message: @autoclosure () -> String) {
            if !ok { problems.append(Problem(path: path, message: message())) }
        }
        func oneOf<Value: Vocabulary>(_ value: Value?, _ allowed: [Value], _ path: [PathComponent]) {
            guard let value else { return }
            check(
                allowed.contains(value), path,
                "\"\(value)\" is not one of \(allowed.map(\.rawValue).joined(separator: ", "))")
        }
        /// A policy's targets are of kinds it can act on (Envoy Gateway's own CEL rules,
        /// and the route kinds Chancery does not apply policies to yet).
        func policyTargets(_ spec: some AttachedPolicySpec, kind: Kind, allowed: [Kind]) {
            let names = allowed.map(\.rawValue).joined(separator: ", ")
            func allows(_ group: String, _ name: String) -> Bool {
                Kind(rawValue: name).map { allowed.contains($0) && $0.group == group } ?? false
            }
            if let ref = spec.targetRef {
                check(
                    allows(ref.group, ref.kind), [.key("spec"), .key("targetRef")],
                    "a \(kind.rawValue) targets \(names), not \(ref.group)/\(ref.kind)")
            }
            for (i, ref) in (spec.targetRefs ?? []).enumerated() {
                check(
                    allows(ref.group, ref.kind), [.key("spec"), .key("targetRefs"), .index(i)],
                    "a \(kind.rawValue) targets \(names), not \(ref.group)/\(ref.kind)")
            }
            for (i, selector) in (spec.targetSelectors ?? []).enumerated() {
                check(
                    allows(selector.group ?? gatewayGroup, selector.kind), [.key("spec"), .key("targetSelectors"), .index(i)],
                    "a \(kind.rawValue) targets \(names), not \(selector.group ?? gatewayGroup)/\(selector.kind)")
            }
        }
        func port(_ value: Int?, _ path: [PathComponent]) {
            guard let value else { return }
            check((1...65535).contains(value), path, "port \(value) is not in 1…65535")
        }
        func filters(_ list: [HTTPRoute.Filter]?, _ base: [PathComponent]) {
            for (i, filter) in (list ?? []).enumerated() {
                let path = base + [.index(i)]
                let types: [HTTPRouteFilterType: Bool] = [
                    .requestHeaderModifier: filter.requestHeaderModifier != nil,
                    .responseHeaderModifier: filter.responseHeaderModifier != nil,
                    .requestRedirect: filter.requestRedirect != nil,
                    .urlRewrite: filter.urlRewrite != nil,
                    .requestMirror: filter.requestMirror != nil,
                    .extensionRef: filter.extensionRef != nil,
                    .cors: filter.cors != nil,
                ]
                guard let present = types[filter.type] else {
                    oneOf(filter.type, types.keys.sorted(), path + [.key("type")])
                    continue
                }
                check(present, path + [.key(filter.type.fieldName)], "required when type is \(filter.type)")
                for (other, set) in types.sorted(by: { $0.key < $1.key }) where other != filter.type && set {
                    check(false, path + [.key(other.fieldName)], "must not be set when type is \(filter.type)")
                }
                if let redirect = filter.requestRedirect {
                    if let scheme = redirect.scheme {
                        check(
                            ["http", "https"].contains(scheme), path + [.key("requestRedirect"), .key("scheme")],
                            "\"\(scheme)\" is not one of http, https")
                    }
                    port(redirect.port, path + [.key("requestRedirect"), .key("port")])
                    if let code = redirect.statusCode {
                        check(
                            [301, 302, 303, 307, 308].contains(code), path + [.key("requestRedirect"), .key("statusCode")],
                            "\(code) is not one of 301, 302, 303, 307, 308")
                    }
                    if let modifier = redirect.path { pathModifier(modifier, path + [.key("requestRedirect"), .key("path")]) }
                }
                if let rewrite = filter.urlRewrite, let modifier = rewrite.path {
                    pathModifier(modifier, path + [.key("urlRewrite"), .key("path")])
                }
                if let cors = filter.cors { self.cors(cors, path + [.key("cors")], check: check) }
                if let mirror = filter.requestMirror {
                    let mirrorPath = path + [.key("requestMirror")]
                    if let percent = mirror.percent {
                        check((0...100).contains(percent), mirrorPath + [.key("percent")], "\(percent) is not in 0…100")
                    }
                    if let fraction = mirror.fraction {
                        let denominator = fraction.denominator ?? 100
                        check(denominator > 0, mirrorPath + [.key("fraction"), .key("denominator")], "must be above 0")
                        check(
                            fraction.numerator >= 0 && fraction.numerator <= denominator,
                            mirrorPath + [.key("fraction"), .key("numerator")],
                            "must be in 0…denominator (\(denominator))")
                    }
                    check(
                        mirror.percent == nil || mirror.fraction == nil, mirrorPath,
                        "percent and fraction cannot both be set")
                }
            }
        }
        // The CRD's rules on a filter list: these kinds at most once each, and a
        // redirect and a rewrite not together.
        func filterList(_ list: [HTTPRoute.Filter]?, _ base: [PathComponent]) {
            let list = list ?? []
            for type in [HTTPRouteFilterType.requestHeaderModifier, .responseHeaderModifier, .requestRedirect, .urlRewrite, .cors] {
                let indices = list.indices.filter { list[$0].type == type }
                if indices.count > 1 { check(false, base + [.index(indices[1])], "\(type) filter cannot be repeated") }
            }
            if list.contains(where: { $0.type == .requestRedirect }), let rewrite = list.firstIndex(where: { $0.type == .urlRewrite }) {
                check(false, base + [.index(rewrite)], "RequestRedirect and URLRewrite filters cannot be used together")
            }
        }
        // GEP-1619's rules: known type and lifetime, a duration, Permanent cookies expire,
        // cookie settings only for cookies.
        func sessionPersistence(_ session: HTTPRoute.SessionPersistence?, _ path: [PathComponent]) {
            guard let session else { return }
            oneOf(session.type, [.cookie, .header], path + [.key("type")])
            oneOf(session.cookieConfig?.lifetimeType, [.session, .permanent], path + [.key("cookieConfig"), .key("lifetimeType")])
            if let name = session.sessionName {
                check((1...128).contains(name.count), path + [.key("sessionName")], "must be 1 to 128 characters")
                check(
                    isHeaderName(name), path + [.key("sessionName")],
                    "\"\(name)\" cannot name a cookie or header (letters, digits and !#$%&'*+-.^_`|~ only)")
            }
            if let timeout = session.absoluteTimeout {
                check(
                    GatewayDuration.milliseconds(in: timeout) != nil, path + [.key("absoluteTimeout")],
                    "\"\(timeout)\" is not a duration like 10s, 1m30s or 500ms")
            }
            if session.cookieConfig?.lifetimeType == .permanent {
                check(session.absoluteTimeout != nil, path + [.key("absoluteTimeout")], "required when cookieConfig.lifetimeType is Permanent")
            }
            if session.cookieConfig != nil {
                check((session.type ?? .cookie) == .cookie, path + [.key("cookieConfig")], "allowed only when type is Cookie")
            }
        }
        // Rule names (a section name each) are unique within a route.
        func ruleNames(_ names: [String?]) {
            var seen: Set<String> = []
            for (r, name) in names.enumerated() {
                guard let name else { continue }
                check(seen.insert(name).inserted, [.key("spec"), .key("rules"), .index(r), .key("name")], "rule name \"\(name)\" is used by an earlier rule")
            }
        }
        func backendRef(_ backend: HTTPRoute.BackendRef, _ path: [PathComponent]) {
            port(backend.port, path + [.key("port")])
            if let weight = backend.weight {
                check((0...1_000_000).contains(weight), path + [.key("weight")], "\(weight) is not in 0…1000000")
            }
            filters(backend.filters, path + [.key("filters")])
        }
        /// The Gateway API's Hostname: 1 to 253 characters, lowercase DNS labels, an
        /// optional leading `*.`.
        func hostname(_ value: String?, _ path: [PathComponent]) {
            guard let value else { return }
            guard value.utf8.count <= 253 else {
                check(false, path, "\(value.utf8.count) characters, over the limit of 253")
                return
            }
            check(
                Self.isHostname(value), path,
                "\"\(value)\" is not a hostname (lowercase letters, digits, - and . in labels; an optional leading *.)")
        }
        func hostnames(_ list: [String]?) {
            let path: [PathComponent] = [.key("spec"), .key("hostnames")]
            check((list ?? []).count <= 16, path, "\((list ?? []).count) hostnames, over the limit of 16")
            for (i, value) in (list ?? []).prefix(16).enumerated() { hostname(value, path + [.index(i)]) }
        }
        func parentRefs(_ parents: [ParentReference]?) {
            for (i, parent) in (parents ?? []).enumerated() {
                port(parent.port, [.key("spec"), .key("parentRefs"), .index(i), .key("port")])
            }
        }
        func streamRoute(_ parents: [ParentReference]?, _ rules: [StreamRule]?) {
            parentRefs(parents)
            check(!(rules ?? []).isEmpty, [.key("spec"), .key("rules")], "at least one rule is required")
            for (r, rule) in (rules ?? []).enumerated() {
                let rulePath: [PathComponent] = [.key("spec"), .key("rules"), .index(r)]
                check(!(rule.backendRefs ?? []).isEmpty, rulePath + [.key("backendRefs")], "at least one backend is required")
                for (b, backend) in (rule.backendRefs ?? []).enumerated() {
                    let backendPath = rulePath + [.key("backendRefs"), .index(b)]
                    if (backend.kind ?? "Service") == "Service", (backend.group ?? "") == "" {
                        check(backend.port != nil, backendPath + [.key("port")], "required for a Service backend")
                    }
                    backendRef(backend, backendPath)
                }
            }
        }
        func pathModifier(_ modifier: HTTPRoute.PathModifier, _ path: [PathComponent]) {
            oneOf(modifier.type, [.replaceFullPath, .replacePrefixMatch], path + [.key("type")])
            if modifier.type == .replaceFullPath {
                check(modifier.replaceFullPath != nil, path + [.key("replaceFullPath")], "required when type is ReplaceFullPath")
            }
            if modifier.type == .replacePrefixMatch {
                check(
                    modifier.replacePrefixMatch != nil, path + [.key("replacePrefixMatch")],
                    "required when type is ReplacePrefixMatch")
            }
        }

        /// Gateway listeners and ListenerSet entries: the same fields, the same rules.
        func listenerEntries(_ listeners: [Gateway.Listener]) {
            var names: Set<String> = []
            for (i, listener) in listeners.enumerated() {
                let path: [PathComponent] = [.key("spec"), .key("listeners"), .index(i)]
                check(names.insert(listener.name).inserted, path + [.key("name")], "listener name \"\(listener.name)\" is used twice")
                hostname(listener.hostname, path + [.key("hostname")])
                port(listener.port, path + [.key("port")])
                oneOf(listener.protocol, ProtocolType.served, path + [.key("protocol")])
                oneOf(listener.tls?.mode, [.terminate, .passthrough], path + [.key("tls"), .key("mode")])
                oneOf(
                    listener.allowedRoutes?.namespaces?.from, [.all, .same, .selector],
                    path + [.key("allowedRoutes"), .key("namespaces"), .key("from")])
                // The CRD's rules for tls: required for HTTPS and TLS, forbidden for the
                // others; HTTPS always terminates; Terminate needs certificates.
                let tlsPath = path + [.key("tls")]
                switch listener.protocol {
                case .https, .tls:
                    check(listener.tls != nil, tlsPath, "required when protocol is \(listener.protocol)")
                case .http, .tcp, .udp:
                    check(listener.tls == nil, tlsPath, "must not be set when protocol is \(listener.protocol)")
                default: break
                }
                if let tls = listener.tls {
                    if listener.protocol == .https {
                        check(
                            (tls.mode ?? .terminate) == .terminate, tlsPath + [.key("mode")],
                            "must be Terminate when protocol is HTTPS (use protocol TLS for Passthrough)")
                    }
                    if (tls.mode ?? .terminate) == .terminate {
                        check(
                            !(tls.certificateRefs ?? []).isEmpty || !(tls.options ?? [:]).isEmpty,
                            tlsPath + [.key("certificateRefs")], "at least one certificate is required when mode is Terminate")
                    }
                }
                if listener.allowedRoutes?.namespaces?.from == .selector {
                    check(
                        listener.allowedRoutes?.namespaces?.selector != nil,
                        path + [.key("allowedRoutes"), .key("namespaces"), .key("selector")],
                        "required when from is Selector")
                }
            }
        }

        switch object {
        case .gateway(let gateway):
            let listeners = gateway.spec.listeners
            check(!listeners.isEmpty, [.key("spec"), .key("listeners")], "at least one listener is required")
            if let frontend = gateway.spec.tls?.frontend {
                let base: [PathComponent] = [.key("spec"), .key("tls"), .key("frontend")]
                func validation(_ validation: Gateway.FrontendValidation?, _ path: [PathComponent]) {
                    guard let validation else { return }
                    check(
                        (1...16).contains(validation.caCertificateRefs.count), path + [.key("caCertificateRefs")],
                        "1 to 16 CA certificate references are required")
                    oneOf(validation.mode, [.allowValidOnly, .allowInsecureFallback], path + [.key("mode")])
                }
                validation(frontend.default.validation, base + [.key("default"), .key("validation")])
                var ports: Set<Int> = []
                for (i, entry) in (frontend.perPort ?? []).enumerated() {
                    let path = base + [.key("perPort"), .index(i)]
                    port(entry.port, path + [.key("port")])
                    check(ports.insert(entry.port).inserted, path + [.key("port")], "port \(entry.port) has another entry")
                    validation(entry.tls.validation, path + [.key("tls"), .key("validation")])
                }
            }
            listenerEntries(listeners)
            if let namespaces = gateway.spec.allowedListeners?.namespaces {
                let path: [PathComponent] = [.key("spec"), .key("allowedListeners"), .key("namespaces")]
                oneOf(namespaces.from, [.all, .same, .selector, .noNamespace], path + [.key("from")])
                if namespaces.from == .selector {
                    check(namespaces.selector != nil, path + [.key("selector")], "required when from is Selector")
                }
            }
        case .listenerSet(let set):
            let listeners = set.spec.listeners
            check(
                (1...64).contains(listeners.count), [.key("spec"), .key("listeners")], "1 to 64 listeners are required")
            let parent = set.spec.parentRef
            check(
                (parent.group ?? gatewayGroup) == gatewayGroup && (parent.kind ?? Kind.gateway.rawValue) == Kind.gateway.rawValue,
                [.key("spec"), .key("parentRef")], "must name a Gateway (group \(gatewayGroup), kind Gateway)")
            listenerEntries(listeners)
            // The CRD's rules on the list: TLS names its mode, TCP and UDP have no
            // hostname, no two listeners share port, protocol and hostname. The Gateway
            // CRD has them too; for files, a Gateway's duplicates are reported as
            // listener conflicts and a TLS listener without a mode terminates, as
            // before ListenerSets existed.
            var combinations: Set<String> = []
            for (i, listener) in listeners.enumerated() {
                let path: [PathComponent] = [.key("spec"), .key("listeners"), .index(i)]
                if listener.protocol == .tls {
                    check(listener.tls?.mode != nil, path + [.key("tls"), .key("mode")], "required when protocol is TLS")
                }
                if listener.protocol == .tcp || listener.protocol == .udp {
                    check(
                        (listener.hostname ?? "").isEmpty, path + [.key("hostname")],
                        "must not be set when protocol is \(listener.protocol)")
                }
                check(
                    combinations.insert("\(listener.port)/\(listener.protocol)/\(listener.hostname ?? "")").inserted,
                    path, "another listener has the same port, protocol and hostname")
            }
        case .httpRoute(let route):
            parentRefs(route.spec.parentRefs)
            hostnames(route.spec.hostnames)
            ruleNames((route.spec.rules ?? []).map(\.name))
            for (r, rule) in (route.spec.rules ?? []).enumerated() {
                let rulePath: [PathComponent] = [.key("spec"), .key("rules"), .index(r)]
                for (m, match) in (rule.matches ?? []).enumerated() {
                    let matchPath = rulePath + [.key("matches"), .index(m)]
                    oneOf(match.path?.type, [.exact, .pathPrefix, .regularExpression], matchPath + [.key("path"), .key("type")])
                    if let value = match.path?.value, match.path?.type != .regularExpression {
                        check(value.hasPrefix("/"), matchPath + [.key("path"), .key("value")], "must start with /")
                    }
                    for (h, header) in (match.headers ?? []).enumerated() {
                        oneOf(header.type, [.exact, .regularExpression], matchPath + [.key("headers"), .index(h), .key("type")])
                    }
                    for (q, query) in (match.queryParams ?? []).enumerated() {
                        oneOf(query.type, [.exact, .regularExpression], matchPath + [.key("queryParams"), .index(q), .key("type")])
                    }
                    oneOf(match.method, HTTPMethod.matchable, matchPath + [.key("method")])
                }
                filters(rule.filters, rulePath + [.key("filters")])
                filterList(rule.filters, rulePath + [.key("filters")])
                // ReplacePrefixMatch needs a prefix to replace.
                let prefixOnly = (rule.matches ?? []).allSatisfy { ($0.path?.type ?? .pathPrefix) == .pathPrefix }
                for (f, filter) in (rule.filters ?? []).enumerated() {
                    let modifier = filter.requestRedirect?.path ?? filter.urlRewrite?.path
                    if modifier?.type == .replacePrefixMatch, !prefixOnly {
                        check(
                            false, rulePath + [.key("filters"), .index(f)],
                            "ReplacePrefixMatch needs every match of the rule to be a PathPrefix match")
                    }
                }
                if let timeouts = rule.timeouts {
                    let request = timeouts.request.map { ($0, GatewayDuration.milliseconds(in: $0)) }
                    let backend = timeouts.backendRequest.map { ($0, GatewayDuration.milliseconds(in: $0)) }
                    if let (text, value) = request {
                        check(value != nil, rulePath + [.key("timeouts"), .key("request")], "\"\(text)\" is not a duration like 10s, 1m30s or 500ms")
                    }
                    if let (text, value) = backend {
                        check(value != nil, rulePath + [.key("timeouts"), .key("backendRequest")], "\"\(text)\" is not a duration like 10s, 1m30s or 500ms")
                    }
                    if let r = request?.1, let b = backend?.1, r != 0 {
                        check(b <= r, rulePath + [.key("timeouts"), .key("backendRequest")], "must not be longer than timeouts.request")
                    }
                }
                sessionPersistence(rule.sessionPersistence, rulePath + [.key("sessionPersistence")])
                if let retry = rule.retry {
                    let retryPath = rulePath + [.key("retry")]
                    var codes: Set<Int> = []
                    for (c, code) in (retry.codes ?? []).enumerated() {
                        check((400...599).contains(code), retryPath + [.key("codes"), .index(c)], "\(code) is not in 400…599")
                        check(codes.insert(code).inserted, retryPath + [.key("codes"), .index(c)], "\(code) is listed twice")
                    }
                    if let attempts = retry.attempts {
                        check(attempts >= 1, retryPath + [.key("attempts")], "must be at least 1")
                    }
                    if let backoff = retry.backoff {
                        check(
                            GatewayDuration.milliseconds(in: backoff) != nil, retryPath + [.key("backoff")],
                            "\"\(backoff)\" is not a duration like 10s, 1m30s or 500ms")
                    }
                }
                for (b, backend) in (rule.backendRefs ?? []).enumerated() {
                    backendRef(backend, rulePath + [.key("backendRefs"), .index(b)])
                }
            }
        case .service(let service):
            for (i, servicePort) in (service.spec.ports ?? []).enumerated() {
                port(servicePort.port, [.key("spec"), .key("ports"), .index(i), .key("port")])
            }
        case .endpointSlice(let slice):
            oneOf(slice.addressType, [.ipv4, .ipv6, .fqdn], [.key("addressType")])
            for (i, slicePort) in (slice.ports ?? []).enumerated() {
                port(slicePort.port, [.key("ports"), .index(i), .key("port")])
            }
        case .grpcRoute(let route):
            parentRefs(route.spec.parentRefs)
            hostnames(route.spec.hostnames)
            ruleNames((route.spec.rules ?? []).map(\.name))
            let grpcFilters: [HTTPRouteFilterType] = [.requestHeaderModifier, .responseHeaderModifier, .requestMirror, .extensionRef]
            for (r, rule) in (route.spec.rules ?? []).enumerated() {
                let rulePath: [PathComponent] = [.key("spec"), .key("rules"), .index(r)]
                sessionPersistence(rule.sessionPersistence, rulePath + [.key("sessionPersistence")])
                for (m, match) in (rule.matches ?? []).enumerated() {
                    let matchPath = rulePath + [.key("matches"), .index(m)]
                    if let method = match.method {
                        let methodPath = matchPath + [.key("method")]
                        oneOf(method.type, [.exact, .regularExpression], methodPath + [.key("type")])
                        check(
                            method.service != nil || method.method != nil, methodPath,
                            "one or both of service and method must be set")
                        if (method.type ?? .exact) == .exact {
                            check(
                                !(method.service ?? "").contains("/"), methodPath + [.key("service")],
                                "an Exact service name cannot contain /")
                            check(
                                !(method.method ?? "").contains("/"), methodPath + [.key("method")],
                                "an Exact method name cannot contain /")
                        }
                    }
                    for (h, header) in (match.headers ?? []).enumerated() {
                        oneOf(header.type, [.exact, .regularExpression], matchPath + [.key("headers"), .index(h), .key("type")])
                    }
                }
                for (f, filter) in (rule.filters ?? []).enumerated() {
                    oneOf(filter.type, grpcFilters, rulePath + [.key("filters"), .index(f), .key("type")])
                }
                filters(rule.filters, rulePath + [.key("filters")])
                for (b, backend) in (rule.backendRefs ?? []).enumerated() {
                    backendRef(backend, rulePath + [.key("backendRefs"), .index(b)])
                }
            }
        case .tlsRoute(let route):
            streamRoute(route.spec.parentRefs, route.spec.rules)
            hostnames(route.spec.hostnames)
        case .tcpRoute(let route):
            streamRoute(route.spec.parentRefs, route.spec.rules)
        case .udpRoute(let route):
            streamRoute(route.spec.parentRefs, route.spec.rules)
        case .backendTLSPolicy(let policy):
            check(!policy.spec.targetRefs.isEmpty, [.key("spec"), .key("targetRefs")], "at least one target is required")
            let validation = policy.spec.validation
            let path: [PathComponent] = [.key("spec"), .key("validation")]
            let hasRefs = !(validation.caCertificateRefs ?? []).isEmpty
            check(
                hasRefs != (validation.wellKnownCACertificates != nil), path,
                "exactly one of caCertificateRefs and wellKnownCACertificates must be set")
            oneOf(validation.wellKnownCACertificates, [.system], path + [.key("wellKnownCACertificates")])
            check(!validation.hostname.isEmpty, path + [.key("hostname")], "must not be empty")
            for (i, san) in (validation.subjectAltNames ?? []).enumerated() {
                let sanPath = path + [.key("subjectAltNames"), .index(i)]
                oneOf(san.type, [.hostname, .uri], sanPath + [.key("type")])
                if san.type == .hostname {
                    check(san.hostname != nil && san.uri == nil, sanPath, "type Hostname needs hostname (and no uri)")
                }
                if san.type == .uri {
                    check(san.uri != nil && san.hostname == nil, sanPath, "type URI needs uri (and no hostname)")
                }
            }
        case .ingress(let ingress):
            // The API server's own checks (networking/validation): a rule or a default
            // backend; paths absolute and plain; hosts DNS names, a wildcard only as the
            // whole first label; each backend a Service port or a resource, not both.
            let spec: [PathComponent] = [.key("spec")]
            check(
                ingress.spec.defaultBackend != nil || !(ingress.spec.rules ?? []).isEmpty, spec,
                "either defaultBackend or rules must be specified")
            func backend(_ backend: Ingress.Backend, _ path: [PathComponent]) {
                check(!(backend.service != nil && backend.resource != nil), path, "cannot set both resource and service backends")
                check(backend.service != nil || backend.resource != nil, path, "resource or service backend is required")
                if let service = backend.service {
                    let portPath = path + [.key("service"), .key("port")]
                    check(!(service.port.name != nil && service.port.number != nil), portPath, "cannot set both port name & port number")
                    check(service.port.name != nil || service.port.number != nil, portPath, "port name or number is required")
                    port(service.port.number, portPath + [.key("number")])
                }
            }
            func ingressHost(_ value: String, _ path: [PathComponent]) {
                check(value != "*" && !value.dropFirst(value.hasPrefix("*.") ? 2 : 0).contains("*"), path, "a wildcard must be the whole first label (*.example.com)")
                check(value.split(separator: ".").allSatisfy { Int($0) == nil } || value.contains(where: \.isLetter), path, "must be a DNS name, not an IP address")
                hostname(value, path)
            }
            if let defaultBackend = ingress.spec.defaultBackend { backend(defaultBackend, spec + [.key("defaultBackend")]) }
            for (i, rule) in (ingress.spec.rules ?? []).enumerated() {
                let rulePath = spec + [.key("rules"), .index(i)]
                if let host = rule.host { ingressHost(host, rulePath + [.key("host")]) }
                for (j, path) in (rule.http?.paths ?? []).enumerated() {
                    let pathPath = rulePath + [.key("http"), .key("paths"), .index(j)]
                    let value = path.path ?? ""
                    if path.pathType != .implementationSpecific || !value.isEmpty {
                        check(value.hasPrefix("/"), pathPath + [.key("path")], "must be an absolute path")
                    }
                    if path.pathType != .implementationSpecific {
                        for bad in ["//", "/./", "/../", "%2f", "%2F"] where value.contains(bad) {
                            check(false, pathPath + [.key("path")], "must not contain '\(bad)'")
                        }
                        for bad in ["/..", "/."] where value.hasSuffix(bad) {
                            check(false, pathPath + [.key("path")], "must not end with '\(bad)'")
                        }
                    }
                    backend(path.backend, pathPath + [.key("backend")])
                }
            }
            for (i, tls) in (ingress.spec.tls ?? []).enumerated() {
                for (j, host) in (tls.hosts ?? []).enumerated() {
                    ingressHost(host, spec + [.key("tls"), .index(i), .key("hosts"), .index(j)])
                }
            }
        case .ingressClass(let ingressClass):
            check(!(ingressClass.spec.controller ?? "").isEmpty, [.key("spec"), .key("controller")], "Required value")
        case .securityPolicy(let policy):
            policyTargets(policy.spec, kind: .securityPolicy, allowed: [.gateway, .listenerSet, .httpRoute, .grpcRoute, .tcpRoute])
            for (r, rule) in (policy.spec.authorization?.rules ?? []).enumerated() {
                for (c, cidr) in (rule.principal?.clientCIDRs ?? []).enumerated() {
                    check(
                        AddressRange(cidr) != nil && cidr.contains("/"),
                        [.key("spec"), .key("authorization"), .key("rules"), .index(r), .key("principal"), .key("clientCIDRs"), .index(c)],
                        "\"\(cidr)\" is not a CIDR block (address/length)")
                }
            }
        case .backendTrafficPolicy(let policy):
            policyTargets(policy.spec, kind: .backendTrafficPolicy, allowed: [.gateway, .listenerSet, .httpRoute, .grpcRoute])
            for (r, rule) in (policy.spec.rateLimit?.local?.rules ?? []).enumerated() {
                for (c, selector) in (rule.clientSelectors ?? []).enumerated() {
                    guard let cidr = selector.sourceCIDR?.value else { continue }
                    check(
                        AddressRange(cidr) != nil && cidr.contains("/"),
                        [
                            .key("spec"), .key("rateLimit"), .key("local"), .key("rules"), .index(r), .key("clientSelectors"), .index(c),
                            .key("sourceCIDR"), .key("value"),
                        ], "\"\(cidr)\" is not a CIDR block (address/length)")
                }
            }
            if let delay = policy.spec.faultInjection?.delay {
                check(
                    PolicyDuration.milliseconds(in: delay.fixedDelay) != nil,
                    [.key("spec"), .key("faultInjection"), .key("delay"), .key("fixedDelay")],
                    "\"\(delay.fixedDelay)\" is not a duration (such as 300ms, 1.5s, 1m)")
            }
        case .clientTrafficPolicy(let policy):
            policyTargets(policy.spec, kind: .clientTrafficPolicy, allowed: [.gateway, .listenerSet])
            if let limit = policy.spec.connection?.bufferLimit {
                check(
                    ByteQuantity.bytes(in: limit).map { $0 <= Int(UInt32.max) } ?? false,
                    [.key("spec"), .key("connection"), .key("bufferLimit")],
                    "\(limit.text) is not a quantity of bytes up to 4Gi (such as 32768, 32Ki, 1Mi)")
            }
            for (c, cidr) in (policy.spec.clientIPDetection?.xForwardedFor?.trustedCIDRs ?? []).enumerated() {
                check(
                    AddressRange(cidr) != nil && cidr.contains("/"),
                    [.key("spec"), .key("clientIPDetection"), .key("xForwardedFor"), .key("trustedCIDRs"), .index(c)],
                    "\"\(cidr)\" is not a CIDR block (address/length)")
            }
        case .gatewayClass, .referenceGrant, .secret, .namespace, .configMap, .pod, .ciliumNetworkPolicy, .authorizationPolicy:
            break
        }
        return problems
    }
}

/// Gateway API durations (GEP-2257): one to four `<1–5 digits><h|m|s|ms>` parts.
public enum GatewayDuration {
    /// The duration in milliseconds, or nil if `text` is not a Gateway API duration.
    public static func milliseconds(in text: String) -> Int64? {
        var total: Int64 = 0
        var digits = ""
        var parts = 0
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if c.isASCII, c.isNumber {
                digits.append(c)
                index = text.index(after: index)
                continue
            }
            guard !digits.isEmpty, digits.count <= 5, let value = Int64(digits) else { return nil }
            if text[index...].hasPrefix("ms") {
                total += value
                index = text.index(index, offsetBy: 2)
            } else {
                switch c {
                case "h": total += value * 3_600_000
                case "m": total += value * 60_000
                case "s": total += value * 1000
                default: return nil
                }
                index = text.index(after: index)
            }
            digits = ""
            parts += 1
        }
        guard digits.isEmpty, (1...4).contains(parts) else { return nil }
        return total
    }
}

extension HTTPRouteFilterType {
    /// The filter's field that carries its settings (`requestHeaderModifier`, `urlRewrite`, …).
    var fieldName: String {
        switch self {
        case .urlRewrite: "urlRewrite"
        case .cors: "cors"
        default: rawValue.prefix(1).lowercased() + rawValue.dropFirst()
        }
    }
}

extension Validation {
    /// An origin as the CRD allows it: `*`, or `http(s)://host[:port]` whose host may
    /// be `*` or start with `*.`.
    static func isCORSOrigin(_ origin: String) -> Bool {
        if origin == "*" { return true }
        guard let schemeEnd = origin.range(of: "://") else { return false }
        guard ["http", "https"].contains(origin[..<schemeEnd.lowerBound]) else { return false }
        var rest = origin[schemeEnd.upperBound...]
        if let colon = rest.lastIndex(of: ":") {
            let port = rest[rest.index(after: colon)...]
            guard (1...5).contains(port.count), port.allSatisfy(\.isASCIIDigit) else { return false }
            rest = rest[..<colon]
        }
        if rest == "*" { return true }
        if rest.hasPrefix("*.") { rest = rest.dropFirst(2) }
        let labels = rest.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty
            && labels.allSatisfy { label in !label.isEmpty && label.allSatisfy { $0.isASCIIAlphanumeric || $0 == "-" } }
    }

    /// A header name as the CRD allows it (an RFC 7230 token).
    static func isHeaderName(_ name: String) -> Bool {
        (1...256).contains(name.count)
            && name.allSatisfy { $0.isASCIIAlphanumeric || "!#$%&'*+-.^_`|~".contains($0) }
    }

    static func cors(
        _ cors: HTTPRoute.CORS, _ path: [PathComponent], check: (Bool, [PathComponent], @autoclosure () -> String) -> Void
    ) {
        let origins = cors.allowOrigins ?? []
        for (i, origin) in origins.enumerated() {
            check(
                isCORSOrigin(origin), path + [.key("allowOrigins"), .index(i)],
                "\"\(origin)\" is not * or http(s)://host[:port] (the host may be * or start with *.)")
        }
        check(!(origins.contains("*") && origins.count > 1), path + [.key("allowOrigins")], "* cannot be listed with other origins")
        let methods = cors.allowMethods ?? []
        for (i, method) in methods.enumerated() {
            check(
                method == "*" || HTTPMethod.matchable.map(\.rawValue).contains(method), path + [.key("allowMethods"), .index(i)],
                "\"\(method)\" is not one of \(HTTPMethod.matchable.map(\.rawValue).joined(separator: ", ")), *")
        }
        check(!(methods.contains("*") && methods.count > 1), path + [.key("allowMethods")], "* cannot be listed with other methods")
        for field in ["allowHeaders", "exposeHeaders"] {
            let names = (field == "allowHeaders" ? cors.allowHeaders : cors.exposeHeaders) ?? []
            for (i, name) in names.enumerated() {
                check(isHeaderName(name), path + [.key(field), .index(i)], "\"\(name)\" is not a header name")
            }
            check(!(names.contains("*") && names.count > 1), path + [.key(field)], "* cannot be listed with other headers")
        }
        if let maxAge = cors.maxAge { check(maxAge >= 1, path + [.key("maxAge")], "must be at least 1") }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIIAlphanumeric: Bool { isASCII && (isLetter || isNumber) }
}
