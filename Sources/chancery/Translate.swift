import ArgumentParser
import ConfigSources
import EnvoyBuild
import Foundation
import IR
import Translation

extension Chancery {
    struct Translate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a proxy group's xDS resources as Envoy JSON (or its intermediate representation).",
            discussion: """
                Without --proxy, every group is printed, keyed by group. With --ir, the plan the
                translator made for the group is printed instead: every decision taken, before
                it is spelled in Envoy's terms (private keys are redacted).
                """)

        @Option(name: .customLong("config-dir"), help: "Directory of Kubernetes YAML (repeatable).")
        var configDirs: [String]

        @Option(help: "Proxy group: NAMESPACE/GATEWAY or a GatewayClass name (default: every group).")
        var proxy: String?

        @Flag(help: "Print the intermediate representation instead of Envoy resources.")
        var ir = false

        @OptionGroup var proxyHost: ProxyHostOptions

        @OptionGroup var sourceLimits: SourceLimitOptions

        func validate() throws { try StartupChecks.configDirectories(configDirs) }

        func run() throws {
            let set = FileSource(directories: configDirs, limits: sourceLimits.limits).load()
                .capped(perKind: sourceLimits.maxObjectsPerKind)
            let result = proxyHost.translator().translate(set)
            var plans = result.plans
            if let proxy {
                guard let plan = result.plans[proxy] else {
                    let known = result.plans.keys.sorted().joined(separator: ", ")
                    throw ValidationError("no proxy group \"\(proxy)\"; groups: \(known.isEmpty ? "(none)" : known)")
                }
                plans = [proxy: plan]
            }
            if ir {
                if let proxy { say(try plans[proxy]!.json(), newline: false) } else { say(try ProxyPlan.json(plans), newline: false) }
                return
            }
            let configs = EnvoyBuilder(routeLayout: proxyHost.routeLayout)
                .build(plans, identical: result.identical.filter { plans[$0.value] != nil })
            if let proxy { say(try configs[proxy]!.json(), newline: false) } else { say(try ProxyConfig.json(configs), newline: false) }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every object's conditions; exit 1 if any object is rejected.")

        @Option(name: .customLong("config-dir"), help: "Directory of Kubernetes YAML (repeatable).")
        var configDirs: [String]

        @Option(help: "Also print this proxy group's intermediate representation (the translator's plan).")
        var ir: String?

        @OptionGroup var proxyHost: ProxyHostOptions

        @OptionGroup var sourceLimits: SourceLimitOptions

        func validate() throws { try StartupChecks.configDirectories(configDirs) }

        func run() throws {
            let set = FileSource(directories: configDirs, limits: sourceLimits.limits).load()
                .capped(perKind: sourceLimits.maxObjectsPerKind)
            let result = proxyHost.translator().translate(set)
            say(Report.print(result, set: set), newline: false)
            if let ir {
                guard let plan = result.plans[ir] else {
                    let known = result.plans.keys.sorted().joined(separator: ", ")
                    throw ValidationError("no proxy group \"\(ir)\"; groups: \(known.isEmpty ? "(none)" : known)")
                }
                say("Plan of proxy group \(ir):")
                say(try plan.json(), newline: false)
            }
            let rejected = !result.readErrors.isEmpty || result.statuses.values.contains(where: \.isRejected)
            if rejected { throw ExitCode(1) }
        }
    }
}
