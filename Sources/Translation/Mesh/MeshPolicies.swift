import GatewayModel
import IR

/// CiliumNetworkPolicies (and, through ``IstioPolicies``, Istio's AuthorizationPolicies)
/// as the authorization of mesh workloads' inbound ports, with Cilium's semantics
/// (docs/mesh-security.md):
/// - a rule applies to the Pods of its namespace its `endpointSelector` matches; once a
///   rule with `ingress` or `ingressDeny` selects a Pod, its ingress is denied unless a
///   rule allows it;
/// - `fromEndpoints` selectors match Pods' labels, plus `io.kubernetes.pod.namespace` and
///   `io.cilium.k8s.policy.serviceaccount` as Cilium adds them (a selector without the
///   namespace label matches the policy's namespace only); no `fromEndpoints`: any caller
///   on the rule's `toPorts` (a rule with neither, `ingress: [{}]`, admits no one);
/// - `authentication.mode: required`: a caller is admitted only over mutual TLS with the
///   selected Pod's certificate, from that Pod's address; otherwise by its address;
/// - `toPorts`: the ports a rule allows (none: every port), and on a port `rules.http`:
///   the requests allowed; any other request from an admitted caller gets 403.
///
/// A policy Chancery cannot carry out whole (an unsupported field or value in its ingress
/// rules, a regex Envoy would refuse) is not accepted, and the Pods it selects refuse every
/// inbound connection: failing closed, never open.
struct MeshPolicies {
    /// The status of every CiliumNetworkPolicy and Istio AuthorizationPolicy.
    private(set) var statuses: [ObjectKey: ObjectStatus] = [:]
    private var policies: [Compiled] = []
    private let trustDomain: String
    /// Istio's AuthorizationPolicies, which combine with these (docs/mesh-security.md).
    private let istio: IstioPolicies

    /// Where the policy fields live, as the writers wrote them.
    static let supported = PolicyFields(
        ["description"],
        [
            "endpointSelector": selector,
            "ingress": PolicyFields(
                [],
                [
                    "fromEndpoints": selector,
                    "authentication": PolicyFields(["mode"]),
                    "toPorts": PolicyFields(
                        [],
                        [
                            "ports": PolicyFields(["port", "protocol"]),
                            "rules": PolicyFields([], ["http": PolicyFields(["method", "path", "host", "headers"])]),
                        ]),
                ]),
            "ingressDeny": PolicyFields(
                [], ["fromEndpoints": selector, "toPorts": PolicyFields([], ["ports": PolicyFields(["port", "protocol"])])]),
        ])
    private static let selector = PolicyFields(["matchLabels"], ["matchExpressions": PolicyFields(["key", "operator", "values"])])
    /// Fields Cilium enforces itself on the node, outside any proxy: named in the status,
    /// and the policy's ingress rules still apply.
    static let enforcedElsewhere: Set<String> = ["egress", "egressDeny", "enableDefaultDeny", "labels", "nodeSelector"]

    static let namespaceLabel = "io.kubernetes.pod.namespace"
    static let serviceAccountLabel = "io.cilium.k8s.policy.serviceaccount"

    private struct Compiled {
        let key: ObjectKey
        let namespace: String
        let accepted: Bool
        let rules: [CiliumNetworkPolicy.Rule]
    }

    /// A Pod as policies see it: its Cilium labels and, when in the mesh, its identity.
    private struct Peer {
        let labels: [String: String]
        let addresses: [String]
        let identity: String?
    }

    private let peers: [Peer]

    init(set: ResourceSet, workloads: [MeshWorkload], trustDomain: String) {
        self.trustDomain = trustDomain
        istio = IstioPolicies(set: set, trustDomain: trustDomain)
        statuses = istio.statuses
        let identities = Dictionary(uniqueKeysWithValues: workloads.map { ($0.key, $0.identity) })
        peers = set.pods.filter { !$0.hasFinished && !$0.addresses.isEmpty && $0.spec?.hostNetwork != true }.map { pod in
            let namespace = pod.metadata.namespace ?? "default"
            return Peer(
                labels: Self.ciliumLabels(of: pod), addresses: pod.addresses,
                identity: identities[ObjectKey(.pod, namespace: namespace, name: pod.metadata.name)])
        }
        for policy in set.ciliumNetworkPolicies.sorted(by: { ($0.metadata.namespace ?? "", $0.metadata.name) < ($1.metadata.namespace ?? "", $1.metadata.name) }) {
            let key = Translation.key(.ciliumNetworkPolicy, policy.metadata)
            var problems: [String] = []
            var elsewhere: [String] = []
            for (path, written) in policy.writtenRules {
                for field in Self.supported.unsupported(in: written, at: path) {
                    let top = field.dropFirst(path.count + 1).split(separator: ".").first.map(String.init) ?? ""
                    if Self.enforcedElsewhere.contains(top) { elsewhere.append(field) } else { problems.append(field + " is not supported") }
                }
            }
            if policy.rules.isEmpty { problems.append("spec: the policy has no rules") }
            for (index, rule) in policy.rules.enumerated() {
                let path = policy.writtenRules.indices.contains(index) ? policy.writtenRules[index].path : "spec"
                problems += Self.check(rule, at: path)
            }
            let accepted = problems.isEmpty
            statuses[key] = Self.status(
                problems: problems, generation: policy.metadata.generation,
                notCarriedOut: elsewhere.isEmpty
                    ? nil : "not carried out by Chancery (Cilium enforces them on the node): " + elsewhere.joined(separator: ", "))
            policies.append(
                Compiled(
                    key: key, namespace: key.namespace, accepted: accepted, rules: policy.rules))
        }
    }

    /// A mesh policy's status: `Accepted`, or not, naming every problem (its workloads
    /// then refuse every inbound connection).
    static func status(problems: [String], generation: Int?, notCarriedOut: String? = nil) -> ObjectStatus {
        let accepted = problems.isEmpty
        var message =
            accepted
            ? "enforced by the inbound listeners of the mesh workloads it selects"
            : problems.joined(separator: "; ") + "; the workloads it selects refuse every inbound connection until it is fixed"
        if accepted, let notCarriedOut { message += "; " + notCarriedOut }
        return ObjectStatus(conditions: [
            Condition(.accepted, accepted, reason: accepted ? .accepted : .unsupportedValue, message: message, generation: generation)
        ])
    }

    /// What of a rule Chancery cannot carry out, by field path.
    private static func check(_ rule: CiliumNetworkPolicy.Rule, at path: String) -> [String] {
        var problems: [String] = []
        if rule.endpointSelector == nil { problems.append("\(path).endpointSelector is required") }
        func selectors(_ list: [LabelSelector]?, _ at: String) {
            for (index, selector) in (list ?? []).enumerated() {
                for (e, expression) in (selector.matchExpressions ?? []).enumerated()
                where !["In", "NotIn", "Exists", "DoesNotExist"].contains(expression.operator) {
                    problems.append("\(at)[\(index)].matchExpressions[\(e)].operator \"\(expression.operator)\" is not In, NotIn, Exists or DoesNotExist")
                }
                for key in Array((selector.matchLabels ?? [:]).keys) + (selector.matchExpressions ?? []).map(\.key)
                where key.hasPrefix("reserved:") || key.hasPrefix("cidr:") {
                    problems.append("\(at)[\(index)]: label \"\(key)\" selects Cilium's own identities, which the mesh does not have")
                }
            }
        }
        selectors(rule.endpointSelector.map { [$0] }, "\(path).endpointSelector")
        for (kind, items) in [("ingress", rule.ingress), ("ingressDeny", rule.ingressDeny)] {
            for (i, item) in (items ?? []).enumerated() {
                let at = "\(path).\(kind)[\(i)]"
                selectors(item.fromEndpoints, "\(at).fromEndpoints")
                if let mode = item.authentication?.mode, mode != "required", mode != "disabled" {
                    problems.append("\(at).authentication.mode \"\(mode)\" is not required or disabled")
                }
                for (p, portRule) in (item.toPorts ?? []).enumerated() {
                    for (n, port) in (portRule.ports ?? []).enumerated() {
                        let protocolName = (port.protocol ?? "TCP").uppercased()
                        if !["TCP", "ANY", "UDP", "SCTP"].contains(protocolName) {
                            problems.append("\(at).toPorts[\(p)].ports[\(n)].protocol \"\(port.protocol ?? "")\" is not TCP, UDP, SCTP or ANY")
                        }
                        if let number = Int(port.port), !(0...65535).contains(number) {
                            problems.append("\(at).toPorts[\(p)].ports[\(n)].port \(number) is not a port number")
                        }
                    }
                    for (h, http) in (portRule.rules?.http ?? []).enumerated() {
                        let base = "\(at).toPorts[\(p)].rules.http[\(h)]"
                        for (field, pattern) in [("method", http.method), ("path", http.path), ("host", http.host)] {
                            if let pattern, let problem = RE2.problem(pattern) { problems.append("\(base).\(field) \"\(pattern)\": \(problem)") }
                        }
                        for (n, header) in (http.headers ?? []).enumerated() where Self.header(header) == nil {
                            problems.append("\(base).headers[\(n)] \"\(header)\" is not \"Name\" or \"Name: value\"")
                        }
                    }
                }
            }
        }
        return problems
    }

    /// Cilium's labels of a Pod: its own, and its namespace and service account.
    static func ciliumLabels(of pod: Pod) -> [String: String] {
        var labels = pod.metadata.labels ?? [:]
        labels[namespaceLabel] = pod.metadata.namespace ?? "default"
        labels[serviceAccountLabel] = pod.serviceAccount
        return labels
    }

    /// A selector with Cilium's source prefixes (`k8s:`, `any:`) taken off its keys.
    static func normalized(_ selector: LabelSelector) -> LabelSelector {
        func plain(_ key: String) -> String {
            for prefix in ["k8s:", "any:"] where key.hasPrefix(prefix) { return String(key.dropFirst(prefix.count)) }
            return key
        }
        var labels: [String: String]? = nil
        if let matchLabels = selector.matchLabels {
            labels = [:]
            for (key, value) in matchLabels { labels![plain(key)] = value }
        }
        let expressions = selector.matchExpressions?.map { requirement -> LabelSelector.Requirement in
            var requirement = requirement
            requirement.key = plain(requirement.key)
            return requirement
        }
        return LabelSelector(matchLabels: labels, matchExpressions: expressions)
    }

    /// Whether a selector of a policy in `namespace` matches Cilium labels `labels`.
    static func selects(_ selector: LabelSelector, in namespace: String, labels: [String: String]) -> Bool {
        let selector = normalized(selector)
        let namesNamespace =
            selector.matchLabels?[namespaceLabel] != nil || (selector.matchExpressions ?? []).contains { $0.key == namespaceLabel }
        if !namesNamespace, labels[namespaceLabel] != namespace { return false }
        return selector.matches(labels)
    }

    /// `Name` or `Name: value`.
    static func header(_ text: String) -> HeaderMatchPlan? {
        let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let name = parts.first, !name.isEmpty, !name.contains(" ") else { return nil }
        if parts.count == 2 { return HeaderMatchPlan(name: name.lowercased(), value: .exact(parts[1])) }
        return HeaderMatchPlan(name: name.lowercased(), value: .regex(".*"))
    }

    /// Who may call `port` of `workload` (0: a port none of its Services reaches), and
    /// what they may ask; nil when no policy with ingress rules selects it.
    func authorization(for workload: MeshWorkload, port: Int) -> MeshAuthorizationPlan? {
        let labels = Self.ciliumLabels(of: workload.pod)
        var enforced = false
        var allow: [MeshAuthorizationRule] = []
        var deny: [MeshAuthorizationRule] = []
        var broken = false
        for policy in policies where policy.namespace == workload.namespace {
            for (index, rule) in policy.rules.enumerated() {
                guard let selector = rule.endpointSelector, Self.selects(selector, in: policy.namespace, labels: labels) else {
                    continue
                }
                guard policy.accepted else {
                    broken = true
                    continue
                }
                guard rule.ingress != nil || rule.ingressDeny != nil else { continue }
                enforced = true
                let name = "\(policy.key.namespace)/\(policy.key.name)"
                for (i, item) in (rule.ingress ?? []).enumerated() {
                    guard let requests = applies(item, to: port, of: workload) else { continue }
                    allow.append(
                        MeshAuthorizationRule(
                            name: "\(name)/\(index)/ingress/\(i)", principals: principals(item, policy: policy.namespace),
                            requests: requests))
                }
                for (i, item) in (rule.ingressDeny ?? []).enumerated() {
                    guard applies(item, to: port, of: workload) != nil else { continue }
                    deny.append(
                        MeshAuthorizationRule(
                            name: "\(name)/\(index)/ingressDeny/\(i)", principals: principals(item, policy: policy.namespace),
                            requests: nil))
                }
            }
        }
        // Istio's DENY rules join Cilium's ingressDeny; its ALLOW rules join the allow
        // list, which either kind of policy makes a Pod's only way in.
        let fromIstio = istio.contributions(for: workload, port: port)
        if broken || fromIstio.broken { return MeshAuthorizationPlan(deny: [], allow: []) }
        deny += fromIstio.deny
        let allowed: [MeshAuthorizationRule]? = enforced || fromIstio.allowing ? allow + fromIstio.allow : nil
        guard allowed != nil || !deny.isEmpty else { return nil }
        return MeshAuthorizationPlan(deny: deny, allow: allowed)
    }

    /// Nil when the rule does not cover `port`; otherwise the requests it allows there
    /// (an inner nil: every request).
    private func applies(_ item: CiliumNetworkPolicy.IngressRule, to port: Int, of workload: MeshWorkload)
        -> [MeshRequestMatch]??
    {
        guard let portRules = item.toPorts, !portRules.isEmpty else { return .some(nil) }
        var requests: [MeshRequestMatch] = []
        var covered = false
        var everything = false
        for portRule in portRules {
            let ports = portRule.ports ?? []
            let matches =
                ports.isEmpty
                || ports.contains { written in
                    guard ["TCP", "ANY"].contains((written.protocol ?? "TCP").uppercased()) else { return false }
                    if let number = Int(written.port) { return number == 0 || number == port }
                    return workload.pod.port(.name(written.port)) == port
                }
            guard matches else { continue }
            covered = true
            guard let http = portRule.rules?.http else {
                everything = true
                continue
            }
            for rule in http {
                var match = MeshRequestMatch()
                match.method = rule.method.map { .regex($0) }
                match.path = rule.path.map { .regex($0) }
                if let host = rule.host { match.headers.append(HeaderMatchPlan(name: ":authority", value: .regex(host))) }
                match.headers += (rule.headers ?? []).compactMap(Self.header)
                requests.append(match)
            }
        }
        guard covered else { return nil }
        return .some(everything ? nil : requests)
    }

    /// The callers a rule admits: the selected Pods by address, or (with mutual
    /// authentication required) by certificate and address; no selector: anyone (any
    /// mesh identity when authentication is required).
    private func principals(_ item: CiliumNetworkPolicy.IngressRule, policy namespace: String) -> [MeshPrincipal] {
        let authenticated = item.authentication?.mode == "required"
        guard let selectors = item.fromEndpoints else {
            // A rule naming neither callers nor ports (`ingress: [{}]`, Cilium's "default
            // deny") admits no one; one naming ports alone, anyone on them.
            guard let ports = item.toPorts, !ports.isEmpty else { return [] }
            return [authenticated ? .identityPrefix("spiffe://\(trustDomain)/") : .any]
        }
        var result: [MeshPrincipal] = []
        for peer in peers where selectors.contains(where: { Self.selects($0, in: namespace, labels: peer.labels) }) {
            for address in peer.addresses {
                let cidr = MeshPlanner.cidr(address)
                if authenticated {
                    if let identity = peer.identity { result.append(.workload(identity: identity, address: cidr)) }
                } else {
                    result.append(.address(cidr))
                }
            }
        }
        return result
    }
}
