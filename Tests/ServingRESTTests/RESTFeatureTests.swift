import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Runtime
import ServingCore
import ServingREST
import Tensors
import Testing

@Suite struct RESTFeatureTests {
    /// With a token, everything but health answers 401 without `Authorization: Bearer <token>`.
    @Test func bearerTokenAuth() async throws {
        let server = try await Fixtures.cnnServer()
        let infer = jsonBody([
            "inputs": [["name": "x", "datatype": "FP32", "shape": [1] + Fixtures.cnnItemShape, "data": Fixtures.cnnValues(1)]]
        ])
        try await Fixtures.app(server, authToken: "s3cret-token").test(.router) { client in
            for uri in ["/v2/health/live", "/v2/health/ready"] {
                try await client.execute(uri: uri, method: .get) { #expect($0.status == .ok, "\(uri)") }
            }
            for (uri, method) in [("/v2", HTTPRequest.Method.get), ("/v2/models/cnn", .get), ("/v2/models/stats", .get), ("/v2/repository/index", .post)] {
                try await client.execute(uri: uri, method: method) { r in
                    #expect(r.status == .unauthorized, "\(uri)")
                    #expect(r.headers[.wwwAuthenticate] == "Bearer")
                    #expect((json(r.body)["error"] as? String)?.contains("Bearer") == true)
                }
            }
            for bad in ["Bearer wrong", "Bearer s3cret-toke", "Bearer s3cret-token2", "Basic s3cret-token", "s3cret-token"] {
                try await client.execute(uri: "/v2/models/cnn/infer", method: .post, headers: [.authorization: bad], body: infer) {
                    #expect($0.status == .unauthorized, "\(bad)")
                }
            }
            try await client.execute(uri: "/v2/models/cnn/infer", method: .post, headers: [.authorization: "Bearer s3cret-token"], body: infer) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/v2", method: .get, headers: [.authorization: "bearer s3cret-token"]) { #expect($0.status == .ok) }
        }
        await server.shutdown()
    }

    /// The text ensemble over REST: BYTES in, normalized embeddings out; its config says `ensemble`.
    @Test func ensembleOverREST() async throws {
        let server = try await Fixtures.exampleRepository.value
        try await Fixtures.app(server).test(.router) { client in
            try await client.execute(uri: "/v2/models/minilm-text", method: .get) { r in
                #expect(json(r.body)["platform"] as? String == "ensemble")
            }
            let body = jsonBody(["inputs": [["name": "text", "datatype": "BYTES", "shape": [2, 1], "data": ["hello world", "a second sentence"]]]])
            try await client.execute(uri: "/v2/models/minilm-text/infer", method: .post, body: body) { r in
                #expect(r.status == .ok)
                let out = (json(r.body)["outputs"] as? [[String: Any]])?.first
                #expect(out?["name"] as? String == "embeddings")
                #expect(out?["shape"] as? [Int] == [2, 384])
                let v = (out?["data"] as? [Double]) ?? []
                #expect(v.count == 768)
                let norm = v.prefix(384).reduce(0) { $0 + $1 * $1 }
                #expect(abs(norm - 1) < 1e-5)
            }
            // Wrong datatype into an ensemble: 400 naming the step and tensor.
            let bad = jsonBody(["inputs": [["name": "text", "datatype": "INT64", "shape": [1, 1], "data": [3]]]])
            try await client.execute(uri: "/v2/models/minilm-text/infer", method: .post, body: bad) { r in
                #expect(r.status == .badRequest)
                let m = json(r.body)["error"] as? String ?? ""
                #expect(m.contains("step 1") && m.contains("'text'"), "\(m)")
            }
            try await client.execute(uri: "/v2/models/digits-canary/config", method: .get) { r in
                #expect(json(r.body)["platform"] as? String == "traffic_split")
            }
            try await client.execute(uri: "/v2/models/digits-cnn/shadow", method: .get) { r in
                #expect(r.status == .notFound)
                #expect((json(r.body)["error"] as? String)?.contains("no shadow") == true)
            }
        }
    }

    /// `GET /v2/models/{m}/shadow` shows the agreement figures as JSON.
    @Test func shadowEndpoint() async throws {
        var live = ModelConfig(maxBatchSize: 8)
        live.shadow = .init(model: "original", sample: 1)
        let server = try await Fixtures.server([
            ModelEntry(name: "cnn", config: live, source: .loaded(Fixtures.cnn)),
            ModelEntry(name: "original", config: ModelConfig(maxBatchSize: 8), source: .loaded(Fixtures.cnn)),
        ])
        let infer = jsonBody([
            "inputs": [["name": "x", "datatype": "FP32", "shape": [2] + Fixtures.cnnItemShape, "data": Fixtures.cnnValues(2)]]
        ])
        try await Fixtures.app(server).test(.router) { client in
            try await client.execute(uri: "/v2/models/cnn/infer", method: .post, body: infer) { #expect($0.status == .ok) }
            var mirrored = 0
            for _ in 0..<200 where mirrored == 0 {
                try await Task.sleep(nanoseconds: 10_000_000)
                try await client.execute(uri: "/v2/models/cnn/shadow", method: .get) { r in
                    #expect(r.status == .ok)
                    let s = (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [[String: Any]]
                    mirrored = s?.first?["mirrored"] as? Int ?? 0
                    if mirrored == 1 {
                        #expect(s?.first?["shadow_model"] as? String == "original")
                        #expect(s?.first?["top1_agreements"] as? Int == 2)
                        #expect((s?.first?["cosine"] as? [String: Any])?["count"] as? Int == 2)
                    }
                }
            }
            #expect(mirrored == 1)
        }
        await server.shutdown()
    }
}
