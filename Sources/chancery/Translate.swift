import ArgumentParser
import ConfigSources
import Foundation
import Translation

extension Chancery {
    struct Translate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a proxy group's xDS resources as Envoy JSON.")

        @Option(name: .customLong("config-dir"), help: "Directory of Kubernetes YAML (repeatable).")
        var configDirs: [String]

        @Option(help: "Proxy group: NAMESPACE/GATEWAY or a GatewayClass name.")
        var proxy: String

        func run() throws {
            let set = FileSource(directories: configDirs).load()
            let result = Translator().translate(set)
            guard let config = result.proxies[proxy] else {
                let known = result.proxies.keys.sorted().joined(separator: ", ")
                throw ValidationError("no proxy group \"\(proxy)\"; groups: \(known.isEmpty ? "(none)" : known)")
            }
            say(try config.json())
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every object's conditions; exit 1 if any object is rejected.")

        @Option(name: .customLong("config-dir"), help: "Directory of Kubernetes YAML (repeatable).")
        var configDirs: [String]

        func run() throws {
            let set = FileSource(directories: configDirs).load()
            let result = Translator().translate(set)
            say(Report.print(result, set: set), newline: false)
            let rejected = !result.readErrors.isEmpty || result.statuses.values.contains(where: \.isRejected)
            if rejected { throw ExitCode(1) }
        }
    }
}
