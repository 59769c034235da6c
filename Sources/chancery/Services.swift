import Admin
import ConfigSources
import Foundation
import Logging
import MeshIdentity
import ServiceLifecycle
import XDS

// What `serve` runs, as swift-service-lifecycle services in one ServiceGroup: the group
// starts them together, turns SIGTERM and SIGINT into a graceful shutdown (services
// shut down in reverse order of the list) and ends them all if one fails.

/// The xDS server. On shutdown it stops listening, tells every connection to open no
/// new stream, then closes every stream, so connected Envoys reconnect to another
/// replica at once.
struct XDSService: Service {
    let server: XDSServer

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            server.stop()
        }
    }
}

/// The admin endpoint (Hummingbird's server shuts down gracefully with the group).
struct AdminService: Service {
    let server: AdminServer

    func run() async throws { try await server.run() }
}

/// Campaigns for the Lease and tells the status writer whether this replica leads. On
/// shutdown the Lease is released, so another replica takes over at once.
struct LeaderElectionService: Service {
    let elector: LeaderElector
    let status: StatusSync

    func run() async {
        await cancelWhenGracefulShutdown {
            await elector.run { leading in status.setLeading(leading) }
        }
    }
}

/// Writes status to the cluster while this replica leads.
struct StatusWriterService: Service {
    let status: StatusSync

    func run() async {
        await cancelWhenGracefulShutdown { await status.run() }
    }
}

/// Sources → translation → snapshots: every change of any source, and an hourly
/// recheck so that certificates crossing their expiry (or the 14-day warning) are
/// noticed without an edit. Until every source has delivered, readiness says what it
/// waits for.
struct PipelineService: Service {
    let sources: SourceMerger
    let pipeline: Pipeline
    let admin: AdminState
    let status: StatusSync?
    let recheckInterval: Duration
    /// Tells of proxies rejecting pushes (quarantine) and coming in sync.
    let registry: ClientRegistry

    private enum Event: Sendable {
        case changed(MergedUpdate)
        case recheck
        case renew
        case rejected(ClientRegistry.Rejected)
        case synced(group: String)
    }

    func run() async {
        var pipeline = pipeline
        let (events, sink) = AsyncStream<Event>.makeStream()
        let sources = sources
        let admin = admin
        let recheckInterval = recheckInterval
        registry.observe { event in
            switch event {
            case .rejected(let rejected): sink.yield(.rejected(rejected))
            case .synced(let group): sink.yield(.synced(group: group))
            }
        }
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await update in sources.changes() { sink.yield(.changed(update)) }
            }
            tasks.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: recheckInterval)
                    sink.yield(.recheck)
                }
            }
            if let ca = pipeline.meshCA {
                tasks.addTask {
                    // Workload certificates are renewed once half their lifetime has passed.
                    while !Task.isCancelled {
                        let wait = ca.nextRenewal.map { max(0.2, $0.timeIntervalSinceNow) } ?? 60
                        try? await Task.sleep(for: .milliseconds(Int(min(wait, 60) * 1000)))
                        if ca.renewalDue { sink.yield(.renew) }
                    }
                }
            }
            tasks.addTask {
                // Readiness until the first translation: what the sources still wait for.
                while !Task.isCancelled, !admin.readiness.ready {
                    if let reason = sources.notReadyReason { admin.setNotReadyReason(reason) }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            var latest: MergedUpdate?
            for await event in events.cancelOnGracefulShutdown() {
                switch event {
                case .changed(let update):
                    latest = update
                    let result = pipeline.apply(update.set, seenAt: update.seenAt, source: update.source)
                    status?.submit(result.statuses)
                case .recheck, .renew:
                    guard let latest else { continue }
                    var source = "recheck"
                    if case .renew = event { source = "certificate-renewal" }
                    let result = pipeline.apply(latest.set, seenAt: Date(), source: source, recheck: true)
                    status?.submit(result.statuses)
                case .rejected(let rejected):
                    if let result = pipeline.rejected(rejected) { status?.submit(result.statuses) }
                case .synced(let group):
                    pipeline.proxySynced(group: group, registry: registry)
                    pipeline.fleetMayBeInSync(registry: registry)
                }
            }
            tasks.cancelAll()
        }
    }
}
