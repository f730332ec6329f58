import CoreMetrics
import Foundation
import Prometheus
import ServingCore

/// The Prometheus side of the core's statistics: a registry the models' ``StatisticsRecorder``s report into (through
/// ``factory``, handed to ``InferenceServer/Options/metrics``), plus the gauges read when scraped (queue depth,
/// process CPU and memory). Triton's names and `model`/`version` labels (``ServingMetricNames``).
///
/// ```swift
/// let metrics = PrometheusMetrics()
/// var options = InferenceServer.Options(); options.metrics = metrics.factory
/// let server = InferenceServer(repository: repository, options: options)
/// let text = metrics.scrape(server)   // Prometheus text exposition format
/// ```
public final class PrometheusMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory writing into ``registry``, with buckets suited to inference latencies.
    public let factory: PrometheusMetricsFactory

    private let cpuSeconds: Prometheus.Gauge
    private let residentBytes: Prometheus.Gauge
    private let cpuUtilization: Prometheus.Gauge
    private let memoryTotal: Prometheus.Gauge
    private let memoryUsed: Prometheus.Gauge
    /// The host's CPU counters at the previous scrape (utilization is over the time between two scrapes, as
    /// Triton's is over its metrics interval).
    private let lastCPU = SystemUsage.LastCPUTimes()

    /// Latency buckets: 100 µs to 10 s, so both the digits CNN (≈0.3 ms) and MiniLM batches (tens of ms) resolve.
    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .microseconds(2_500_000), .seconds(10),
    ]
    /// Batch-size buckets: powers of two up to the largest max_batch_size worth batching.
    static let batchSizeBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    static var pending: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: ServingMetricNames.pendingRequestCount, helpText: "Requests waiting in the model's queue.")
    }

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[ServingMetricNames.requestLatency] = Self.latencyBuckets
        factory.valueHistogramBuckets[ServingMetricNames.batchSize] = Self.batchSizeBuckets
        self.registry = registry
        self.factory = factory
        cpuSeconds = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "process_cpu_seconds_total", helpText: "User and system CPU time of the server process."))
        residentBytes = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "process_resident_memory_bytes", helpText: "Resident memory of the server process."))
        // Triton's CPU metrics (--allow-cpu-metrics): the host's, not the process's.
        cpuUtilization = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "nv_cpu_utilization", helpText: "CPU utilization rate [0.0 - 1.0]"))
        memoryTotal = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "nv_cpu_memory_total_bytes", helpText: "CPU total memory (RAM), in bytes"))
        memoryUsed = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "nv_cpu_memory_used_bytes", helpText: "CPU used memory (RAM), in bytes"))
    }

    /// Updates the gauges read at scrape time and returns the text exposition of every metric: the registry's, then
    /// the shadow agreement and canary series (``ShadowExposition``), all from one ``InferenceServer/metricsSnapshot()``.
    public func scrape(_ server: InferenceServer) -> [UInt8] {
        let snapshot = server.metricsSnapshot()
        for m in snapshot.models {
            registry.makeGauge(descriptor: Self.pending, labels: [("model", m.name), ("version", m.version)])
                .set(Int64(snapshot.pendingRequests[m.name] ?? 0))
        }
        let usage = ProcessUsage.read()
        cpuSeconds.set(usage.cpuSeconds)
        residentBytes.set(usage.residentBytes)
        if let now = SystemUsage.cpuTimes() {
            cpuUtilization.set(now.utilization(since: lastCPU.exchange(now)))
        }
        if let memory = SystemUsage.memory() {
            memoryTotal.set(memory.totalBytes)
            memoryUsed.set(memory.usedBytes)
        }
        var out = registry.emitToBuffer()
        out.append(contentsOf: ShadowExposition.text(shadows: snapshot.shadows, splits: snapshot.trafficSplits).utf8)
        return out
    }
}

/// CPU time and resident memory of this process: `CLOCK_PROCESS_CPUTIME_ID` and `/proc/self/statm` (Linux; RSS is
/// 0 where that file does not exist).
struct ProcessUsage {
    var cpuSeconds: Double
    var residentBytes: Double

    static func read() -> ProcessUsage {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        var rss = 0.0
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Double(fields[1]) { rss = pages * Double(sysconf(Int32(_SC_PAGESIZE))) }
        }
        return ProcessUsage(cpuSeconds: Double(t.tv_sec) + Double(t.tv_nsec) / 1e9, residentBytes: rss)
    }
}

/// The host's CPU time and memory, as Triton's CPU metrics read them on Linux: the aggregate `cpu` line of
/// `/proc/stat` and `MemTotal`/`MemAvailable` of `/proc/meminfo` (used = total − available). Nil where those files
/// do not exist.
enum SystemUsage {
    struct CPUTimes: Sendable {
        var busy: Double
        var total: Double

        /// Busy share of the CPU time between `before` and now (since boot without `before`), in 0...1.
        func utilization(since before: CPUTimes?) -> Double {
            let (b, t) = (busy - (before?.busy ?? 0), total - (before?.total ?? 0))
            return t > 0 ? min(1, max(0, b / t)) : 0
        }
    }

    /// The counters seen at the previous scrape. `@unchecked Sendable`: `value` is only touched under `lock`.
    final class LastCPUTimes: @unchecked Sendable {
        private let lock = NSLock()
        private var value: CPUTimes?

        /// Stores `now` and returns what was stored before.
        func exchange(_ now: CPUTimes) -> CPUTimes? {
            lock.lock()
            defer { lock.unlock() }
            let before = value
            value = now
            return before
        }
    }

    /// user nice system idle iowait irq softirq steal (guest time is already inside user and nice).
    static func cpuTimes(procStat: String? = try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) -> CPUTimes? {
        guard let line = procStat?.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let v = line.split(separator: " ").dropFirst().prefix(8).compactMap { Double($0) }
        guard v.count >= 5 else { return nil }
        let idle = v[3] + v[4]
        let total = v.reduce(0, +)
        return CPUTimes(busy: total - idle, total: total)
    }

    static func memory(
        procMeminfo: String? = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
    ) -> (totalBytes: Double, usedBytes: Double)? {
        guard let text = procMeminfo else { return nil }
        var fields: [Substring: Double] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Double(parts[1]) { fields[parts[0].dropLast()] = kb * 1024 }
        }
        guard let total = fields["MemTotal"], let available = fields["MemAvailable"] else { return nil }
        return (total, total - available)
    }
}
