import Console
import Formats
import Foundation
import Runtime
import Tensors

#if canImport(Glibc)
import Glibc
#endif

/// Latency and throughput of a model's forward pass (inputs already tokenized, as ONNX Runtime's benchmark
/// times only `session.run`). Passes over the data repeat until the last three agree within 5 % or the time
/// budget runs out: the machine is shared and noisy, so a single pass says little.
public enum Timing {
    /// One timing measurement.
    public struct Result: Codable, Sendable {
        public var batchSize: Int
        public var threads: Int
        /// Items per second over the timed passes.
        public var throughputPerS: Double
        /// Per-call latency percentiles in milliseconds (a call is one batch).
        public var latencyMs: Percentiles
        public var calls: Int
        public var passes: Int
        /// Whether the last three passes agreed within 5 % before the budget ran out.
        public var stable: Bool

        public init(batchSize: Int, threads: Int, throughputPerS: Double, latencyMs: Percentiles, calls: Int, passes: Int, stable: Bool) {
            self.batchSize = batchSize; self.threads = threads; self.throughputPerS = throughputPerS; self.latencyMs = latencyMs
            self.calls = calls; self.passes = passes; self.stable = stable
        }

        enum CodingKeys: String, CodingKey {
            case batchSize = "batch_size", threads, throughputPerS = "throughput_per_s", latencyMs = "latency_ms", calls, passes, stable
        }
    }

    public struct Percentiles: Codable, Sendable {
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var mean: Double

        public init(p50: Double, p90: Double, p99: Double, mean: Double) {
            self.p50 = p50; self.p90 = p90; self.p99 = p99; self.mean = mean
        }
    }

    /// Times `model` on `items` in batches of `batchSize`.
    /// - maxItems: items per pass (a prefix of `items`), so long files don't make one pass take minutes.
    /// - budget: seconds of timed passes at most (at least `minPasses` passes run regardless).
    /// - progress: a task of timed passes, its length estimated from the warm-up (the last three passes agreeing
    ///   ends it early, so the ETA is an upper bound).
    public static func measure(
        _ model: LoadedModel, items: ModelInputs, batchSize: Int, maxItems: Int = 256,
        budget: Double = 10, minPasses: Int = 3, maxPasses: Int = 50, on executor: Executor,
        progress: ProgressReporter = .silent
    ) throws -> Result {
        let n = min(items.count, maxItems)
        precondition(n > 0, "no items to time")
        let batches = try stride(from: 0, to: n, by: batchSize).map { try model.prepare(items.slice($0..<min(n, $0 + batchSize))) }
        // Warm-up: caches, page faults of mmap'ed weights, thread pools, fused-weight caches.
        let warmUp = batches.prefix(max(2, min(batches.count, 8)))
        let warmStart = DispatchTime.now().uptimeNanoseconds
        for b in warmUp { _ = try model.run(b, on: executor) }
        let passEstimate = Double(DispatchTime.now().uptimeNanoseconds - warmStart) / 1e9 / Double(warmUp.count) * Double(batches.count)
        // Passes stop once the budget is spent; the pass that crosses it still completes.
        let expectedPasses = min(maxPasses, max(minPasses, Int((budget / max(passEstimate, 1e-9)).rounded(.up)) + 1))
        progress.begin(total: expectedPasses, label: "timing batch \(batchSize)")
        defer { progress.end() }
        var latencies: [Double] = []
        var passRates: [Double] = []
        var totalTime = 0.0
        var stable = false
        while passRates.count < maxPasses {
            let passStart = DispatchTime.now().uptimeNanoseconds
            for b in batches {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try model.run(b, on: executor)
                latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - passStart) / 1e9
            totalTime += seconds
            passRates.append(Double(n) / seconds)
            progress.advance()
            if passRates.count >= minPasses {
                let last = passRates.suffix(3).sorted()
                if (last[2] - last[0]) / last[1] < 0.05 { stable = true; break }
                if totalTime >= budget { break }
            }
        }
        let sorted = latencies.sorted()
        func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int((p / 100 * Double(sorted.count - 1)).rounded()))] }
        // Throughput: the median pass, robust to one pass hit by a neighbour's burst.
        let rate = passRates.sorted()[passRates.count / 2]
        return Result(
            batchSize: batchSize, threads: executor.threads, throughputPerS: rate,
            latencyMs: Percentiles(p50: pct(50), p90: pct(90), p99: pct(99), mean: latencies.reduce(0, +) / Double(latencies.count)),
            calls: latencies.count, passes: passRates.count, stable: stable)
    }
}

/// Peak resident set size of this process, in bytes.
public func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024  // Linux reports kilobytes
}
