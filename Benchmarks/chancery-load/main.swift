import BenchmarkSupport
import EnvoyAPI
import Foundation
import GatewayModel
import Logging
import Translation
import XDS

#if canImport(Glibc)
    import Glibc
#endif

// chancery-load: K simulated Envoys over real gRPC (ADS, state of the world or delta),
// subscribing and ACKing as Envoy does. Bounded in clients and time; loopback only.
//
//   chancery-load [--clients 100] [--routes 1000] [--delta] [--changes 5] [--timeout 60]
//       Starts an in-process Chancery xDS server with a synthetic world of N routes,
//       connects K clients, then makes C one-route changes and reports how long until
//       every client held each new version; then deletes the routes, closes the
//       streams and reports RSS (repeated --cycles times).
//   chancery-load --target 127.0.0.1:18000 --group default/gw [--clients 100] [--delta]
//       Connects K clients to any ADS server and reports time to first full config
//       (CDS, EDS, LDS and RDS ACKed); then waits --watch seconds and reports how long
//       each change took to reach every client.

struct Options {
    var clients = 100
    var routes = 1000
    var delta = false
    var changes = 5
    var timeout = 60.0
    var target: HostPort?
    var group = "infra/gw"
    var watch = 0.0
    var cycles = 1

    init(_ arguments: [String]) {
        var it = arguments.dropFirst().makeIterator()
        while let a = it.next() {
            switch a {
            case "--clients": clients = Int(it.next() ?? "") ?? clients
            case "--routes": routes = Int(it.next() ?? "") ?? routes
            case "--delta": delta = true
            case "--changes": changes = Int(it.next() ?? "") ?? changes
            case "--timeout": timeout = Double(it.next() ?? "") ?? timeout
            case "--target": target = HostPort(it.next() ?? "")
            case "--group": group = it.next() ?? group
            case "--watch": watch = Double(it.next() ?? "") ?? watch
            case "--cycles": cycles = Int(it.next() ?? "") ?? cycles
            default:
                print("usage: chancery-load [--clients K] [--routes N] [--delta] [--changes C] [--timeout S] [--cycles N] [--target HOST:PORT --group G --watch S]")
                exit(a == "--help" ? 0 : 2)
            }
        }
        if let target, !(target.host.hasPrefix("127.") || target.host == "localhost" || target.host == "::1") {
            print("chancery-load only targets loopback addresses")
            exit(2)
        }
    }
}

func raiseFileLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

func percentile(_ values: [Double], _ p: Double) -> Double { Stats.percentile(values, p) }

func report(_ label: String, _ values: [Double]) {
    print(
        String(
            format: "%@: n=%d p50=%.1fms p99=%.1fms max=%.1fms", label, values.count, percentile(values, 0.5) * 1000,
            percentile(values, 0.99) * 1000, (values.max() ?? .nan) * 1000))
}

func rssMiB() -> Double { Stats.memoryMiB() }

#if canImport(Glibc)
    /// glibc's `malloc_trim` (in <malloc.h>, which the Glibc module does not export).
    @_silgen_name("malloc_trim") func mallocTrim(_ pad: Int) -> Int32
#endif

/// Kept between translations, as `chancery serve` keeps them (so their memory counts).
let translations = TranslationCache()
let encoder = SnapshotEncoder()

/// The synthetic world (plain routes), as a snapshot for one group.
func snapshot(routes: Int, variant: Int) throws -> Snapshot {
    let set = Worlds.gateway(routes: routes, variant: variant, detailed: false)
    let result = Translator(cache: translations).translate(set)
    let config = result.proxies["infra/gw"]!
    return try encoder.snapshot(for: "infra/gw", config)
}

let options = Options(CommandLine.arguments)
raiseFileLimit()
let deadline = Date().addingTimeInterval(options.timeout)
var logger = Logger(label: "chancery-load")
logger.logLevel = .error

var target: (String, Int)
var server: XDSServer?
var serverTask: Task<Void, any Error>?
let cache = SnapshotCache(logger: logger)
let registry = ClientRegistry()
let rssBefore = rssMiB()
/// The in-process server running with no routes and no streams: what scale-down should
/// come back to.
var rssIdle = rssBefore
if let remote = options.target {
    target = (remote.host, remote.port)
} else {
    let xds = XDSServer(
        address: HostPort(host: "127.0.0.1", port: 0),
        discovery: DiscoveryService(cache: cache, registry: registry, logger: logger))
    serverTask = Task { try await xds.run() }
    let bound = try await xds.boundAddress()
    target = (bound.host, bound.port)
    server = xds
    rssIdle = rssMiB()
    cache.setSnapshot(try snapshot(routes: options.routes, variant: 0), for: options.group)
}
print(
    "chancery-load: \(options.clients) \(options.delta ? "delta" : "state-of-the-world") clients → \(target.0):\(target.1)"
        + (options.target == nil ? ", \(options.routes) routes in process" : ""))

let endpoint = target

/// Connects one simulated Envoy per entry of `stats`; cancel the task to close them all.
func startClients(_ stats: [ClientStats]) -> Task<Void, Never> {
    Task {
        await withTaskGroup(of: Void.self) { group in
            for i in stats.indices {
                group.addTask {
                    let envoy = SimulatedEnvoy(
                        target: endpoint, nodeID: "load-\(i)", group: options.group, delta: options.delta, stats: stats[i])
                    do { try await envoy.run() } catch {
                        stats[i].state.withLock { $0.error = "\(error)" }
                    }
                }
            }
        }
    }
}

/// Until every client holds a complete configuration (or failed), or the deadline.
func awaitFirstConfig(_ stats: [ClientStats]) async throws {
    while Date() < deadline, !stats.allSatisfy({ s in s.state.withLock { $0.firstCompleteAt != nil || $0.error != nil } }) {
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Deletes the routes and closes every stream (the server keeps running); returns RSS
/// after that and after `malloc_trim`.
func scaleDown(_ clients: Task<Void, Never>) async throws -> (released: Double, trimmed: Double) {
    // What `serve` does when every route is deleted: an empty translation (the cache
    // keeps nothing), the group's snapshot and encodings dropped.
    _ = Translator(cache: translations).translate(ResourceSet())
    encoder.forget(group: "infra/gw")
    cache.removeSnapshot(for: options.group)
    clients.cancel()
    await clients.value
    try await Task.sleep(for: .seconds(1))
    let released = rssMiB()
    #if canImport(Glibc)
        _ = mallocTrim(0)
    #endif
    return (released, rssMiB())
}

let stats = (0..<options.clients).map { _ in ClientStats() }
let started = Date()
let clients = startClients(stats)

// Time to first complete configuration.
try await awaitFirstConfig(stats)
let firsts = stats.compactMap { s in s.state.withLock { $0.firstCompleteAt?.timeIntervalSince(started) } }
report("time to first full config", firsts)
var errors = stats.compactMap { s in s.state.withLock { $0.error } }

if options.target == nil {
    // Changes: one route edited each time; wait until every client holds the version.
    var propagation: [Double] = []
    for change in 1...max(options.changes, 0) where options.changes > 0 {
        let next = try snapshot(routes: options.routes, variant: change)
        let start = Date()
        cache.setSnapshot(next, for: options.group)
        while Date() < deadline {
            let clients = registry.clients(inGroup: options.group)
            if clients.count == options.clients, clients.allSatisfy({ $0.syncedVersion == next.version }) { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        propagation.append(Date().timeIntervalSince(start))
    }
    report("change → all clients ACKed", propagation)
} else if options.watch > 0 {
    // External server: each client's RDS version changes; report how spread out that was.
    let before = stats.map { s in s.state.withLock { $0.acked[SimulatedEnvoy.rds]?.version } }
    try await Task.sleep(for: .seconds(options.watch))
    let changed = zip(stats, before).compactMap { s, old in
        s.state.withLock { state -> Date? in
            guard let now = state.acked[SimulatedEnvoy.rds], now.version != old else { return nil }
            return now.at
        }
    }
    if let first = changed.min() {
        report("RDS change reached clients (after the first)", changed.map { $0.timeIntervalSince(first) })
    } else {
        print("no RDS change seen in \(options.watch) s")
    }
}
errors += stats.compactMap { s in s.state.withLock { $0.error } }
print(String(format: "process RSS: %.1f MiB (%.1f MiB before clients and server)", rssMiB(), rssBefore))
print("errors: \(Set(errors).count == 0 ? "none" : Set(errors).joined(separator: "; "))")
if options.target == nil {
    // Scale-down: the routes are deleted, every stream closes, the server stops. How
    // much memory does the process give back? (glibc keeps freed memory in its arenas
    // until malloc_trim returns it; both figures are printed.)
    let first = try await scaleDown(clients)
    print(
        String(
            format: "after routes deleted and streams closed (server still up): RSS %.1f MiB, %.1f MiB after malloc_trim; idle server at start %.1f MiB",
            first.released, first.trimmed, rssIdle))
    // Further cycles of the same load: RSS that keeps climbing is a leak; RSS that
    // settles is one-time cost or allocator slack.
    for cycle in stride(from: 2, through: options.cycles, by: 1) {
        cache.setSnapshot(try snapshot(routes: options.routes, variant: 0), for: options.group)
        let again = (0..<options.clients).map { _ in ClientStats() }
        let cycleClients = startClients(again)
        try await awaitFirstConfig(again)
        let loaded = rssMiB()
        let down = try await scaleDown(cycleClients)
        print(
            String(
                format: "cycle %d: RSS %.1f MiB loaded, %.1f MiB after scale-down, %.1f MiB after malloc_trim", cycle, loaded,
                down.released, down.trimmed))
    }
}
clients.cancel()
server?.stopListening()
serverTask?.cancel()
exit(errors.isEmpty && firsts.count == options.clients ? 0 : 1)
