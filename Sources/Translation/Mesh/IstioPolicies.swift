import GatewayModel
import IR

/// Istio AuthorizationPolicies as the authorization of mesh workloads' inbound ports,
/// with Istio's semantics (docs/mesh-security.md):
/// - a policy applies to the Pods of its namespace its `selector` matches (none: all);
/// - DENY rules are decided first; then, if any ALLOW policy applies to a Pod, a call is
///   allowed only when an ALLOW rule matches it (an ALLOW policy without rules allows
///   nothing);
/// - a rule matches when one of its `from` sources and one of its `to` operations match
///   (a missing list matches everything); within a source or operation every field
///   given must match, and a field matches when any of its values does.
///
/// A policy Chancery cannot carry out whole (an unsupported field or value) is not
/// accepted, and the Pods it selects refuse every inbound connection.
struct IstioPolicies {
    private(set) var statuses: [ObjectKey: ObjectStatus] = [:]
    private var policies: [Compiled] = []
    private let trustDomain: String

    static let supported = PolicyFields(
        ["action"],
        [
            "selector": PolicyFields(["matchLabels"]),
            "rules": PolicyFields(
                [],
                [
                    "from": PolicyFields([], ["source": PolicyFields(["principals", "namespaces", "ipBlocks"])]),
                    "to": PolicyFields([], ["operation": PolicyFields(["methods", "paths", "ports"])]),
                ]),
        ])

    private struct Compiled {
        let key: ObjectKey
        let accepted: Bool
        let selector: [String: String]
        let deny: Bool
        let rules: [AuthorizationPolicy.Rule]
    }

    init(set: ResourceSet, trustDomain: String) {
        self.trustDomain = trustDomain
        for policy in set.authorizationPolicies.sorted(by: {
            ($0.metadata.namespace ?? "", $0.metadata.name) < ($1.metadata.namespace ?? "", $1.metadata.name)
        }) {
            let key = Translation.key(.authorizationPolicy, policy.metadata)
            var problems = Self.supported.unsupported(in: policy.writtenSpec, at: "spec").map { "\($0) is not supported" }
            let action = policy.spec.action ?? "ALLOW"
            if action != "ALLOW" && action != "DENY" {
                problems.append("spec.action \(action) is not supported (ALLOW and DENY are)")
            }
            for (r, rule) in (policy.spec.rules ?? []).enumerated() {
                for (f, from) in (rule.from ?? []).enumerated() {
                    let at = "spec.rules[\(r)].from[\(f)].source"
                    let source = from.source
                    let given = [source.principals != nil, source.namespaces != nil, source.ipBlocks != nil].filter { $0 }.count
                    if given > 1, !(given == 2 && source.namespaces == nil && (source.principals ?? []).allSatisfy(Self.isExact)) {
                        problems.append("\(at): only exact principals combine with ipBlocks in one source; give the others in sources of their own")
                    }
                    for (p, principal) in (source.principals ?? []).enumerated() where Self.principal(principal, trustDomain: trustDomain) == nil {
                        problems.append("\(at).principals[\(p)] \"\(principal)\" is not TRUST-DOMAIN/ns/NAMESPACE/sa/NAME, \"*\" or a prefix ending in \"*\"")
                    }
                    for (n, namespace) in (source.namespaces ?? []).enumerated() where namespace.isEmpty || (namespace.contains("*") && namespace != "*") {
                        problems.append("\(at).namespaces[\(n)] \"\(namespace)\" is not a namespace or \"*\"")
                    }
                    for (b, block) in (source.ipBlocks ?? []).enumerated() where AddressRange(block) == nil {
                        problems.append("\(at).ipBlocks[\(b)] \"\(block)\" is not an address or CIDR block")
                    }
                }
                for (t, to) in (rule.to ?? []).enumerated() {
                    let at = "spec.rules[\(r)].to[\(t)].operation"
                    for (p, path) in (to.operation.paths ?? []).enumerated() where Self.pathMatch(path) == nil {
                        problems.append("\(at).paths[\(p)] \"\(path)\" has \"*\" elsewhere than at its start or end")
                    }
                    for (p, port) in (to.operation.ports ?? []).enumerated() where Int(port).map({ !(1...65535).contains($0) }) ?? true {
                        problems.append("\(at).ports[\(p)] \"\(port)\" is not a port number")
                    }
                }
            }
            let accepted = problems.isEmpty
            statuses[key] = MeshPolicies.status(problems: problems, generation: policy.metadata.generation)
            policies.append(
                Compiled(
                    key: key, accepted: accepted, selector: policy.spec.selector?.matchLabels ?? [:], deny: action == "DENY",
                    rules: policy.spec.rules ?? []))
        }
    }

    static func isExact(_ principal: String) -> Bool { !principal.contains("*") }

    /// An Istio principal (`td/ns/NS/sa/NAME`, `*`, `prefix*`) as a mesh principal.
    static func principal(_ text: String, trustDomain: String) -> MeshPrincipal? {
        if text == "*" { return .identityPrefix("spiffe://") }
        if text.hasSuffix("*") {
            let prefix = String(text.dropLast())
            guard !prefix.contains("*") else { return nil }
            return .identityPrefix("spiffe://" + prefix)
        }
        guard !text.contains("*"), text.split(separator: "/").count == 5, text.contains("/ns/"), text.contains("/sa/") else {
            return nil
        }
        return .identity("spiffe://" + text)
    }

    /// An Istio path (exact, `prefix*`, `*suffix`, `*`) as a match over the whole path.
    static func pathMatch(_ path: String) -> StringMatch? {
        if path == "*" { return .regex(".*") }
        let inner = path.dropFirst().dropLast()
        guard !inner.contains("*") else { return nil }
        if path.hasSuffix("*") { return .regex(RE2.escape(String(path.dropLast())) + ".*") }
        if path.hasPrefix("*") { return .regex(".*" + RE2.escape(String(path.dropFirst()))) }
        return .exact(path)
    }

    /// What the policies selecting `workload` say about `port`.
    func contributions(for workload: MeshWorkload, port: Int) -> (broken: Bool, allowing: Bool, allow: [MeshAuthorizationRule], deny: [MeshAuthorizationRule]) {
        let labels = workload.pod.metadata.labels ?? [:]
        var broken = false
        var allowing = false
        var allow: [MeshAuthorizationRule] = []
        var deny: [MeshAuthorizationRule] = []
        for policy in policies where policy.key.namespace == workload.namespace {
            guard policy.selector.allSatisfy({ labels[$0.key] == $0.value }) else { continue }
            guard policy.accepted else {
                broken = true
                continue
            }
            if !policy.deny { allowing = true }
            for (index, rule) in policy.rules.enumerated() {
                guard let requests = requests(rule, port: port) else { continue }
                let planned = MeshAuthorizationRule(
                    name: "\(policy.key.namespace)/\(policy.key.name)/rules/\(index)", principals: principals(rule), requests: requests)
                if policy.deny { deny.append(planned) } else { allow.append(planned) }
            }
        }
        return (broken, allowing, allow, deny)
    }

    /// Nil when no operation of the rule covers `port`; otherwise the requests it matches
    /// there (an inner nil: every request).
    private func requests(_ rule: AuthorizationPolicy.Rule, port: Int) -> [MeshRequestMatch]?? {
        guard let operations = rule.to, !operations.isEmpty else { return .some(nil) }
        var matches: [MeshRequestMatch] = []
        var covered = false
        for operation in operations.map(\.operation) {
            if let ports = operation.ports, !ports.contains(String(port)) { continue }
            covered = true
            let methods = operation.methods.map { $0.map { StringMatch.exact($0) } }
            let paths = operation.paths.map { $0.compactMap(Self.pathMatch) }
            if methods == nil && paths == nil { return .some(nil) }
            for method in methods ?? [nil] as [StringMatch?] {
                for path in paths ?? [nil] as [StringMatch?] { matches.append(MeshRequestMatch(method: method, path: path)) }
            }
        }
        return covered ? .some(matches) : nil
    }

    /// The callers a rule's sources admit (no source: anyone).
    private func principals(_ rule: AuthorizationPolicy.Rule) -> [MeshPrincipal] {
        guard let sources = rule.from, !sources.isEmpty else { return [.any] }
        var result: [MeshPrincipal] = []
        for source in sources.map(\.source) {
            let blocks = (source.ipBlocks ?? []).map { $0.contains("/") ? $0 : MeshPlanner.cidr($0) }
            if let principals = source.principals, !blocks.isEmpty {
                // Exact principals from these addresses (checked when the policy was read).
                for principal in principals {
                    for block in blocks { result.append(.workload(identity: "spiffe://" + principal, address: block)) }
                }
            } else if let principals = source.principals {
                result += principals.compactMap { Self.principal($0, trustDomain: trustDomain) }
            } else if let namespaces = source.namespaces {
                result += namespaces.map { $0 == "*" ? .identityPrefix("spiffe://") : .identityPrefix("spiffe://\(trustDomain)/ns/\($0)/sa/") }
            } else if !blocks.isEmpty {
                result += blocks.map { .address($0) }
            } else {
                result.append(.any)
            }
        }
        return result
    }
}
