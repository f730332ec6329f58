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
    /// the server reports ready), or throws the warm-up's error. Returns how long a second, warm pass took (what
    /// decides whether requests may compute inline, see ``DynamicBatcher``).
    func start() async throws -> UInt64 {
        queue.instanceStarted()
        return try await withCheckedThrowingContinuation { (started: CheckedContinuation<UInt64, any Error>) in
            let thread = Thread { [self] in
                let warm: UInt64
                do {
                    try kernel.warmUp(on: executor)
                    let t0 = monotonicNanoseconds()
                    try kernel.warmUp(on: executor)
                    warm = monotonicNanoseconds() - t0
                } catch {
                    queue.instanceExited()
                    started.resume(throwing: error)
                    return
                }
                started.resume(returning: warm)
                serve()
                queue.instanceExited()
            }
            thread.name = "compress-serve-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func serve() {
        while let next = queue.nextBatch(instance: index) {
            let (batch, expired) = next
            for p in expired {
                p.continuation.resume(throwing: InferenceError.timedOut("request timed out after waiting in the queue"))
            }
            if !batch.isEmpty { execute(batch) }
        }
    }

    /// Runs one request at once on the caller's thread with this instance's executor, which the caller holds on
    /// loan from the queue (``BatchQueue/lendIdleInstance()``); recorded as a batch of one with no queue time.
    func executeInline(_ inputs: KernelInput) throws(InferenceError) -> [InferOutput] {
        var timing = ExecutionTiming()
        let results: [[InferOutput]]
        do {
            results = try kernel.execute([inputs], on: executor, timing: &timing)
        } catch {
            throw error as? InferenceError ?? InferenceError.internal("inference failed: \(error)")
        }
        guard results.count == 1 else { throw .internal("the kernel answered \(results.count) of 1 requests") }
        statistics.recordExecution(items: inputs.count, queueNanoseconds: [0], input: timing.input, infer: timing.infer, output: timing.output)
        return results[0]
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
