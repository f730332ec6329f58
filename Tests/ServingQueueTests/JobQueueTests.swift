import Foundation
import QueueTestSupport
import Testing

@testable import ServingQueue

/// The backends under one suite: each test runs against the embedded SQLite queue and against Redis Streams
/// (a private redis-server per test, on loopback).
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, redis
    var testDescription: String { rawValue }
}

/// A fresh, empty queue of a backend, and what to clean up after the test.
final class QueueFixture: @unchecked Sendable {
    let queue: any JobQueue
    private let cleanup: () -> Void
    let redis: RedisServer?
    private var closed = false

    init(_ backend: Backend, _ config: QueueConfig) throws {
        switch backend {
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jobq-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            queue = try SQLiteJobQueue(path: dir.appendingPathComponent("jobs.sqlite").path, config: config)
            redis = nil
            cleanup = { try? FileManager.default.removeItem(at: dir) }
        case .redis:
            let server = try RedisServer()
            queue = try RedisJobQueue(port: server.port, config: config)
            redis = server
            cleanup = { server.stop() }
        }
    }

    /// Stops the server / removes the file; every test calls it in a `defer`, which also keeps the fixture
    /// alive to the end of the test (ARC may otherwise release it after its last use).
    func close() {
        if !closed {
            closed = true
            cleanup()
        }
    }

    deinit { close() }
}

private func config(visibilityMs: Int = 1000, attempts: Int = 3, ttlMs: Int = 60_000) -> QueueConfig {
    QueueConfig(visibilityTimeout: .milliseconds(visibilityMs), maxAttempts: attempts, resultTTL: .milliseconds(ttlMs))
}

private func payload(_ s: String) -> Data { Data(s.utf8) }

@Suite("JobQueue (SQLite and Redis Streams)")
struct JobQueueTests {
    @Test(arguments: Backend.allCases)
    func enqueueClaimCompleteRoundTrip(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config())
        defer { f.close() }
        let q = f.queue
        let a = try q.enqueue(JobSubmission(model: "minilm", payload: payload("a")))
        let b = try q.enqueue(JobSubmission(model: "cnn", payload: payload("b")))
        #expect(!a.duplicate && a.id != b.id)
        #expect(try q.status(of: a.id) == .queued(attempts: 0))
        #expect(try q.depth() == QueueDepth(waiting: 2, inFlight: 0, dead: 0))
        let jobs = try q.claim(consumer: "w1", max: 10)
        #expect(jobs.map(\.id) == [a.id, b.id])  // oldest first
        #expect(jobs.map(\.model) == ["minilm", "cnn"])
        #expect(jobs.map(\.payload) == [payload("a"), payload("b")])
        #expect(jobs.allSatisfy { $0.attempt == 1 })
        #expect(try q.status(of: a.id) == .running(attempt: 1))
        #expect(try q.depth() == QueueDepth(waiting: 0, inFlight: 2, dead: 0))
        #expect(try q.complete(jobs[0], result: payload("ra")))
        #expect(try q.status(of: a.id) == .done(payload("ra")))
        #expect(try q.depth() == QueueDepth(waiting: 0, inFlight: 1, dead: 0))
        #expect(try q.status(of: "no-such-job") == nil)
    }

    @Test(arguments: Backend.allCases)
    func idempotencyKeyDoesNotEnqueueTwice(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config())
        defer { f.close() }
        let q = f.queue
        let first = try q.enqueue(JobSubmission(model: "m", payload: payload("x"), idempotencyKey: "client-42"))
        let again = try q.enqueue(JobSubmission(model: "m", payload: payload("x"), idempotencyKey: "client-42"))
        let other = try q.enqueue(JobSubmission(model: "m", payload: payload("y"), idempotencyKey: "client-43"))
        #expect(again == EnqueueOutcome(id: first.id, duplicate: true))
        #expect(!other.duplicate && other.id != first.id)
        #expect(try q.claim(consumer: "w", max: 10).map(\.id) == [first.id, other.id])
    }

    @Test(arguments: Backend.allCases)
    func claimRespectsMaxAndNeverHandsOutAJobTwice(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config())
        defer { f.close() }
        let q = f.queue
        let ids = try (0..<5).map { try q.enqueue(JobSubmission(model: "m", payload: payload("\($0)"))).id }
        let w1 = try q.claim(consumer: "w1", max: 2)
        let w2 = try q.claim(consumer: "w2", max: 2)
        let w3 = try q.claim(consumer: "w3", max: 2)
        #expect(w1.count == 2 && w2.count == 2 && w3.count == 1)
        #expect((w1 + w2 + w3).map(\.id) == ids)
        #expect(try q.claim(consumer: "w4", max: 2).isEmpty)
        #expect(try q.claim(consumer: "w4", max: 0).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func binaryPayloadsSurviveIntact(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config())
        defer { f.close() }
        let bytes = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })  // includes NUL and 0xFF
        let id = try f.queue.enqueue(JobSubmission(model: "m", payload: bytes)).id
        let job = try #require(try f.queue.claim(consumer: "w", max: 1).first)
        #expect(job.payload == bytes)
        try f.queue.complete(job, result: Data(bytes.reversed()))
        #expect(try f.queue.status(of: id) == .done(Data(bytes.reversed())))
    }

    /// A consumer that dies holding a job: another takes it over after the visibility timeout, and only the first
    /// completion counts.
    @Test(arguments: Backend.allCases)
    func expiredClaimIsReclaimedAndDuplicatesAreSuppressed(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config(visibilityMs: 300))
        defer { f.close() }
        let q = f.queue
        let id = try q.enqueue(JobSubmission(model: "m", payload: payload("p"))).id
        let first = try #require(try q.claim(consumer: "dying", max: 1).first)
        Thread.sleep(forTimeInterval: 0.5)
        let second = try #require(try q.claim(consumer: "healthy", max: 1).first)
        #expect(second.id == id && second.attempt == 2)
        #expect(try q.complete(second, result: payload("from healthy")))
        #expect(!(try q.complete(first, result: payload("late, from dying"))))
        #expect(try q.status(of: id) == .done(payload("from healthy")))
        #expect(try q.depth() == QueueDepth(waiting: 0, inFlight: 0, dead: 0))
    }

    @Test(arguments: Backend.allCases)
    func claimNotYetExpiredStaysWithItsConsumer(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config(visibilityMs: 5000))
        defer { f.close() }
        _ = try f.queue.enqueue(JobSubmission(model: "m", payload: payload("p")))
        #expect(try f.queue.claim(consumer: "a", max: 1).count == 1)
        #expect(try f.queue.claim(consumer: "b", max: 1).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func failedJobIsRetriedThenDeadLettered(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config(visibilityMs: 200, attempts: 2))
        defer { f.close() }
        let q = f.queue
        let id = try q.enqueue(JobSubmission(model: "m", payload: payload("corrupt"))).id
        let one = try #require(try q.claim(consumer: "w", max: 1).first)
        try q.fail(one, reason: "payload is not JSON")
        #expect(try q.status(of: id) == .queued(attempts: 1))
        #expect(try q.claim(consumer: "w", max: 1).isEmpty)  // retried only after the visibility timeout
        Thread.sleep(forTimeInterval: 0.35)
        let two = try #require(try q.claim(consumer: "w", max: 1).first)
        #expect(two.attempt == 2)
        try q.fail(two, reason: "payload is not JSON")
        guard case let .dead(reason) = try q.status(of: id) else {
            Issue.record("not dead-lettered")
            return
        }
        #expect(reason.contains("payload is not JSON") && reason.contains("2 times"))
        let dead = try q.deadLetters(limit: 10)
        #expect(dead.map(\.id) == [id] && dead.first?.attempts == 2)
        #expect(try q.depth() == QueueDepth(waiting: 0, inFlight: 0, dead: 1))
        Thread.sleep(forTimeInterval: 0.35)
        #expect(try q.claim(consumer: "w", max: 1).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func jobThatKeepsTimingOutIsDeadLettered(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config(visibilityMs: 150, attempts: 2))
        defer { f.close() }
        let q = f.queue
        let id = try q.enqueue(JobSubmission(model: "m", payload: payload("slow"))).id
        #expect(try q.claim(consumer: "a", max: 1).count == 1)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try q.claim(consumer: "b", max: 1).first?.attempt == 2)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try q.claim(consumer: "c", max: 1).isEmpty)
        guard case let .dead(reason) = try q.status(of: id) else {
            Issue.record("not dead-lettered")
            return
        }
        #expect(reason.contains("visibility timeout"))
    }

    @Test(arguments: Backend.allCases)
    func staleFailAfterReclaimIsIgnored(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config(visibilityMs: 200, attempts: 3))
        defer { f.close() }
        let q = f.queue
        let id = try q.enqueue(JobSubmission(model: "m", payload: payload("p"))).id
        let old = try #require(try q.claim(consumer: "a", max: 1).first)
        Thread.sleep(forTimeInterval: 0.35)
        let current = try #require(try q.claim(consumer: "b", max: 1).first)
        try q.fail(old, reason: "stale")
        #expect(try q.status(of: id) == .running(attempt: current.attempt))
    }

    @Test(arguments: Backend.allCases)
    func resultsExpireAfterTheirTTL(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config(ttlMs: 300))
        defer { f.close() }
        let id = try f.queue.enqueue(JobSubmission(model: "m", payload: payload("p"))).id
        let job = try #require(try f.queue.claim(consumer: "w", max: 1).first)
        try f.queue.complete(job, result: payload("r"))
        #expect(try f.queue.status(of: id) == .done(payload("r")))
        Thread.sleep(forTimeInterval: 0.6)
        #expect(try f.queue.status(of: id) == nil)
    }

    /// Four consumers racing over 200 jobs: every job is delivered exactly once and completed once.
    @Test(arguments: Backend.allCases)
    func concurrentConsumersGetDisjointJobs(_ backend: Backend) throws {
        let f = try QueueFixture(backend, config(visibilityMs: 60_000))
        defer { f.close() }
        let ids = try (0..<200).map { try f.queue.enqueue(JobSubmission(model: "m", payload: payload("\($0)"))).id }
        let seen = Locked<[String]>([])
        let errors = Locked<[String]>([])
        let queue = f.queue
        DispatchQueue.concurrentPerform(iterations: 4) { w in
            do {
                while true {
                    let jobs = try queue.claim(consumer: "w\(w)", max: 7)
                    if jobs.isEmpty { break }
                    for j in jobs {
                        if try !queue.complete(j, result: j.payload) {
                            errors.withLock { $0.append("duplicate completion \(j.id)") }
                        }
                    }
                    seen.withLock { $0 += jobs.map(\.id) }
                }
            } catch {
                errors.withLock { $0.append("\(error)") }
            }
        }
        #expect(errors.withLock { $0 } == [])
        #expect(seen.withLock { $0 }.sorted() == ids.sorted())
        #expect(try f.queue.depth() == QueueDepth(waiting: 0, inFlight: 0, dead: 0))
    }
}

@Suite("SQLiteJobQueue")
struct SQLiteJobQueueTests {
    @Test func usesWALAndSurvivesReopen() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jobq-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("jobs.sqlite").path
        var id = ""
        do {
            let q = try SQLiteJobQueue(path: path)
            #expect(try q.journalMode() == "wal")
            id = try q.enqueue(JobSubmission(model: "m", payload: payload("durable"), idempotencyKey: "k")).id
        }
        let reopened = try SQLiteJobQueue(path: path)
        #expect(try reopened.enqueue(JobSubmission(model: "m", payload: payload("durable"), idempotencyKey: "k")).duplicate)
        #expect(try reopened.claim(consumer: "w", max: 1).map(\.id) == [id])
    }

    @Test func unreadablePathIsAnErrorNamingIt() {
        #expect(throws: QueueError.self) { try SQLiteJobQueue(path: "/proc/no/such/dir/jobs.sqlite") }
    }
}

@Suite("RedisJobQueue")
struct RedisJobQueueTests {
    @Test func maxLengthTrimsTheStreamAndLagIsReported() throws {
        let server = try RedisServer()
        defer { server.stop() }
        var c = QueueConfig()
        c.maxLength = 100
        let q = try RedisJobQueue(port: server.port, stream: "t:jobs", group: "g", config: c)
        for i in 0..<1000 { _ = try q.enqueue(JobSubmission(model: "m", payload: payload("\(i)"))) }
        let redis = try RedisConnection(host: "127.0.0.1", port: server.port)
        let length = try #require(try redis.command(["XLEN", "t:jobs"]).integer)
        // MAXLEN ~ trims whole macro nodes (100 entries by default), so the length stays within one node of 100.
        #expect(length >= 100 && length <= 200)
        let depth = try q.depth()
        #expect(depth.waiting == Int(length))  // KEDA's lag: entries the group has not been delivered
    }

    @Test func unreachableServerIsAnErrorNamingIt() throws {
        let server = try RedisServer()
        let port = server.port
        server.stop()
        let error = #expect(throws: QueueError.self) { try RedisJobQueue(port: port) }
        #expect(error?.description.contains("127.0.0.1:\(port)") == true)
    }
}

/// A value behind a lock, for the concurrency test.
final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
