import BenchmarkSupport
import Foundation
import GatewayModel
import Logging
import TestSupport
import Translation
import XDS

// chancery-propagation: real Envoys, steady background traffic, scripted route churn.
//
//   swift run -c release chancery-propagation [--envoys 10] [--routes 1000] [--changes 20] [--delta]
//
// One Gateway (all Envoys share its port through SO_REUSEPORT) with N HTTPRoutes to a
// loopback echo backend. Each change adds a route, edits one and removes one; the
// time from the start of translation until each Envoy has applied the new version
// (its ACK) is one propagation sample, and a request for the new route must then be
// served. Background traffic to routes that never change must never see a non-2xx.
// Needs `envoy` (scripts/test installs it into .venv/). Loopback only; bounded.

struct Options {
    var envoys = 10
    var routes = 1000
    var changes = 20
    var delta = false

    init(_ arguments: [String]) {
        var it = arguments.dropFirst().makeIterator()
        while let a = it.next() {
            switch a {
            case "--envoys": envoys = Int(it.next() ?? "") ?? envoys
            case "--routes": routes = Int(it.next() ?? "") ?? routes
            case "--changes": changes = Int(it.next() ?? "") ?? changes
            case "--delta": delta = true
            default:
                print("usage: chancery-propagation [--envoys N] [--routes N] [--changes N] [--delta]")
                exit(a == "--help" ? 0 : 2)
            }
        }
    }
}

let options = Options(CommandLine.arguments)
let group = "bench/gw"

/// Route i serves host-i.example.com; `edited` changes one route's path.
func world(port: Int, backend: Int, routes: [Int], edited: Int?) -> ResourceSet {
    var yaml = """
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
    for i in routes {
        let path = edited == i ? "/edited" : "/"
        yaml += """
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: r\(i), namespace: bench}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [host-\(i).example.com]
              rules: [{matches: [{path: {type: PathPrefix, value: \(path)}}], backendRefs: [{name: echo, port: 80}]}]

            """
    }
    return ResourceSet(manifests: ManifestDecoder.decode(file: "bench.yaml", contents: yaml).manifests)
}

func snapshot(_ set: ResourceSet) throws -> Snapshot {
    let config = Translator().translate(set).proxies[group]!
    return try Snapshot(
        listeners: config.listeners, routes: config.routes, clusters: config.clusters, endpoints: config.endpoints)
}

func percentile(_ values: [Double], _ p: Double) -> Double { Stats.percentile(values, p) }

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
cache.setSnapshot(
    try snapshot(world(port: port, backend: backend.port, routes: Array(0..<options.routes), edited: nil)), for: group)
print("chancery-propagation: \(options.envoys) Envoys (\(options.delta ? "delta" : "SotW")), \(options.routes) routes, \(options.changes) changes")

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

var samples: [Double] = []
var inside: [Double] = []
var unserved = 0
for change in 1...options.changes {
    // Add one route, remove the oldest churning one and edit another.
    let added = options.routes + change
    churning.append(added)
    churning.removeFirst()
    let start = Date()
    let next = try snapshot(
        world(port: port, backend: backend.port, routes: Array(0..<steady) + churning, edited: churning.first))
    cache.setSnapshot(next, for: group)
    inside.append(Date().timeIntervalSince(start))
    let deadline = Date().addingTimeInterval(30)
    while !allSynced(next.version), Date() < deadline { try await Task.sleep(for: .milliseconds(1)) }
    for client in registry.clients(inGroup: group) {
        if let acked = client.ackedAt[next.version] { samples.append(acked.timeIntervalSince(start)) }
    }
    // Every Envoy now serves the new route (requests land on any of them).
    for _ in 0..<options.envoys {
        let result = try? await httpGet(port: port, path: "/", host: "host-\(added).example.com")
        if result?.status != 200 { unserved += 1 }
    }
}
traffic.cancel()
let totals = await traffic.value
print(
    String(
        format: "propagation (change → each Envoy applied it): n=%d p50=%.1fms p99=%.1fms max=%.1fms",
        samples.count, percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000,
        (samples.max() ?? .nan) * 1000))
print(
    String(
        format: "inside Chancery (objects → snapshot set): p50=%.1fms max=%.1fms",
        percentile(inside, 0.5) * 1000, (inside.max() ?? .nan) * 1000))
print("requests for a just-added route not served: \(unserved)")
print("background traffic: \(totals.ok) 2xx, \(totals.failed) non-2xx\(totals.failures.isEmpty ? "" : " (\(totals.failures.joined(separator: "; ")))")")
serverTask.cancel()
await backend.stop()
exit(totals.failed == 0 && unserved == 0 && samples.count == options.envoys * options.changes ? 0 : 1)
