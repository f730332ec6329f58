import Foundation

/// A source of Prometheus text-format samples that a metrics endpoint can append to its scrape (the worker's own
/// `/metrics`, or the server's metrics port once it registers one).
public protocol PrometheusTextSource: Sendable {
    /// Complete `# HELP` / `# TYPE` blocks and samples, ending with a newline.
    func prometheusText() throws -> String
}

/// The queue's autoscaling signals and totals in Prometheus text format. Names are those deploy/ reads
/// (KEDA's prometheus trigger queries `compress_queue_jobs_enqueued_total{stream=…}`); labels `stream` and `group`.
///
/// | name | type | meaning |
/// |---|---|---|
/// | `compress_queue_depth` | gauge | jobs not yet delivered to any consumer (the group's lag) |
/// | `compress_queue_consumer_lag` | gauge | the same, under the name KEDA's redis-streams scaler uses (`lagCount`) |
/// | `compress_queue_pending` | gauge | delivered, not acknowledged (in flight, or waiting for a retry) |
/// | `compress_queue_dead_letters` | gauge | jobs in the dead letters |
/// | `compress_queue_jobs_{enqueued,completed,failed,dead_lettered}_total` | counter | totals since creation |
///
/// The counters live in the backend, so every worker reports the same value: aggregate with `max`, not `sum`.
public struct QueueMetrics: PrometheusTextSource {
    public let queue: any JobQueue
    public let stream: String
    public let group: String

    public init(queue: any JobQueue, stream: String, group: String) {
        self.queue = queue
        self.stream = stream
        self.group = group
    }

    public func prometheusText() throws -> String {
        let depth = try queue.depth()
        let counters = try queue.counters()
        let labels = "{stream=\"\(Self.escape(stream))\",group=\"\(Self.escape(group))\"}"
        var out = ""
        func sample(_ name: String, _ type: String, _ help: String, _ value: Int) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name)\(labels) \(value)\n"
        }
        sample("compress_queue_depth", "gauge", "Jobs not yet delivered to any consumer.", depth.waiting)
        sample("compress_queue_consumer_lag", "gauge", "Entries the consumer group has not read (KEDA's lag).", depth.waiting)
        sample("compress_queue_pending", "gauge", "Jobs delivered and not acknowledged (in flight or awaiting a retry).", depth.inFlight)
        sample("compress_queue_dead_letters", "gauge", "Jobs in the dead letters.", depth.dead)
        sample("compress_queue_jobs_enqueued_total", "counter", "Jobs accepted since the queue was created.", counters.enqueued)
        sample("compress_queue_jobs_completed_total", "counter", "Jobs completed (first result only).", counters.completed)
        sample("compress_queue_jobs_failed_total", "counter", "Failed job attempts.", counters.failed)
        sample("compress_queue_jobs_dead_lettered_total", "counter", "Jobs dead-lettered.", counters.deadLettered)
        return out
    }

    /// Label values escape backslash, quote and newline (text exposition format).
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
