import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ServingCore
import ServingREST
import Testing

/// One pass over a real socket (127.0.0.1, an ephemeral port chosen by the test framework).
@Suite struct RESTLiveServerTests {
    @Test func inferOverLoopback() async throws {
        let server = try await Fixtures.cnnServer()
        let app = Application(
            router: RESTServer.router(for: server), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let body = jsonBody([
            "inputs": [
                ["name": "x", "datatype": "FP32", "shape": [1] + Fixtures.cnnItemShape, "data": Fixtures.cnnValues(1).map(Double.init)]
            ]
        ])
        try await app.test(.live) { client in
            try await client.execute(uri: "/v2/health/ready", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v2/models/cnn/infer", method: .post, headers: [.requestID: "live-1"], body: body) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.requestID] == "live-1")
                #expect((json(r.body)["outputs"] as? [[String: Any]])?.first?["shape"] as? [Int] == [1, 10])
            }
        }
        await server.shutdown()
    }
}
