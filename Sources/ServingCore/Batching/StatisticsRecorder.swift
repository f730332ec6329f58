import Foundation

/// One model version's statistics, updated by its batcher (queue, compute, executions) and by the server
/// (success and failure of whole requests).
public final class StatisticsRecorder: Sendable {
    private let state: Locked<ModelStatistics>

    public init(name: String, version: String) { state = Locked(ModelStatistics(name: name, version: version)) }

    /// A copy of the current figures.
    public func snapshot() -> ModelStatistics { state.withLock { $0 } }

    func recordSuccess(nanoseconds: UInt64) {
        let nowMs = UInt64(Date().timeIntervalSince1970 * 1000)
        state.withLock {
            $0.inferenceStats.success.add(nanoseconds)
            $0.lastInference = nowMs
        }
    }

    func recordFailure(nanoseconds: UInt64) { state.withLock { $0.inferenceStats.fail.add(nanoseconds) } }

    /// One execution of `items` items for requests that waited `queueNanoseconds` each.
    func recordExecution(items: Int, queueNanoseconds: [UInt64], input: UInt64, infer: UInt64, output: UInt64) {
        state.withLock { s in
            s.executionCount += 1
            s.inferenceCount += UInt64(items)
            let n = UInt64(queueNanoseconds.count)
            for q in queueNanoseconds { s.inferenceStats.queue.add(q) }
            // Every request of the batch is charged the batch's compute time, as Triton does.
            s.inferenceStats.computeInput.add(input * n, count: n)
            s.inferenceStats.computeInfer.add(infer * n, count: n)
            s.inferenceStats.computeOutput.add(output * n, count: n)
            let i: Int
            if let found = s.batchStats.firstIndex(where: { $0.batchSize == items }) {
                i = found
            } else {
                s.batchStats.append(BatchStatistics(batchSize: items))
                s.batchStats.sort { $0.batchSize < $1.batchSize }
                i = s.batchStats.firstIndex(where: { $0.batchSize == items })!
            }
            s.batchStats[i].computeInput.add(input)
            s.batchStats[i].computeInfer.add(infer)
            s.batchStats[i].computeOutput.add(output)
        }
    }
}
