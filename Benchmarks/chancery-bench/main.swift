import AllocationCounter
import BenchmarkSupport
import EnvoyBuild
import Foundation
import GatewayModel
import Translation
import XDS

// chancery-bench: translation and snapshot benchmarks on synthetic Gateway API worlds.
//
//   swift run -c release chancery-bench [--routes 100,1000,10000] [--runs 5] [--policies] [--route-layout scoped]
//   swift run -c release chancery-bench --mesh [--services 1000] [--sidecars 100] [--runs 5]
//
// With --policies, every route also has a SecurityPolicy and a BackendTrafficPolicy of
// its own (two policies per route). With --route-layout scoped, the routes are built as
// `serve --route-layout scoped` builds them (a scope per hostname, docs/xds.md).
//
// Prints, per world size: full translation time, snapshot build time (serialise + hash
// every resource), a one-route change end to end (translate + snapshot), heap
// allocations per full translation and per one-route change (counted by interposing
// malloc: Benchmarks/AllocationCounter), and peak RSS.
//
// With --mesh, the worlds are meshes instead (Worlds.mesh): per number of Services, the
// same times over every proxy group (a sidecar group per mesh Pod, `--sidecars` of them,
// and a node group per node), the encoded size of a sidecar group's resources (median,
// max) and of a node group's (median), and the outbound chains (Services) per sidecar.

struct Options {
    var sizes = [100, 1000, 10000]
    var runs = 5
    /// Runs of the one-route change (default: `runs`); more of them make a profile of it.
    var changeRuns: Int?
    var policies = false
    /// Mesh worlds (`--mesh`) instead of Gateway worlds: their sizes in Services, and
    /// how many of their Pods are in the mesh.
    var mesh = false
    var services = [1000]
    var sidecars = 100
    var layout = RouteLayout.single

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--routes":
                sizes = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--runs":
                runs = Int(iterator.next() ?? "") ?? runs
            case "--change-runs":
                changeRuns = Int(iterator.next() ?? "")
            case "--policies":
                policies = true
            case "--mesh":
                mesh = true
            case "--services":
                services = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--sidecars":
                sidecars = Int(iterator.next() ?? "") ?? sidecars
            case "--route-layout":
                guard let layout = RouteLayout(rawValue: iterator.next() ?? "") else {
                    FileHandle.standardError.write(Data("--route-layout: single or scoped\n".utf8))
                    exit(2)
                }
                self.layout = layout
            case "--help", "-h":
                print(
                    "usage: chancery-bench [--routes 100,1000,10000] [--runs 5] [--change-runs N] [--policies] [--route-layout single|scoped]"
                        + " | --mesh [--services 1000] [--sidecars 100] [--runs 5] [--change-runs N]")
                exit(0)
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

func world(routes: Int, variant: Int = 0, policies: Bool) -> ResourceSet {
    Worlds.gateway(routes: routes, variant: variant, detailed: true, policies: policies)
}

/// `set` with the objects `variant` defines differently put in its place.
func edited(_ set: ResourceSet, from variant: ResourceSet) -> ResourceSet {
    var edited = set
    for key in variant.changedKeys(since: set) { edited.replace(key, with: variant[key]) }
    precondition(edited == variant, "the edited world differs from its variant")
    return edited
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double { Stats.percentile(values, 0.5) }

/// Median wall time of `runs` runs, and the mean heap allocations (count, bytes) per run.
func measure(runs: Int, _ body: () throws -> Void) rethrows -> (seconds: Double, allocations: Double, bytes: Double) {
    var samples: [Double] = []
    let allocationsBefore = chancery_allocation_count()
    let bytesBefore = chancery_allocated_bytes()
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try body()
        samples.append(seconds(ContinuousClock.now - start))
    }
    let allocations = Double(chancery_allocation_count() - allocationsBefore) / Double(runs)
    let bytes = Double(chancery_allocated_bytes() - bytesBefore) / Double(runs)
    return (median(samples), allocations, bytes)
}

func snapshot(_ config: ProxyConfig) throws -> Snapshot {
    try Snapshot(
        listeners: config.listeners, scopedRoutes: config.scopedRoutes, routes: config.routes, clusters: config.clusters,
        endpoints: config.endpoints, secrets: config.secrets)
}

/// The bytes of all a snapshot's resources, as they go on the wire.
func encodedBytes(_ snapshot: Snapshot) -> Int {
    var bytes = 0
    for byName in snapshot.resources.values {
        for resource in byName.values { bytes += resource.body.value.count }
    }
    return bytes
}

/// The mesh benchmark (`--mesh`): every proxy group of a mesh world of each size.
func meshBench(_ options: Options) throws {
    let translator = TwoStageTranslation()
    print(
        "chancery-bench --mesh: median of \(options.runs) runs; times in milliseconds, over every proxy group (sidecars"
            + " and nodes); allocations per run (count / MiB asked for); sizes: encoded bytes of all of a group's"
            + " resources, in KiB; chains: outbound chains (Services) per sidecar")
    print(
        "services  sidecars  nodes  decode  translate  snapshot  one-route-change  resources  sidecar-KiB-med  sidecar-KiB-max"
            + "  node-KiB-med  chains-med  peak-RSS-MiB  translate-allocs        change-allocs")
    for size in options.services {
        var set = ResourceSet()
        let decode = measure(runs: 1) { set = Worlds.mesh(services: size, sidecars: options.sidecars) }
        let changed = edited(set, from: Worlds.mesh(services: size, sidecars: options.sidecars, variant: 1))
        var configs = translator(set)
        let translate = measure(runs: options.runs) { configs = translator(set) }
        var built: [String: Snapshot] = [:]
        let build = try measure(runs: options.runs) { built = try configs.mapValues { try snapshot($0) } }
        let mesh = translator.translator.translate(set).mesh
        let sidecarGroups = mesh.keys.filter { $0.hasPrefix("sidecar:") }
        let nodeGroups = mesh.keys.filter { $0.hasPrefix("node:") }
        precondition(
            sidecarGroups.count == min(size, options.sidecars),
            "\(sidecarGroups.count) sidecar groups for \(min(size, options.sidecars)) mesh Pods")
        precondition(size < 2 || translator(changed) != configs, "the mesh world's variant changes no proxy group")
        let sidecarKiB = sidecarGroups.map { Double(encodedBytes(built[$0]!)) / 1024 }
        let nodeKiB = nodeGroups.map { Double(encodedBytes(built[$0]!)) / 1024 }
        let chains = sidecarGroups.map { Double(mesh[$0]!.services.count) }
        // A one-route edit (a producer route's weights), as `serve` handles it: translated
        // with the translation cache, every group encoded with the snapshot encoder.
        let encoder = SnapshotEncoder()
        let incremental = TwoStageTranslation(reusing: true)
        for (group, config) in incremental(set) { _ = try encoder.snapshot(for: group, config) }
        var flip = false
        let change = try measure(runs: options.changeRuns ?? options.runs) {
            flip.toggle()
            for (group, config) in incremental(flip ? changed : set) {
                built[group] = try encoder.snapshot(for: group, config)
            }
        }
        let resources = built.values.reduce(0) { $0 + $1.resourceCount }
        print(
            String(
                format: "%8d  %8d  %5d  %6.0f  %9.1f  %8.1f  %16.1f  %9d  %15.1f  %15.1f  %12.1f  %10.0f  %12.1f  %9.0f / %6.1f  %9.0f / %6.1f",
                size, sidecarGroups.count, nodeGroups.count, decode.seconds * 1000, translate.seconds * 1000,
                build.seconds * 1000, change.seconds * 1000, resources, median(sidecarKiB), Stats.percentile(sidecarKiB, 1),
                median(nodeKiB), median(chains), Stats.memoryMiB("VmHWM"), translate.allocations,
                translate.bytes / 1_048_576, change.allocations, change.bytes / 1_048_576))
    }
}

let options = Options(CommandLine.arguments)
if options.mesh {
    try meshBench(options)
    exit(0)
}
let translator = TwoStageTranslation(routeLayout: options.layout)
print(
    "chancery-bench: median of \(options.runs) runs; times in milliseconds; allocations per run (count / MiB asked for)"
        + (options.policies ? "; a SecurityPolicy and a BackendTrafficPolicy per route" : ""))
print("routes  decode  translate  snapshot  one-route-change  resources  peak-RSS-MiB  translate-allocs        change-allocs")
for size in options.sizes {
    // Reading the world's YAML (Kubernetes manifests) into typed objects.
    var set = ResourceSet()
    let decode = measure(runs: 1) { set = world(routes: size, policies: options.policies) }
    // The edited world shares every other object with the first, as a source's next
    // set does: the file source re-reads only the edited file, and the cluster's
    // watches decode only the objects an event names.
    let changed = edited(set, from: world(routes: size, variant: 1, policies: options.policies))
    var result = translator(set)
    let translate = measure(runs: options.runs) { result = translator(set) }
    guard let config = result["infra/gw"] else { fatalError("no proxy group") }
    var built = try snapshot(config)
    let build = try measure(runs: options.runs) { built = try snapshot(config) }
    // A one-route edit in a world of `size`: what Chancery does between reading the
    // edited file and handing the new snapshot to the streams. Like `serve`, it keeps
    // the previous translation and serialisation to reuse what did not change.
    let encoder = SnapshotEncoder()
    let incremental = TwoStageTranslation(reusing: true, routeLayout: options.layout)
    built = try encoder.snapshot(for: "infra/gw", incremental(set)["infra/gw"]!)
    var flip = false
    let change = try measure(runs: options.changeRuns ?? options.runs) {
        flip.toggle()
        let next = incremental(flip ? changed : set)
        built = try encoder.snapshot(for: "infra/gw", next["infra/gw"]!)
    }
    print(
        String(
            format: "%6d  %6.0f  %9.1f  %8.1f  %16.1f  %9d  %12.1f  %9.0f / %6.1f  %9.0f / %6.1f", size, decode.seconds * 1000, translate.seconds * 1000,
            build.seconds * 1000, change.seconds * 1000, built.resourceCount, Stats.memoryMiB("VmHWM"), translate.allocations,
            translate.bytes / 1_048_576, change.allocations, change.bytes / 1_048_576))
}
