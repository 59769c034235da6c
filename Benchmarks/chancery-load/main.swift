import BenchmarkSupport
import EnvoyAPI
import EnvoyBuild
import Foundation
import GatewayModel
import Logging
import TestSupport
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
//       With --clients-process the clients run in a child process (this tool again,
//       with --target and --hold), so the RSS printed is the server's alone; readiness
//       and ACKs are then read from the server's client registry.
//   chancery-load --target 127.0.0.1:18000 --group default/gw [--clients 100] [--delta]
//       Connects K clients to any ADS server and reports time to first full config
//       (CDS, EDS, LDS and RDS ACKed); then waits --watch seconds and reports how long
//       each change took to reach every client. --hold keeps the clients connected
//       until the process is stopped (or --timeout passes).

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
    var clientsProcess = false
    var hold = false

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
            case "--clients-process": clientsProcess = true
            case "--hold": hold = true
            default:
                print("usage: chancery-load [--clients K] [--routes N] [--delta] [--changes C] [--timeout S] [--cycles N] [--clients-process] [--target HOST:PORT --group G --watch S | --hold]")
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


/// Kept between translations, as `chancery serve` keeps them (so their memory counts).
let translations = TwoStageTranslation(reusing: true)
let encoder = SnapshotEncoder()

/// The synthetic world (plain routes), as a snapshot for one group.
func snapshot(routes: Int, variant: Int) throws -> Snapshot {
    let set = Worlds.gateway(routes: routes, variant: variant, detailed: false)
    let config = translations(set)["infra/gw"]!
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
    // The allocator set up as `chancery serve` sets it up.
    ProcessMemory.configureAllocator()
    let xds = XDSServer(
        address: HostPort(host: "127.0.0.1", port: 0),
        discovery: DiscoveryService(cache: cache, registry: registry, logger: logger))
    serverTask = Task { try await xds.run() }
    let bound = try await xds.boundAddress()
    target = (bound.host, bound.port)
    server = xds
    rssIdle = rssMiB()
    print(
        String(
            format: "idle server: RSS %.1f MiB, of it anonymous %.1f MiB, mapped files %.1f MiB (the executable's code)",
            rssIdle, Stats.memoryMiB("RssAnon"), Stats.memoryMiB("RssFile")))
    cache.setSnapshot(try snapshot(routes: options.routes, variant: 0), for: options.group)
}
print(
    "chancery-load: \(options.clients) \(options.delta ? "delta" : "state-of-the-world") clients → \(target.0):\(target.1)"
        + (options.target == nil ? ", \(options.routes) routes in process" : "")
        + (options.clientsProcess ? " (clients in a child process)" : ""))

let endpoint = target

/// The simulated Envoys of one run: tasks in this process, or a child process.
enum Clients {
    case local(Task<Void, Never>, [ClientStats])
    case child(ChildProcess, log: String)

    /// Closes every stream.
    func close() async {
        switch self {
        case .local(let task, _):
            task.cancel()
            await task.value
        case .child(let process, _):
            process.stop()
        }
    }
}

/// Starts the clients where the options say.
func startClients() throws -> Clients {
    guard options.clientsProcess else {
        let stats = (0..<options.clients).map { _ in ClientStats() }
        return .local(startLocalClients(stats), stats)
    }
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-load-clients-\(getpid()).log").path
    try? FileManager.default.removeItem(atPath: log)
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var arguments = [
        "--target", "\(endpoint.0):\(endpoint.1)", "--group", options.group, "--clients", "\(options.clients)",
        "--hold", "--timeout", "\(options.timeout)",
    ]
    if options.delta { arguments.append("--delta") }
    return .child(try ChildProcess(executable: executable, arguments: arguments, output: log), log: log)
}

/// Connects one simulated Envoy per entry of `stats`; cancel the task to close them all.
func startLocalClients(_ stats: [ClientStats]) -> Task<Void, Never> {
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

/// Until every client holds a complete configuration (or failed), or the deadline;
/// returns each client's time from `started` to its first complete configuration.
func awaitFirstConfig(_ clients: Clients, since started: Date) async throws -> [Double] {
    switch clients {
    case .local(_, let stats):
        while Date() < deadline,
            !stats.allSatisfy({ s in s.state.withLock { $0.firstCompleteAt != nil || $0.error != nil } })
        {
            try await Task.sleep(for: .milliseconds(10))
        }
        return stats.compactMap { s in s.state.withLock { $0.firstCompleteAt?.timeIntervalSince(started) } }
    case .child(let process, _):
        // The server's registry knows when each proxy held the whole snapshot.
        let version = cache.snapshot(for: options.group).version
        var synced: [ClientRegistry.Client] = []
        while Date() < deadline, process.isRunning {
            synced = registry.clients(inGroup: options.group).filter { $0.syncedVersion == version }
            if synced.count >= options.clients { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        return synced.compactMap { $0.syncedAt?.timeIntervalSince(started) }
    }
}

/// Errors the clients reported.
func clientErrors(_ clients: Clients) -> [String] {
    switch clients {
    case .local(_, let stats):
        return stats.compactMap { s in s.state.withLock { $0.error } }
    case .child(let process, let log):
        guard let status = process.status, status != 0 else { return [] }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return ["client process exited with status \(status): \(output.suffix(2000))"]
    }
}

/// Deletes the routes and closes every stream (the server keeps running); returns RSS
/// after that and after `malloc_trim`.
func scaleDown(_ clients: Clients) async throws -> (released: Double, trimmed: Double) {
    // What `serve` does when every route is deleted: an empty translation (the cache
    // keeps nothing), the group's snapshot and encodings dropped.
    _ = translations(ResourceSet())
    encoder.forget(group: "infra/gw")
    cache.removeSnapshot(for: options.group)
    await clients.close()
    // Until the server has seen every stream close (a thousand take a moment).
    while Date() < deadline, !registry.clients(inGroup: options.group).isEmpty {
        try await Task.sleep(for: .milliseconds(50))
    }
    try await Task.sleep(for: .seconds(1))
    let released = rssMiB()
    ProcessMemory.returnFreePages()
    return (released, rssMiB())
}

let started = Date()
let clients = try startClients()

// Time to first complete configuration.
let firsts = try await awaitFirstConfig(clients, since: started)
report("time to first full config", firsts)
var errors = clientErrors(clients)

if options.target == nil {
    // Changes: one route edited each time; wait until every client holds the version.
    /// Translates the world with one route edited, sets it and waits until every client
    /// holds it; returns the seconds from set to all ACKed.
    func change(_ variant: Int) async throws -> Double {
        let next = try snapshot(routes: options.routes, variant: variant)
        let start = Date()
        cache.setSnapshot(next, for: options.group)
        while Date() < deadline {
            let clients = registry.clients(inGroup: options.group)
            if clients.count == options.clients, clients.allSatisfy({ $0.syncedVersion == next.version }) { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        return Date().timeIntervalSince(start)
    }
    var propagation: [Double] = []
    for variant in 1...max(options.changes, 0) where options.changes > 0 {
        propagation.append(try await change(variant))
    }
    report("change → all clients ACKed", propagation)
    // What the server touches, as against what it holds: two idle seconds, then one more
    // change translated and sent to every client.
    let idle = try await Stats.touchedMiB { try await Task.sleep(for: .seconds(2)) }
    let oneChange = try await Stats.touchedMiB { _ = try await change(options.changes + 1) }
    if let idle, let oneChange {
        print(String(format: "memory touched: %.1f MiB in 2 s idle, %.1f MiB by one change", idle, oneChange))
    } else {
        print("memory touched: not measured (/proc/self/clear_refs cannot be written here)")
    }
} else if options.hold {
    // A child of a --clients-process run: stay connected until stopped.
    while Date() < deadline { try await Task.sleep(for: .seconds(1)) }
} else if case .local(_, let stats) = clients, options.watch > 0 {
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
errors += clientErrors(clients)
print(
    String(
        format: "%@ RSS: %.1f MiB (%.1f MiB before clients and server); of it anonymous %.1f MiB, mapped files %.1f MiB",
        options.clientsProcess ? "server process" : "process", rssMiB(), rssBefore, Stats.memoryMiB("RssAnon"),
        Stats.memoryMiB("RssFile")))
if options.target == nil {
    // What of that is live: glibc keeps freed memory in its arenas until trimmed.
    ProcessMemory.returnFreePages()
    print(String(format: "  after malloc_trim, streams still open: %.1f MiB", rssMiB()))
}
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
        let cycleClients = try startClients()
        _ = try await awaitFirstConfig(cycleClients, since: Date())
        let loaded = rssMiB()
        let down = try await scaleDown(cycleClients)
        print(
            String(
                format: "cycle %d: RSS %.1f MiB loaded, %.1f MiB after scale-down, %.1f MiB after malloc_trim", cycle, loaded,
                down.released, down.trimmed))
    }
}
await clients.close()
server?.stop()
_ = await serverTask?.result
exit(errors.isEmpty && firsts.count == options.clients ? 0 : 1)
