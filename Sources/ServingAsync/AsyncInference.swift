import Foundation
import ServingCore
import ServingQueue

/// The accepting side of async inference: validates and enqueues `infer-async` requests, answers job status.
/// Transports (REST's infer-async, gRPC's AsyncInferenceService) call it; workers (``QueueWorker``) run the jobs.
///
/// ```swift
/// let front = AsyncInference(server: server, queue: try SQLiteJobQueue(path: "jobs.sqlite"))
/// let id = try await front.submit(model: "minilm", body: body, headerLength: nil, callback: nil, idempotencyKey: key).id
/// ```
public final class AsyncInference: Sendable {
    public let server: InferenceServer
    public let queue: any JobQueue
    /// Jobs waiting or in flight beyond which a submit is refused with 429 (back-pressure instead of an unbounded
    /// queue); 0: no limit.
    public let maxQueuedJobs: Int
    private let depthCache = Locked<(at: ContinuousClock.Instant, queued: Int)?>(nil)

    public init(server: InferenceServer, queue: any JobQueue, maxQueuedJobs: Int = 100_000) {
        self.server = server
        self.queue = queue
        self.maxQueuedJobs = maxQueuedJobs
    }

    /// Enqueues a request for `model` (404 for an unknown model, 400 for a bad callback URL, 429 when the queue is
    /// full). The body is checked later by the worker (a malformed one ends in the dead letters with the reason),
    /// so accepting stays O(1) in the body's size. A repeated `idempotencyKey` returns the first job.
    public func submit(
        model: String, version: String? = nil, body: Data, headerLength: Int?, callback: String?, idempotencyKey: String?
    ) async throws -> EnqueueOutcome {
        _ = try server.servedModel(model, version: version)
        if let callback {
            guard let url = URL(string: callback), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil
            else { throw InferenceError.invalidArgument("callback '\(callback)' is not an http(s) URL") }
        }
        if let key = idempotencyKey, key.isEmpty || key.utf8.count > 256 {
            throw InferenceError.invalidArgument("Idempotency-Key must have 1 to 256 bytes")
        }
        if maxQueuedJobs > 0, try await queuedJobs() >= maxQueuedJobs {
            throw InferenceError.queueFull("the async queue holds \(maxQueuedJobs) jobs or more; retry later")
        }
        let envelope = JobEnvelope(
            meta: .init(version: version, headerLength: headerLength, callback: callback, submittedAt: Date().timeIntervalSince1970),
            body: body)
        let submission = JobSubmission(model: model, payload: envelope.encoded(), idempotencyKey: idempotencyKey)
        let queue = self.queue
        let outcome: EnqueueOutcome
        do {
            outcome = try await blocking { try queue.enqueue(submission) }
        } catch {
            throw InferenceError.unavailable("the job queue is unavailable: \(error)")
        }
        // Count it in the cached depth, so a burst within the cache's 100 ms cannot overshoot the limit.
        if !outcome.duplicate { depthCache.withLock { if $0 != nil { $0!.queued += 1 } } }
        return outcome
    }

    /// The queue's record of the job, off the cooperative pool; a queue failure is 503 (unavailable).
    private func status(of id: String) async throws -> JobStatus? {
        let queue = self.queue
        do {
            return try await blocking { try queue.status(of: id) }
        } catch {
            throw InferenceError.unavailable("the job queue is unavailable: \(error)")
        }
    }

    /// The job's view as JSON, or nil for an unknown job (or one whose result expired).
    public func statusJSON(of id: String) async throws -> Data? {
        try await status(of: id).map { JobView.json(id: id, status: $0) }
    }

    /// The job's state, or nil for an unknown job (or one whose result expired).
    public func job(_ id: String) async throws -> AsyncJob? {
        try await status(of: id).map { AsyncJob(id: id, status: $0) }
    }

    /// Waiting + in-flight jobs, read at most every 100 ms (counting is a query per submit otherwise).
    private func queuedJobs() async throws -> Int {
        let now = ContinuousClock.now
        if let cached = depthCache.withLock({ $0 }), now - cached.at < .milliseconds(100) { return cached.queued }
        let queue = self.queue
        let depth: QueueDepth
        do {
            depth = try await blocking { try queue.depth() }
        } catch {
            throw InferenceError.unavailable("the job queue is unavailable: \(error)")
        }
        let queued = depth.waiting + depth.inFlight
        depthCache.withLock { $0 = (now, queued) }
        return queued
    }
}

/// A value behind a lock (ServingCore's `Locked` is internal to it).
final class Locked<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
