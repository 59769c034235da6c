import Foundation
import Testing
import TestSupport
import XDS
import Yams

/// Table-driven Gateway API scenarios through the real `chancery serve` and a real
/// Envoy. Each `testdata/e2e/*.yaml` holds Kubernetes YAML (with `{{port}}` for the
/// Gateway's port and `{{NAME}}` for each echo backend's port) and the requests to
/// send, with what must come back: status, which backend answered, what it saw.
@Suite(.serialized) struct GatewayScenarioTests {
    struct Scenario: Decodable {
        var description: String
        var backends: [String]
        /// The proxy group the Envoy joins.
        var proxy: String
        var config: String
        var steps: [Step]
    }

    struct Step: Decodable {
        /// Replace the config file with this (atomically, as editors save).
        var edit: String?
        /// How long the change may take to show (seconds).
        var within: Double?
        var request: Request?
        var sample: Sample?
    }

    struct Request: Decodable {
        var path: String?
        var host: String?
        var method: String?
        var headers: [String: String]?
        var expect: Expect
    }

    struct Expect: Decodable {
        var status: Int?
        var backend: String?
        /// Path, host and headers as the backend received them.
        var path: String?
        var host: String?
        var headers: [String: String]?
        var absentHeaders: [String]?
        var responseHeaders: [String: String]?
        var absentResponseHeaders: [String]?
        var body: String?
        /// A copy of the request reaches this backend (RequestMirror).
        var mirroredTo: String?
        /// How many times the request reached a backend (retries), by path.
        var attempts: Int?
    }

    /// Many requests, and the share each backend must get.
    struct Sample: Decodable {
        var path: String?
        var host: String?
        var count: Int
        var shares: [String: Double]
        var tolerance: Double
        var statuses: [String: Double]?
        /// The share of the requests a mirror backend got copies of (RequestMirror
        /// percent or fraction).
        var mirrored: [String: Double]?
    }

    static let directory = EnvoyProcess.packageRoot.appendingPathComponent("testdata/e2e")
    static let names: [String] = {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.sorted()
    }()

    @Test func thereAreScenarios() {
        #expect(Self.names.count >= 8)
    }

    @Test(arguments: names)
    func scenario(_ file: String) async throws {
        let text = try String(contentsOf: Self.directory.appendingPathComponent(file), encoding: .utf8)
        var backends: [String: EchoBackend] = [:]
        for name in try YAMLDecoder().decode(Scenario.self, from: text).backends {
            backends[name] = try await EchoBackend.start(name: name)
        }
        let port = try freePort()
        // Placeholders anywhere in the scenario (config, edits, expectations).
        var rendered = text.replacingOccurrences(of: "{{port}}", with: String(port))
        for (name, backend) in backends {
            rendered = rendered.replacingOccurrences(of: "{{\(name)}}", with: String(backend.port))
        }
        let scenario = try YAMLDecoder().decode(Scenario.self, from: rendered)
        func render(_ config: String) -> String { config }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let configFile = dir.appendingPathComponent("config.yaml")
        try render(scenario.config).write(to: configFile, atomically: true, encoding: .utf8)

        let chancery = try await ChanceryProcess.serve(["--config-dir", dir.path])
        defer { chancery.stop() }
        let envoy = try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: chancery.xdsAddress, group: scenario.proxy, nodeID: "e2e", adminPort: 0))
        defer { envoy.stop() }
        let context = "\(file): \(scenario.description)"

        var first = true
        for (index, step) in scenario.steps.enumerated() {
            let where_ = "\(context), step \(index + 1)"
            if let edit = step.edit {
                try render(edit).write(to: configFile, atomically: true, encoding: .utf8)
            }
            if let request = step.request {
                // The first request waits for Envoy to get its config; after an edit, the
                // change must show within the step's bound (1 s unless said).
                let wait: Duration = first ? .seconds(20) : step.edit != nil ? .milliseconds(Int((step.within ?? 1) * 1000)) : .zero
                var problems: [String] = []
                let ok = await eventually(timeout: wait) {
                    problems = try await check(request, port: port, backends: backends)
                    return problems.isEmpty
                }
                if !ok, problems.isEmpty {
                    problems = (try? await check(request, port: port, backends: backends)) ?? ["no answer"]
                }
                #expect(
                    ok, "\(where_): \(request.method ?? "GET") \(request.host ?? "example.com")\(request.path ?? "/"): \(problems.joined(separator: "; "))\nchancery:\n\(chancery.output.suffix(1500))")
                first = false
            }
            if let sample = step.sample {
                var counts: [String: Int] = [:]
                var statuses: [String: Int] = [:]
                // Copies are sent after the answer, and may trail it on a busy machine:
                // before counting and after, wait until none has arrived for half a
                // second (10 s at most), so that a step counts only its own.
                func settle(_ names: some Sequence<String>) async throws {
                    var seen = -1
                    let deadline = ContinuousClock.now + .seconds(10)
                    while ContinuousClock.now < deadline {
                        let now = names.reduce(0) { $0 + (backends[$1]?.received.count ?? 0) }
                        if now == seen { return }
                        seen = now
                        try await Task.sleep(for: .milliseconds(500))
                    }
                }
                if let mirrored = sample.mirrored { try await settle(mirrored.keys) }
                let mirroredBefore = (sample.mirrored ?? [:]).mapValues { _ in 0 }.merging(
                    backends.mapValues(\.received.count), uniquingKeysWith: { $1 })
                for _ in 0..<sample.count {
                    let result = try await httpGet(port: port, path: sample.path ?? "/", host: sample.host ?? "example.com")
                    statuses[String(result.status), default: 0] += 1
                    if let backend = result.backend { counts[backend, default: 0] += 1 }
                }
                for (backend, share) in sample.shares {
                    let actual = Double(counts[backend] ?? 0) / Double(sample.count)
                    #expect(
                        abs(actual - share) <= sample.tolerance,
                        "\(where_): backend \(backend) got \(actual) of \(sample.count) requests, expected \(share) ± \(sample.tolerance); all: \(counts), statuses \(statuses)")
                }
                if let mirrored = sample.mirrored {
                    try await settle(mirrored.keys)
                    for (backend, share) in mirrored {
                        let copies = (backends[backend]?.received.count ?? 0) - (mirroredBefore[backend] ?? 0) - (counts[backend] ?? 0)
                        let actual = Double(copies) / Double(sample.count)
                        #expect(
                            abs(actual - share) <= sample.tolerance,
                            "\(where_): \(backend) got copies of \(actual) of \(sample.count) requests, expected \(share) ± \(sample.tolerance)")
                    }
                }
                for (status, share) in sample.statuses ?? [:] {
                    let actual = Double(statuses[status] ?? 0) / Double(sample.count)
                    #expect(
                        abs(actual - share) <= sample.tolerance,
                        "\(where_): status \(status) was \(actual) of answers, expected \(share) ± \(sample.tolerance); all: \(statuses)")
                }
                first = false
            }
        }
        for backend in backends.values { await backend.stop() }
    }

    /// What is wrong with the answer to `request` (empty when it is as expected).
    func check(_ request: Request, port: Int, backends: [String: EchoBackend]) async throws -> [String] {
        let mirrorsBefore = request.expect.mirroredTo.map { backends[$0]?.received.count ?? 0 } ?? 0
        let path = request.path ?? "/"
        func arrivals() -> Int { backends.values.reduce(0) { $0 + $1.received.count { $0.path == path } } }
        let arrivalsBefore = arrivals()
        let result = try await httpGet(
            port: port, path: request.path ?? "/", host: request.host ?? "example.com", method: request.method ?? "GET",
            headers: (request.headers ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        let expect = request.expect
        var problems: [String] = []
        if let status = expect.status, result.status != status { problems.append("status \(result.status), expected \(status)") }
        if let backend = expect.backend, result.backend != backend {
            problems.append("answered by \(result.backend ?? "no backend"), expected \(backend)")
        }
        let echo = result.echo
        if let path = expect.path, echo?.path != path { problems.append("backend saw path \(echo?.path ?? "-"), expected \(path)") }
        if let host = expect.host, echo?.headers["host"] != host {
            problems.append("backend saw host \(echo?.headers["host"] ?? "-"), expected \(host)")
        }
        for (name, value) in expect.headers ?? [:] where echo?.headers[name.lowercased()] != value {
            problems.append("backend saw \(name): \(echo?.headers[name.lowercased()] ?? "(none)"), expected \(value)")
        }
        for name in expect.absentHeaders ?? [] where echo?.headers[name.lowercased()] != nil {
            problems.append("backend saw \(name), which should have been removed")
        }
        for (name, value) in expect.responseHeaders ?? [:] where result.headers[name.lowercased()] != value {
            problems.append("response \(name): \(result.headers[name.lowercased()] ?? "(none)"), expected \(value)")
        }
        for name in expect.absentResponseHeaders ?? [] where result.headers[name.lowercased()] != nil {
            problems.append("response has \(name), which should have been removed")
        }
        if let body = expect.body, !result.text.contains(body) { problems.append("body lacks \(body)") }
        if let attempts = expect.attempts, arrivals() - arrivalsBefore != attempts {
            problems.append("the request reached backends \(arrivals() - arrivalsBefore) times, expected \(attempts)")
        }
        if let mirror = expect.mirroredTo {
            let arrived = await eventually(timeout: .seconds(2)) {
                (backends[mirror]?.received.dropFirst(mirrorsBefore) ?? []).contains { $0.path == path }
            }
            if !arrived { problems.append("no mirrored copy of \(path) reached \(mirror)") }
        }
        return problems
    }
}
