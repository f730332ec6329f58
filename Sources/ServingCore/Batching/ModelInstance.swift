import Formats
import Foundation
import Runtime
import Tensors

/// One instance of a model (Triton's `instance_group` member): an executor and the dedicated thread that pulls
/// batches from the model's queue and runs them on it.
///
/// A plain `Thread` rather than a task: a forward pass takes milliseconds of CPU, and running it on Swift's
/// cooperative pool (one thread per core) would stall every other task, the HTTP server's included.
final class ModelInstance: Sendable {
    let index: Int
    let kernel: any ServingKernel
    let executor: Executor
    let queue: BatchQueue
    let statistics: StatisticsRecorder

    init(index: Int, kernel: any ServingKernel, threads: Int, queue: BatchQueue, statistics: StatisticsRecorder) {
        self.index = index
        self.kernel = kernel
        self.executor = Executor(threads: threads)
        self.queue = queue
        self.statistics = statistics
    }

    /// Starts the thread; returns once it has run a warm-up pass (so scratch memory and packed paths are ready when
    /// the server reports ready), or throws the warm-up's error.
    func start() async throws {
        queue.instanceStarted()
        try await withCheckedThrowingContinuation { (started: CheckedContinuation<Void, any Error>) in
            let thread = Thread { [self] in
                do {
                    try kernel.warmUp(on: executor)
                } catch {
                    queue.instanceExited()
                    started.resume(throwing: error)
                    return
                }
                started.resume()
                serve()
                queue.instanceExited()
            }
            thread.name = "compress-serve-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func serve() {
        while let next = queue.nextBatch() {
            let (batch, expired) = next
            for p in expired {
                p.continuation.resume(throwing: InferenceError.timedOut("request timed out after waiting in the queue"))
            }
            if !batch.isEmpty { execute(batch) }
        }
    }

    private func execute(_ batch: [PendingRequest]) {
        let start = monotonicNanoseconds()
        var timing = ExecutionTiming()
        let results: [[InferOutput]]
        do {
            results = try kernel.execute(batch.map(\.inputs), on: executor, timing: &timing)
            guard results.count == batch.count else { throw InferenceError.internal("the kernel answered \(results.count) of \(batch.count) requests") }
        } catch {
            let e = error as? InferenceError ?? InferenceError.internal("inference failed: \(error)")
            for p in batch { p.continuation.resume(throwing: e) }
            return
        }
        statistics.recordExecution(
            items: batch.reduce(0) { $0 + $1.items }, queueNanoseconds: batch.map { start - $0.enqueuedAt }, input: timing.input,
            infer: timing.infer, output: timing.output)
        for (p, outputs) in zip(batch, results) { p.continuation.resume(returning: outputs) }
    }
}
