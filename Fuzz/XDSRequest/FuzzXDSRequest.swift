import EnvoyAPI
import Foundation
import FuzzSupport
import TestSupport
import XDS

/// Arbitrary bytes as what an Envoy (or anything else) sends on one xDS stream, through
/// the stream's state machine: requests decoded from raw bytes as the gRPC layer would
/// hand them over, requests shaped from the bytes (types, nonces, names, errors), and
/// snapshot changes in between. After every event the session's kept state must agree
/// with the same facts worked out afresh, and at most one push per type goes out.
///
/// Input: the first byte picks state of the world or delta, ADS or one per-type
/// service; then each event is an opcode byte and its operands.
struct FuzzXDSRequest {
    static let snapshots: [Snapshot] = {
        do {
            return [
                .empty,
                try Fixtures.httpSnapshot(port: 8080, routes: [.init(prefix: "/", cluster: "a")], backends: ["a": [1]]),
                try Fixtures.httpSnapshot(
                    port: 9090, routes: [.init(prefix: "/b", cluster: "b"), .init(prefix: "/", cluster: "a")],
                    backends: ["a": [2], "b": [3]]),
                try Fixtures.httpSnapshot(
                    port: 8080, routes: [.init(prefix: "/", cluster: "c")], backends: ["c": [4]], routeConfig: "other"),
            ]
        } catch {
            fatalError("fixture snapshots: \(error)")
        }
    }()
    static let names = ["*", "http-8080", "http-9090", "routes", "other", "a", "b", "c", ""]

    var bytes: UnsafeBufferPointer<UInt8>
    var offset = 0

    mutating func next() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, offset + count)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    mutating func pick<T>(_ options: [T]) -> T { options[Int(next() ?? 0) % options.count] }

    mutating func names() -> [String] { (0..<Int((next() ?? 0) % 4)).map { _ in pick(Self.names) } }

    static func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        var input = FuzzXDSRequest(bytes: bytes)
        guard let header = input.next() else { return }
        let mode: StreamSession.Mode = header & 1 == 0 ? .stateOfTheWorld : .delta
        let served: Set<ResourceType> =
            header & 2 == 0 ? Set(ResourceType.allCases) : [ResourceType.allCases[Int(header >> 2) % ResourceType.allCases.count]]
        var session = StreamSession(mode: mode, served: served, snapshot: Self.snapshots[Int(header >> 5) % Self.snapshots.count])
        var nonces: [ResourceType: [String]] = [:]
        var versions: [ResourceType: String] = [:]
        while let op = input.next() {
            let pushes: [Push]
            switch op % 8 {
            case 0:
                pushes = session.update(input.pick(Self.snapshots))
            case 1:
                let raw = Data(input.take(Int(input.next() ?? 0)))
                if mode == .delta {
                    guard let request = try? Envoy_Service_Discovery_V3_DeltaDiscoveryRequest(serializedBytes: raw) else { continue }
                    pushes = session.receive(request).2
                } else {
                    guard let request = try? Envoy_Service_Discovery_V3_DiscoveryRequest(serializedBytes: raw) else { continue }
                    pushes = session.receive(request).2
                }
            default:
                let type = input.pick(ResourceType.allCases)
                let sent = nonces[type] ?? []
                let nonce = input.pick(["", sent.last ?? "", sent.first ?? "", "9999"])
                let error = op & 8 != 0 ? "rejected by the fuzzer" : nil
                if mode == .delta {
                    var request = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
                    request.typeURL = input.pick([type.typeURL, "", "type.googleapis.com/unknown"])
                    request.responseNonce = nonce
                    request.resourceNamesSubscribe = input.names()
                    request.resourceNamesUnsubscribe = input.names()
                    for name in input.names() { request.initialResourceVersions[name] = input.pick(["", "v", versions[type] ?? ""]) }
                    if let error { request.errorDetail.message = error }
                    pushes = session.receive(request).2
                } else {
                    var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
                    request.typeURL = input.pick([type.typeURL, "", "type.googleapis.com/unknown"])
                    request.responseNonce = nonce
                    request.versionInfo = input.pick(["", versions[type] ?? "", "stale"])
                    request.resourceNames = input.names()
                    if let error { request.errorDetail.message = error }
                    pushes = session.receive(request).2
                }
            }
            var types: Set<ResourceType> = []
            for push in pushes {
                precondition(served.contains(push.type), "pushed \(push.type), which the stream does not serve")
                precondition(types.insert(push.type).inserted, "two pushes of \(push.type) for one event")
                precondition(session.pendingNonce(push.type) == push.nonce, "a push that is not the one in flight")
                let names = push.resources.map(\.name)
                precondition(names == names.sorted() && Set(names).count == names.count, "resources not sorted and unique")
                nonces[push.type, default: []].append(push.nonce)
                versions[push.type] = push.version
            }
            let violations = session.cacheViolations()
            precondition(violations.isEmpty, "kept state disagrees with a fresh reading: \(violations)")
        }
    }
}

#if FUZZING
    @_cdecl("chancery_fuzz_xds_main")
    func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        // Made once, before libFuzzer counts allocations per input.
        _ = FuzzXDSRequest.snapshots
        return FuzzDriver.main(argc, argv) { data, size in
            FuzzXDSRequest.run(UnsafeBufferPointer(start: data, count: size))
            return 0
        }
    }
#else
    @main struct Replay {
        static func main() throws { try FuzzDriver.replay(FuzzXDSRequest.run) }
    }
#endif
