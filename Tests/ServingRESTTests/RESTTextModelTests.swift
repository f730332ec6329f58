import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Runtime
import ServingCore
import ServingREST
import Tensors
import Testing

/// MiniLM over REST gives the embeddings `model.predict` gives in process, bit for bit: packing sequences into one
/// batch (no padding) does not change any sequence's result in this engine.
@Suite struct RESTTextModelTests {
    static let sentences = ["A man is eating food.", "The new movie is awesome, and everyone should see it twice.", "ok"]

    static func server(delayMicroseconds: Int = 0) async throws -> InferenceServer {
        try await Fixtures.server([
            ModelEntry(
                name: "minilm", config: ModelConfig(maxBatchSize: 16, dynamicBatching: .init(maxQueueDelayMicroseconds: delayMicroseconds)),
                source: .loaded(Fixtures.minilm))
        ])
    }

    @Test func bytesTextMatchesPredictBitwise() async throws {
        let server = try await Self.server()
        let expected = try Fixtures.minilm.predict(.texts(Self.sentences), on: Executor(threads: 1))
        try await Fixtures.app(server).test(.router) { client in
            // JSON strings in, binary FP32 out.
            let body = jsonBody([
                "inputs": [["name": "text", "datatype": "BYTES", "shape": [3, 1], "data": Self.sentences]],
                "outputs": [["name": "embeddings", "parameters": ["binary_data": true]]],
            ])
            try await client.execute(uri: "/v2/models/minilm/infer", method: .post, body: body) { r in
                #expect(r.status == .ok)
                let h = try #require(r.headers[.inferenceHeader].flatMap { Int($0) })
                let bytes = Array(r.body.readableBytesView)
                let header = (try JSONSerialization.jsonObject(with: Data(bytes[0..<h]))) as? [String: Any] ?? [:]
                #expect((header["outputs"] as? [[String: Any]])?.first?["shape"] as? [Int] == [3, 384])
                #expect(floats(fromLittleEndian: bytes[h...]) == expected.floats)
            }
            // BYTES in binary form (4-byte little-endian lengths), shape [N].
            var raw: [UInt8] = []
            for s in Self.sentences {
                raw += withUnsafeBytes(of: UInt32(s.utf8.count).littleEndian, Array.init) + Array(s.utf8)
            }
            let (b2, h2) = binaryBody(
                ["inputs": [["name": "text", "datatype": "BYTES", "shape": [3], "parameters": ["binary_data_size": raw.count]]]], raw)
            try await client.execute(uri: "/v2/models/minilm/infer", method: .post, headers: [.inferenceHeader: String(h2)], body: b2) {
                r in
                #expect(r.status == .ok)
                let data = ((json(r.body)["outputs"] as? [[String: Any]])?.first?["data"] as? [Double])?.map(Float.init)
                #expect(data == expected.floats)
            }
        }
        await server.shutdown()
    }

    @Test func tokenIdsWithPaddingMatchText() async throws {
        let server = try await Self.server()
        guard case let .tokens(ids, lengths) = try Fixtures.minilm.prepare(.texts(Self.sentences)) else { Issue.record("tokens"); return }
        let expected = try Fixtures.minilm.predict(.texts(Self.sentences), on: Executor(threads: 1))
        // Right-padded [N, L] ids and mask, as a client's tokenizer produces them.
        let l = lengths.max()!
        var padded: [Int] = [], mask: [Int] = []
        var offset = 0
        for n in lengths {
            padded += ids[offset..<offset + n].map(Int.init) + Array(repeating: 0, count: l - n)
            mask += Array(repeating: 1, count: n) + Array(repeating: 0, count: l - n)
            offset += n
        }
        let body = jsonBody([
            "inputs": [
                ["name": "input_ids", "datatype": "INT64", "shape": [3, l], "data": padded],
                ["name": "attention_mask", "datatype": "INT64", "shape": [3, l], "data": mask],
            ]
        ])
        try await Fixtures.app(server).test(.router) { client in
            try await client.execute(uri: "/v2/models/minilm/infer", method: .post, body: body) { r in
                #expect(r.status == .ok)
                let data = ((json(r.body)["outputs"] as? [[String: Any]])?.first?["data"] as? [Double])?.map(Float.init)
                #expect(data == expected.floats)
            }
            let bad: [([String: Any], String)] = [
                (["name": "input_ids", "datatype": "INT64", "shape": [1, 2], "data": [101, 999_999]], "vocabulary"),
                (["name": "input_ids", "datatype": "FP32", "shape": [1, 2], "data": [101, 102]], "'input_ids'"),
                (["name": "text", "datatype": "INT64", "shape": [1], "data": [1]], "'text'"),
            ]
            for (input, fragment) in bad {
                try await client.execute(uri: "/v2/models/minilm/infer", method: .post, body: jsonBody(["inputs": [input]])) { r in
                    #expect(r.status == .badRequest)
                    #expect((json(r.body)["error"] as? String)?.contains(fragment) == true, "\(json(r.body))")
                }
            }
            let holes = jsonBody([
                "inputs": [
                    ["name": "input_ids", "datatype": "INT64", "shape": [1, 3], "data": [101, 7, 102]],
                    ["name": "attention_mask", "datatype": "INT64", "shape": [1, 3], "data": [1, 0, 1]],
                ]
            ])
            try await client.execute(uri: "/v2/models/minilm/infer", method: .post, body: holes) { #expect($0.status == .badRequest) }
        }
        await server.shutdown()
    }

    /// Requests batched together (different lengths, packed) still get exactly their own embeddings.
    @Test func batchedRequestsMatchPredictBitwise() async throws {
        let server = try await Self.server(delayMicroseconds: 100_000)
        let executor = Executor(threads: 1)
        let expected = try Self.sentences.map { try Fixtures.minilm.predict(.texts([$0]), on: executor).floats }
        try await Fixtures.app(server).test(.router) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (i, s) in Self.sentences.enumerated() {
                    group.addTask {
                        let body = jsonBody(["inputs": [["name": "text", "datatype": "BYTES", "shape": [1], "data": [s]]]])
                        try await client.execute(uri: "/v2/models/minilm/infer", method: .post, body: body) { r in
                            let data = ((json(r.body)["outputs"] as? [[String: Any]])?.first?["data"] as? [Double])?.map(Float.init)
                            #expect(data == expected[i])
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let stats = try server.statistics(model: "minilm").modelStats[0]
        #expect(stats.executionCount < stats.inferenceCount, "\(stats)")
        await server.shutdown()
    }
}
