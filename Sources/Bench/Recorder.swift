import Foundation
import Histogram

/// What requests completing within one measurement window added up to. Completions are charged to the window
/// they finish in, as perf_analyzer counts them.
public struct WindowCounts: Sendable {
    /// Latency of successful requests: from the intended send time in open loop (coordinated omission
    /// corrected), from the actual send in closed loop.
    public var latency = LatencySummary.makeHistogram()
    /// Open loop only: latency from the actual send (what an uncorrected generator would report).
    public var uncorrected = LatencySummary.makeHistogram()
    public var successes: UInt64 = 0
    /// Answers by status code (200 included; 0 = no answer, -1 = malformed 200 answer).
    public var statuses: [Int: UInt64] = [:]
    public var serializeNs: UInt64 = 0
    public var sendWaitNs: UInt64 = 0
    public var deserializeNs: UInt64 = 0
    /// The first failure's message, for the error line.
    public var firstError: String?
    /// Open loop: requests whose send slipped more than 1 ms behind their intended time (the generator or the
    /// connection pool could not keep up).
    public var lateSends: UInt64 = 0

    public init() {}
}

/// The shared sink workers record into; the controller swaps windows out. A lock, not an actor: a record is a few
/// additions, and an actor hop per request would cost more than the work.
public final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var current = WindowCounts()
    private var completedInWindow = 0

    /// Requests recorded (answered or failed) since the last ``swap()``.
    public var completed: Int { lock.withLock { completedInWindow } }

    public init() {}

    /// Records one completed request. `intendedNs` is when it should have been sent (open loop) or was sent
    /// (closed loop); `sentNs` when it actually was.
    public func record(_ outcome: RequestOutcome, intendedNs: UInt64, sentNs: UInt64, doneNs: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        current.statuses[outcome.status, default: 0] += 1
        completedInWindow += 1
        if sentNs > intendedNs + 1_000_000 { current.lateSends += 1 }
        guard outcome.succeeded else {
            if current.firstError == nil { current.firstError = outcome.error ?? "status \(outcome.status)" }
            return
        }
        current.successes += 1
        // Saturating: a clock that ever ran backwards must cost one sample's accuracy, not crash the run.
        _ = current.latency.record(doneNs > intendedNs ? doneNs - intendedNs : 1)
        if intendedNs != sentNs { _ = current.uncorrected.record(doneNs > sentNs ? doneNs - sentNs : 1) }
        current.serializeNs += outcome.serializeNs
        current.sendWaitNs += outcome.sendWaitNs
        current.deserializeNs += outcome.deserializeNs
    }

    /// Returns the counts so far and starts a new window.
    public func swap() -> WindowCounts {
        lock.lock()
        defer { lock.unlock() }
        let w = current
        current = WindowCounts()
        completedInWindow = 0
        return w
    }
}
