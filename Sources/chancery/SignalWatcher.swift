import Dispatch
import Foundation

/// Turns SIGINT/SIGTERM into the end of an async task, so that `serve` can close its
/// streams (Envoys reconnect elsewhere at once) instead of being killed mid-write.
enum SignalWatcher {
    static func waitForTermination() async throws {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for signal in [SIGINT, SIGTERM] {
            Foundation.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler { continuation.yield(signal) }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }
        for await _ in stream { return }
        try Task.checkCancellation()
    }
}
