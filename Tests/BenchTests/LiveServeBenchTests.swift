import Bench
import Foundation
import Hummingbird
import HummingbirdTesting
import Formats
import ServingCore
import ServingREST
import Testing

/// `compress bench` against the real REST adapter and core (the digits CNN) on a loopback socket.
@Suite(.serialized) struct LiveServeBenchTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func cnnServer() async throws -> InferenceServer {
        let m = try ModelLoader.load(repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras").path)
        m.freeze()
        let server = InferenceServer(
            repository: ModelRepository(entries: [ModelEntry(name: "cnn", config: ModelConfig(maxBatchSize: 8), source: .loaded(m))]),
            options: .init(threadsPerInstance: 1))
        try await server.loadAll()
        return server
    }

    static func quickSettings() -> RunSettings {
        var s = RunSettings()
        s.warmupSeconds = 0.1
        s.windowSeconds = 0.3
        s.stability = StabilityRule(threshold: 10, windows: 2)
        s.maxDurationSeconds = 0.6
        return s
    }

    @Test(arguments: [RESTTarget.Encoding.json, .binary])
    func realImagesWithServerSplit(encoding: RESTTarget.Encoding) async throws {
        let server = try await Self.cnnServer()
        let app = Application(router: RESTServer.router(for: server), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            var plan = BenchPlan(url: "http://127.0.0.1:\(client.port!)", model: "cnn")
            plan.encoding = encoding
            plan.dataSpec = Self.repo.appendingPathComponent("datasets/digits/test.h5").path
            plan.modes = [.concurrency(1), .concurrency(2)]
            plan.settings = Self.quickSettings()
            let result = try await plan.run(progress: nil)
            #expect(result.levels.count == 2)
            #expect(result.protocolName == "rest-\(encoding.rawValue)")
            for level in result.levels {
                let s = level.summary
                #expect(s.errors == 0 && s.latency.count > 10)
                #expect(s.statuses["200"] == s.latency.count)
                let c = s.components
                #expect(c.hasServerStatistics)
                #expect(c.serverComputeInferUs > 0 && c.clientSerializeUs > 0)
                // The parts are the mean latency cut up: their sum matches it (within 10 %).
                #expect(abs(c.totalUs - s.latency.meanUs) <= 0.1 * s.latency.meanUs, "\(c.totalUs) vs \(s.latency.meanUs)")
            }
            let csv = BenchReport.csv(result).split(separator: "\n")
            #expect(csv.count == 3)
            #expect(BenchReport.text(result).contains("server compute infer"))
            let decoded = try JSONSerialization.jsonObject(with: Data(try BenchReport.json(result).utf8)) as? [String: Any]
            #expect((decoded?["levels"] as? [Any])?.count == 2)
        }
        await server.shutdown()
    }

    @Test func unknownModelAndUnreachableServerAreOneLineErrors() async throws {
        let server = try await Self.cnnServer()
        let app = Application(router: RESTServer.router(for: server), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let plan = BenchPlan(url: "http://127.0.0.1:\(client.port!)", model: "nope")
            let error = await #expect(throws: BenchError.self) { try await plan.run(progress: nil) }
            #expect(error?.description.contains("model 'nope' not found") == true)
        }
        await server.shutdown()
        // Port 1 on loopback: nothing listens there.
        let error = await #expect(throws: BenchError.self) { try await BenchPlan(url: "http://127.0.0.1:1", model: "cnn").run(progress: nil) }
        #expect(error?.description.hasPrefix("cannot reach") == true)
        #expect(error?.description.contains("\n") == false)
        #expect(throws: BenchError.self) { try RESTTarget(url: "ftp://x", model: "m", encoding: .json) }
    }
}
