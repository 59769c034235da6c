import Foundation
import Prometheus
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The process metrics every Prometheus exporter has (`process_resident_memory_bytes`,
/// `process_cpu_seconds_total`, `process_open_fds`, `process_start_time_seconds`), read
/// from `/proc` at each scrape.
final class ProcessMetrics: Sendable {
    struct Reading: Equatable {
        var residentBytes: Double
        var cpuSeconds: Double
        var openFileDescriptors: Double
        var startTimeSeconds: Double
    }

    /// CPU seconds already counted, so the counter grows by what was used since.
    private let counted = Mutex<Double>(0)

    /// `/proc/self/stat` (after the command name: utime is field 14, stime 15,
    /// starttime 22, rss 24, counted from 1), `/proc/stat`'s `btime` and `/proc/self/fd`.
    static func read() -> Reading? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields from the third on (the state): field n is at index n - 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        func field(_ n: Int) -> Double? { fields.count > n - 3 ? Double(fields[n - 3]) : nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        guard let utime = field(14), let stime = field(15), let start = field(22), let rss = field(24), ticks > 0 else {
            return nil
        }
        let boot =
            (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) } ?? 0
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        return Reading(
            residentBytes: rss * page, cpuSeconds: (utime + stime) / ticks, openFileDescriptors: Double(descriptors),
            startTimeSeconds: boot + start / ticks)
    }

    /// Sets the metrics in `registry` from a fresh reading.
    func record(into registry: PrometheusCollectorRegistry) {
        guard let reading = Self.read() else { return }
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "process", metricName: metric, unitName: unit, helpText: help)
        }
        registry.makeGauge(descriptor: name("resident_memory", "bytes", "Resident memory size in bytes")).set(reading.residentBytes)
        registry.makeGauge(descriptor: name("open", "fds", "Open file descriptors")).set(reading.openFileDescriptors)
        registry.makeGauge(descriptor: name("start_time", "seconds", "Start time of the process since the Unix epoch"))
            .set(reading.startTimeSeconds)
        let delta = counted.withLock { counted in
            defer { counted = max(counted, reading.cpuSeconds) }
            return max(0, reading.cpuSeconds - counted)
        }
        registry.makeCounter(descriptor: name("cpu_seconds", "total", "User and system CPU time spent in seconds"))
            .increment(by: delta)
    }
}
