import Dispatch
import Console
import Foundation
import Formats
import Runtime
import Synchronization
import Tensors

/// Throughput of several executors running one frozen model at once on different inputs, against one executor
/// alone — what a server gets from `instance_group { count: N }`. Rounds alternate single and parallel so that both
/// see the same machine load; the medians and their ratio are reported.
public enum ParallelThroughput {
    public struct Result: Codable, Sendable {
        public var executors: Int
        public var threadsPerExecutor: Int
        public var batchSize: Int
        public var rounds: Int
        public var secondsPerRound: Double
        /// Items per second of one executor alone, per round.
        public var singleItemsPerS: [Double]
        /// Items per second of all executors together, per round.
        public var parallelItemsPerS: [Double]
        public var singleMedian: Double
        public var parallelMedian: Double
        /// parallelMedian / singleMedian.
        public var speedup: Double

        enum CodingKeys: String, CodingKey {
            case executors, threadsPerExecutor = "threads_per_executor", batchSize = "batch_size", rounds
            case secondsPerRound = "seconds_per_round", singleItemsPerS = "single_items_per_s"
            case parallelItemsPerS = "parallel_items_per_s", singleMedian = "single_median", parallelMedian = "parallel_median", speedup
        }
    }

    /// Measures `model` (frozen here) on `items` in batches of `batchSize`.
    public static func measure(
        _ model: LoadedModel, items: ModelInputs, executors: Int, threadsPerExecutor: Int, batchSize: Int,
        secondsPerRound: Double, rounds: Int, progress: ProgressReporter = .silent
    ) throws -> Result {
        guard items.count >= batchSize else { throw MeasurementError("need at least \(batchSize) items, got \(items.count)") }
        model.freeze()
        let n = items.count / batchSize * batchSize
        let batches = try stride(from: 0, to: n, by: batchSize).map { try model.prepare(items.slice($0..<($0 + batchSize))) }
        let pool = (0..<executors).map { _ in Executor(threads: threadsPerExecutor) }
        // Warm-up: page in the weights, fill each executor's scratch.
        for e in pool { for b in batches.prefix(4) { _ = try model.run(b, on: e) } }
        var single: [Double] = [], parallel: [Double] = []
        try progress.task("rounds (1 executor, then \(executors))", total: rounds) { task in
            for round in 1...rounds {
                single.append(try rate(model, batches, Array(pool.prefix(1)), batchSize, secondsPerRound))
                parallel.append(try rate(model, batches, pool, batchSize, secondsPerRound))
                task.message(
                    String(
                        format: "round %d/%d: 1 executor %.1f items/s, %d executors %.1f items/s", round, rounds, single.last!, executors,
                        parallel.last!))
                task.advance()
            }
        }
        let s = median(single), p = median(parallel)
        return Result(
            executors: executors, threadsPerExecutor: threadsPerExecutor, batchSize: batchSize, rounds: rounds,
            secondsPerRound: secondsPerRound, singleItemsPerS: single, parallelItemsPerS: parallel, singleMedian: s, parallelMedian: p,
            speedup: p / s)
    }

    /// Items per second of `executors` each looping over its own share of `batches` for `seconds`.
    static func rate(
        _ model: LoadedModel, _ batches: [PreparedInputs], _ executors: [Executor], _ batchSize: Int, _ seconds: Double
    ) throws -> Double {
        let done = Mutex(0)
        let failure = Mutex<String?>(nil)
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline = start + UInt64(seconds * 1e9)
        DispatchQueue.concurrentPerform(iterations: executors.count) { e in
            var i = e, count = 0
            while DispatchTime.now().uptimeNanoseconds < deadline {
                do { _ = try model.run(batches[i % batches.count], on: executors[e]) } catch {
                    failure.withLock { $0 = "\(error)" }
                    return
                }
                count += batchSize
                i += executors.count
            }
            done.withLock { $0 += count }
        }
        if let message = failure.withLock({ $0 }) { throw MeasurementError(message) }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Double(done.withLock { $0 }) / elapsed
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

/// A measurement that could not be made (too few items, a failing forward pass); the message says which.
public struct MeasurementError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
