import Foundation

/// A durable queue of inference jobs with at-least-once delivery and exactly-once results, shared by the API that
/// accepts `infer-async` requests and the workers that run them (issue 11).
///
/// Semantics every backend keeps (one test suite runs against each):
/// - ``enqueue(_:)`` with an idempotency key returns the job already submitted under that key instead of adding a
///   second one, so a client that retries a submit after a timeout does not run it twice.
/// - ``claim(consumer:max:)`` hands out up to `max` jobs: first those whose claim expired (their consumer died or
///   stalled past ``QueueConfig/visibilityTimeout``), then new ones. Every delivery counts as an attempt; a job
///   delivered ``QueueConfig/maxAttempts`` times without completing goes to the dead letters instead.
/// - ``complete(_:result:)`` stores the result for ``QueueConfig/resultTTL`` and returns `false` for a job that was
///   already completed (a second delivery after a reclaim): the caller drops its duplicate result.
/// - ``fail(_:reason:)`` records a failed attempt: the job is retried (redelivered once its visibility timeout
///   passes) or, at the last attempt, dead-lettered with the reason (bad payloads end there, the worker goes on).
///
/// ```swift
/// let queue = try SQLiteJobQueue(path: "/var/lib/compress/jobs.sqlite")
/// let id = try queue.enqueue(JobSubmission(model: "minilm", payload: body, idempotencyKey: key)).id
/// for job in try queue.claim(consumer: "worker-1", max: 32) { _ = try queue.complete(job, result: answer) }
/// ```
///
/// Calls block (SQLite, a Redis round trip); workers call them from their own threads, not from a cooperative
/// executor's hot path.
public protocol JobQueue: Sendable {
    /// Adds a job, or returns the one already submitted with the same idempotency key.
    func enqueue(_ submission: JobSubmission) throws -> EnqueueOutcome
    /// Up to `max` jobs for `consumer`: expired claims first, then new jobs, oldest first.
    func claim(consumer: String, max: Int) throws -> [ClaimedJob]
    /// Stores the result (kept for the result TTL) and acknowledges the delivery; `false` when the job had been
    /// completed already.
    @discardableResult func complete(_ job: ClaimedJob, result: Data) throws -> Bool
    /// A failed attempt: retried after the visibility timeout, dead-lettered with `reason` at the last attempt.
    func fail(_ job: ClaimedJob, reason: String) throws
    /// A permanent failure (a payload no attempt can run: corrupt, oversized, invalid for the model): dead-letters
    /// the job now with `reason`, whatever attempt it is on. Ignored for a stale delivery, as ``fail(_:reason:)``.
    func reject(_ job: ClaimedJob, reason: String) throws
    /// Where a job is; `nil` for an unknown id or a result whose TTL has passed.
    func status(of id: String) throws -> JobStatus?
    /// The oldest dead-lettered jobs, with their reasons.
    func deadLetters(limit: Int) throws -> [DeadLetter]
    /// Counts for autoscaling and metrics: jobs not yet delivered (consumer lag), in flight, dead.
    func depth() throws -> QueueDepth
    /// Totals since the queue was created, shared by every process using it (stored in the backend, so any
    /// worker's `/metrics` reports the same numbers: aggregate them with `max`, not `sum`).
    func counters() throws -> QueueCounters
}

/// Timing and limits of a queue.
public struct QueueConfig: Sendable, Equatable {
    /// How long a claimed job stays with its consumer before another may reclaim it.
    public var visibilityTimeout: Duration
    /// Deliveries before a job is dead-lettered.
    public var maxAttempts: Int
    /// How long a finished job's result can be read.
    public var resultTTL: Duration
    /// How long an idempotency key maps to its job.
    public var idempotencyWindow: Duration
    /// Approximate cap on stored jobs (Redis `XADD MAXLEN ~`); jobs trimmed before completion are dead-lettered.
    public var maxLength: Int

    public init(
        visibilityTimeout: Duration = .seconds(60), maxAttempts: Int = 3, resultTTL: Duration = .seconds(3600),
        idempotencyWindow: Duration = .seconds(86_400), maxLength: Int = 1_000_000
    ) {
        self.visibilityTimeout = visibilityTimeout
        self.maxAttempts = maxAttempts
        self.resultTTL = resultTTL
        self.idempotencyWindow = idempotencyWindow
        self.maxLength = maxLength
    }
}

/// What a client submits: the model and the request body (a KServe v2 request, opaque to the queue).
public struct JobSubmission: Sendable, Equatable {
    public var model: String
    public var payload: Data
    public var idempotencyKey: String?

    public init(model: String, payload: Data, idempotencyKey: String? = nil) {
        self.model = model
        self.payload = payload
        self.idempotencyKey = idempotencyKey
    }
}

/// The job's id, and whether the submission repeated an earlier one (same idempotency key).
public struct EnqueueOutcome: Sendable, Equatable {
    public var id: String
    public var duplicate: Bool
}

/// A job handed to a consumer. `receipt` identifies this delivery to the backend (a stream entry id, a claim
/// token); `attempt` counts deliveries, starting at 1.
public struct ClaimedJob: Sendable, Equatable {
    public var id: String
    public var model: String
    public var payload: Data
    public var attempt: Int
    public var receipt: String
}

/// Where a job is.
public enum JobStatus: Sendable, Equatable {
    /// Waiting for a consumer (after `attempts` failed deliveries).
    case queued(attempts: Int)
    /// Claimed by a consumer, delivery number `attempt`.
    case running(attempt: Int)
    /// Finished; the stored result.
    case done(Data)
    /// Dead-lettered, with the reason.
    case dead(reason: String)
}

/// A job that will not be retried.
public struct DeadLetter: Sendable, Equatable {
    public var id: String
    public var model: String
    public var attempts: Int
    public var reason: String
}

/// Queue depth as autoscalers read it: `waiting` is the consumer group's lag (KEDA's `lagCount` metric),
/// `inFlight` the pending entries (claimed, not acknowledged), `dead` the dead letters.
public struct QueueDepth: Sendable, Equatable {
    public var waiting: Int
    public var inFlight: Int
    public var dead: Int
}

/// Monotonic totals of a queue (Prometheus counters).
public struct QueueCounters: Sendable, Equatable {
    /// Jobs accepted (idempotent repeats not counted).
    public var enqueued: Int
    /// Jobs completed (first result only; duplicate completions after a reclaim not counted).
    public var completed: Int
    /// Failed attempts (each retried or, at the last attempt, dead-lettered).
    public var failed: Int
    /// Jobs dead-lettered (failed, rejected, timed out too often, or trimmed before completion).
    public var deadLettered: Int

    public init(enqueued: Int = 0, completed: Int = 0, failed: Int = 0, deadLettered: Int = 0) {
        self.enqueued = enqueued
        self.completed = completed
        self.failed = failed
        self.deadLettered = deadLettered
    }
}

/// A queue backend failed; the message names the backend, the operation and the cause.
public struct QueueError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Duration {
    /// Whole milliseconds, for backends that count in them (Redis PX, XAUTOCLAIM min-idle-time).
    var wholeMilliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }

    /// Seconds as a Double, for timestamps.
    var secondsValue: Double { Double(wholeMilliseconds) / 1000 }
}
