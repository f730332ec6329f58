import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Runtime
import ServingCore
import ServingREST
import Tensors
import Testing

@Suite struct RESTEndpointTests {
    @Test func healthAndMetadata() async throws {
        let server = try await Fixtures.cnnServer()
        try await Fixtures.app(server).test(.router) { client in
            try await client.execute(uri: "/v2/health/live", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/health/ready", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2", method: .get) { r in
                let j = json(r.body)
                #expect(j["name"] as? String == "compress")
                #expect((j["extensions"] as? [String])?.contains("binary_tensor_data") == true)
            }
            for uri in ["/v2/models/cnn", "/v2/models/cnn/versions/1"] {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .ok)
                    let j = json(r.body)
                    #expect(j["name"] as? String == "cnn")
                    #expect(j["versions"] as? [String] == ["1"])
                    let input = (j["inputs"] as? [[String: Any]])?.first
                    #expect(input?["name"] as? String == "x")
                    #expect(input?["datatype"] as? String == "FP32")
                    #expect(input?["shape"] as? [Int] == [-1] + Fixtures.cnnItemShape)
                    #expect((j["outputs"] as? [[String: Any]])?.first?["name"] as? String == "probabilities")
                }
            }
            try await client.execute(uri: "/v2/models/cnn/ready", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/models/cnn/versions/1/ready", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/models/cnn/versions/2/ready", method: .get) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v2/models/cnn/config", method: .get) { r in
                let j = json(r.body)
                #expect(j["max_batch_size"] as? Int == 8)
                #expect((j["input"] as? [[String: Any]])?.first?["data_type"] as? String == "TYPE_FP32")
            }
            try await client.execute(uri: "/v2/models/nope", method: .get) { r in
                #expect(r.status == .notFound)
                #expect((json(r.body)["error"] as? String)?.contains("nope") == true)
            }
            try await client.execute(uri: "/v2/models/cnn/versions/7", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v3/what", method: .get) { r in
                #expect(r.status == .notFound)
                #expect(json(r.body)["error"] != nil)
            }
        }
        await server.shutdown()
    }

    /// A known path with a method it does not take is 405 with `Allow` (not 404); unknown paths stay 404.
    @Test func otherMethodsAreNotAllowed() async throws {
        let server = try await Fixtures.cnnServer()
        try await Fixtures.app(server).test(.router) { client in
            for (uri, method, allow) in [
                ("/v2/models/cnn/infer", HTTPRequest.Method.get, "POST"), ("/v2/models/cnn/versions/1/infer", .delete, "POST"),
                ("/v2/health/live", .put, "GET"), ("/v2/models/stats", .post, "GET"), ("/v2/models/cnn", .patch, "GET"),
                ("/v2/repository/index", .get, "POST"), ("/v2/repository/models/cnn/load", .options, "POST"),
                ("/v2/health/ready", HTTPRequest.Method("QUERY")!, "GET"), ("/v2", .trace, "GET"),
            ] {
                try await client.execute(uri: uri, method: method) { r in
                    #expect(r.status == .methodNotAllowed, "\(method) \(uri)")
                    #expect(r.headers[.allow] == allow, "\(method) \(uri)")
                    #expect((json(r.body)["error"] as? String)?.contains(method.rawValue) == true)
                }
            }
            try await client.execute(uri: "/v2/models/cnn/nothing", method: .delete) { #expect($0.status == .notFound) }
        }
        await server.shutdown()
    }

    /// JSON in, JSON out; the request id is echoed in the body and the X-Request-ID header.
    @Test func inferJSON() async throws {
        let server = try await Fixtures.cnnServer()
        let values = Fixtures.cnnValues(2)
        let expected = try Fixtures.cnn.predict(
            .tensor(Tensor(shape: [2] + Fixtures.cnnItemShape, floats: values)), on: Executor(threads: 1))
        try await Fixtures.app(server).test(.router) { client in
            let body = jsonBody([
                "id": "r1",
                "inputs": [["name": "x", "datatype": "FP32", "shape": [2] + Fixtures.cnnItemShape, "data": values.map(Double.init)]],
            ])
            try await client.execute(uri: "/v2/models/cnn/infer", method: .post, headers: [.requestID: "abc"], body: body) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.requestID] == "abc")
                let j = json(r.body)
                #expect(j["id"] as? String == "r1")
                #expect(j["model_name"] as? String == "cnn")
                #expect(j["model_version"] as? String == "1")
                let out = (j["outputs"] as? [[String: Any]])?.first
                #expect(out?["shape"] as? [Int] == expected.shape)
                let data = (out?["data"] as? [Double])?.map(Float.init) ?? []
                #expect(data == expected.floats)  // JSON carries floats exactly (shortest round-trip form)
            }
        }
        await server.shutdown()
    }

    /// Binary input and binary output (Triton's extension), bit for bit.
    @Test func inferBinaryRoundTrip() async throws {
        let server = try await Fixtures.cnnServer()
        let values = Fixtures.cnnValues(3, seed: 5)
        let expected = try Fixtures.cnn.predict(
            .tensor(Tensor(shape: [3] + Fixtures.cnnItemShape, floats: values)), on: Executor(threads: 1))
        let raw = littleEndianBytes(values)
        let (body, headerLength) = binaryBody(
            [
                "inputs": [
                    ["name": "x", "datatype": "FP32", "shape": [3] + Fixtures.cnnItemShape, "parameters": ["binary_data_size": raw.count]]
                ],
                "parameters": ["binary_data_output": true],
            ], raw)
        try await Fixtures.app(server).test(.router) { client in
            try await client.execute(
                uri: "/v2/models/cnn/versions/1/infer", method: .post, headers: [.inferenceHeader: String(headerLength)], body: body
            ) { r in
                #expect(r.status == .ok)
                let h = try #require(r.headers[.inferenceHeader].flatMap { Int($0) })
                let bytes = Array(r.body.readableBytesView)
                let header = (try JSONSerialization.jsonObject(with: Data(bytes[0..<h]))) as? [String: Any] ?? [:]
                let out = try #require((header["outputs"] as? [[String: Any]])?.first)
                #expect(out["data"] == nil)
                let size = (out["parameters"] as? [String: Any])?["binary_data_size"] as? Int
                #expect(size == expected.count * 4)
                #expect(bytes.count == h + expected.count * 4)
                #expect(floats(fromLittleEndian: bytes[h...]) == expected.floats)
            }
            // Per-output `binary_data: false` overrides the request-wide setting.
            let (body2, h2) = binaryBody(
                [
                    "inputs": [
                        [
                            "name": "x", "datatype": "FP32", "shape": [3] + Fixtures.cnnItemShape,
                            "parameters": ["binary_data_size": raw.count],
                        ]
                    ],
                    "outputs": [["name": "probabilities", "parameters": ["binary_data": false]]],
                    "parameters": ["binary_data_output": true],
                ], raw)
            try await client.execute(uri: "/v2/models/cnn/infer", method: .post, headers: [.inferenceHeader: String(h2)], body: body2) {
                r in
                #expect(r.status == .ok)
                #expect(r.headers[.inferenceHeader] == nil)
                let data = ((json(r.body)["outputs"] as? [[String: Any]])?.first?["data"] as? [Double])?.map(Float.init)
                #expect(data == expected.floats)
            }
        }
        await server.shutdown()
    }

    @Test func badRequestsAreCleanErrors() async throws {
        let server = try await Fixtures.cnnServer()
        let shape = [1] + Fixtures.cnnItemShape
        let n = shape.reduce(1, *)
        let raw = littleEndianBytes(Fixtures.cnnValues(1))
        func input(_ extra: [String: Any]) -> [String: Any] {
            let base: [String: Any] = ["name": "x", "datatype": "FP32", "shape": shape]
            return ["inputs": [base.merging(extra) { $1 }]]
        }
        let (lyingBody, lyingHeader) = binaryBody(input(["parameters": ["binary_data_size": raw.count + 8]]), raw)
        let (shortBody, shortHeader) = binaryBody(input(["parameters": ["binary_data_size": raw.count]]), Array(raw.prefix(10)))
        let (extraBody, extraHeader) = binaryBody(input(["parameters": ["binary_data_size": raw.count]]), raw + [1, 2, 3])
        let cases: [(ByteBuffer, HTTPFields, HTTPResponse.Status, String)] = [
            (ByteBuffer(string: "{not json"), [:], .badRequest, "malformed"),
            (ByteBuffer(string: #"{"inputs": 3}"#), [:], .badRequest, "inputs"),
            (lyingBody, [.inferenceHeader: String(lyingHeader)], .badRequest, "binary_data_size"),
            (shortBody, [.inferenceHeader: String(shortHeader)], .badRequest, "binary_data_size"),
            (extraBody, [.inferenceHeader: String(extraHeader)], .badRequest, "after"),
            (lyingBody, [.inferenceHeader: "999999"], .badRequest, "Inference-Header-Content-Length"),
            (lyingBody, [.inferenceHeader: "-4"], .badRequest, "Inference-Header-Content-Length"),
            (jsonBody(input(["data": Array(repeating: 0.5, count: n - 1)])), [:], .badRequest, "'x'"),
            (jsonBody(input(["datatype": "INT32", "data": Array(repeating: 1, count: n)])), [:], .badRequest, "FP32"),
            (jsonBody(input(["datatype": "FP8", "data": [1]])), [:], .badRequest, "unknown datatype"),
            (jsonBody(input(["data": Array(repeating: "a", count: n)])), [:], .badRequest, "numbers"),
            (jsonBody(input(["shape": [1 << 31, 1 << 31, 1 << 31], "data": [1]])), [:], .badRequest, "exceeds"),
            (jsonBody(input(["shape": [-1, 8], "data": [1]])), [:], .badRequest, "negative"),
            (jsonBody(input(["datatype": "FP16", "data": [1]])), [:], .badRequest, "binary"),
            (
                jsonBody([
                    "inputs": [["name": "x", "datatype": "FP32", "shape": shape, "data": Array(repeating: 0.5, count: n)]],
                    "outputs": [["name": "nope"]],
                ]),
                [:], .badRequest, "unknown output"
            ),
        ]
        let nopeBody = jsonBody(input(["data": [1]]))
        try await Fixtures.app(server, maxBodyBytes: 1 << 20).test(.router) { client in
            for (body, headers, status, fragment) in cases {
                try await client.execute(uri: "/v2/models/cnn/infer", method: .post, headers: headers, body: body) { r in
                    #expect(r.status == status, "\(fragment)")
                    let message = json(r.body)["error"] as? String ?? ""
                    #expect(message.contains(fragment), "\(message)")
                }
            }
            try await client.execute(uri: "/v2/models/nope/infer", method: .post, body: nopeBody) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/v2/models/cnn/infer", method: .post, body: ByteBuffer(repeating: 32, count: 2 << 20)) { r in
                #expect(r.status == .contentTooLarge)
                #expect(json(r.body)["error"] != nil)
            }
        }
        await server.shutdown()
    }

    @Test func statisticsAndRepository() async throws {
        let server = try await Fixtures.cnnServer(ModelConfig(maxBatchSize: 8, dynamicBatching: .init(maxQueueDelayMicroseconds: 100_000)))
        let body = jsonBody([
            "inputs": [
                ["name": "x", "datatype": "FP32", "shape": [1] + Fixtures.cnnItemShape, "data": Fixtures.cnnValues(1).map(Double.init)]
            ]
        ])
        try await Fixtures.app(server).test(.router) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        try await client.execute(uri: "/v2/models/cnn/infer", method: .post, body: body) { #expect($0.status == .ok) }
                    }
                }
                try await group.waitForAll()
            }
            for uri in ["/v2/models/stats", "/v2/models/cnn/stats", "/v2/models/cnn/versions/1/stats"] {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .ok)
                    let m = try #require((json(r.body)["model_stats"] as? [[String: Any]])?.first)
                    #expect(m["name"] as? String == "cnn")
                    #expect(m["inference_count"] as? Int == 6)
                    #expect((m["execution_count"] as? Int ?? 99) < 6)
                    let s = try #require(m["inference_stats"] as? [String: Any])
                    for key in ["success", "fail", "queue", "compute_input", "compute_infer", "compute_output"] {
                        #expect((s[key] as? [String: Any])?["count"] != nil, "\(key)")
                    }
                    #expect((s["success"] as? [String: Any])?["count"] as? Int == 6)
                    #expect((m["batch_stats"] as? [[String: Any]])?.isEmpty == false)
                }
            }
            try await client.execute(uri: "/v2/repository/index", method: .post, body: jsonBody(["ready": true])) { r in
                let rows = (try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [[String: Any]]
                #expect(rows?.first?["name"] as? String == "cnn")
                #expect(rows?.first?["state"] as? String == "READY")
            }
            // `ready` is a boolean: null is refused, not read as absent.
            try await client.execute(uri: "/v2/repository/index", method: .post, body: ByteBuffer(string: #"{"ready": null}"#)) { r in
                #expect(r.status == .badRequest)
                #expect((json(r.body)["error"] as? String)?.contains("ready") == true)
            }
            try await client.execute(uri: "/v2/repository/models/cnn/unload", method: .post) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/models/cnn/ready", method: .get) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v2/health/ready", method: .get) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v2/models/cnn/infer", method: .post, body: body) { #expect($0.status == .serviceUnavailable) }
            try await client.execute(uri: "/v2/repository/index", method: .post) { r in
                let rows = (try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [[String: Any]]
                #expect(rows?.first?["state"] as? String == "UNAVAILABLE")
            }
            try await client.execute(uri: "/v2/repository/models/cnn/load", method: .post) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/models/cnn/infer", method: .post, body: body) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/repository/models/nope/load", method: .post) { #expect($0.status == .notFound) }
        }
        await server.shutdown()
    }

    @Test func queueFullIs429() async throws {
        let server = try await Fixtures.cnnServer(
            ModelConfig(
                maxBatchSize: 8, dynamicBatching: .init(maxQueueDelayMicroseconds: 10_000_000, defaultQueuePolicy: .init(maxQueueSize: 1))))
        let body = jsonBody([
            "inputs": [
                ["name": "x", "datatype": "FP32", "shape": [1] + Fixtures.cnnItemShape, "data": Fixtures.cnnValues(1).map(Double.init)]
            ]
        ])
        try await Fixtures.app(server).test(.router) { client in
            async let first: HTTPResponse.Status = client.execute(uri: "/v2/models/cnn/infer", method: .post, body: body) { $0.status }
            while try server.pendingRequests(model: "cnn") < 1 { try await Task.sleep(for: .milliseconds(2)) }
            try await client.execute(uri: "/v2/models/cnn/infer", method: .post, body: body) { r in
                #expect(r.status == .tooManyRequests)
                #expect((json(r.body)["error"] as? String)?.contains("queue") == true)
            }
            await server.shutdown()  // serves the queued request now instead of after the 10 s delay
            #expect(try await first == .ok)
        }
        await server.shutdown()
    }
}
