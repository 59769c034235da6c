import Admin
import ArgumentParser
import ConfigSources
import Foundation
import GatewayModel
import Logging
import MeshIdentity
import Metrics
import Prometheus
import ServiceLifecycle
import Translation
import XDS

extension Chancery {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Watch Gateway API objects and serve them to Envoy over xDS.",
            discussion: "With no --config-dir and no cluster (--kubeconfig, --in-cluster), serves the bundled example in examples/quickstart.")

        @Option(name: .customLong("config-dir"), help: "Directory of Kubernetes YAML to watch (repeatable).")
        var configDirs: [String] = []

        @Option(
            help: "Address for the xDS gRPC server (HOST:PORT; port 0 picks one). (default: \(HostPort.defaultXDS))",
            transform: parseHostPort)
        var xdsAddress: HostPort = .defaultXDS

        @Option(
            help: "Also serve xDS on this unix socket (for proxies in other network namespaces of this host: sidecars, node-level proxies).")
        var xdsSocket: String?

        @Option(
            help: ArgumentHelp(
                "Permissions of the --xds-socket file, in octal: who may connect (proxies running as another user need group or other write).",
                valueName: "MODE"),
            transform: { text in
                guard let mode = UInt16(text, radix: 8), mode <= 0o777 else {
                    throw ValidationError("--xds-socket-mode must be an octal mode such as 0660, not '\(text)'")
                }
                return mode
            })
        var xdsSocketMode: UInt16 = 0o660

        @Option(
            help: "Address for the admin HTTP endpoint (HOST:PORT; port 0 picks one). (default: \(HostPort.defaultAdmin))",
            transform: parseHostPort)
        var adminAddress: HostPort = .defaultAdmin

        @Option(help: "File holding a bearer token the admin endpoint requires (needed beyond loopback).")
        var adminTokenFile: String?

        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel: String = "info"

        @Option(help: "Log format on standard error: text (a line each, for people) or json (an object a line, for collectors).")
        var logFormat: LogFormat = .text

        @Option(help: "Read objects from the Kubernetes API server of this kubeconfig (current context unless --context).")
        var kubeconfig: String?

        @Option(help: "The kubeconfig context to use.")
        var context: String?

        @Flag(help: "Read objects from the cluster this Pod runs in (service-account token, CA and KUBERNETES_SERVICE_HOST/PORT).")
        var inCluster = false

        @Option(name: .customLong("watch-namespace"), help: "Watch only this namespace (repeatable; default all).")
        var watchNamespaces: [String] = []

        @Option(help: "Namespace of the leader-election Lease (default: the context's or the Pod's namespace).")
        var leaderElectionNamespace: String?

        @Option(help: "Leader-election lease duration in seconds; the leader renews every third of it.")
        var leaseDuration: Int = 15

        @Option(help: "This replica's identity in the Lease (default: host name and process id).")
        var identity: String?

        @Option(help: "Objects per page when listing from the Kubernetes API.")
        var listPageSize: Int = 500

        @Option(help: "Seconds a Kubernetes watch may send nothing (not even a bookmark) before it is started again.")
        var watchIdleTimeout: Int = 120

        @Option(
            help: ArgumentHelp(
                "Directory of the mesh CA (ca.crt, ca.key, optional trust-bundle.pem); made there on first start.",
                discussion: "Default: the Secret chancery-mesh-ca of Chancery's namespace with a cluster, ~/.local/state/chancery/mesh-ca without."))
        var meshCADir: String?
        @Option(help: "Kubernetes Secret NAMESPACE/NAME holding the mesh CA (ca.crt, ca.key, optional trust-bundle.pem); made there on first start.")
        var meshCASecret: String?
        @Option(name: .customLong("workload-cert-ttl"), help: "Seconds a mesh workload certificate is valid; renewed at half.")
        var workloadCertTTL: Int = Int(MeshCA.defaultLifetime)
        @Option(help: "PEM certificate chain the xDS address serves TLS with (with --xds-tls-key).")
        var xdsTLSCert: String?
        @Option(help: "PEM private key of --xds-tls-cert.")
        var xdsTLSKey: String?
        @Option(help: "PEM CA bundle: every proxy on the xDS address must present a certificate it verifies (needs --xds-tls-cert).")
        var xdsClientCA: String?
        @Option(
            help: ArgumentHelp(
                "open: proxies without credentials are served; required: every stream needs a client certificate or a service account token.",
                discussion: "Either way, credentials a stream presents must own the group it asks for."))
        var xdsAuth: XDSAccess.Mode = .open
        @Option(help: "A SPIFFE ID that may have any group but a sidecar's: node-level proxies, shared gateway fleets (repeatable).")
        var xdsTrustedIdentity: [String] = []
        @OptionGroup var proxyHost: ProxyHostOptions

        @Flag(help: .hidden)
        var corruptAnnotatedForTests = false

        @OptionGroup var sourceLimits: SourceLimitOptions

        /// The Kubernetes source, its status writer and leader elector.
        struct Kubernetes: Sendable {
            let source: KubernetesSource
            let status: StatusSync
            let elector: LeaderElector
            /// The context's (or the Pod's) namespace: where Chancery's own objects live.
            let namespace: String
        }

        func makeKubernetes(logger: Logger, debounce: Debounce) throws -> Kubernetes? {
            if kubeconfig != nil, inCluster { throw ValidationError("use either --kubeconfig or --in-cluster, not both") }
            let connection: KubeConnection
            do {
                if let kubeconfig {
                    connection = try KubeConnection.kubeconfig(path: kubeconfig, context: context)
                } else if inCluster {
                    connection = try KubeConnection.inCluster()
                } else {
                    return nil
                }
                if connection.insecureSkipTLSVerify {
                    logger.warning(
                        "insecure-skip-tls-verify is set: the API server's certificate is NOT checked; anyone on the path can impersonate it"
                    )
                }
                let client = try KubeClient(
                    connection, connectionLimit: WatchedKind.all.count * max(watchNamespaces.count, 1) + 16)
                let source = KubernetesSource(
                    client: client, namespaces: watchNamespaces, pageSize: listPageSize,
                    watchIdleTimeout: .seconds(max(watchIdleTimeout, 1)), debounce: debounce, logger: logger)
                let writer = StatusWriter(source: source, logger: logger)
                let me = identity ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
                let elector = LeaderElector(
                    client: client, namespace: leaderElectionNamespace ?? connection.namespace, identity: me,
                    leaseDuration: .seconds(max(leaseDuration, 2)), logger: logger)
                return Kubernetes(
                    source: source, status: StatusSync(writer: writer), elector: elector, namespace: connection.namespace)
            } catch let error as KubeConfigError {
                throw ValidationError(error.description)
            }
        }

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

        /// The mesh CA, kept where the flags say — `--mesh-ca-secret`, `--mesh-ca-dir` — or
        /// by default in the Secret `chancery-mesh-ca` of Chancery's namespace with a
        /// cluster, in `$XDG_STATE_HOME/chancery/mesh-ca` (`~/.local/state/…`) without one;
        /// made there on first start. Where a default place cannot be used (no permission on
        /// Secrets, an API server that does not answer at start, a state directory that
        /// cannot be written), a CA made in memory stands in, with a warning: Gateways keep
        /// being served. A default place holding something that is not a whole CA stops
        /// `serve`, as does any problem with a place the flags name.
        func meshCA(logger: Logger, kube: Kubernetes?) async throws -> MeshCA {
            let lifetime = TimeInterval(workloadCertTTL)
            let trustDomain = proxyHost.trustDomain
            do {
                if let meshCASecret {
                    guard let kube else { throw ValidationError("--mesh-ca-secret needs the cluster (--kubeconfig or --in-cluster)") }
                    let parts = meshCASecret.split(separator: "/")
                    return try await MeshCASecret.load(
                        client: kube.source.client, namespace: String(parts[0]), name: String(parts[1]),
                        trustDomain: trustDomain, lifetime: lifetime, logger: logger)
                }
                if let meshCADir {
                    let ca = try MeshCA.load(directory: URL(fileURLWithPath: meshCADir), trustDomain: trustDomain, lifetime: lifetime)
                    logger.info("mesh CA loaded", metadata: ["directory": "\(meshCADir)"])
                    return ca
                }
            } catch let error as ValidationError {
                throw error
            } catch {
                throw ValidationError("\(error)")
            }
            do {
                if let kube {
                    return try await MeshCASecret.load(
                        client: kube.source.client, namespace: kube.namespace, name: MeshCASecret.defaultName,
                        trustDomain: trustDomain, lifetime: lifetime, logger: logger)
                }
                let directory = Self.defaultMeshCADirectory()
                let ca = try MeshCA.load(directory: directory, trustDomain: trustDomain, lifetime: lifetime)
                logger.info("mesh CA loaded", metadata: ["directory": "\(directory.path)"])
                return ca
            } catch let error where !Self.holdsABrokenCA(error) {
                logger.warning(
                    "the mesh CA cannot be kept in its default place, so one made in memory is used: workload certificates change when Chancery restarts (--mesh-ca-secret or --mesh-ca-dir name a place)",
                    metadata: ["error": "\(KubernetesSource.reason(error))"])
                do {
                    return try MeshCA.generate(trustDomain: trustDomain, lifetime: lifetime)
                } catch {
                    throw ValidationError("\(error)")
                }
            } catch {
                throw ValidationError("\(error)")
            }
        }

        /// Whether the CA's place was read and holds something that is not a whole CA
        /// (rather than being out of reach).
        static func holdsABrokenCA(_ error: any Error) -> Bool {
            if let failed = error as? MeshCASecret.Failed { return failed.content }
            if let problem = error as? MeshCAError {
                if case .unwritable = problem { return false }
                return true
            }
            return false
        }

        /// `$XDG_STATE_HOME/chancery/mesh-ca`, else `~/.local/state/chancery/mesh-ca`.
        static func defaultMeshCADirectory() -> URL {
            let environment = ProcessInfo.processInfo.environment
            let state =
                environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/state")
            return state.appendingPathComponent("chancery/mesh-ca")
        }

        func validate() throws {
            if let meshCASecret {
                let parts = meshCASecret.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw ValidationError("--mesh-ca-secret must be NAMESPACE/NAME, not '\(meshCASecret)'")
                }
                if meshCADir != nil { throw ValidationError("give --mesh-ca-secret or --mesh-ca-dir, not both") }
            }
            if (xdsTLSCert == nil) != (xdsTLSKey == nil) { throw ValidationError("--xds-tls-cert and --xds-tls-key go together") }
            if xdsClientCA != nil, xdsTLSCert == nil { throw ValidationError("--xds-client-ca needs --xds-tls-cert and --xds-tls-key") }
            for path in [xdsTLSCert, xdsTLSKey, xdsClientCA].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: path) {
                throw ValidationError("cannot read \(path)")
            }
            for identity in xdsTrustedIdentity where !identity.hasPrefix("spiffe://") {
                throw ValidationError("--xds-trusted-identity takes a SPIFFE ID (spiffe://TRUST-DOMAIN/ns/NAMESPACE/sa/NAME), not '\(identity)'")
            }
            try StartupChecks.configDirectories(configDirs)
            try StartupChecks.canListen(on: xdsAddress, flag: "--xds-address")
            try StartupChecks.canListen(on: adminAddress, flag: "--admin-address")
        }

        func run() async throws {
            ProcessMemory.configureAllocator()
            guard let level = Logger.Level(rawValue: logLevel) else {
                throw ValidationError("unknown --log-level '\(logLevel)'")
            }
            let format = logFormat
            LoggingSystem.bootstrap { label in
                switch format {
                case .text:
                    var handler = StreamLogHandler.standardError(label: label)
                    handler.logLevel = level
                    return handler
                case .json:
                    return JSONLogHandler(label: label, level: level)
                }
            }
            let logger = Logger(label: "chancery")
            let usesCluster = kubeconfig != nil || inCluster
            let directories = configDirs.isEmpty && !usesCluster ? [Self.quickstart()] : configDirs
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
            let access = XDSAccess(mode: xdsAuth, trusted: Set(xdsTrustedIdentity))
            let discovery = DiscoveryService(cache: cache, registry: registry, grouping: MeshGrouping(), access: access)
            // The sources wait for a burst to pause for a window that follows what a
            // change costs the pipeline to handle (`Debounce`).
            let changeCost = ChangeCost()
            let debounce = Debounce.following(changeCost)
            let kube = try makeKubernetes(logger: logger, debounce: debounce)
            // The mesh CA first (it may be read from the cluster): a failure stops here,
            // after the cluster's client is shut down (it must be, before it goes away).
            let ca: MeshCA
            do {
                ca = try await meshCA(logger: logger, kube: kube)
            } catch {
                await kube?.source.client.shutdown()
                throw error
            }
            let tls = xdsTLSCert.map { XDSTLS(certificateChain: $0, privateKey: xdsTLSKey ?? "", clientCA: xdsClientCA) }
            if tls == nil, !xdsAddress.isLoopback {
                logger.warning(
                    "xDS is served in plaintext on a non-loopback address: whoever reaches \(xdsAddress) reads what it asks for and sees every token sent; give --xds-tls-cert and --xds-tls-key (docs/mesh-security.md)")
            }
            if let xdsSocket, let type = try? FileManager.default.attributesOfItem(atPath: xdsSocket)[.type] as? FileAttributeType,
                type == .typeSocket
            {
                // A socket left by a previous run: nobody listens on it any more.
                try? FileManager.default.removeItem(atPath: xdsSocket)
            }
            let server = XDSServer(
                address: xdsAddress, socketPath: xdsSocket, discovery: discovery, tls: tls, trustDomain: proxyHost.trustDomain,
                tokenReviewer: kube.map { KubeTokenReviewer(client: $0.source.client) })
            let admin: AdminServer
            do {
                admin = try AdminServer(
                    address: adminAddress, token: token, cache: cache, registry: registry, state: adminState,
                    metrics: metrics,
                    planner: Planner(
                        gatewayAddresses: proxyHost.usable, reservedPorts: proxyHost.reservedPorts, limits: sourceLimits.limits,
                        ingressPorts: proxyHost.ingressPorts, trustDomain: proxyHost.trustDomain, meshCertificates: ca,
                        routeLayout: proxyHost.routeLayout))
            } catch {
                await kube?.source.client.shutdown()
                throw ValidationError("\(error)")
            }
            // Files first: where a file and the cluster define the same object, the file wins.
            var sources: [any ConfigSource] = []
            if !directories.isEmpty {
                sources.append(FileSource(directories: directories, limits: sourceLimits.limits, debounce: debounce))
            }
            if let kube { sources.append(kube.source) }
            let merged = SourceMerger(sources)
            var pipeline = Pipeline(
                cache: cache, admin: adminState, logger: logger, gatewayAddresses: proxyHost.usable, reservedPorts: proxyHost.reservedPorts,
                maxObjectsPerKind: sourceLimits.maxObjectsPerKind, ingressPorts: proxyHost.ingressPorts,
                meshCA: ca, access: access, routeLayout: proxyHost.routeLayout)
            pipeline.corruptAnnotatedForTests = corruptAnnotatedForTests
            pipeline.trustDomain = proxyHost.trustDomain
            pipeline.changeCost = changeCost
            // From files alone, the first read builds the first snapshots before Envoy can
            // connect. With the cluster, nothing is built until every kind has synced, so
            // a restart never serves a half-empty configuration (and /readyz says so).
            let first = merged.readNow()
            let initial = first.map { pipeline.apply($0, source: Pipeline.startup) }

            // Named, so logs say which part is starting or stopping (and the group does
            // not describe services by reflection).
            var services: [(name: String, service: any ServiceLifecycle.Service)] = [
                (
                    "pipeline",
                    PipelineService(
                        sources: merged, pipeline: pipeline, admin: adminState, status: kube?.status,
                        recheckInterval: .seconds(3600), registry: registry)
                )
            ]
            if let kube {
                services.append(("status-writer", StatusWriterService(status: kube.status)))
                services.append(("leader-election", LeaderElectionService(elector: kube.elector, status: kube.status)))
            }
            // Shut down in reverse: the xDS server first (Envoys move to another replica),
            // then the admin endpoint, then the Lease is released.
            services.append(("admin", AdminService(server: admin)))
            services.append(("xds", XDSService(server: server)))
            var configuration = ServiceGroupConfiguration(
                services: services.map {
                    .init(service: $0.service, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: $0.name)
                },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            // A part that cannot stop (a Lease release to an unreachable API server) does
            // not keep the process alive: after 10 s it is cancelled, after 5 more given up.
            configuration.maximumGracefulShutdownDuration = .seconds(10)
            configuration.maximumCancellationDuration = .seconds(5)
            let group = ServiceGroup(configuration: configuration)

            enum Ended { case group, announced }
            do {
                try await withThrowingTaskGroup(of: Ended.self) { tasks in
                    tasks.addTask {
                        try await group.run()
                        return .group
                    }
                    tasks.addTask {
                        let bound = try await server.boundAddress()
                        let socket = try await server.boundSocket()
                        if let socket {
                            try FileManager.default.setAttributes(
                                [.posixPermissions: NSNumber(value: xdsSocketMode)], ofItemAtPath: socket)
                        }
                        let adminBound = try await admin.boundAddress()
                        let groups = initial?.plans.keys.sorted() ?? []
                        let example = groups.first { $0.contains("/") } ?? groups.first ?? "NAMESPACE/GATEWAY"
                        let watched = (directories + (kube.map { ["the Kubernetes API at \($0.source.client.connection.server)"] } ?? []))
                            .joined(separator: ", ")
                        let found =
                            initial == nil
                            ? "proxy groups appear once every kind has synced"
                            : "\(first?.manifests.count ?? 0) objects, proxy groups: \(groups.isEmpty ? "(none)" : groups.joined(separator: ", "))"
                        say(
                            """
                            Watching \(watched): \(found)
                            xDS (ADS, state of the world and delta) listening on \(bound)\(socket.map { "\nxDS also on unix socket \($0) (chancery bootstrap --xds-socket \($0))" } ?? "")
                            Admin: http://\(adminBound)/ (JSON under /api/v1, metrics at /metrics)\(token != nil ? ", bearer token required" : "")
                            Point an Envoy at it:
                              chancery bootstrap --xds-address \(bound) --proxy \(example) > envoy.yaml && envoy -c envoy.yaml
                            """)
                        logger.info("serving", metadata: ["xds": "\(bound)"])
                        return .announced
                    }
                    while let ended = try await tasks.next() {
                        if ended == .group {
                            tasks.cancelAll()
                            break
                        }
                    }
                }
            } catch {
                // The Kubernetes client is shut down however the services end.
                await kube?.source.client.shutdown()
                throw error
            }
            await kube?.source.client.shutdown()
            logger.info("stopped")
        }
    }
}

/// Writes a line to standard output at once (unbuffered), for people and scripts
/// waiting for the addresses.
func say(_ text: String, newline: Bool = true) {
    FileHandle.standardOutput.write(Data((newline ? text + "\n" : text).utf8))
}
