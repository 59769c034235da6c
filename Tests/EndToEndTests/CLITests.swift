import Admin
import Foundation
import Testing
import TestSupport
import XDS

/// The `chancery` command as a user runs it.
@Suite(.serialized) struct CLITests {
    let root = EnvoyProcess.packageRoot.path

    @Test func validateAcceptsTheQuickstart() async throws {
        let (status, output) = try await runChancery(["validate", "--config-dir", root + "/examples/quickstart"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("ok       HTTPRoute default/web (\(root)/examples/quickstart/route.yaml:1)"))
        #expect(output.contains("Accepted=True (Accepted) attached to Gateway default/quickstart"))
    }

    @Test func validateFailsOnRejectedObjectsNamingFileLineAndField() async throws {
        let (status, output) = try await runChancery(["validate", "--config-dir", root + "/testdata/translation/invalid-input"])
        #expect(status == 1)
        #expect(
            output.contains(
                "REJECTED \(root)/testdata/translation/invalid-input/input.yaml:54: HTTPRoute app/bad-enum: spec.rules[0].matches[0].path.type: Unsupported value: \"Glob\": supported values: \"Exact\", \"PathPrefix\", \"RegularExpression\""
            ), "\(output)")
        #expect(output.contains("ok       HTTPRoute app/good"))
    }

    /// A typo in a directory, or a port something else holds, fails at once, naming the
    /// path or address and why, instead of a server that serves nothing.
    @Test func startupProblemsAreNamedAtOnce() async throws {
        let missing = root + "/examples/quickstrat"
        /// `serve` must exit: one that starts is stopped and counted as a failure.
        func serveRefuses(_ arguments: [String], saying expected: String) async {
            do {
                let chancery = try await ChanceryProcess.serve(arguments)
                chancery.stop()
                Issue.record("serve \(arguments) started")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        await serveRefuses(["--config-dir", missing], saying: "--config-dir \(missing): no such directory")
        for command in ["validate", "translate"] {
            let (status, output) = try await runChancery([command, "--config-dir", missing])
            #expect(status != 0, "\(command): \(output)")
            #expect(output.contains("--config-dir \(missing): no such directory"), "\(command): \(output)")
        }
        let file = root + "/examples/quickstart/route.yaml"
        let (notDirectory, notDirectoryOutput) = try await runChancery(["validate", "--config-dir", file])
        #expect(notDirectory != 0)
        #expect(notDirectoryOutput.contains("--config-dir \(file): not a directory"), "\(notDirectoryOutput)")

        // Something else listens on the port.
        let busy = try await EchoBackend.start(name: "busy")
        for flag in ["--xds-address", "--admin-address"] {
            await serveRefuses(
                ["--config-dir", root + "/examples/quickstart", flag, "127.0.0.1:\(busy.port)"],
                saying: "\(flag) 127.0.0.1:\(busy.port): cannot listen: Address already in use; another process listens there")
        }
        await busy.stop()

        // Offline, nothing is said to be sent.
        let (_, validated) = try await runChancery(["validate", "--config-dir", root + "/examples/quickstart"])
        #expect(!validated.contains(" sent"), "\(validated)")
    }

    /// `--log-format json`: every line on standard error is one JSON object with the
    /// time, level, logger and message, and the metadata as fields.
    @Test func jsonLogsAreAnObjectALine() async throws {
        let chancery = try await ChanceryProcess.serve(["--config-dir", root + "/examples/quickstart", "--log-format", "json"])
        defer { chancery.stop() }
        let logged = await eventually { chancery.output.contains("\"message\":\"serving\"") }
        #expect(logged, "\(chancery.output)")
        // Standard output has the addresses for people; the JSON lines are the rest.
        let lines = chancery.output.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count >= 3, "\(chancery.output)")
        var messages: [String] = []
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(object["time"] is String && object["level"] is String && object["logger"] is String, "\(line)")
            messages.append(object["message"] as? String ?? "")
            if object["message"] as? String == "change applied" {
                #expect(object["source"] as? String == "startup" && object["versions"] is String, "\(line)")
            }
        }
        #expect(messages.contains("change applied") && messages.contains("serving"), "\(messages)")
        let (status, version) = try await runChancery(["--version"])
        #expect(status == 0 && version.hasPrefix("chancery \(BuildInfo.version) (Swift "), "\(version)")
    }

    /// `--help` shows every default, the transformed options' included.
    @Test func helpShowsTheDefaults() async throws {
        /// The help text with its line wrapping undone.
        func help(_ command: String) async throws -> String {
            let (status, text) = try await runChancery([command, "--help"])
            #expect(status == 0)
            return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        }
        let serve = try await help("serve")
        for expected in [
            "(default: 127.0.0.1:18000)", "(default: 127.0.0.1:19000)", "(default: 64 MiB)", "(default: 1.5 MiB, etcd's",
            "(default: 9901, the Envoy admin port", "(default: 100000)", "(default: info)", "(default: 80,443)",
        ] {
            #expect(serve.contains(expected), "\(expected): \(serve)")
        }
        let bootstrap = try await help("bootstrap")
        #expect(bootstrap.contains("(default: 127.0.0.1:18000)") && bootstrap.contains("(default: 9901)"), "\(bootstrap)")
        let wait = try await help("wait")
        #expect(wait.contains("(default: 127.0.0.1:19000)") && wait.contains("(default: 30s)"), "\(wait)")
    }

    /// Mesh bootstraps name what the proxy serves in its node metadata and reach Chancery
    /// on a unix socket; Envoy accepts them. Asking for two kinds of proxy, or for a Pod
    /// without a namespace, is refused with the reason.
    @Test func meshBootstrapsAreValidAndMistakesAreNamed() async throws {
        let (status, sidecar) = try await runChancery([
            "bootstrap", "--sidecar", "--pod", "shop/echo-0", "--xds-socket", "/run/chancery/xds.sock", "--admin-port", "15000",
        ])
        #expect(status == 0, "\(sidecar)")
        #expect(sidecar.contains("\"chancery.dev/pod\": \"shop/echo-0\"") && sidecar.contains("pipe: { path: \"/run/chancery/xds.sock\" }"))
        #expect(sidecar.contains("cluster: \"sidecar:shop/echo-0\""), "\(sidecar)")
        let validated = try await EnvoyProcess.validate(yaml: sidecar)
        #expect(validated.ok, "\(validated.output)")
        let (nodeStatus, node) = try await runChancery(["bootstrap", "--node-proxy", "node-1"])
        #expect(nodeStatus == 0 && node.contains("\"chancery.dev/node\": \"node-1\""), "\(node)")
        #expect(try await EnvoyProcess.validate(yaml: node).ok)
        for (arguments, message) in [
            (["bootstrap", "--proxy", "default/web", "--node-proxy", "n"], "give one of --proxy GROUP, --sidecar --pod NAMESPACE/NAME, --node-proxy NODE"),
            (["bootstrap", "--sidecar", "--pod", "echo-0"], "--pod must be NAMESPACE/NAME, not 'echo-0'"),
            (["bootstrap", "--sidecar"], "--sidecar needs --pod NAMESPACE/NAME"),
            (["mesh-init", "--node-proxy"], "--node-proxy needs --pod-interface"),
            (["mesh-init", "--inbound-port", "15001"], "--outbound-port and --inbound-port must differ"),
            (["mesh-init", "--exclude-outbound-cidrs", "nonsense"], "'nonsense' is not an address or CIDR block"),
        ] {
            let (failed, output) = try await runChancery(arguments)
            #expect(failed != 0 && output.contains(message), "\(arguments): \(output)")
        }
    }

    /// `mesh-init` prints what it would apply: capture rules with the proxy's own traffic,
    /// loopback and the excluded ports left alone.
    @Test func meshInitPrintsTheCaptureRules() async throws {
        let (status, rules) = try await runChancery(["mesh-init", "--exclude-inbound-ports", "15000,15020", "--exclude-outbound-cidrs", "10.0.0.1"])
        #expect(status == 0, "\(rules)")
        for line in [
            "*nat", "-A CHANCERY_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
            "-A CHANCERY_REDIRECT -p tcp -j REDIRECT --to-ports 15001", "-A CHANCERY_INBOUND -p tcp --dport 15020 -j RETURN",
            "-A CHANCERY_OUTPUT -m owner --uid-owner 1337 -j RETURN", "-A CHANCERY_OUTPUT -m owner --gid-owner 1337 -j RETURN",
            "-A CHANCERY_OUTPUT -d 127.0.0.1/32 -j RETURN", "-A CHANCERY_OUTPUT -d 10.0.0.1 -j RETURN", "COMMIT",
        ] {
            #expect(rules.split(separator: "\n").contains(Substring(line)), "\(line) in:\n\(rules)")
        }
        let (nodeStatus, node) = try await runChancery([
            "mesh-init", "--node-proxy", "--pod-interface", "cni0", "--node-addresses", "10.244.1.1", "--pod-cidrs", "10.244.1.0/24",
        ])
        #expect(nodeStatus == 0)
        for line in [
            "-A PREROUTING -i cni0 -p tcp -j CHANCERY_NODE", "-A CHANCERY_NODE -d 10.244.1.1 -j RETURN",
            "-A CHANCERY_NODE -p tcp -j REDIRECT --to-ports 15001",
            "-A PREROUTING ! -i cni0 -p tcp -d 10.244.1.0/24 -j REDIRECT --to-ports 15006",
        ] {
            #expect(node.split(separator: "\n").contains(Substring(line)), "\(line) in:\n\(node)")
        }
    }

    /// `wait` for a group that does not exist says so at once and lists the groups.
    @Test func waitForAnUnknownGroupFailsAtOnce() async throws {
        let chancery = try await ChanceryProcess.serve(["--config-dir", root + "/examples/quickstart"])
        defer { chancery.stop() }
        let started = ContinuousClock.now
        let (status, output) = try await runChancery([
            "wait", "--admin", chancery.adminAddress.description, "--group", "default/quickstrat", "--timeout", "60s",
        ])
        #expect(status == 1)
        #expect(output.contains("no proxy group \"default/quickstrat\"; groups: chancery, default/quickstart"), "\(output)")
        #expect(!output.contains("timed out"), "\(output)")
        // Not after waiting out its timeout.
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func gatewayAddressesTheProxiesDoNotHaveAreNotServed() async throws {
        let quickstart = root + "/examples/quickstart"
        // The quickstart Gateway asks for 127.0.0.1.
        let (status, output) = try await runChancery(["validate", "--config-dir", quickstart, "--gateway-addresses", "10.0.0.0/8"])
        // The Gateway is accepted but not served, so its route is refused.
        #expect(status == 1, "\(output)")
        #expect(output.contains("ok       Gateway default/quickstart"), "\(output)")
        #expect(
            output.contains(
                "Accepted=False (NoMatchingParent) Gateway default/quickstart is not served: 127.0.0.1 is not an address"),
            "\(output)")
        #expect(
            output.contains(
                "Programmed=False (AddressNotUsable) 127.0.0.1 is not an address the proxies can listen on (--gateway-addresses 10.0.0.0/8)"
            ), "\(output)")
        let (fine, served) = try await runChancery(["validate", "--config-dir", quickstart, "--gateway-addresses", "10.0.0.0/8,127.0.0.0/8"])
        #expect(fine == 0, "\(served)")
        #expect(served.contains("Programmed=True (Programmed) in the configuration of proxy groups"), "\(served)")

        let (bad, message) = try await runChancery(["validate", "--config-dir", quickstart, "--gateway-addresses", "10.0.0.0/8,lan"])
        #expect(bad != 0)
        #expect(message.contains("--gateway-addresses: \"lan\" is neither an IP address nor a CIDR block"), "\(message)")
        let (empty, refused) = try await runChancery(["validate", "--config-dir", quickstart, "--gateway-addresses", ""])
        #expect(empty != 0)
        #expect(refused.contains("--gateway-addresses: give at least one IP address or CIDR block"), "\(refused)")
    }

    @Test func validateRefusesRegexesEnvoyWouldRefuseNamingTheField() async throws {
        let dir = root + "/testdata/translation/regex-check"
        let (status, output) = try await runChancery(["validate", "--config-dir", dir])
        #expect(status == 1, "\(output)")
        #expect(output.contains("REJECTED       HTTPRoute app/mixed (\(dir)/input.yaml:"), "\(output)")
        #expect(
            output.contains(
                "PartiallyInvalid=True (UnsupportedValue) Dropped Rule 1: spec.rules[1].matches[0].path.value: /re/(?!admin).*: RE2 refuses it: invalid perl operator: (?!"
            ), "\(output)")
        #expect(
            output.contains("Accepted=False (UnsupportedValue) Dropped Rule 0: spec.rules[0].filters[0].cors.allowOrigins[0]:"),
            "\(output)")
        #expect(output.contains("Dropped Rule 0: spec.rules[0].matches[0].method:"), "\(output)")
    }

    @Test func limitsAreFlagsAndSayWhatWasNotRead() async throws {
        let quickstart = root + "/examples/quickstart"
        let (status, output) = try await runChancery(["validate", "--config-dir", quickstart, "--max-file-size", "100"])
        #expect(status == 1, "\(output)")
        #expect(
            output.contains("REJECTED \(quickstart)/gateway.yaml:1: not read: the file is") && output.contains("over the limit of 100 B (--max-file-size)"),
            "\(output)")
        let (capped, cappedOutput) = try await runChancery(["validate", "--config-dir", quickstart, "--max-objects-per-kind", "1"])
        #expect(capped == 0, "one object per kind is all the quickstart has: \(cappedOutput)")
        let (bad, message) = try await runChancery(["validate", "--config-dir", quickstart, "--max-object-size", "12MB"])
        #expect(bad != 0)
        #expect(message.contains("\"12MB\" is not a size: give bytes, or a number with KiB, MiB or GiB (64MiB)"), "\(message)")
    }

    /// A listener on a port taken on the proxies' hosts (Envoy's own admin port, by
    /// default) would be rejected by every Envoy: it is refused before any sees it.
    @Test func listenersOnReservedPortsAreRefusedBeforeEnvoySeesThem() async throws {
        let quickstart = root + "/examples/quickstart"
        let (status, output) = try await runChancery(["validate", "--config-dir", quickstart, "--reserved-ports", "9901,8080"])
        #expect(status == 1, "\(output)")
        #expect(
            output.contains("listener http (attachedRoutes: 0)\n      Accepted=False (PortUnavailable) port 8080 is taken on the proxies' hosts"),
            "\(output)")
        let (translated, json) = try await runChancery([
            "translate", "--config-dir", quickstart, "--proxy", "default/quickstart", "--reserved-ports", "8080",
        ])
        #expect(translated == 0, "\(json)")
        let resources = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let listeners = try #require(resources?["listeners"] as? [[String: Any]], "\(json)")
        #expect(listeners.isEmpty, "never sent: \(json)")
        #expect(try await runChancery(["validate", "--config-dir", quickstart]).status == 0, "8080 is free by default")
        let (bad, message) = try await runChancery(["validate", "--config-dir", quickstart, "--reserved-ports", "70000"])
        #expect(bad != 0)
        #expect(message.contains("--reserved-ports: \"70000\" is not a port"), "\(message)")
    }

    @Test func translatePrintsEnvoyJSON() async throws {
        let (status, output) = try await runChancery([
            "translate", "--config-dir", root + "/examples/quickstart", "--proxy", "default/quickstart",
        ])
        #expect(status == 0, "\(output)")
        let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        let listeners = json?["listeners"] as? [[String: Any]]
        #expect(listeners?.first?["name"] as? String == "127.0.0.1:8080")
        #expect((json?["clusters"] as? [[String: Any]])?.first?["name"] as? String == "default/web:80")

        let (missing, message) = try await runChancery([
            "translate", "--config-dir", root + "/examples/quickstart", "--proxy", "nope/nothing",
        ])
        #expect(missing != 0)
        #expect(message.contains("no proxy group \"nope/nothing\"; groups: chancery, default/quickstart"))
    }

    @Test func translateAndValidateShowTheIR() async throws {
        let quickstart = root + "/examples/quickstart"
        let (status, output) = try await runChancery(["translate", "--config-dir", quickstart, "--proxy", "default/quickstart", "--ir"])
        #expect(status == 0, "\(output)")
        let plan = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        let listener = (plan?["listeners"] as? [[String: Any]])?.first
        #expect(listener?["name"] as? String == "127.0.0.1:8080")
        #expect((plan?["clusters"] as? [[String: Any]])?.first?["name"] as? String == "default/web:80")

        let (all, allOutput) = try await runChancery(["translate", "--config-dir", quickstart, "--ir"])
        #expect(all == 0)
        let plans = try JSONSerialization.jsonObject(with: Data(allOutput.utf8)) as? [String: Any]
        #expect(plans?.keys.sorted() == ["chancery", "default/quickstart"], "every group without --proxy")

        let (valid, report) = try await runChancery(["validate", "--config-dir", quickstart, "--ir", "default/quickstart"])
        #expect(valid == 0, "\(report)")
        #expect(report.contains("Plan of proxy group default/quickstart:"))
        #expect(report.contains("\"virtualHosts\""))
    }

    /// SIGTERM (what Kubernetes sends) shuts every part down in order and exits 0, without
    /// an error line: the ServiceGroup's graceful shutdown.
    @Test func serveStopsCleanlyOnSIGTERM() async throws {
        let chancery = try await ChanceryProcess.serve(["--config-dir", root + "/examples/quickstart", "--log-level", "debug"])
        #expect(try await chancery.admin("/readyz").status == 200)
        let started = ContinuousClock.now
        chancery.process.stop(grace: .seconds(10))
        #expect(chancery.process.status == 0, "\(chancery.output)")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(chancery.output.contains("stopped"), "\(chancery.output)")
        let errors = chancery.output.split(separator: "\n").filter { $0.contains(" error ") || $0.contains(" critical ") }
        #expect(errors.isEmpty, "\(errors)")
        chancery.stop()
    }

    /// The README's promise: `chancery serve` with no arguments plus the bootstrap it
    /// prints lets a new user reach the quickstart backend through Envoy.
    @Test func quickstartServesTrafficThroughEnvoy() async throws {
        let backend = try await EchoBackend.start(name: "quickstart-backend", port: 9000)
        let chancery = try await ChanceryProcess.serve([])
        defer { chancery.stop() }
        #expect(chancery.output.contains("proxy groups: chancery, default/quickstart"))
        #expect(chancery.output.contains("--proxy default/quickstart"))
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: "default/quickstart", nodeID: "qs", adminPort: 0))
        defer { envoy.stop() }
        var last = ""
        let served = await eventually {
            let result = try await httpGet(port: 8080, path: "/hello")
            last = "\(result.status) \(result.headers)"
            return result.status == 200 && result.backend == "quickstart-backend"
                && result.headers["x-served-by"] == "chancery-quickstart"
        }
        #expect(served, "last: \(last)\n\(chancery.output)")
        await backend.stop()
    }
}
