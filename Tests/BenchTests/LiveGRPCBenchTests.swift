import Bench
import Foundation
import Logging
import ServingCore
import ServingGRPC
import Testing

/// `compress bench --protocol grpc` against the real gRPC adapter and core (the digits CNN) on a loopback socket.
@Suite(.serialized) struct LiveGRPCBenchTests {
    @Test func realImagesOverGRPCWithServerSplit() async throws {
        let server = try await LiveServeBenchTests.cnnServer()
        let grpc = GRPCInferenceServer(server: server, host: "127.0.0.1", port: 0, authToken: nil, logger: Logger(label: "test"))
        let result = try await withThrowingTaskGroup(of: Void.self) { group -> BenchResult in
            group.addTask { try await grpc.run() }
            do {
                var plan = BenchPlan(url: "127.0.0.1:\(try await grpc.port)", model: "cnn")
                plan.grpc = true
                plan.dataSpec = LiveServeBenchTests.repo.appendingPathComponent("datasets/digits/test.h5").path
                // 7 slots: two connections (perf_analyzer shares one among 6), the second one carries slot 6.
                plan.modes = [.concurrency(1), .concurrency(7)]
                plan.settings = LiveServeBenchTests.quickSettings()
                let result = try await plan.run(progress: nil)
                grpc.beginGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                grpc.beginGracefulShutdown()
                throw error
            }
        }
        #expect(result.protocolName == "grpc" && result.levels.count == 2)
        for level in result.levels {
            let s = level.summary
            #expect(s.errors == 0 && s.latency.count > 10)
            #expect(s.components.hasServerStatistics && s.components.serverComputeInferUs > 0)
        }
        await server.shutdown()
    }

    @Test func unknownModelAndBadEndpointAreOneLineErrors() async throws {
        let server = try await LiveServeBenchTests.cnnServer()
        let grpc = GRPCInferenceServer(server: server, host: "127.0.0.1", port: 0, authToken: nil, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await grpc.run() }
            var plan = BenchPlan(url: "127.0.0.1:\(try await grpc.port)", model: "nope")
            plan.grpc = true
            await #expect { _ = try await plan.run(progress: nil) } throws: { "\($0)".contains("'nope' not found") }
            grpc.beginGracefulShutdown()
            try await group.waitForAll()
        }
        #expect(throws: BenchError.self) { _ = try GRPCTarget(endpoint: "127.0.0.1", model: "cnn") }
        await server.shutdown()
    }
}
