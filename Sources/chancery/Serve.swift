import ArgumentParser
import Foundation
import Logging
import XDS

extension Chancery {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve xDS to Envoy.")

        @Option(help: "Address for the xDS gRPC server (HOST:PORT; port 0 picks one).", transform: parseHostPort)
        var xdsAddress: HostPort = HostPort(host: "127.0.0.1", port: 18000)

        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel: String = "info"

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
            let cache = SnapshotCache()
            let discovery = DiscoveryService(cache: cache, registry: ClientRegistry())
            let server = XDSServer(address: xdsAddress, discovery: discovery)

            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await server.run() }
                tasks.addTask { try await SignalWatcher.waitForTermination() }
                let bound = try await server.boundAddress()
                say(
                    """
                    xDS (ADS, state of the world and delta) listening on \(bound)
                    Point an Envoy at it:
                      chancery bootstrap --xds-address \(bound) --proxy GROUP > envoy.yaml && envoy -c envoy.yaml
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
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
