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
    let model: LoadedModel
    let executor: Executor
    let queue: BatchQueue
    let statistics: StatisticsRecorder

    init(index: Int, model: LoadedModel, threads: Int, queue: BatchQueue, statistics: StatisticsRecorder) {
        self.index = index
        self.model = model
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
                    try warmUp()
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

    private func warmUp() throws {
        switch model.kind {
        case .sentenceEncoder:
            _ = try model.predict(.texts(["warm up the executor"]), on: executor)
        case let .sequential(seq):
            _ = try model.run(.tensor(Tensor(zeros: [1] + seq.inputShape)), on: executor)
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
        let combined: PreparedInputs
        let gathered: UInt64
        let result: Tensor
        do {
            combined = try BatchInputs.combine(batch.map(\.inputs))
            gathered = monotonicNanoseconds()
            result = try model.run(combined, on: executor)
        } catch {
            for p in batch { p.continuation.resume(throwing: InferenceError.internal("inference failed: \(error)")) }
            return
        }
        let ran = monotonicNanoseconds()
        let parts = BatchInputs.split(result, counts: batch.map(\.items))
        let done = monotonicNanoseconds()
        statistics.recordExecution(
            items: combined.count, queueNanoseconds: batch.map { start - $0.enqueuedAt }, input: gathered - start, infer: ran - gathered,
            output: done - ran)
        for (p, rows) in zip(batch, parts) { p.continuation.resume(returning: rows) }
    }
}
