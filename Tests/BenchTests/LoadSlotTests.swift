import Bench
import Foundation
import ServingCore
import Testing

/// Load slots and gRPC connections: each closed-loop worker sends from its own slot, and the gRPC client opens
/// perf_analyzer's connection count (one channel per 6 of its clients) unless told otherwise.
@Suite struct LoadSlotTests {
    /// Answers at once and remembers which slots sent.
    final class SlotRecorder: LoadTarget, @unchecked Sendable {
        private let lock = NSLock()
        private var seen: Set<Int> = []
        var slots: Set<Int> { lock.withLock { seen } }
        var protocolName: String { "fake" }
        func metadata() async throws -> ModelMetadata {
            ModelMetadata(name: "m", versions: ["1"], platform: "fake", inputs: [], outputs: [])
        }
        func statistics() async throws -> ModelStatistics? { nil }
        func infer(_ request: BenchRequest) async -> RequestOutcome { await infer(request, slot: -1) }
        func infer(_ request: BenchRequest, slot: Int) async -> RequestOutcome {
            lock.withLock { _ = seen.insert(slot) }
            try? await Task.sleep(nanoseconds: 200_000)
            return RequestOutcome(status: 200)
        }
        func shutdown() async throws {}
    }

    @Test func closedLoopWorkersSendFromSlotsZeroToNMinusOne() async {
        let target = SlotRecorder()
        var settings = RunSettings()
        settings.warmupSeconds = 0
        settings.windowSeconds = 0.05
        settings.stability = StabilityRule(threshold: 10, windows: 1)
        settings.maxDurationSeconds = 0.2
        let request = BenchRequest(inputs: [.init(name: "x", shape: [1, 1], data: .fp32([0]))])
        let result = await LoadRunner(target: target, requests: [request], settings: settings).run(.concurrency(7))
        #expect(result.summary.errors == 0)
        #expect(target.slots == Set(0..<7))
    }

    @Test func grpcConnectionsFollowPerfAnalyzersChannelSharing() async throws {
        // Triton's client shares a channel among at most 6 clients: 1–6 → 1, 7–12 → 2, 32 → 6.
        let expected = [1: 1, 6: 1, 7: 2, 8: 2, 12: 2, 13: 3, 32: 6, 64: 11]
        for (concurrency, connections) in expected {
            #expect(GRPCTarget.connections(forConcurrency: concurrency) == connections, "concurrency \(concurrency)")
        }
        var plan = BenchPlan(url: "127.0.0.1:1", model: "m")
        plan.grpc = true
        let byDefault = try plan.grpcTarget(maxConcurrency: 32)
        #expect(byDefault.connections == 6 && byDefault.slotsPerConnection == 6)
        plan.grpcConnections = 4
        let explicit = try plan.grpcTarget(maxConcurrency: 8)
        #expect(explicit.connections == 4 && explicit.slotsPerConnection == 2)
        plan.grpcConnections = 1
        let one = try plan.grpcTarget(maxConcurrency: 32)
        #expect(one.connections == 1 && one.slotsPerConnection == 32)
        for target in [byDefault, explicit, one] { try await target.shutdown() }
    }
}
