import Admin
import ArgumentParser
import ConfigSources
import Foundation
import Logging
import Metrics
import Prometheus
import XDS

extension Chancery {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Watch Gateway API objects and serve them to Envoy over xDS.",
            discussion: "With no --config-dir, serves the bundled example in examples/quickstart.")

        @Option(name: .customLong("config-dir"), help: "Directory of Kubernetes YAML to watch (repeatable).")
        var configDirs: [String] = []

        @Option(help: "Address for the xDS gRPC server (HOST:PORT; port 0 picks one).", transform: parseHostPort)
        var xdsAddress: HostPort = HostPort(host: "127.0.0.1", port: 18000)

        @Option(help: "Address for the admin HTTP endpoint (HOST:PORT; port 0 picks one).", transform: parseHostPort)
        var adminAddress: HostPort = HostPort(host: "127.0.0.1", port: 19000)

        @Option(help: "File holding a bearer token the admin endpoint requires (needed beyond loopback).")
        var adminTokenFile: String?

        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel: String = "info"

        /// The bundled example, found from the working directory (`swift run` runs in the
        /// package root) or next to the executable's package.
        static func quickstart() -> String {
            let candidates = [
                FileManager.default.currentDirectoryPath + "/examples/quickstart",
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent().appendingPathComponent("examples/quickstart").path,
            ]
            return candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[0]
        }

        func run() async throws {
            guard let level = Logger.Level(rawValue: logLevel) else {
                throw ValidationError("unknown --log-level '\(logLevel)'")
            }
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "chancery")
            let directories = configDirs.isEmpty ? [Self.quickstart()] : configDirs
            let metrics = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
            let token = try adminTokenFile.map { path in
                let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                guard !text.isEmpty else { throw ValidationError("--admin-token-file \(path) is empty") }
                return text
            }
            let cache = SnapshotCache()
            let registry = ClientRegistry()
            let adminState = AdminState()
            let discovery = DiscoveryService(cache: cache, registry: registry)
            let server = XDSServer(address: xdsAddress, discovery: discovery)
            let admin: AdminServer
            do {
                admin = try AdminServer(
                    address: adminAddress, token: token, cache: cache, registry: registry, state: adminState,
                    metrics: metrics)
            } catch {
                throw ValidationError("\(error)")
            }
            let source = FileSource(directories: directories)
            var pipeline = Pipeline(cache: cache, admin: adminState, logger: logger)
            // The first read builds the first snapshots before Envoy can connect; the
            // watch then starts from the same files (identical snapshots wake nobody).
            let first = source.load()
            let result = pipeline.apply(first)
            let watching = pipeline

            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await server.run() }
                tasks.addTask { try await admin.run() }
                tasks.addTask { try await SignalWatcher.waitForTermination() }
                tasks.addTask {
                    // File changes, and an hourly recheck so that certificates crossing
                    // their expiry (or the 14-day warning) are noticed without an edit.
                    var pipeline = watching
                    let (events, sink) = AsyncStream<PipelineEvent>.makeStream()
                    let forward = Task {
                        for await update in source.timedUpdates() { sink.yield(.update(update)) }
                        sink.finish()
                    }
                    let hourly = Task {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .seconds(3600))
                            sink.yield(.recheck)
                        }
                    }
                    defer {
                        forward.cancel()
                        hourly.cancel()
                    }
                    var latest = first
                    for await event in events {
                        switch event {
                        case .update(let update):
                            latest = update.set
                            pipeline.apply(update.set, seenAt: update.seenAt)
                        case .recheck:
                            pipeline.apply(latest, recheck: true)
                        }
                    }
                }
                let bound = try await server.boundAddress()
                let adminBound = try await admin.boundAddress()
                let groups = result.proxies.keys.sorted()
                let example = groups.first { $0.contains("/") } ?? groups.first ?? "NAMESPACE/GATEWAY"
                say(
                    """
                    Watching \(directories.joined(separator: ", ")): \(first.manifests.count) objects, \
                    proxy groups: \(groups.isEmpty ? "(none)" : groups.joined(separator: ", "))
                    xDS (ADS, state of the world and delta) listening on \(bound)
                    Admin: http://\(adminBound)/ (JSON under /api/v1, metrics at /metrics)\(token != nil ? ", bearer token required" : "")
                    Point an Envoy at it:
                      chancery bootstrap --xds-address \(bound) --proxy \(example) > envoy.yaml && envoy -c envoy.yaml
                    """)
                logger.info("serving", metadata: ["xds": "\(bound)"])
                // Whichever ends first — a signal or a server failure — ends the process:
                // stop listening, then close every stream so Envoys reconnect elsewhere.
                try await tasks.next()
                server.stopListening()
                tasks.cancelAll()
                logger.info("stopped")
            }
        }
    }
}

/// Writes a line to standard output at once (unbuffered), for people and scripts
/// waiting for the addresses.
func say(_ text: String, newline: Bool = true) {
    FileHandle.standardOutput.write(Data((newline ? text + "\n" : text).utf8))
}

/// What wakes the pipeline: a changed set of objects, or the hourly certificate recheck.
enum PipelineEvent: Sendable {
    case update(FileSource.Update)
    case recheck
}
