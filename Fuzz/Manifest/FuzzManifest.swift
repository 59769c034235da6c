import EnvoyBuild
import Foundation
import FuzzSupport
import GatewayModel
import Translation
import XDS

/// Arbitrary bytes as a manifest file, through everything a file goes through in
/// `serve`: decoding (with the schema checks), translation, Envoy's protos and the
/// snapshot. Nothing may crash, and translation must never give a snapshot with a
/// dangling reference (the pipeline would keep the group's last good one, but that
/// would be a bug).
///
/// Built with `-sanitize=fuzzer` (`scripts/fuzz`) libFuzzer drives it; built plainly
/// (as CI does) it runs the files named on its command line, to replay a crash.
enum FuzzManifest {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: bytes, as: UTF8.self)
        let decoded = ManifestDecoder.decode(file: "fuzz.yaml", contents: text, maxObjectBytes: 256 * 1024)
        for error in decoded.errors + (decoded.fileError.map { [$0] } ?? []) {
            precondition(error.line >= 1, "an error must name a line: \(error)")
        }
        let set = ResourceSet(manifests: decoded.manifests, errors: decoded.errors)
        let result = Translator(now: now).translate(set)
        let configs = EnvoyBuilder().build(result.plans, identical: result.identical)
        let encoder = SnapshotEncoder()
        for (group, config) in configs.sorted(by: { $0.key < $1.key }) {
            do {
                _ = try encoder.snapshot(
                    for: group, listeners: config.listeners, routes: config.routes, clusters: config.clusters,
                    endpoints: config.endpoints, secrets: config.secrets)
            } catch {
                preconditionFailure("translation gave group \(group) an inconsistent snapshot: \(error)")
            }
        }
    }
}

#if FUZZING
    @_cdecl("chancery_fuzz_manifest_main")
    func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        FuzzDriver.main(argc, argv) { data, size in
            FuzzManifest.run(UnsafeBufferPointer(start: data, count: size))
            return 0
        }
    }
#else
    @main struct Replay {
        static func main() throws { try FuzzDriver.replay(FuzzManifest.run) }
    }
#endif
