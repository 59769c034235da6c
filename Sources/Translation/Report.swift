import GatewayModel

/// Human-readable status, as `validate` prints it.
public enum Report {
    public static func summary(_ status: ObjectStatus) -> String { lines(status).joined(separator: "; ") }

    /// One line per condition, the object's own first, each prefixed with what it is about
    /// (`listener http: `, `parent Gateway default/gw: `).
    public static func lines(_ status: ObjectStatus) -> [String] { conditions(status).map { $0.about + line($0.condition) } }

    /// Every condition with what it is about (empty for the object's own), in the order
    /// `lines` prints them.
    public static func conditions(_ status: ObjectStatus) -> [(about: String, condition: Condition)] {
        var parts = status.conditions.map { (about: "", condition: $0) }
        for listener in status.listeners ?? [] {
            parts += listener.conditions.map { ("listener \(listener.name): ", $0) }
        }
        for parent in status.parents ?? [] {
            let name = "\(parent.parentRef.namespace.map { $0 + "/" } ?? "")\(parent.parentRef.name)"
            let kind = parent.parentRef.kind ?? Kind.gateway.rawValue
            parts += parent.conditions.map { ("parent \(kind) \(name): ", $0) }
        }
        for ancestor in status.ancestors ?? [] {
            let name = "\(ancestor.ancestorRef.namespace.map { $0 + "/" } ?? "")\(ancestor.ancestorRef.name)"
            parts += ancestor.conditions.map { ("for Gateway \(name): ", $0) }
        }
        return parts
    }

    public static func line(_ condition: Condition) -> String {
        "\(condition.type)=\(condition.status.rawValue) (\(condition.reason)) \(condition.message)"
    }

    public static func print(_ result: TranslationResult, set: ResourceSet) -> String {
        var out = ""
        for error in result.readErrors {
            out += "REJECTED \(error)\n"
        }
        for key in result.statuses.keys.sorted() {
            let status = result.statuses[key]!
            let origin = set[key].map { " (\($0.origin))" } ?? ""
            out += "\(status.isRejected ? "REJECTED" : "ok")       \(key)\(origin)\n"
            for condition in status.conditions { out += "    \(line(condition))\n" }
            for listener in status.listeners ?? [] {
                out += "    listener \(listener.name) (attachedRoutes: \(listener.attachedRoutes))\n"
                for condition in listener.conditions { out += "      \(line(condition))\n" }
            }
            for parent in status.parents ?? [] {
                let name = "\(parent.parentRef.namespace.map { $0 + "/" } ?? "")\(parent.parentRef.name)"
                let section = parent.parentRef.sectionName.map { " section \($0)" } ?? ""
                out += "    parent \(parent.parentRef.kind ?? Kind.gateway.rawValue) \(name)\(section)\n"
                for condition in parent.conditions { out += "      \(line(condition))\n" }
            }
            for policy in result.effectivePolicies[key] ?? [] { out += "    policy \(policy.description)\n" }
            for ancestor in status.ancestors ?? [] {
                let name = "\(ancestor.ancestorRef.namespace.map { $0 + "/" } ?? "")\(ancestor.ancestorRef.name)"
                out += "    for Gateway \(name)\n"
                for condition in ancestor.conditions { out += "      \(line(condition))\n" }
            }
        }
        for warning in result.warnings { out += "WARNING  \(warning)\n" }
        return out
    }
}
