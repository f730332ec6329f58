import Foundation
import ServingQueue

/// What one worker process did (its own counters, unlike the queue's shared totals), for `/metrics` and tests.
public final class WorkerStatistics: Sendable, PrometheusTextSource {
    public struct Snapshot: Sendable, Equatable {
        /// Deliveries taken from the queue (redeliveries included).
        public var claimed = 0
        /// Deliveries that were a job's second or later attempt (reclaimed after a dead consumer, or retried).
        public var redelivered = 0
        /// First completions recorded by this worker.
        public var completed = 0
        /// Completions the queue refused because another delivery had completed the job first (dropped).
        public var duplicates = 0
        /// Attempts reported failed (retried later).
        public var failed = 0
        /// Jobs dead-lettered at once (bad payload, invalid request).
        public var rejected = 0
        public var callbacksDelivered = 0
        public var callbacksFailed = 0
        /// Recoveries from a queue outage, and the last one's length in seconds.
        public var reconnects = 0
        public var lastReconnectSeconds = 0.0
    }

    private let state = Locked(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func claimed() { state.withLock { $0.claimed += 1 } }
    func redelivered() { state.withLock { $0.redelivered += 1 } }
    func completed() { state.withLock { $0.completed += 1 } }
    func duplicate() { state.withLock { $0.duplicates += 1 } }
    func failed() { state.withLock { $0.failed += 1 } }
    func rejected() { state.withLock { $0.rejected += 1 } }
    func callbackDelivered() { state.withLock { $0.callbacksDelivered += 1 } }
    func callbackFailed() { state.withLock { $0.callbacksFailed += 1 } }
    func recordReconnect(after outage: Duration) {
        let (s, atto) = outage.components
        state.withLock {
            $0.reconnects += 1
            $0.lastReconnectSeconds = Double(s) + Double(atto) / 1e18
        }
    }

    public func prometheusText() -> String {
        let s = snapshot
        var out = ""
        func sample(_ name: String, _ type: String, _ help: String, _ value: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        sample("compress_worker_jobs_claimed_total", "counter", "Deliveries this worker took (redeliveries included).", "\(s.claimed)")
        sample("compress_worker_jobs_redelivered_total", "counter", "Deliveries that were a retry or a reclaim.", "\(s.redelivered)")
        sample("compress_worker_jobs_completed_total", "counter", "First completions recorded by this worker.", "\(s.completed)")
        sample("compress_worker_duplicate_results_total", "counter", "Results dropped because the job was already done.", "\(s.duplicates)")
        sample("compress_worker_jobs_failed_total", "counter", "Attempts this worker reported failed.", "\(s.failed)")
        sample("compress_worker_jobs_rejected_total", "counter", "Jobs this worker dead-lettered at once.", "\(s.rejected)")
        sample("compress_worker_callbacks_delivered_total", "counter", "Result callbacks answered 2xx.", "\(s.callbacksDelivered)")
        sample("compress_worker_callbacks_failed_total", "counter", "Result callbacks given up after retries.", "\(s.callbacksFailed)")
        sample("compress_worker_queue_reconnects_total", "counter", "Recoveries from a queue outage.", "\(s.reconnects)")
        sample("compress_worker_last_reconnect_seconds", "gauge", "Length of the last queue outage.", "\(s.lastReconnectSeconds)")
        return out
    }
}
