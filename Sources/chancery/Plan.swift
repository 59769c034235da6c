import ArgumentParser
import ConfigSources
import Foundation
import GatewayModel

extension Chancery {
    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what serving candidate manifests would change, before applying them.",
            discussion: """
                Sends the files to a running server, which translates them as it would its own
                (laid over the objects it serves, or alone with --prune) and compares the result
                with what each proxy group serves now. Prints, per group, a unified diff of the
                Envoy JSON of every resource that would change, then every object whose status
                would change. Nothing is applied. Exits 1 when something of the candidate would be
                rejected (a file or object that does not read, or an object not fully accepted),
                so a pipeline can run it on a pull request:
                  chancery plan --config-dir gateways/ --admin chancery.example:19000
                """)

        @OptionGroup var candidate: CandidateOptions

        @OptionGroup var connection: AdminClientOptions

        @Option(name: .shortAndLong, help: "Output: table (the diffs, for people), json or yaml.")
        var output: OutputFormat = .table

        func validate() throws {
            guard !candidate.isEmpty else { throw ValidationError("give --config-dir DIR or --file FILE") }
            try candidate.validate()
        }

        func run() async throws {
            let plan = try await candidate.plan(with: connection.client())
            switch output {
            case .json: say(plan.json, newline: false)
            case .yaml: say(plan.yaml, newline: false)
            case .table: say(Self.text(plan), newline: false)
            }
            if plan["wouldReject"].bool != false { throw ExitCode(1) }
        }

        static func text(_ plan: JSONValue) -> String {
            let over = plan["prune"].bool == true ? "as the whole configuration" : "laid over what is served"
            var out = "Plan of \(plan["files"].int ?? 0) files (\(plan["objectsRead"].int ?? 0) objects), \(over):\n"
            let groups = plan["groups"].array
            if groups.isEmpty { out += "\nNo proxy group would change.\n" }
            // Groups serving the same content (a GatewayClass's shared proxies and the
            // Gateway's own, say) change alike: their diffs are printed once.
            var printed: [JSONValue: String] = [:]
            for group in groups {
                let name = group["group"].string ?? "?"
                let serving = group["serving"].string
                let planned = group["planned"].string
                let content: JSONValue = .array([group["serving"] ?? .null, group["planned"] ?? .null, group["changes"] ?? .null])
                if serving != nil, planned != nil, let first = printed[content] {
                    out += "\nProxy group \(name): version \(serving!) → \(planned!), the same changes as \(first)\n"
                    continue
                }
                printed[content] = name
                out += "\nProxy group \(name): "
                switch (serving, planned) {
                case (nil, let planned?): out += "new, version \(planned)\n"
                case (let serving?, nil): out += "would go (serves \(serving) now)\n"
                default: out += "version \(serving ?? "?") → \(planned ?? "?")\n"
                }
                if let error = group["error"].string {
                    out += "  not consistent, the group would keep what it serves: \(error)\n"
                }
                for change in group["changes"].array {
                    let mark = ["added": "+", "removed": "-"][change["change"].string ?? ""] ?? "~"
                    out += "  \(mark) \(change["resource"].string ?? "?")\n"
                    for line in (change["diff"].string ?? "").split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                        out += "    \(line)\n"
                    }
                }
            }
            let objects = plan["objects"].array
            if !objects.isEmpty { out += "\nObjects:\n" }
            for object in objects {
                let namespace = object["namespace"].string.map { $0 + "/" } ?? ""
                let origin = object["origin"].string.map { " (\($0))" } ?? ""
                let verdict = object["rejected"].bool == true ? "REJECTED" : "ok"
                out += "  \(object["change"].string ?? "?") \(object["kind"].string ?? "?") \(namespace)\(object["name"].string ?? "?")\(origin): \(verdict)\n"
                let before = object["before"].array.compactMap(\.stringValue)
                let after = object["after"].array.compactMap(\.stringValue)
                for line in before where !after.contains(line) { out += "    - \(line)\n" }
                for line in after where !before.contains(line) { out += "    + \(line)\n" }
            }
            let errors = plan["readErrors"].array.compactMap(\.stringValue)
            if !errors.isEmpty {
                out += "\nNot read:\n" + errors.map { "  \($0)\n" }.joined()
            }
            out += plan["wouldReject"].bool == true ? "\nSomething would be rejected: see above.\n" : "\nNothing would be rejected.\n"
            return out
        }
    }
}

/// Candidate manifests, for `plan` and `wait --config-dir`.
struct CandidateOptions: ParsableArguments {
    @Option(name: .customLong("config-dir"), help: "Directory of candidate manifests (repeatable).")
    var configDirs: [String] = []

    @Option(name: .customLong("file"), help: "A candidate manifest file (repeatable).")
    var files: [String] = []

    @Flag(help: "The files are the whole configuration: objects served but not in them would be deleted.")
    var prune = false

    var isEmpty: Bool { configDirs.isEmpty && files.isEmpty }

    func validate() throws { try StartupChecks.configDirectories(configDirs) }

    /// What the server would serve with these files (`POST /api/v1/plan`).
    func plan(with client: AdminClient) async throws -> JSONValue {
        var request: [[String: String]] = []
        for path in FileSource.manifestFiles(under: configDirs) + files {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            request.append(["path": path, "content": String(decoding: data, as: UTF8.self)])
        }
        return try await client.post("/api/v1/plan", json: try JSONSerialization.data(withJSONObject: ["files": request, "prune": prune]))
    }
}
