import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import HummingbirdTesting
import InferenceGRPCProtocol
import Logging
import ServingAsync
import ServingCore
import ServingGRPC
import ServingMetrics
import ServingQueue
import ServingREST
import Testing

/// Runs `body` with a compress.v1.AsyncInferenceService client connected over 127.0.0.1 to a gRPC server (ephemeral
/// port) serving `front` beside inference.GRPCInferenceService, then stops the server.
func withAsyncLoopback<R: Sendable>(
    _ front: AsyncInference,
    _ body: @Sendable (Compress_V1_AsyncInferenceService.Client<HTTP2ClientTransport.Posix>, Inference_GRPCInferenceService.Client<HTTP2ClientTransport.Posix>) async throws -> R
) async throws -> R {
    let grpc = GRPCInferenceServer(
        server: front.server, host: "127.0.0.1", port: 0, asyncService: AsyncInferenceService(front: front, codec: RESTJobCodec()),
        logger: Logger(label: "test"))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await grpc.run() }
        do {
            let port = try await grpc.port
            let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
            let result = try await withGRPCClient(transport: transport) { client in
                try await body(Compress_V1_AsyncInferenceService.Client(wrapping: client), Inference_GRPCInferenceService.Client(wrapping: client))
            }
            grpc.beginGracefulShutdown()
            try await group.waitForAll()
            return result
        } catch {
            grpc.beginGracefulShutdown()
            throw error
        }
    }
}

/// A SubmitInfer message for one digits-CNN item (raw or typed contents).
/// Whether `values` are the engine's batch-1 outputs for `seed` to float rounding: the worker batches queued jobs, and a
/// batched GEMM sums in another order than batch 1.
func closeToEngine(_ values: [Float], seed: Int) throws -> Bool {
    let expected = try AsyncFixtures.expected(seed: seed)
    return values.count == expected.count && zip(values, expected).allSatisfy { abs($0 - $1) <= 1e-5 }
}

func cnnSubmit(seed: Int, raw: Bool, key: String = "") -> Compress_V1_SubmitInferRequest {
    var m = Inference_ModelInferRequest()
    m.modelName = "cnn"
    var x = Inference_ModelInferRequest.InferInputTensor()
    x.name = "x"
    x.datatype = "FP32"
    x.shape = ([1] + AsyncFixtures.itemShape).map(Int64.init)
    let values = AsyncFixtures.values(seed: seed)
    if raw {
        m.rawInputContents = [Data(values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })]
    } else {
        x.contents.fp32Contents = values
    }
    m.inputs = [x]
    var r = Compress_V1_SubmitInferRequest()
    r.request = m
    r.idempotencyKey = key
    return r
}

func floatsLE(_ data: Data) -> [Float] {
    let a = Array(data)
    return stride(from: 0, to: a.count, by: 4).map { i in
        Float(bitPattern: UInt32(a[i]) | UInt32(a[i + 1]) << 8 | UInt32(a[i + 2]) << 16 | UInt32(a[i + 3]) << 24)
    }
}

/// The gRPC status code `body` throws (nil if it succeeds or throws something else).
func grpcCode(_ body: () async throws -> Void) async -> RPCError.Code? {
    do {
        try await body()
        return nil
    } catch let e as RPCError {
        return e.code
    } catch {
        return nil
    }
}

/// Polls GetJob until the job leaves queued/running (10 s at most).
func awaitGRPCJob(
    _ client: Compress_V1_AsyncInferenceService.Client<HTTP2ClientTransport.Posix>, _ id: String
) async throws -> Compress_V1_GetJobResponse {
    var request = Compress_V1_GetJobRequest()
    request.jobID = id
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        let job = try await client.getJob(request)
        if job.status != .queued, job.status != .running { return job }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("job \(id) did not finish in 10 s")
    return Compress_V1_GetJobResponse()
}

/// compress.v1.AsyncInferenceService over a real HTTP/2 connection on 127.0.0.1, on the same AsyncInference front,
/// queue and worker as REST's infer-async (SQLite queue; the Redis backend is covered by the REST suite).
@Suite("Async inference over gRPC (AsyncInferenceService)", .serialized)
struct GRPCAsyncInferenceTests {
    /// Raw and typed submits answer a job id at once; a worker runs them; GetJob gives the engine's outputs (to float
    /// rounding: the three jobs are queued before the worker starts, so they run as one batch) in raw_output_contents. A job submitted over gRPC reads as done over REST's JSON view, and a job submitted over
    /// REST reads over gRPC: one queue, one payload format.
    @Test func submitRunAndReadAcrossTransports() async throws {
        let server = try await AsyncFixtures.server()
        let (queue, close) = try makeQueue(.sqlite)
        defer { close() }
        let front = AsyncInference(server: server, queue: queue)
        let restID = try await front.submit(model: "cnn", body: AsyncFixtures.body(seed: 9), headerLength: nil, callback: nil, idempotencyKey: nil).id
        try await withAsyncLoopback(front) { client, _ in
            let raw = try await client.submitInfer(cnnSubmit(seed: 3, raw: true))
            let typed = try await client.submitInfer(cnnSubmit(seed: 4, raw: false))
            #expect(!raw.jobID.isEmpty && raw.jobID != typed.jobID)
            #expect(raw.status == .queued && !raw.idempotentReplayed)
            var get = Compress_V1_GetJobRequest()
            get.jobID = raw.jobID
            let waiting = try await client.getJob(get)
            #expect(waiting.status == .queued && waiting.attempts == 0 && !waiting.hasResponse)

            try await withWorker(server, queue) { _ in
                for (id, seed) in [(raw.jobID, 3), (typed.jobID, 4), (restID, 9)] {
                    let job = try await awaitGRPCJob(client, id)
                    #expect(job.status == .done, "\(job.error)")
                    #expect(job.jobID == id)
                    #expect(job.response.modelName == "cnn")
                    #expect(job.response.outputs.map(\.name) == ["probabilities"])
                    #expect(job.response.outputs.first?.shape == [1, 10])
                    #expect(try closeToEngine(floatsLE(job.response.rawOutputContents.first ?? Data()), seed: seed), "job \(id)")
                    #expect(job.completedAt >= job.submittedAt && job.submittedAt > 0)
                }
            }
            let view = json(try #require(try await front.statusJSON(of: raw.jobID)))
            #expect(view["status"] as? String == "done")
            let out = (((view["response"] as? [String: Any])?["outputs"] as? [[String: Any]])?.first?["data"] as? [Double])?.map(Float.init)
            #expect(try closeToEngine(out ?? [], seed: 3))
        }
        #expect(try queue.counters() == QueueCounters(enqueued: 3, completed: 3))
        await server.shutdown()
    }

    /// A repeated idempotency key returns the first job (idempotent_replayed) and enqueues nothing.
    @Test func idempotencyKey() async throws {
        let server = try await AsyncFixtures.server()
        let (queue, close) = try makeQueue(.sqlite)
        defer { close() }
        let front = AsyncInference(server: server, queue: queue)
        try await withAsyncLoopback(front) { client, _ in
            let first = try await client.submitInfer(cnnSubmit(seed: 1, raw: true, key: "g-1"))
            let again = try await client.submitInfer(cnnSubmit(seed: 1, raw: true, key: "g-1"))
            #expect(again.jobID == first.jobID)
            #expect(!first.idempotentReplayed && again.idempotentReplayed)
            var tooLong = cnnSubmit(seed: 1, raw: true)
            tooLong.idempotencyKey = String(repeating: "k", count: 257)
            #expect(await grpcCode { _ = try await client.submitInfer(tooLong) } == .invalidArgument)
        }
        #expect(try queue.counters().enqueued == 1)
        await server.shutdown()
    }

    /// Unknown job or model → NOT_FOUND; malformed tensors, tensors the model does not take, a bad callback URL →
    /// INVALID_ARGUMENT; a full queue → RESOURCE_EXHAUSTED; a dead-lettered job → FAILED with the reason.
    @Test func statusCodes() async throws {
        let server = try await AsyncFixtures.server()
        let (queue, close) = try makeQueue(.sqlite)
        defer { close() }
        let front = AsyncInference(server: server, queue: queue, maxQueuedJobs: 2)
        let poisoned = try await front.submit(model: "cnn", body: Data("{\"inputs\": 3}".utf8), headerLength: nil, callback: nil, idempotencyKey: nil).id
        try await withAsyncLoopback(front) { client, _ in
            var get = Compress_V1_GetJobRequest()
            get.jobID = "not-a-job"
            #expect(await grpcCode { _ = try await client.getJob(get) } == .notFound)
            get.jobID = ""
            #expect(await grpcCode { _ = try await client.getJob(get) } == .invalidArgument)

            var unknownModel = cnnSubmit(seed: 0, raw: true)
            unknownModel.request.modelName = "nope"
            #expect(await grpcCode { _ = try await client.submitInfer(unknownModel) } == .notFound)
            var truncated = cnnSubmit(seed: 0, raw: true)
            truncated.request.rawInputContents = [Data(count: 12)]
            #expect(await grpcCode { _ = try await client.submitInfer(truncated) } == .invalidArgument)
            var wrongName = cnnSubmit(seed: 0, raw: false)
            wrongName.request.inputs[0].name = "y"
            #expect(await grpcCode { _ = try await client.submitInfer(wrongName) } == .invalidArgument)
            var badCallback = cnnSubmit(seed: 0, raw: true)
            badCallback.callbackURL = "file:///etc/passwd"
            #expect(await grpcCode { _ = try await client.submitInfer(badCallback) } == .invalidArgument)
            #expect(try queue.counters().enqueued == 1)

            _ = try await client.submitInfer(cnnSubmit(seed: 0, raw: true))
            // The front's depth cache is 100 ms old at most: past it, two queued jobs fill a queue of 2.
            try await Task.sleep(for: .milliseconds(150))
            #expect(await grpcCode { _ = try await client.submitInfer(cnnSubmit(seed: 1, raw: true)) } == .resourceExhausted)

            try await withWorker(server, queue) { _ in
                let dead = try await awaitGRPCJob(client, poisoned)
                #expect(dead.status == .failed)
                #expect(dead.error.contains("invalid_argument"), "\(dead.error)")
                #expect(!dead.hasResponse)
            }
        }
        await server.shutdown()
    }

    /// `compress serve --async`'s own metrics port carries the queue's autoscaling signals beside Triton's series,
    /// wired as ServeCommand wires it (the names KEDA's prometheus trigger and tools/autoscale_sim.py read).
    @Test func serverMetricsCarryTheQueue() async throws {
        let server = try await AsyncFixtures.server()
        let (queue, close) = try makeQueue(.sqlite)
        defer { close() }
        let front = AsyncInference(server: server, queue: queue)
        for seed in 0..<3 {
            _ = try await front.submit(model: "cnn", body: AsyncFixtures.body(seed: seed), headerLength: nil, callback: nil, idempotencyKey: nil)
        }
        let sources: [any PrometheusTextSource] = [QueueMetrics(queue: queue, stream: "compress:jobs", group: "compress-workers")]
        let router = MetricsServer.router(
            server: server, metrics: PrometheusMetrics(), additionalText: { PrometheusTextServer.text(of: sources) })
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = String(decoding: r.body.readableBytesView, as: UTF8.self)
                let labels = #"{stream="compress:jobs",group="compress-workers"}"#
                #expect(text.contains("compress_queue_jobs_enqueued_total\(labels) 3\n"), "\(text)")
                #expect(text.contains("compress_queue_depth\(labels) 3\n"))
                #expect(text.contains("compress_queue_pending\(labels) 0\n"))
                #expect(text.contains("# TYPE compress_queue_consumer_lag gauge"))
                #expect(text.contains("process_resident_memory_bytes"))
            }
        }
        await server.shutdown()
    }
}
