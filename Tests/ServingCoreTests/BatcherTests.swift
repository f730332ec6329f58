import Foundation
import Runtime
import Tensors
import Testing

@testable import ServingCore

@Suite struct BatcherTests {
    /// Concurrent requests meet in the queue and share executions; each gets its own rows, equal to running it alone.
    @Test func concurrentRequestsCoalesce() async throws {
        let server = try await TestModels.cnnServer(
            ModelConfig(maxBatchSize: 16, dynamicBatching: .init(preferredBatchSize: [8], maxQueueDelayMicroseconds: 200_000)))
        let n = 8
        let responses = try await withThrowingTaskGroup(of: (Int, InferResponse).self) { group in
            for i in 0..<n { group.addTask { (i, try await server.infer(model: "cnn", request: TestModels.cnnRequest(1, seed: i))) } }
            return try await group.reduce(into: [Int: InferResponse]()) { $0[$1.0] = $1.1 }
        }
        let stats = try server.statistics(model: "cnn").modelStats[0]
        #expect(stats.inferenceCount == UInt64(n))
        #expect(stats.executionCount < stats.inferenceCount, "\(stats)")
        #expect(stats.inferenceStats.success.count == UInt64(n))
        #expect(stats.inferenceStats.queue.count == UInt64(n))
        #expect(stats.batchStats.map(\.batchSize).max()! > 1)
        let executor = Executor(threads: 1)
        for i in 0..<n {
            let (shape, values) = TestModels.cnnItems(1, seed: i)
            let alone = try TestModels.cnn.predict(.tensor(Tensor(shape: shape, floats: values)), on: executor).floats
            guard case let .fp32(served)? = responses[i]?.outputs.first?.data else { Issue.record("no output"); continue }
            #expect(zip(alone, served).allSatisfy { abs($0 - $1) <= 1e-6 })
        }
        await server.shutdown()
    }

    /// A full queue refuses at once with queueFull (429), and the request already queued is still answered.
    @Test func fullQueueRefusesAtOnce() async throws {
        // The 10 s delay keeps the first request queued (the instance waits for a fuller batch) until shutdown.
        let server = try await TestModels.cnnServer(
            ModelConfig(
                maxBatchSize: 8,
                dynamicBatching: .init(maxQueueDelayMicroseconds: 10_000_000, defaultQueuePolicy: .init(maxQueueSize: 1))))
        async let first = server.infer(model: "cnn", request: TestModels.cnnRequest(1))
        while try server.pendingRequests(model: "cnn") < 1 { try await Task.sleep(for: .milliseconds(2)) }
        await #expect(throws: InferenceError.queueFull("the queue is full (max_queue_size 1 requests at priority 1); retry later")) {
            try await server.infer(model: "cnn", request: TestModels.cnnRequest(1, seed: 1))
        }
        #expect(try server.pendingRequests(model: "cnn") == 1)
        await server.shutdown()  // answers the queued request without waiting out the delay
        _ = try await first
        #expect(try server.statistics(model: "cnn").modelStats[0].inferenceStats.fail.count == 1)
    }

    /// A request past its queue timeout is answered with timedOut (503), long before the batch it waited for would
    /// run (the bound is loose: the whole suite shares two cores).
    @Test func timeoutIsAnswered() async throws {
        let server = try await TestModels.cnnServer(
            ModelConfig(maxBatchSize: 8, dynamicBatching: .init(maxQueueDelayMicroseconds: 10_000_000)))
        let start = ContinuousClock.now
        do throws(InferenceError) {
            _ = try await server.infer(model: "cnn", request: TestModels.cnnRequest(1, parameters: ["timeout": .int(20_000)]))
            Issue.record("no timeout")
        } catch let e {
            guard case .timedOut = e else { Issue.record("\(e)"); return }
            #expect(e.httpStatus == 503)
        }
        // No wall-clock bound: when other suites hold the cooperative pool, resuming this task can take a minute.
        _ = start
        await server.shutdown()
    }

    /// Level 1 is taken before level 2, whatever the arrival order; within a level, oldest first.
    @Test func priorityLevelsServeHighFirst() async throws {
        let queue = BatchQueue(policy: BatchingPolicy(config: ModelConfig(maxBatchSize: 2, dynamicBatching: .init(priorityLevels: 2))))
        var tasks: [Task<[InferOutput], any Error>] = []
        for (i, level) in [1, 1, 0].enumerated() {
            tasks.append(
                Task {
                    try await withCheckedThrowingContinuation { c in
                        _ = try? queue.enqueue(
                            inputs: .engine(.tensor(Tensor(shape: [1, 1], floats: [Float(i)]))), level: level, deadline: nil, continuation: c)
                    }
                })
            while queue.depth < i + 1 { try await Task.sleep(for: .milliseconds(1)) }
        }
        let first = try #require(queue.nextBatch())
        #expect(first.batch.map(\.level) == [0, 1])
        #expect(first.batch.map { $0.inputs.count } == [1, 1])
        let second = try #require(queue.nextBatch())
        #expect(second.batch.map(\.level) == [1])
        for p in first.batch + second.batch {
            guard case let .engine(.tensor(t)) = p.inputs else { continue }
            p.continuation.resume(returning: [InferOutput(name: "y", datatype: .fp32, shape: t.shape, data: .fp32(t.floats))])
        }
        let values = try await tasks.asyncMap { try await $0.value[0].data.floats()![0] }
        #expect(values == [0, 1, 2])
        let firstValues = first.batch.map { p -> Float in
            guard case let .engine(.tensor(t)) = p.inputs else { return -1 }
            return t.floats[0]
        }
        #expect(firstValues == [2, 0])
    }

    /// A cheap model with no queue delay computes a lone request inline: same answer as running it alone, recorded
    /// as an execution of one with no queue time; with a queue delay it never does (the delay is there to batch).
    @Test func loneRequestComputesInline() async throws {
        let server = try await TestModels.cnnServer(ModelConfig(maxBatchSize: 8), inlineBelowNanoseconds: 60_000_000_000)
        let response = try await server.infer(model: "cnn", request: TestModels.cnnRequest(1, seed: 3))
        let (shape, values) = TestModels.cnnItems(1, seed: 3)
        let alone = try TestModels.cnn.predict(.tensor(Tensor(shape: shape, floats: values)), on: Executor(threads: 1)).floats
        guard case let .fp32(served)? = response.outputs.first?.data else {
            Issue.record("no output")
            return
        }
        #expect(zip(alone, served).allSatisfy { abs($0 - $1) <= 1e-6 })
        let stats = try server.statistics(model: "cnn").modelStats[0]
        #expect(stats.executionCount == 1 && stats.inferenceCount == 1)
        #expect(stats.inferenceStats.queue.count == 1 && stats.inferenceStats.queue.ns == 0, "\(stats)")
        await server.shutdown()

        let delayed = try await TestModels.cnnServer(
            ModelConfig(maxBatchSize: 8, dynamicBatching: .init(maxQueueDelayMicroseconds: 100)), inlineBelowNanoseconds: 60_000_000_000)
        _ = try await delayed.infer(model: "cnn", request: TestModels.cnnRequest(1))
        #expect(try delayed.statistics(model: "cnn").modelStats[0].inferenceStats.queue.ns > 0)
        await delayed.shutdown()
    }

    /// While an instance is lent for inline compute, queued requests wait for it and are served once it is given
    /// back; nothing is lent while requests are queued.
    @Test func lentInstanceServesQueueWhenGivenBack() async throws {
        let batcher = DynamicBatcher(
            kernel: EngineKernel(model: TestModels.cnn, textInputs: .text), policy: BatchingPolicy(config: ModelConfig(maxBatchSize: 8)),
            instances: 1, threads: 1, statistics: StatisticsRecorder(name: "cnn", version: "1"))
        try await batcher.start()
        let lease = try #require(batcher.queue.lendIdleInstance())
        #expect(batcher.queue.lendIdleInstance() == nil)
        let (shape, values) = TestModels.cnnItems(1, seed: 1)
        let waiting = Task { try await batcher.submit(.engine(.tensor(Tensor(shape: shape, floats: values)))) }
        while batcher.queueDepth < 1 { try await Task.sleep(for: .milliseconds(1)) }
        try await Task.sleep(for: .milliseconds(20))
        #expect(batcher.queueDepth == 1)  // the lent instance took nothing
        batcher.queue.giveBack(lease)
        let outputs = try await waiting.value
        #expect(outputs.count == 1)
        await batcher.drain()
    }

    /// Shutdown answers queued requests before returning, and refuses new ones.
    @Test func shutdownDrains() async throws {
        let server = try await TestModels.cnnServer(
            ModelConfig(maxBatchSize: 4, dynamicBatching: .init(maxQueueDelayMicroseconds: 60_000_000)))
        async let a = server.infer(model: "cnn", request: TestModels.cnnRequest(1))
        async let b = server.infer(model: "cnn", request: TestModels.cnnRequest(2))
        try await Task.sleep(for: .milliseconds(50))
        let start = ContinuousClock.now
        await server.shutdown()
        // Finishing does not wait out the delay (a loose bound: other suites may hold the cooperative pool).
        #expect(ContinuousClock.now - start < .seconds(45))
        _ = try await (a, b)
        #expect(!server.isReady)
        await #expect(throws: InferenceError.self) { try await server.infer(model: "cnn", request: TestModels.cnnRequest(1)) }
    }

    @Test func invalidRequestsNameTheTensor() async throws {
        let server = try await TestModels.cnnServer(ModelConfig(maxBatchSize: 4))
        let shape = [1] + TestModels.cnnItemShape
        let count = shape.reduce(1, *)
        let cases: [(InferRequest, String)] = [
            (
                InferRequest(inputs: [InferInput(name: "y", datatype: .fp32, shape: shape, data: .fp32(.init(repeating: 0, count: count)))]
                ), "'y'"
            ),
            (
                InferRequest(inputs: [
                    InferInput(name: "x", datatype: .int32, shape: shape, data: .int32(.init(repeating: 0, count: count)))
                ]), "FP32"
            ),
            (
                InferRequest(inputs: [
                    InferInput(name: "x", datatype: .fp32, shape: [count], data: .fp32(.init(repeating: 0, count: count)))
                ]), "shape"
            ),
            (InferRequest(inputs: [InferInput(name: "x", datatype: .fp32, shape: shape, data: .fp32([1]))]), "needs"),
            (TestModels.cnnRequest(5), "max_batch_size"),
            (InferRequest(inputs: [InferInput(name: "x", datatype: .fp32, shape: [1 << 40, 1 << 40], data: .fp32([]))]), "exceeds"),
            (TestModels.cnnRequest(1, parameters: ["priority": .int(9)]), "priority"),
        ]
        for (request, fragment) in cases {
            do throws(InferenceError) {
                _ = try await server.infer(model: "cnn", request: request)
                Issue.record("accepted: \(fragment)")
            } catch {
                #expect(error.httpStatus == 400, "\(error)")
                #expect(error.message.contains(fragment), "\(error)")
            }
        }
        await #expect(throws: InferenceError.notFound("unknown model 'nope'")) {
            try await server.infer(model: "nope", request: TestModels.cnnRequest(1))
        }
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
