import Foundation
import Formats
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import QueueTestSupport
import Runtime
import ServingAsync
import ServingCore
import ServingQueue
import ServingREST
import Tensors
import Testing

/// The digits CNN (Tests/Fixtures), served with batching; queues are fresh per test.
enum AsyncFixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let cnn: LoadedModel = {
        let m = try! ModelLoader.load(repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras").path)
        m.freeze()
        return m
    }()
    static var itemShape: [Int] {
        guard case let .sequential(s) = cnn.kind else { fatalError("sequential") }
        return s.inputShape
    }

    static func values(seed: Int) -> [Float] {
        (0..<itemShape.reduce(1, *)).map { Float(($0 * 7919 + seed * 104729) % 1000) / 1000 }
    }

    static func body(seed: Int) -> Data {
        try! JSONSerialization.data(withJSONObject: [
            "inputs": [["name": "x", "datatype": "FP32", "shape": [1] + itemShape, "data": values(seed: seed).map(Double.init)]]
        ])
    }

    static func server(maxBatchSize: Int = 8, delayUs: Int = 0) async throws -> InferenceServer {
        var config = ModelConfig(maxBatchSize: maxBatchSize)
        config.dynamicBatching?.maxQueueDelayMicroseconds = delayUs
        let s = InferenceServer(
            repository: ModelRepository(entries: [ModelEntry(name: "cnn", config: config, source: .loaded(cnn))]),
            options: .init(threadsPerInstance: 1))
        try await s.loadAll()
        return s
    }

    static func sqliteQueue(_ config: QueueConfig = QueueConfig()) throws -> (SQLiteJobQueue, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("async-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (try SQLiteJobQueue(path: dir.appendingPathComponent("jobs.sqlite").path, config: config), dir)
    }

    /// Expected probabilities of `seed`'s input, straight from the engine.
    static func expected(seed: Int) throws -> [Float] {
        try cnn.predict(.tensor(Tensor(shape: [1] + itemShape, floats: values(seed: seed))), on: Executor(threads: 1)).floats
    }
}

func json(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:] }
func json(_ buffer: ByteBuffer) -> [String: Any] { json(Data(buffer.readableBytesView)) }

/// Runs a worker over `queue` until `body` returns.
func withWorker<R>(
    _ server: InferenceServer, _ queue: any JobQueue, prefetch: Int = 64, _ body: (QueueWorker) async throws -> R
) async throws -> R {
    var options = QueueWorker.Options()
    options.prefetch = prefetch
    options.consumer = "test-\(UUID().uuidString.prefix(8))"
    let worker = QueueWorker(server: server, queue: queue, codec: RESTJobCodec(), options: options)
    let stop = Locked(false)
    let task = Task { try await worker.consume(until: { stop.withLock { $0 } }) }
    defer { stop.withLock { $0 = true } }
    let r = try await body(worker)
    stop.withLock { $0 = true }
    try await task.value
    return r
}

/// Polls `GET v2/jobs/{id}` until the job leaves queued/running (10 s at most).
func awaitJob(_ front: AsyncInference, _ id: String) async throws -> [String: Any] {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if let data = try await front.statusJSON(of: id) {
            let j = json(data)
            if let s = j["status"] as? String, s != "queued", s != "running" { return j }
        }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("job \(id) did not finish in 10 s")
    return [:]
}

final class Locked<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

enum Backend: String, CaseIterable, Sendable { case sqlite, redis }

/// A queue of `backend` and what stops it.
func makeQueue(_ backend: Backend, _ config: QueueConfig = QueueConfig()) throws -> (any JobQueue, () -> Void) {
    switch backend {
    case .sqlite:
        let (q, dir) = try AsyncFixtures.sqliteQueue(config)
        return (q, { try? FileManager.default.removeItem(at: dir) })
    case .redis:
        let redis = try RedisServer()
        let q = try RedisJobQueue(host: "127.0.0.1", port: redis.port, config: config)
        return (q, { redis.stop() })
    }
}

@Suite("Async inference (REST front, queue worker)", .serialized)
struct AsyncInferenceTests {
    @Test func envelopeRoundTripsAndCorruptionIsNamed() throws {
        let e = JobEnvelope(meta: .init(version: "1", headerLength: 12, callback: "http://127.0.0.1:1/cb", submittedAt: 1.5), body: Data([0, 1, 2, 255]))
        #expect(try JobEnvelope(decoding: e.encoded()) == e)
        var truncated = e.encoded()
        truncated.removeLast(truncated.count - 10)
        for (bad, expected) in [(Data("garbage".utf8), "without the CJ1 envelope header"), (truncated, "metadata length")] {
            let message: String
            do {
                _ = try JobEnvelope(decoding: bad)
                message = "decoded"
            } catch {
                message = error.message
            }
            #expect(message.contains(expected), "\(message)")
        }
    }

    /// Submit over REST → 202 + id; the worker completes it; GET gives the same outputs as the engine; a repeated
    /// Idempotency-Key returns the first id and runs nothing twice.
    @Test(arguments: Backend.allCases)
    func submitPollAndIdempotency(_ backend: Backend) async throws {
        let server = try await AsyncFixtures.server()
        let (queue, close) = try makeQueue(backend)
        defer { close() }
        let front = AsyncInference(server: server, queue: queue)
        let app = Application(router: RESTServer.router(for: server, asyncInference: front))
        let idsBox = Locked<[String]>([])
        try await app.test(.router) { client in
            for attempt in 0..<2 {
                try await client.execute(
                    uri: "/v2/models/cnn/infer-async", method: .post, headers: [HTTPField.Name("Idempotency-Key")!: "k-1"],
                    body: ByteBuffer(data: AsyncFixtures.body(seed: 3))
                ) { r in
                    #expect(r.status == .accepted)
                    let j = json(r.body)
                    let id = j["id"] as? String ?? ""
                    idsBox.withLock { $0.append(id) }
                    #expect(r.headers[.location] == "/v2/jobs/\(id)")
                    #expect(r.headers[HTTPField.Name("Idempotent-Replayed")!] == (attempt == 1 ? "true" : nil))
                }
            }
            try await client.execute(uri: "/v2/models/nope/infer-async", method: .post, body: ByteBuffer(data: AsyncFixtures.body(seed: 3))) {
                #expect($0.status == .notFound)
            }
            try await client.execute(
                uri: "/v2/models/cnn/infer-async", method: .post, headers: [HTTPField.Name("X-Callback-URL")!: "file:///etc/passwd"],
                body: ByteBuffer(data: AsyncFixtures.body(seed: 3))
            ) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v2/jobs/\(idsBox.withLock { $0[0] })", method: .get) { r in
                #expect(r.status == .ok)
                #expect(json(r.body)["status"] as? String == "queued")
            }
        }
        let ids = idsBox.withLock { $0 }
        #expect(ids.count == 2 && ids[0] == ids[1])
        let done = try await withWorker(server, queue) { _ in try await awaitJob(front, ids[0]) }
        #expect(done["status"] as? String == "done")
        let response = done["response"] as? [String: Any] ?? [:]
        #expect(response["model_name"] as? String == "cnn")
        let out = ((response["outputs"] as? [[String: Any]])?.first?["data"] as? [Double])?.map(Float.init) ?? []
        #expect(out == (try AsyncFixtures.expected(seed: 3)))
        #expect((done["completed_at"] as? Double ?? 0) >= (done["submitted_at"] as? Double ?? .infinity))
        #expect(try queue.counters() == QueueCounters(enqueued: 1, completed: 1))
        try await Application(router: RESTServer.router(for: server, asyncInference: front)).test(.router) { client in
            try await client.execute(uri: "/v2/jobs/not-a-job", method: .get) { #expect($0.status == .notFound) }
        }
        await server.shutdown()
    }

    /// 64 jobs queued before the worker starts become batches, not 64 forward passes; each result is its input's.
    @Test(arguments: Backend.allCases)
    func queuedJobsAreBatched(_ backend: Backend) async throws {
        let server = try await AsyncFixtures.server(maxBatchSize: 16)
        let (queue, close) = try makeQueue(backend)
        defer { close() }
        let front = AsyncInference(server: server, queue: queue)
        var ids: [String] = []
        for seed in 0..<64 {
            ids.append(try await front.submit(model: "cnn", body: AsyncFixtures.body(seed: seed), headerLength: nil, callback: nil, idempotencyKey: nil).id)
        }
        let results = try await withWorker(server, queue) { _ in
            var out: [[String: Any]] = []
            for id in ids { out.append(try await awaitJob(front, id)) }
            return out
        }
        for (seed, r) in results.enumerated() {
            let response = r["response"] as? [String: Any] ?? [:]
            let data = ((response["outputs"] as? [[String: Any]])?.first?["data"] as? [Double])?.map(Float.init) ?? []
            #expect(try closeToEngine(data, seed: seed), "job \(seed)")
        }
        let stats = try server.statistics(model: "cnn").modelStats[0]
        #expect(stats.inferenceCount == 64)
        // Batches of up to 16: at least 4 passes, and far fewer than one per job.
        #expect(stats.executionCount >= 4 && stats.executionCount <= 16, "\(stats.executionCount) forward passes for 64 jobs")
        await server.shutdown()
    }

    /// A corrupt payload, an oversized one and a request the model rejects are dead-lettered with their reasons
    /// at once; the worker goes on to complete the good job behind them.
    @Test(arguments: Backend.allCases)
    func badPayloadsAreDeadLetteredAndTheWorkerGoesOn(_ backend: Backend) async throws {
        let server = try await AsyncFixtures.server()
        let (queue, close) = try makeQueue(backend)
        defer { close() }
        let front = AsyncInference(server: server, queue: queue)
        let corrupt = try queue.enqueue(JobSubmission(model: "cnn", payload: Data("\u{0}\u{1}not an envelope".utf8))).id
        let oversized = try queue.enqueue(
            JobSubmission(model: "cnn", payload: JobEnvelope(meta: .init(submittedAt: 0), body: Data(count: 300_000)).encoded())).id
        let wrongShape = try await front.submit(
            model: "cnn", body: Data(#"{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,2]}]}"#.utf8), headerLength: nil,
            callback: nil, idempotencyKey: nil
        ).id
        let good = try await front.submit(model: "cnn", body: AsyncFixtures.body(seed: 1), headerLength: nil, callback: nil, idempotencyKey: nil).id
        var options = QueueWorker.Options()
        options.maxPayloadBytes = 100_000
        let worker = QueueWorker(server: server, queue: queue, codec: RESTJobCodec(), options: options)
        let stop = Locked(false)
        let task = Task { try await worker.consume(until: { stop.withLock { $0 } }) }
        let states = try await [corrupt, oversized, wrongShape, good].asyncMap { try await awaitJob(front, $0) }
        stop.withLock { $0 = true }
        try await task.value
        #expect(states.map { $0["status"] as? String } == ["failed", "failed", "failed", "done"])
        #expect((states[0]["error"] as? String ?? "").contains("corrupt job payload"))
        #expect((states[1]["error"] as? String ?? "").contains("exceeds the worker's limit of 100000"))
        #expect((states[2]["error"] as? String ?? "").contains("invalid_argument"))
        let dead = try queue.deadLetters(limit: 10)
        #expect(Set(dead.map(\.id)) == [corrupt, oversized, wrongShape])
        #expect(worker.statistics.snapshot.rejected == 3 && worker.statistics.snapshot.completed == 1)
        let c = try queue.counters()
        #expect(c.deadLettered == 3 && c.completed == 1 && c.enqueued == 4)
        let text = try QueueMetrics(queue: queue, stream: "compress:jobs", group: "compress-workers").prometheusText()
        #expect(text.contains(#"compress_queue_jobs_dead_lettered_total{stream="compress:jobs",group="compress-workers"} 3"#))
        #expect(text.contains(#"compress_queue_dead_letters{stream="compress:jobs",group="compress-workers"} 3"#))
        await server.shutdown()
    }

    /// A job claimed by a consumer that died is reclaimed after the visibility timeout and completed once; the dead
    /// consumer's late result is dropped as a duplicate.
    @Test(arguments: Backend.allCases)
    func deadConsumersJobsAreReclaimedAndCompletedOnce(_ backend: Backend) async throws {
        let server = try await AsyncFixtures.server()
        let (queue, close) = try makeQueue(backend, QueueConfig(visibilityTimeout: .milliseconds(300)))
        defer { close() }
        let front = AsyncInference(server: server, queue: queue)
        var ids: [String] = []
        for seed in 0..<10 {
            ids.append(try await front.submit(model: "cnn", body: AsyncFixtures.body(seed: seed), headerLength: nil, callback: nil, idempotencyKey: nil).id)
        }
        let lost = try queue.claim(consumer: "dies", max: 4)  // never completed: its consumer is gone
        #expect(lost.count == 4)
        let (results, stats) = try await withWorker(server, queue) { worker in
            var out: [[String: Any]] = []
            for id in ids { out.append(try await awaitJob(front, id)) }
            return (out, worker.statistics.snapshot)
        }
        #expect(results.allSatisfy { $0["status"] as? String == "done" })
        #expect(stats.completed == 10 && stats.redelivered == 4)
        // The dead consumer comes back and reports: refused, the first result stays.
        for job in lost { #expect(try queue.complete(job, result: Data("late".utf8)) == false) }
        let again = json(try await front.statusJSON(of: lost[0].id) ?? Data())
        #expect(again["response"] != nil)
        #expect(try queue.counters().completed == 10)
        await server.shutdown()
    }

    /// The callback URL gets the job's view once it is done (a loopback receiver), after one failed attempt.
    @Test func callbackIsPostedWithRetries() async throws {
        let server = try await AsyncFixtures.server()
        let (queue, close) = try makeQueue(.sqlite)
        defer { close() }
        let front = AsyncInference(server: server, queue: queue)
        let received = Locked<[Data]>([])
        let calls = Locked(0)
        let router = Router()
        router.post("/cb") { request, _ -> Response in
            let first = calls.withLock { c -> Bool in
                c += 1
                return c == 1
            }
            if first { return Response(status: .serviceUnavailable) }  // the first attempt fails: retried
            let body = try await request.body.collect(upTo: 1 << 20)
            received.withLock { $0.append(Data(body.readableBytesView)) }
            return Response(status: .noContent)
        }
        let port = Locked(0)
        let receiver = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { ch in port.withLock { $0 = ch.localAddress?.port ?? 0 } })
        try await receiver.test(.live) { _ in
            let deadline = ContinuousClock.now + .seconds(5)
            while port.withLock({ $0 }) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            let id = try await front.submit(
                model: "cnn", body: AsyncFixtures.body(seed: 2), headerLength: nil,
                callback: "http://127.0.0.1:\(port.withLock { $0 })/cb", idempotencyKey: nil
            ).id
            try await withWorker(server, queue) { _ in
                let end = ContinuousClock.now + .seconds(10)
                while received.withLock({ $0.isEmpty }), ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(20)) }
            }
            let got = received.withLock { $0 }
            #expect(got.count == 1)
            let j = json(got.first ?? Data())
            #expect(j["id"] as? String == id && j["status"] as? String == "done")
            #expect(calls.withLock { $0 } == 2)
        }
        await server.shutdown()
    }

    /// Beyond --max-queued-jobs a submit is refused with 429 at once (no unbounded queue); nothing is enqueued.
    @Test func overloadIs429() async throws {
        let server = try await AsyncFixtures.server()
        let (queue, close) = try makeQueue(.sqlite)
        defer { close() }
        let front = AsyncInference(server: server, queue: queue, maxQueuedJobs: 3)
        try await Application(router: RESTServer.router(for: server, asyncInference: front)).test(.router) { client in
            var statuses: [HTTPResponse.Status] = []
            for seed in 0..<5 {
                // Past the 100 ms depth cache, so each submit sees the jobs before it.
                try await Task.sleep(for: .milliseconds(120))
                try await client.execute(uri: "/v2/models/cnn/infer-async", method: .post, body: ByteBuffer(data: AsyncFixtures.body(seed: seed))) {
                    statuses.append($0.status)
                }
            }
            #expect(statuses == [.accepted, .accepted, .accepted, .tooManyRequests, .tooManyRequests])
        }
        #expect(try queue.counters().enqueued == 3)
        await server.shutdown()
    }

    /// The worker survives its Redis being restarted (same port, persistence on): it backs off, reconnects, and
    /// completes the jobs submitted before and after; the outage is recorded.
    @Test func workerReconnectsAfterRedisRestart() async throws {
        let server = try await AsyncFixtures.server()
        let redis = try RedisServer()
        defer { redis.stop() }
        let queue = try RedisJobQueue(host: "127.0.0.1", port: redis.port)
        let front = AsyncInference(server: server, queue: queue)
        let first = try await front.submit(model: "cnn", body: AsyncFixtures.body(seed: 1), headerLength: nil, callback: nil, idempotencyKey: nil).id
        let stats = try await withWorker(server, queue) { worker in
            _ = try await awaitJob(front, first)
            let restarted = try redis.restart()
            #expect(restarted)
            // The data went with the old server (no persistence in tests): the group is recreated on NOGROUP.
            let second = try await front.submit(model: "cnn", body: AsyncFixtures.body(seed: 2), headerLength: nil, callback: nil, idempotencyKey: nil).id
            let done = try await awaitJob(front, second)
            #expect(done["status"] as? String == "done")
            return worker.statistics.snapshot
        }
        #expect(stats.completed == 2)
        #expect(queue.reconnects >= 1)
        await server.shutdown()
    }
}

extension Array {
    func asyncMap<T>(_ f: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await f(e)) }
        return out
    }
}
