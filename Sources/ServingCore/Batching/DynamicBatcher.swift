import Formats
import Foundation
import Runtime
import Tensors

/// Triton-style dynamic batching for one model: a bounded priority queue and `instances` executors, each on its
/// own thread, taking batches of up to `max_batch_size` items.
///
/// ```swift
/// let batcher = DynamicBatcher(model: frozen, policy: BatchingPolicy(config: config), instances: 2, threads: 1,
///                              statistics: stats)
/// try await batcher.start()                    // warms up every instance
/// let rows = try await batcher.submit(prepared)  // this request's rows of its batch's output
/// ```
///
/// Requests combine whenever they meet in the queue: while every instance is busy, or within
/// `max_queue_delay_microseconds` of the oldest one. A full queue refuses at once (429); a request past its
/// queue timeout is answered with an error, never dropped.
///
/// Inline compute (`inlineBelowNanoseconds`): for a model whose warm batch-1 pass is shorter than that, with no
/// queue delay, a request that finds the queue empty and an instance idle runs at once on the caller's thread
/// with that instance's executor. At low load this saves two thread hand-offs (to the instance thread and back),
/// which cost more than a small model's forward pass on a loaded host; requests that arrive meanwhile queue and
/// batch as before.
public final class DynamicBatcher: Sendable {
    public let policy: BatchingPolicy
    let queue: BatchQueue
    private let instances: [ModelInstance]
    private let inlineBelowNanoseconds: UInt64
    /// Decided once warmed up: whether requests may compute inline.
    private let inline = Locked(false)

    /// `kernel`'s model must be frozen (it is shared by every instance's thread). `inlineBelowNanoseconds` 0 never
    /// computes inline (the caller's thread must have a large enough stack for the kernel when it is not 0).
    public init(
        kernel: any ServingKernel, policy: BatchingPolicy, instances: Int, threads: Int, statistics: StatisticsRecorder,
        inlineBelowNanoseconds: UInt64 = 0
    ) {
        self.policy = policy
        let queue = BatchQueue(policy: policy, instances: max(1, instances))
        self.queue = queue
        self.instances = (0..<max(1, instances)).map {
            ModelInstance(index: $0, kernel: kernel, threads: threads, queue: queue, statistics: statistics)
        }
        self.inlineBelowNanoseconds = inlineBelowNanoseconds
    }

    /// Starts every instance's thread and returns once all have warmed up.
    public func start() async throws {
        var slowest: UInt64 = 0
        for instance in instances { slowest = max(slowest, try await instance.start()) }
        let allowed = policy.maxQueueDelayNanoseconds == 0 && slowest < inlineBelowNanoseconds
        inline.withLock { $0 = allowed }
    }

    /// Whether requests may compute inline (decided by ``start()``).
    public var computesInline: Bool { inline.withLock { $0 } }

    /// Queues `inputs` and returns this request's outputs (its rows of its batch's result).
    ///
    /// - Parameters:
    ///   - priority: 1 (highest) … `priority_levels`; nil or 0 for the default level.
    ///   - timeoutMicroseconds: queue timeout, used when the policy allows overriding its default.
    public func submit(
        _ inputs: KernelInput, priority: Int? = nil, timeoutMicroseconds: Int? = nil
    ) async throws(InferenceError) -> [InferOutput] {
        let level: Int
        switch priority {
        case nil, 0?: level = policy.defaultPriorityLevel - 1
        case let p? where p >= 1 && p <= policy.priorityLevels: level = p - 1
        case let p?: throw .invalidArgument("priority \(p) is outside 1...\(policy.priorityLevels) (the model's priority_levels)")
        }
        if let t = timeoutMicroseconds, t < 0 { throw .invalidArgument("timeout must be >= 0 microseconds, got \(t)") }
        if computesInline, let i = queue.lendIdleInstance() {
            defer { queue.giveBack(i) }
            return try instances[i].executeInline(inputs)
        }
        var timeout = policy.defaultTimeoutNanoseconds
        if policy.allowTimeoutOverride, let t = timeoutMicroseconds { timeout = t > 0 ? UInt64(t) * 1000 : nil }
        let deadline = timeout.map { monotonicNanoseconds() &+ $0 }
        let queue = self.queue
        do {
            return try await withCheckedThrowingContinuation { (c: CheckedContinuation<[InferOutput], any Error>) in
                let id: UInt64
                do { id = try queue.enqueue(inputs: inputs, level: level, deadline: deadline, continuation: c) } catch {
                    c.resume(throwing: error)
                    return
                }
                guard let timeout, policy.rejectOnTimeout else { return }
                // Answers the request when its timeout passes even if every instance is busy; a no-op when an
                // instance took it first (expire finds nothing).
                Task {
                    try? await Task.sleep(nanoseconds: timeout)
                    queue.expire(id)?.continuation.resume(
                        throwing: InferenceError.timedOut("request timed out after \(timeout / 1000) µs in the queue"))
                }
            }
        } catch let e as InferenceError {
            throw e
        } catch {
            throw .internal("\(error)")
        }
    }

    /// Stops taking requests, serves every queued one, and returns when all instances have exited.
    public func drain() async {
        queue.finish()
        await queue.waitForInstances()
    }

    /// Requests waiting now.
    public var queueDepth: Int { queue.depth }
}
