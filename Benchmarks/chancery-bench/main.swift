import AllocationCounter
import BenchmarkSupport
import EnvoyBuild
import Foundation
import GatewayModel
import Translation
import XDS

// chancery-bench: translation and snapshot benchmarks on synthetic Gateway API worlds.
//
//   swift run -c release chancery-bench [--routes 100,1000,10000] [--runs 5] [--policies]
//
// With --policies, every route also has a SecurityPolicy and a BackendTrafficPolicy of
// its own (two policies per route).
//
// Prints, per world size: full translation time, snapshot build time (serialise + hash
// every resource), a one-route change end to end (translate + snapshot), heap
// allocations per full translation and per one-route change (counted by interposing
// malloc: Benchmarks/AllocationCounter), and peak RSS.

struct Options {
    var sizes = [100, 1000, 10000]
    var runs = 5
    /// Runs of the one-route change (default: `runs`); more of them make a profile of it.
    var changeRuns: Int?
    var policies = false

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
            case "--help", "-h":
                print("usage: chancery-bench [--routes 100,1000,10000] [--runs 5] [--change-runs N] [--policies]")
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
        listeners: config.listeners, routes: config.routes, clusters: config.clusters, endpoints: config.endpoints,
        secrets: config.secrets)
}

let options = Options(CommandLine.arguments)
let translator = TwoStageTranslation()
print(
    "chancery-bench: median of \(options.runs) runs; times in milliseconds; allocations per run (count / MiB asked for)"
        + (options.policies ? "; a SecurityPolicy and a BackendTrafficPolicy per route" : ""))
print("routes  decode  translate  snapshot  one-route-change  resources  peak-RSS-MiB  translate-allocs        change-allocs")
for size in options.sizes {
    // Reading the world's YAML (Kubernetes manifests) into typed objects.
    var set = ResourceSet()
    let decode = measure(runs: 1) { set = world(routes: size, policies: options.policies) }
    let changed = world(routes: size, variant: 1, policies: options.policies)
    var result = translator(set)
    let translate = measure(runs: options.runs) { result = translator(set) }
    guard let config = result["infra/gw"] else { fatalError("no proxy group") }
    var built = try snapshot(config)
    let build = try measure(runs: options.runs) { built = try snapshot(config) }
    // A one-route edit in a world of `size`: what Chancery does between reading the
    // edited file and handing the new snapshot to the streams. Like `serve`, it keeps
    // the previous translation and serialisation to reuse what did not change.
    let encoder = SnapshotEncoder()
    let incremental = TwoStageTranslation(reusing: true)
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
