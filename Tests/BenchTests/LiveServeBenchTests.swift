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
        // Windows close on a request count too, so a loaded host gives the same number of samples.
        s.minWindowRequests = 12
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
                // The client's parts are sub-intervals of each request's latency, over the same requests: their sum
                // cannot exceed the mean (0.1 % histogram precision), under any load. The server's parts come from
                // counters read at the window edges (requests in flight may fall on either side), so they only
                // replace part of send + wait: the total is at least the client's parts.
                #expect(c.clientSerializeUs + c.clientDeserializeUs <= s.latency.meanUs * 1.001)
                #expect(c.totalUs >= c.clientSerializeUs + c.clientDeserializeUs + c.serverComputeInferUs)
            }
            let csv = BenchReport.csv(result).split(separator: "\n")
            #expect(csv.count == 3)
            #expect(BenchReport.text(result).contains("server compute infer"))
            let decoded = try JSONSerialization.jsonObject(with: Data(try BenchReport.json(result).utf8)) as? [String: Any]
            #expect((decoded?["levels"] as? [Any])?.count == 2)
        }
        await server.shutdown()
    }

    /// The breakdown's arithmetic on recorded sums (what the live test cannot pin down exactly on a loaded host):
    /// when the server's request time fits in the client's send + wait, the parts add up to serialize + send/wait +
    /// deserialize, which is the mean latency of the same requests; the server's parts are its averages.
    @Test func componentsCutTheClientTimeIntoServerAndNetwork() {
        var server = InferenceStatistics()
        // 4 requests: 3 ms each in the server, of which 0.5 queue, 0.25 input, 2 infer, 0.125 output.
        server.success = StatDuration(count: 4, ns: 12_000_000)
        server.queue = StatDuration(count: 4, ns: 2_000_000)
        server.computeInput = StatDuration(count: 4, ns: 1_000_000)
        server.computeInfer = StatDuration(count: 4, ns: 8_000_000)
        server.computeOutput = StatDuration(count: 4, ns: 500_000)
        // Client sums over the same 4: 0.1 ms serialize, 5 ms send + wait, 0.2 ms deserialize each.
        let c = ComponentBreakdown(requests: 4, serializeNs: 400_000, sendWaitNs: 20_000_000, deserializeNs: 800_000, server: server)
        #expect(c.hasServerStatistics)
        #expect(c.clientSerializeUs == 100 && c.clientDeserializeUs == 200)
        #expect(c.serverQueueUs == 500 && c.serverComputeInputUs == 250 && c.serverComputeInferUs == 2000 && c.serverComputeOutputUs == 125)
        #expect(c.serverOtherUs == 125)  // 3000 − 500 − 250 − 2000 − 125
        #expect(c.networkUs == 2000)  // 5000 send + wait − 3000 in the server
        #expect(c.totalUs == 5300)  // 100 + 5000 + 200: the requests' mean latency
        // Without server statistics the whole send + wait is network.
        let bare = ComponentBreakdown(requests: 4, serializeNs: 400_000, sendWaitNs: 20_000_000, deserializeNs: 800_000, server: nil)
        #expect(!bare.hasServerStatistics && bare.networkUs == 5000 && bare.totalUs == 5300)
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
