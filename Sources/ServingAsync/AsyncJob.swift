import Foundation
import ServingQueue

/// A job's state as a transport with its own message types reads it (gRPC's GetJob); REST answers the JSON view
/// (``JobView``) instead.
public struct AsyncJob: Sendable, Equatable {
    public enum State: String, Sendable, Equatable {
        case queued, running, done, failed
    }

    public var id: String
    public var state: State
    /// Deliveries so far (queued: failed ones; running: the current one's number).
    public var attempts: Int
    /// Why the job was dead-lettered (failed).
    public var error: String?
    /// Unix times in seconds (done).
    public var submittedAt: Double?
    public var completedAt: Double?
    /// The response as the worker's ``JobCodec`` encoded it (done); ``JobCodec/decodeResponse(_:)`` reads it.
    public var response: Data?

    public init(
        id: String, state: State, attempts: Int = 0, error: String? = nil, submittedAt: Double? = nil, completedAt: Double? = nil,
        response: Data? = nil
    ) {
        self.id = id
        self.state = state
        self.attempts = attempts
        self.error = error
        self.submittedAt = submittedAt
        self.completedAt = completedAt
        self.response = response
    }

    /// The job `id` in `status`; a stored result that cannot be read is reported as a failed job saying so.
    init(id: String, status: JobStatus) {
        switch status {
        case let .queued(attempts): self.init(id: id, state: .queued, attempts: attempts)
        case let .running(attempt): self.init(id: id, state: .running, attempts: attempt)
        case let .dead(reason): self.init(id: id, state: .failed, error: reason)
        case let .done(stored):
            if let parts = JobView.parseStored(stored) {
                self.init(id: id, state: .done, submittedAt: parts.submittedAt, completedAt: parts.completedAt, response: parts.response)
            } else {
                self.init(id: id, state: .failed, error: "the stored result of \(stored.count) bytes is not a job result")
            }
        }
    }
}
