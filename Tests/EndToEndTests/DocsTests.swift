import Foundation
import Testing
import TestSupport
import Yams

/// The documentation runs: the README's quick start as written, the Kubernetes manifests
/// parsed and their Envoy bootstrap validated by Envoy, and every `chancery` command line
/// in the docs accepted by the command it names.
@Suite(.serialized) struct DocsTests {
    static let root = EnvoyProcess.packageRoot

    /// The code block after each `<!-- docs-test: NAME -->` line of a Markdown file.
    static func blocks(in file: String) throws -> [(name: String, text: String)] {
        let lines = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8).components(separatedBy: "\n")
        var blocks: [(String, String)] = []
        for (index, line) in lines.enumerated() where line.hasPrefix("<!-- docs-test: ") {
            let name = line.dropFirst("<!-- docs-test: ".count).replacingOccurrences(of: " -->", with: "")
            let open = index + 1
            try #require(open < lines.count && lines[open].hasPrefix("```"), "\(file):\(open + 1): a code block must follow the marker")
            let close = try #require(lines[(open + 1)...].firstIndex { $0.hasPrefix("```") }, "\(file): unclosed block")
            blocks.append((name, lines[(open + 1)..<close].joined(separator: "\n")))
        }
        return blocks
    }

    /// The quick start's two blocks in one shell, in a copy of the repository's example,
    /// with ports the test chose in place of the documented ones (also in the example's
    /// files), `BIN` the directory of the `chancery` under test and `.venv/bin/envoy` the
    /// Envoy 1.40 the tests use.
    @Test func theQuickStartRunsAsWritten() async throws {
        let blocks = Dictionary(uniqueKeysWithValues: try Self.blocks(in: "README.md").map { ($0.name, $0.text) })
        let start = try #require(blocks["quickstart"])
        let plan = try #require(blocks["quickstart-plan"])

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-docs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let example = work.appendingPathComponent("examples/quickstart")
        try FileManager.default.createDirectory(at: example.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("examples/quickstart"), to: example)

        var ports: [String: String] = [:]
        for documented in ["18000", "19000", "8080", "9000", "9901"] { ports[documented] = String(try freePort()) }
        func substitute(_ text: String) -> String {
            var text = text
            for (documented, chosen) in ports {
                text = text.replacingOccurrences(of: "\\b\(documented)\\b", with: chosen, options: .regularExpression)
            }
            return text
        }
        for file in try FileManager.default.contentsOfDirectory(atPath: example.path) {
            let path = example.appendingPathComponent(file)
            try substitute(try String(contentsOf: path, encoding: .utf8)).write(to: path, atomically: true, encoding: .utf8)
        }
        let bin = try ChanceryProcess.executable().deletingLastPathComponent().path
        let envoy = try EnvoyProcess.binary().path
        // `.venv/bin/envoy` runs the tests' Envoy without hot restart's shared memory (two
        // would collide). The script writes it, in a process of its own: an executable
        // written by this process, whose other tests start processes all the while, can
        // still be open in a child forked meanwhile when the script runs it ("Text file
        // busy", seen once under CI's parallel suite).
        let script = """
            set -euo pipefail
            trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
            cd '\(work.path)'
            BIN='\(bin)'
            mkdir -p .venv/bin
            cat > .venv/bin/envoy <<'WRAPPER'
            #!/bin/sh
            exec '\(envoy)' --disable-hot-restart "$@"
            WRAPPER
            chmod 755 .venv/bin/envoy
            \(substitute(start))
            echo '=== plan'
            \(substitute(plan))
            """
        let scriptFile = work.appendingPathComponent("quickstart.sh")
        try script.write(to: scriptFile, atomically: true, encoding: .utf8)
        let output = work.appendingPathComponent("output.log")
        let shell = try ChildProcess(executable: "/usr/bin/timeout", arguments: ["120", "/bin/bash", scriptFile.path], output: output.path)
        let status = await shell.exited()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(script)\n---\n\(text)")
        let parts = text.components(separatedBy: "=== plan")
        try #require(parts.count == 2, "\(text)")
        #expect(parts[0].lowercased().contains("x-served-by: chancery-quickstart"), "\(parts[0])")
        #expect(parts[0].contains("all 1 proxies of default/quickstart hold version"), "\(parts[0])")
        // The plan shows the header's new value in the route's diff, and that nothing is rejected.
        #expect(parts[1].contains("Proxy group default/quickstart: version"), "\(parts[1])")
        #expect(parts[1].split(separator: "\n").contains { $0.hasPrefix("    +") && $0.contains("chancery-next") }, "\(parts[1])")
        #expect(parts[1].contains("Nothing would be rejected."), "\(parts[1])")
        #expect(parts[1].lowercased().contains("x-served-by: chancery-next"), "\(parts[1])")
    }

    /// The example's own README gives the same commands as the main one.
    @Test func theExampleReadmeMatchesTheQuickStart() throws {
        let blocks = try Self.blocks(in: "README.md").filter { $0.name.hasPrefix("quickstart") }
        #expect(blocks.count == 2)
        let example = try String(
            contentsOf: Self.root.appendingPathComponent("examples/quickstart/README.md"), encoding: .utf8)
        for block in blocks {
            for line in block.text.split(separator: "\n") where !line.isEmpty {
                #expect(example.contains(line), "examples/quickstart/README.md lacks: \(line)")
            }
        }
    }

    /// Every marked manifest of docs/kubernetes.md is Kubernetes YAML; a ConfigMap's Envoy
    /// bootstrap is what `chancery bootstrap` prints and what Envoy accepts; Envoy pods set
    /// their node id from the Pod's name in a way Envoy applies.
    @Test func theKubernetesManifestsAreValid() async throws {
        let blocks = try Self.blocks(in: "docs/kubernetes.md").filter { $0.name == "manifest" }
        #expect(blocks.count >= 2)
        var bootstraps = 0
        var envoyPods = 0
        for block in blocks {
            for document in try Yams.load_all(yaml: block.text) {
                let object = try #require(document as? [String: Any], "\(block.text)")
                let kind = try #require(object["kind"] as? String)
                #expect(object["apiVersion"] is String && (object["metadata"] as? [String: Any])?["name"] is String, "\(kind)")
                if kind == "ConfigMap", let bootstrap = (object["data"] as? [String: Any])?["envoy.yaml"] as? String {
                    bootstraps += 1
                    let (status, printed) = try await runChancery([
                        "bootstrap", "--xds-address", "chancery.chancery-system.svc:18000", "--proxy", "infra/web", "--node-id", "placeholder",
                    ])
                    #expect(status == 0)
                    #expect(bootstrap == printed, "the ConfigMap holds what chancery bootstrap prints")
                    let (valid, output) = try await EnvoyProcess.validate(yaml: bootstrap)
                    #expect(valid, "\(output)")
                }
                let spec = ((object["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
                for container in spec?["containers"] as? [[String: Any]] ?? [] where (container["image"] as? String)?.contains("envoy") == true {
                    envoyPods += 1
                    let args = container["args"] as? [String] ?? []
                    let flag = try #require(args.firstIndex(of: "--service-node"), "\(args)")
                    #expect(args.dropFirst(flag + 1).first == "$(POD_NAME)", "\(args)")
                    let env = container["env"] as? [[String: Any]] ?? []
                    let pod = env.first { $0["name"] as? String == "POD_NAME" }
                    #expect(
                        ((pod?["valueFrom"] as? [String: Any])?["fieldRef"] as? [String: Any])?["fieldPath"] as? String == "metadata.name")
                }
            }
        }
        #expect(bootstraps == 1 && envoyPods == 1)
        // Envoy itself says --service-node sets the node id, over the bootstrap's.
        let helpFile = FileManager.default.temporaryDirectory.appendingPathComponent("envoy-help-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: helpFile) }
        _ = await (try ChildProcess(executable: try EnvoyProcess.binary().path, arguments: ["--help"], output: helpFile.path)).exited()
        let envoyHelp = try String(contentsOf: helpFile, encoding: .utf8)
        #expect(envoyHelp.contains("--service-node"), "\(envoyHelp.prefix(400))")
    }

    /// Every `chancery SUBCOMMAND --flag` written in README.md, examples and docs/ names a
    /// subcommand and flags that command accepts.
    @Test func everyDocumentedCommandLineIsAccepted() async throws {
        var files = ["README.md", "examples/quickstart/README.md"]
        files += try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        var help: [String: String] = [:]
        var checked = 0
        for file in files {
            let text = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
            for line in text.components(separatedBy: "\n") {
                guard let range = line.range(of: #"chancery [a-z-]+( [^|`]*)?"#, options: .regularExpression) else { continue }
                let words = line[range].split(separator: " ").map(String.init)
                let command = words[1]
                guard
                    ["serve", "translate", "validate", "bootstrap", "wait", "status", "get", "describe", "config-dump", "diff", "plan"]
                        .contains(command)
                else { continue }
                if help[command] == nil {
                    let (status, output) = try await runChancery([command, "--help"])
                    #expect(status == 0)
                    help[command] = output
                }
                for word in words.dropFirst(2) where word.hasPrefix("--") {
                    let flag = String(word.prefix { $0 != "=" && $0 != "[" && $0 != "]" && $0 != ")" && $0 != "," })
                    #expect(help[command]!.contains(flag + " ") || help[command]!.contains(flag + "\n"), "\(file): \(line)")
                    checked += 1
                }
            }
        }
        #expect(checked > 20)
    }
}
