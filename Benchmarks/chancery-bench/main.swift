import Foundation
import GatewayModel
import Translation
import XDS

// chancery-bench: translation and snapshot benchmarks on synthetic Gateway API worlds.
//
//   swift run -c release chancery-bench [--routes 100,1000,10000] [--runs 5]
//
// Prints, per world size: full translation time, snapshot build time (serialise + hash
// every resource), a one-route change end to end (translate + snapshot), allocations
// are not counted here (see docs/performance.md), and peak RSS.

struct Options {
    var sizes = [100, 1000, 10000]
    var runs = 5

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--routes":
                sizes = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--runs":
                runs = Int(iterator.next() ?? "") ?? runs
            case "--help", "-h":
                print("usage: chancery-bench [--routes 100,1000,10000] [--runs 5]")
                exit(0)
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

/// A world of `routes` HTTPRoutes on one Gateway, each with its own hostname, two rules
/// (an exact and a prefix match with a header), a Service and an EndpointSlice of 3
/// endpoints. `variant` changes one route's path, as an edit would.
func world(routes: Int, variant: Int = 0) -> ResourceSet {
    var yaml = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: chancery}
        spec: {controllerName: chancery.dev/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: infra}
        spec:
          gatewayClassName: chancery
          listeners: [{name: http, protocol: HTTP, port: 8080, allowedRoutes: {namespaces: {from: All}}}]

        """
    for i in 0..<routes {
        let path = i == 0 && variant > 0 ? "/changed-\(variant)" : "/api/\(i)"
        yaml += """
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: r\(i), namespace: ns\(i % 50)}
            spec:
              parentRefs: [{name: gw, namespace: infra}]
              hostnames: [host\(i).example.com]
              rules:
              - matches: [{path: {type: Exact, value: \(path)/health}}]
                backendRefs: [{name: s\(i), port: 80}]
              - matches: [{path: {type: PathPrefix, value: \(path)}, headers: [{name: x-tenant, value: t\(i)}]}]
                filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-route, value: r\(i)}]}}]
                backendRefs: [{name: s\(i), port: 80, weight: 90}, {name: s\((i + 1) % routes), port: 80, weight: 10}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: s\(i), namespace: ns\(i % 50)}
            spec: {ports: [{name: http, port: 80}]}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: s\(i)-1, namespace: ns\(i % 50), labels: {kubernetes.io/service-name: s\(i)}}
            addressType: IPv4
            endpoints: [{addresses: [10.\(i / 250 % 250).\(i % 250).1]}, {addresses: [10.\(i / 250 % 250).\(i % 250).2]}, {addresses: [10.\(i / 250 % 250).\(i % 250).3]}]
            ports: [{name: http, port: 8080}]

            """
    }
    let decoded = ManifestDecoder.decode(file: "bench.yaml", contents: yaml)
    precondition(decoded.errors.isEmpty && decoded.fileError == nil, "bad synthetic world: \(decoded.errors)")
    return ResourceSet(manifests: decoded.manifests)
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func measure(runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try body()
        samples.append(seconds(ContinuousClock.now - start))
    }
    return median(samples)
}

func snapshot(_ config: ProxyConfig) throws -> Snapshot {
    try Snapshot(
        listeners: config.listeners, routes: config.routes, clusters: config.clusters, endpoints: config.endpoints,
        secrets: config.secrets)
}

/// Peak resident set size of this process, from /proc (VmHWM).
func peakRSSMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        return kb / 1024
    }
    return 0
}

let options = Options(CommandLine.arguments)
let translator = Translator()
print("chancery-bench: median of \(options.runs) runs; times in milliseconds")
print("routes  translate  snapshot  one-route-change  resources  peak-RSS-MiB")
for size in options.sizes {
    let set = world(routes: size)
    let changed = world(routes: size, variant: 1)
    var result = translator.translate(set)
    let translate = measure(runs: options.runs) { result = translator.translate(set) }
    guard let config = result.proxies["infra/gw"] else { fatalError("no proxy group") }
    var built = try snapshot(config)
    let build = try measure(runs: options.runs) { built = try snapshot(config) }
    // A one-route edit in a world of `size`: what Chancery does between reading the
    // edited file and handing the new snapshot to the streams.
    var flip = false
    let change = try measure(runs: options.runs) {
        flip.toggle()
        let next = translator.translate(flip ? changed : set)
        built = try snapshot(next.proxies["infra/gw"]!)
    }
    print(
        String(
            format: "%6d  %9.1f  %8.1f  %16.1f  %9d  %12.1f", size, translate * 1000, build * 1000, change * 1000,
            built.resourceCount, peakRSSMiB()))
}
