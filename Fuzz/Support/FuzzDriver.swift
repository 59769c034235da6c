import Foundation

/// What both fuzz targets share: under libFuzzer (`-DFUZZING`, `scripts/fuzz`) the
/// executable's entry point hands the command line to libFuzzer's driver; built plainly
/// it replays the files named on the command line through the same function.
public enum FuzzDriver {
    public typealias Input = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Runs `input` on the contents of each file named on the command line.
    public static func replay(_ run: (UnsafeBufferPointer<UInt8>) -> Void) throws {
        for path in CommandLine.arguments.dropFirst() {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            data.withUnsafeBytes { run($0.bindMemory(to: UInt8.self)) }
            print("ok \(path)")
        }
    }

    #if FUZZING
        /// libFuzzer's own entry (`LLVMFuzzerRunDriver`, in the runtime `-sanitize=fuzzer` links).
        @_silgen_name("LLVMFuzzerRunDriver")
        static func runDriver(
            _ argc: UnsafeMutablePointer<CInt>,
            _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
            _ input: Input
        ) -> CInt

        /// SwiftPM links an executable target's entry point under the name
        /// `<module>_main`; the targets define it with this.
        public static func main(
            _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ input: Input
        ) -> CInt {
            var count = argc
            var arguments = argv
            return runDriver(&count, &arguments, input)
        }
    #endif
}
