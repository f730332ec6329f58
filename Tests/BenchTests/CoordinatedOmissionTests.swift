import Bench
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// A synthetic KServe v2 server whose every inference takes `delay`: a known service time to check the open
/// loop's latency accounting against.
func slowServer(delay: Duration) -> some ApplicationProtocol {
    let router = Router()
    let metadata = """
        {"name":"slow","versions":["1"],"platform":"test","inputs":[{"name":"x","datatype":"FP32","shape":[-1,1]}],\
        "outputs":[{"name":"y","datatype":"FP32","shape":[-1,1]}]}
        """
    let answer = #"{"model_name":"slow","outputs":[{"name":"y","datatype":"FP32","shape":[1,1],"data":[0.5]}]}"#
    router.get("/v2/models/slow") { _, _ in json(metadata) }
    router.post("/v2/models/slow/infer") { request, _ in
        _ = try await request.body.collect(upTo: 1 << 20)
        try await Task.sleep(for: delay)
        return json(answer)
    }
    return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
}

private func json(_ s: String) -> Response {
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: s)))
}

@Suite(.serialized) struct CoordinatedOmissionTests {
    /// wrk2's case: the generator may keep only one request in flight while the schedule asks for one every 10 ms
    /// and each takes ≈ 20 ms. Request i is due at 10·i ms but answered at ≈ s·(i+1), so its latency from the
    /// intended time is s·(i+1) − 10·i and grows through the run; measured from the actual send it stays ≈ s.
    @Test func openLoopChargesLatencyFromTheIntendedSendTime() async throws {
        try await slowServer(delay: .milliseconds(20)).test(.live) { client in
            let target = try RESTTarget(url: "http://127.0.0.1:\(client.port!)", model: "slow", encoding: .json)
            let requests = try RequestSource.generated(metadata: try await target.metadata(), shapes: [], fill: .zero)
            var settings = RunSettings()
            settings.warmupSeconds = 0
            settings.windowSeconds = 0.6
            settings.stability = StabilityRule(threshold: 10, windows: 1)
            settings.maxDurationSeconds = 0.6
            settings.maxOutstanding = 1
            let runner = LoadRunner(target: target, requests: requests, settings: settings)
            let level = await runner.run(.rate(perSecond: 100, poisson: false))
            try await target.shutdown()

            let s = level.summary
            let uncorrected = try #require(s.uncorrectedLatency)
            let service = uncorrected.meanUs  // ≈ 20 ms + HTTP
            #expect(service >= 20_000 && service < 30_000)
            #expect(uncorrected.p99Us < 2 * service)
            // n answers: the i-th (0-based) from the start of the run has latency ≈ service·(i+1) − 10 ms·i.
            let n = Double(s.latency.count)
            #expect(n >= 15)
            let expectedMax = service * n - 10_000 * (n - 1)
            let expectedMean = service + (n - 1) / 2 * (service - 10_000)
            #expect(abs(s.latency.maxUs - expectedMax) <= 0.15 * expectedMax, "max \(s.latency.maxUs) vs \(expectedMax)")
            #expect(abs(s.latency.meanUs - expectedMean) <= 0.15 * expectedMean, "mean \(s.latency.meanUs) vs \(expectedMean)")
            #expect(s.latency.p50Us > 4 * service)
            #expect(s.lateSends > 0)
        }
    }

    /// Closed loop at concurrency 1 against the same server: latency is the service time, throughput its inverse.
    @Test func closedLoopMeasuresServiceTime() async throws {
        try await slowServer(delay: .milliseconds(10)).test(.live) { client in
            let target = try RESTTarget(url: "http://127.0.0.1:\(client.port!)", model: "slow", encoding: .json)
            let requests = try RequestSource.generated(metadata: try await target.metadata(), shapes: [], fill: .zero)
            var settings = RunSettings()
            settings.warmupSeconds = 0.1
            settings.windowSeconds = 0.5
            settings.stability = StabilityRule(threshold: 10, windows: 1)
            settings.maxDurationSeconds = 0.5
            let level = await LoadRunner(target: target, requests: requests, settings: settings).run(.concurrency(1))
            try await target.shutdown()
            let s = level.summary
            #expect(s.latency.p50Us >= 10_000 && s.latency.p50Us < 16_000)
            #expect(s.uncorrectedLatency == nil)
            #expect(abs(s.throughput - 1e6 / s.latency.meanUs) <= 0.15 * s.throughput)
            #expect(s.errors == 0)
        }
    }
}
