import BenchmarkSupport
import ConfigSources
import EnvoyAPI
import EnvoyBuild
import Foundation
import GatewayModel
import Logging
import TestSupport
import Translation
import XDS

// chancery-propagation: real Envoys, steady background traffic, scripted route churn
// through real files.
//
//   swift run -c release chancery-propagation [--envoys 10] [--routes 1000] [--changes 20] [--delta] [--json FILE]
//                                             [--quiet-ms MS] [--route-layout single|scoped]
//
// One Gateway (all Envoys share its port through SO_REUSEPORT) with N HTTPRoutes to a
// loopback echo backend, one file per route in a directory that a FileSource watches
// (inotify, adaptive debounce, as `chancery serve --config-dir` does); every change is
// translated with the translation cache and encoded with the snapshot encoder, as
// `serve` does. Each change adds a route file, edits one and deletes one; the time from
// the first file write until each Envoy applied the resulting route configuration — the
// `last_updated` Envoy's own config dump records for it — is one propagation sample, and
// a request for the new route must then be served. Background traffic to routes that
// never change must never see a non-2xx. Then, with no traffic, each of `--changes`
// single-route edits is timed alone, and the Envoys' CPU time (every thread, from
// /proc/PID/task/*/schedstat) over those edits, less what they use idle over as long,
// gives Envoy's work per change. `--json FILE` appends the figures as one JSON line
// (scripts/propagation-curves plots them). `--route-layout scoped` serves the routes as
// `serve --route-layout scoped` does: a scope per hostname (docs/xds.md).
// Needs `envoy` (scripts/test installs it into .venv/). Loopback only; bounded.

struct Options {
    var envoys = 10
    var routes = 1000
    var changes = 20
    var delta = false
    var json: String?
    /// A fixed quiet window for the file source (``Debounce``), to study the trade-off;
    /// by default it follows what a change costs to handle, as in `serve`.
    var quiet: Duration?
    var layout = RouteLayout.single

    init(_ arguments: [String]) {
        var it = arguments.dropFirst().makeIterator()
        while let a = it.next() {
            switch a {
            case "--envoys": envoys = Int(it.next() ?? "") ?? envoys
            case "--routes": routes = Int(it.next() ?? "") ?? routes
            case "--changes": changes = Int(it.next() ?? "") ?? changes
            case "--delta": delta = true
            case "--json": json = it.next()
            case "--quiet-ms": quiet = Int(it.next() ?? "").map { .milliseconds($0) }
            case "--route-layout":
                guard let layout = RouteLayout(rawValue: it.next() ?? "") else {
                    print("--route-layout: single or scoped")
                    exit(2)
                }
                self.layout = layout
            default:
                print(
                    "usage: chancery-propagation [--envoys N] [--routes N] [--changes N] [--delta] [--json FILE] [--quiet-ms MS] [--route-layout single|scoped]"
                )
                exit(a == "--help" ? 0 : 2)
            }
        }
    }
}

let options = Options(CommandLine.arguments)
// The allocator set up as `chancery serve` sets it up.
ProcessMemory.configureAllocator()
let group = "bench/gw"

/// The Gateway, its class, and the echo Service every route sends to.
func base(port: Int, backend: Int) -> String {
    """
    apiVersion: gateway.networking.k8s.io/v1
    kind: GatewayClass
    metadata: {name: bench}
    spec: {controllerName: chancery.dev/gateway-controller}
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: gw, namespace: bench}
    spec:
      gatewayClassName: bench
      addresses: [{type: IPAddress, value: 127.0.0.1}]
      listeners: [{name: http, protocol: HTTP, port: \(port)}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: echo, namespace: bench}
    spec: {ports: [{name: http, port: 80}]}
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: echo-1, namespace: bench, labels: {kubernetes.io/service-name: echo}}
    addressType: IPv4
    endpoints: [{addresses: [127.0.0.1]}]
    ports: [{name: http, port: \(backend)}]

    """
}

/// Route i serves host-i.example.com; an edited route matches /edited instead of /.
func route(_ i: Int, edited: Bool = false) -> String {
    """
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: r\(i), namespace: bench}
    spec:
      parentRefs: [{name: gw}]
      hostnames: [host-\(i).example.com]
      rules: [{matches: [{path: {type: PathPrefix, value: \(edited ? "/edited" : "/")}}], backendRefs: [{name: echo, port: 80}]}]

    """
}

func write(_ text: String, _ path: String) throws {
    // Written aside and renamed into place, as editors and ConfigMap updates do.
    let aside = (path as NSString).deletingLastPathComponent + "/.tmp-" + (path as NSString).lastPathComponent
    try text.write(toFile: aside, atomically: false, encoding: .utf8)
    _ = rename(aside, path)
}

/// Looks up route i's virtual host in a snapshot: in the single layout from the one
/// route configuration (decoded once per call), in the scoped layout from its scope
/// (named by its hostname), so no other scope is decoded.
struct Hosts {
    let single: [String: Envoy_Config_Route_V3_VirtualHost]
    let snapshot: Snapshot

    init(_ snapshot: Snapshot) {
        self.snapshot = snapshot
        var hosts: [String: Envoy_Config_Route_V3_VirtualHost] = [:]
        for resource in snapshot[.route].values {
            guard let config = try? resource.decode(as: Envoy_Config_Route_V3_RouteConfiguration.self) else { continue }
            for host in config.virtualHosts { hosts[host.domains.first ?? ""] = host }
        }
        single = hosts
    }

    subscript(i: Int) -> Envoy_Config_Route_V3_VirtualHost? {
        let domain = "host-\(i).example.com"
        if let host = single[domain] { return host }
        guard let scope = snapshot[.scopedRoute][domain],
            let decoded = try? scope.decode(as: Envoy_Config_Route_V3_ScopedRouteConfiguration.self)
        else { return nil }
        return decoded.routeConfiguration.virtualHosts.first
    }
}

/// Whether a snapshot holds the added route, not the removed one, and the edit.
func reflects(_ snapshot: Snapshot, added: Int, removed: Int, edited: Int) -> Bool {
    let hosts = Hosts(snapshot)
    guard hosts[added] != nil, hosts[removed] == nil, let edit = hosts[edited] else { return false }
    return edit.routes.first?.match.pathSeparatedPrefix == "/edited"
}

func percentile(_ values: [Double], _ p: Double) -> Double { Stats.percentile(values, p) }

/// Whether a snapshot has route `i` with the given edit state.
func shows(_ snapshot: Snapshot, route i: Int, edited: Bool) -> Bool {
    guard let host = Hosts(snapshot)[i] else { return false }
    return (host.routes.first?.match.pathSeparatedPrefix == "/edited") == edited
}

/// When an Envoy last applied a route configuration (or, in the scoped layout, a set of
/// scopes), by its own config dump.
func lastApplied(_ envoy: EnvoyProcess) async throws -> Date {
    var stamps: [String] = []
    var texts: [String] = []
    for resource in ["dynamic_route_configs", "dynamic_scoped_route_configs"] {
        let text = try await envoy.admin("/config_dump?resource=\(resource)&mask=last_updated")
        texts.append(String(text.prefix(300)))
        guard let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let configs = json["configs"] as? [[String: Any]]
        else { continue }
        stamps += configs.compactMap { $0["last_updated"] as? String }
    }
    guard !stamps.isEmpty else {
        throw EnvoyProcess.Failed(description: "no dynamic route configuration in envoy's config dump: \(texts)")
    }
    let parser = ISO8601DateFormatter()
    parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let dates = stamps.compactMap { parser.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) }
    guard let latest = dates.max() else { throw EnvoyProcess.Failed(description: "unreadable last_updated in \(stamps)") }
    return latest
}

/// CPU time of a process, every thread, in seconds (schedstat: nanoseconds on CPU).
/// Stops the run if the kernel does not keep it (no figure rather than a zero).
func cpuSeconds(_ pid: Int32) -> Double {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    var total = 0.0
    var read = 0
    for task in tasks {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/schedstat", encoding: .utf8),
            let first = text.split(separator: " ").first, let ns = Double(first)
        else { continue }
        total += ns / 1e9
        read += 1
    }
    if read == 0 {
        print("cannot read /proc/\(pid)/task/*/schedstat (a kernel without schedstats?): no Envoy CPU figure")
        exit(1)
    }
    return total
}

var logger = Logger(label: "chancery-propagation")
logger.logLevel = .error
let backend = try await EchoBackend.start(name: "echo")
let port = try freePort()
let cache = SnapshotCache(logger: logger)
let registry = ClientRegistry()
let server = XDSServer(
    address: HostPort(host: "127.0.0.1", port: 0),
    discovery: DiscoveryService(cache: cache, registry: registry, logger: logger))
let serverTask = Task { try await server.run() }
let xds = try await server.boundAddress()

// Routes 0..<routes/2 are the steady ones background traffic uses; the others churn.
let steady = options.routes / 2
var churning = Array(steady..<options.routes)
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-propagation-\(getpid())").path
try? FileManager.default.removeItem(atPath: directory)
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
func routeFile(_ i: Int) -> String { "\(directory)/route-\(i).yaml" }
try write(base(port: port, backend: backend.port), "\(directory)/base.yaml")
for i in 0..<options.routes { try write(route(i), routeFile(i)) }

/// Where the time inside Chancery goes, per snapshot: change noticed → set read
/// (debounce and rescan), translation, encoding.
final class Phases: @unchecked Sendable {
    private let lock = NSLock()
    private var samples: [(read: Double, translate: Double, encode: Double)] = []
    func add(read: Double, translate: Double, encode: Double) {
        lock.withLock { samples.append((read, translate, encode)) }
    }
    func reset() { lock.withLock { samples = [] } }
    var count: Int { lock.withLock { samples.count } }
    /// Medians of the snapshots numbered `range` since the last reset (all by default).
    func medians(_ range: Range<Int>? = nil) -> (read: Double, translate: Double, encode: Double) {
        lock.withLock {
            let chosen = range.map { Array(samples[$0.clamped(to: samples.indices)]) } ?? samples
            return (
                percentile(chosen.map(\.read), 0.5), percentile(chosen.map(\.translate), 0.5),
                percentile(chosen.map(\.encode), 0.5)
            )
        }
    }
}
let phases = Phases()
// What handling a change costs (translation and encoding): the quiet window follows it,
// as in `serve`, unless `--quiet-ms` fixes it.
let changeCost = ChangeCost()
let debounce = options.quiet.map { Debounce(quiet: $0) } ?? .following(changeCost)

// What `chancery serve` does with each change the FileSource reports.
let source = FileSource(directories: [directory], logger: logger)
let pipeline = Task.detached {
    let translations = TwoStageTranslation(reusing: true, routeLayout: options.layout)
    let encoder = SnapshotEncoder()
    var first = true
    for await update in source.timedUpdates(debounce: debounce) {
        let read = Date()
        let result = translations(update.set)
        let translated = Date()
        guard let proxy = result[group] else { continue }
        do {
            let snapshot = try encoder.snapshot(for: group, proxy)
            cache.setSnapshot(snapshot, for: group, seenAt: update.seenAt)
            // The first set is every file: not what a change costs (as in `serve`).
            if !first { changeCost.record(.seconds(Date().timeIntervalSince(read))) }
            first = false
            phases.add(
                read: read.timeIntervalSince(update.seenAt), translate: translated.timeIntervalSince(read),
                encode: Date().timeIntervalSince(translated))
        } catch {
            print("inconsistent snapshot: \(error)")
        }
    }
}
defer { pipeline.cancel() }
let loadDeadline = Date().addingTimeInterval(120)
while cache.snapshot(for: group)[.route].isEmpty, cache.snapshot(for: group)[.scopedRoute].isEmpty, Date() < loadDeadline {
    try await Task.sleep(for: .milliseconds(20))
}
print(
    "chancery-propagation: \(options.envoys) Envoys (\(options.delta ? "delta" : "SotW")), \(options.routes) routes (one file each), \(options.changes) changes, route layout \(options.layout.rawValue)"
)

var envoys: [EnvoyProcess] = []
for i in 0..<options.envoys {
    envoys.append(
        try await EnvoyProcess.start(
            bootstrap: Bootstrap(xdsAddress: xds, group: group, nodeID: "envoy-\(i)", adminPort: 0, delta: options.delta)))
}
defer { envoys.forEach { $0.stop() } }
func allSynced(_ version: String) -> Bool {
    let clients = registry.clients(inGroup: group)
    return clients.count == options.envoys && clients.allSatisfy { $0.syncedVersion == version }
}
let startDeadline = Date().addingTimeInterval(120)
while !allSynced(cache.snapshot(for: group).version), Date() < startDeadline { try await Task.sleep(for: .milliseconds(20)) }
guard allSynced(cache.snapshot(for: group).version) else {
    print("the Envoys did not all take the first configuration within 120 s")
    exit(1)
}

// Background traffic to steady routes until cancelled; it returns its own tallies.
let traffic = Task.detached { () -> (ok: Int, failed: Int, failures: [String]) in
    var ok = 0
    var failed = 0
    var failures: [String] = []
    var i = 0
    while !Task.isCancelled {
        i += 1
        let host = "host-\(i % steady).example.com"
        do {
            let result = try await httpGet(port: port, path: "/", host: host)
            if (200..<300).contains(result.status) {
                ok += 1
            } else {
                failed += 1
                if failures.count < 5 { failures.append("\(host): \(result.status)") }
            }
        } catch {
            failed += 1
            if failures.count < 5 { failures.append("\(host): \(error)") }
        }
    }
    return (ok, failed, failures)
}

/// The first snapshot after version `before` for which `holds` is true; stops the run
/// if none comes by `deadline`.
@MainActor func firstSnapshot(after before: String, until deadline: Date, _ what: String, _ holds: (Snapshot) -> Bool) async throws
    -> Snapshot
{
    var checked = before
    while Date() < deadline {
        let current = cache.snapshot(for: group)
        if current.version != checked {
            checked = current.version
            if holds(current) { return current }
        }
        try await Task.sleep(for: .milliseconds(1))
    }
    print("\(what) did not reach a snapshot within 30 s")
    envoys.forEach { $0.stop() }
    exit(1)
}

/// Until every Envoy ACKed `version`; stops the run if they have not by `deadline` (a
/// config dump read then would time an older update).
@MainActor func awaitSynced(_ version: String, until deadline: Date, _ what: String) async throws {
    while !allSynced(version) {
        guard Date() < deadline else {
            print("\(what): not every Envoy ACKed \(version) within 30 s")
            envoys.forEach { $0.stop() }
            exit(1)
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}

phases.reset()
var samples: [Double] = []
var ackSamples: [Double] = []
var inside: [Double] = []
var unserved = 0
for change in 1...options.changes {
    // Add one route, remove the oldest churning one and edit another.
    let added = options.routes + change
    churning.append(added)
    let removed = churning.removeFirst()
    let edited = churning.first!
    let before = cache.snapshot(for: group).version
    let start = Date()
    try write(route(added), routeFile(added))
    try write(route(edited, edited: true), routeFile(edited))
    try FileManager.default.removeItem(atPath: routeFile(removed))
    // The snapshot that holds all three (the watcher may report them in one or two steps).
    let deadline = Date().addingTimeInterval(30)
    let next = try await firstSnapshot(after: before, until: deadline, "change \(change)") {
        reflects($0, added: added, removed: removed, edited: edited)
    }
    if let set = cache.record(for: group, version: next.version)?.setAt { inside.append(set.timeIntervalSince(start)) }
    try await awaitSynced(next.version, until: deadline, "change \(change)")
    for client in registry.clients(inGroup: group) {
        if let acked = client.ackedAt[next.version] { ackSamples.append(acked.timeIntervalSince(start)) }
    }
    // Envoy applies a route configuration before it ACKs it: by now each has.
    for envoy in envoys { samples.append(try await lastApplied(envoy).timeIntervalSince(start)) }
    // Every Envoy now serves the new route (requests land on any of them).
    for _ in 0..<options.envoys {
        let result = try? await httpGet(port: port, path: "/", host: "host-\(added).example.com")
        if result?.status != 200 { unserved += 1 }
    }
}
traffic.cancel()
// How many snapshots the changes took: one each when the watcher reported a change's
// three writes together, more when it reported them in steps (each a translation).
let churnSnapshots = phases.count
let totals = await traffic.value

// One route edited at a time, with no traffic: how long each takes alone, and the
// Envoys' CPU time over the edits less their idle CPU time over as long.
let pids = envoys.map(\.pid)
func envoysCPU() -> Double { pids.map(cpuSeconds).reduce(0, +) }
// Let the traffic's connections close before taking the idle rate.
try await Task.sleep(for: .seconds(1))
let idleStart = (Date(), envoysCPU())
try await Task.sleep(for: .seconds(2))
let idleRate = (envoysCPU() - idleStart.1) / Date().timeIntervalSince(idleStart.0)
var single: [Double] = []
var singleInside: [Double] = []
var editsCPU = 0.0
var editsTime = 0.0
for change in 1...options.changes {
    // Each steady route is edited, then put back.
    let target = ((change - 1) / 2) % steady
    let edited = change % 2 == 1
    let before = cache.snapshot(for: group).version
    let cpuBefore = envoysCPU()
    let start = Date()
    try write(route(target, edited: edited), routeFile(target))
    let deadline = Date().addingTimeInterval(30)
    let next = try await firstSnapshot(after: before, until: deadline, "edit \(change)") {
        shows($0, route: target, edited: edited)
    }
    if let set = cache.record(for: group, version: next.version)?.setAt { singleInside.append(set.timeIntervalSince(start)) }
    try await awaitSynced(next.version, until: deadline, "edit \(change)")
    // CPU up to 20 ms after the last ACK (Envoy hands the new table to its worker after
    // it ACKs); the config dumps below would add their own.
    try await Task.sleep(for: .milliseconds(20))
    editsTime += Date().timeIntervalSince(start)
    editsCPU += envoysCPU() - cpuBefore
    for envoy in envoys { single.append(try await lastApplied(envoy).timeIntervalSince(start)) }
    try await Task.sleep(for: .milliseconds(50))
}
let envoyCPUPerChange = max(0, editsCPU - idleRate * editsTime) / Double(options.changes * options.envoys)
let medians = phases.medians()
let churnMedians = phases.medians(0..<churnSnapshots)
let singleMedians = phases.medians(churnSnapshots..<phases.count)
let ms = { (values: [Double], p: Double) in percentile(values, p) * 1000 }
print(
    String(
        format: "propagation (first file write → each Envoy applied it, by its config dump): n=%d p50=%.1fms p99=%.1fms max=%.1fms",
        samples.count, ms(samples, 0.5), ms(samples, 0.99), (samples.max() ?? .nan) * 1000))
print(String(format: "  (→ each Envoy's ACK: p50=%.1fms p99=%.1fms)", ms(ackSamples, 0.5), ms(ackSamples, 0.99)))
print(
    String(
        format: "inside Chancery (first file write → snapshot set, incl. inotify and debounce): p50=%.1fms max=%.1fms",
        ms(inside, 0.5), (inside.max() ?? .nan) * 1000))
print(
    String(
        format: "  of which (median per snapshot): debounce + read %.1fms, translation %.1fms, encoding %.1fms",
        medians.read * 1000, medians.translate * 1000, medians.encode * 1000))
print(
    String(
        format:
            "  changes (%d snapshots for %d changes): debounce + read %.1fms, translation %.1fms, encoding %.1fms; single edits: %.1f, %.1f, %.1fms",
        churnSnapshots, options.changes, churnMedians.read * 1000, churnMedians.translate * 1000,
        churnMedians.encode * 1000, singleMedians.read * 1000, singleMedians.translate * 1000,
        singleMedians.encode * 1000))
let windowMS = { (d: Duration) in Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
print(
    options.quiet.map { String(format: "quiet window: fixed, %.1fms", windowMS($0)) }
        ?? String(format: "quiet window: follows what a change costs, %.1fms after the runs", windowMS(debounce.window)))
print("requests for a just-added route not served: \(unserved)")
print("background traffic: \(totals.ok) 2xx, \(totals.failed) non-2xx\(totals.failures.isEmpty ? "" : " (\(totals.failures.joined(separator: "; ")))")")
print(
    String(
        format: "one route edited alone, no traffic: each Envoy applied it p50=%.1fms p99=%.1fms; inside Chancery p50=%.1fms",
        ms(single, 0.5), ms(single, 0.99), ms(singleInside, 0.5)))
print(String(format: "Envoy CPU per one-route change, per Envoy (idle CPU subtracted): %.2fms", envoyCPUPerChange * 1000))
if let path = options.json {
    let record: [String: Any] = [
        "routes": options.routes, "envoys": options.envoys, "changes": options.changes,
        "protocol": options.delta ? "delta" : "sotw", "route_layout": options.layout.rawValue,
        "p50_ms": ms(samples, 0.5), "p99_ms": ms(samples, 0.99), "max_ms": (samples.max() ?? 0) * 1000,
        "chancery_p50_ms": ms(inside, 0.5), "read_ms": medians.read * 1000, "translate_ms": medians.translate * 1000,
        "encode_ms": medians.encode * 1000, "single_p50_ms": ms(single, 0.5), "single_p99_ms": ms(single, 0.99),
        "single_chancery_p50_ms": ms(singleInside, 0.5), "envoy_cpu_ms": envoyCPUPerChange * 1000,
        "non_2xx": totals.failed, "unserved": unserved,
    ]
    let line = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
    let handle = FileManager.default.fileExists(atPath: path) ? FileHandle(forWritingAtPath: path) : nil
    if let handle {
        handle.seekToEndOfFile()
        handle.write(line + Data("\n".utf8))
        handle.closeFile()
    } else {
        try (line + Data("\n".utf8)).write(to: URL(fileURLWithPath: path))
    }
}
serverTask.cancel()
pipeline.cancel()
envoys.forEach { $0.stop() }
await backend.stop()
try? FileManager.default.removeItem(atPath: directory)
exit(totals.failed == 0 && unserved == 0 && samples.count == options.envoys * options.changes ? 0 : 1)
