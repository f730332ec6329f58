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

/// The latency accounting is checked two ways that do not depend on how loaded the host is: on recorded
/// timestamps fed straight to the ``Recorder`` (exact values), and live against a server with a known minimum
/// service time, through relations that only get more true when the host is slow (sleeps are lower bounds).
/// Absolute speed is measured by the benchmarks, not here.
@Suite(.serialized) struct CoordinatedOmissionTests {
    /// Recorded timestamps: corrected latency is done − intended, uncorrected is done − sent, a send more than
    /// 1 ms behind its intended time is late, and closed-loop records (intended == sent) add no uncorrected sample.
    @Test func recorderChargesFromTheIntendedTime() {
        let ms: UInt64 = 1_000_000
        let recorder = Recorder()
        // wrk2's case replayed: due every 10 ms, one in flight, 20 ms each → request i sent at 20·i, done at 20·(i+1).
        for i in UInt64(0)..<10 {
            recorder.record(RequestOutcome(status: 200), intendedNs: 1_000 * ms + 10 * ms * i, sentNs: 1_000 * ms + 20 * ms * i,
                            doneNs: 1_000 * ms + 20 * ms * (i + 1))
        }
        #expect(recorder.completed == 10)
        let c = recorder.swap()
        #expect(recorder.completed == 0)
        #expect(c.successes == 10 && c.statuses[200] == 10)
        #expect(c.lateSends == 9)  // all but the first slipped ≥ 10 ms
        let corrected = LatencySummary(c.latency), uncorrected = LatencySummary(c.uncorrected)
        // Corrected latency of request i is 20·(i+1) − 10·i = 10·i + 20 ms: 20…110 ms, mean 65 ms.
        #expect(abs(corrected.meanUs - 65_000) <= 65)
        #expect(abs(corrected.maxUs - 110_000) <= 110)
        #expect(abs(corrected.p50Us - 60_000) <= 60)
        // Uncorrected: the service time, 20 ms every time.
        #expect(uncorrected.count == 9)  // request 0 was sent on time: intended == sent, no uncorrected sample
        #expect(abs(uncorrected.meanUs - 20_000) <= 20 && abs(uncorrected.maxUs - 20_000) <= 20)

        // Closed loop: intended == sent, nothing late, no uncorrected histogram; failures count apart.
        recorder.record(RequestOutcome(status: 200), intendedNs: 5 * ms, sentNs: 5 * ms, doneNs: 17 * ms)
        recorder.record(RequestOutcome(status: 503, error: "busy"), intendedNs: 5 * ms, sentNs: 5 * ms, doneNs: 6 * ms)
        let d = recorder.swap()
        #expect(d.successes == 1 && d.statuses[503] == 1 && d.firstError == "busy")
        #expect(d.uncorrected.totalCount == 0 && d.lateSends == 0)
        #expect(abs(LatencySummary(d.latency).meanUs - 12_000) <= 12)

        // An answer stamped before its intended send (a timer that woke early) is one 1 ns sample, not a crash.
        recorder.record(RequestOutcome(status: 200), intendedNs: 9 * ms, sentNs: 10 * ms, doneNs: 8 * ms)
        let e = recorder.swap()
        #expect(e.successes == 1 && e.latency.totalCount == 1 && e.uncorrected.totalCount == 1)
        #expect(e.latency.max <= 1 && e.uncorrected.max <= 1)
    }

    /// wrk2's case live: the generator may keep only one request in flight while the schedule asks for one every
    /// 10 ms and each takes ≥ 20 ms (the server sleeps 20 ms). Request k is due at S + 10·(k+1) ms but cannot be
    /// answered before S + 10 + 20·(k+1), so its corrected latency is at least 10·k + 20 ms whatever the host's
    /// load, while its latency from the actual send is only the service time. The window closes on a request count.
    @Test func openLoopChargesLatencyFromTheIntendedSendTime() async throws {
        try await slowServer(delay: .milliseconds(20)).test(.live) { client in
            let target = try RESTTarget(url: "http://127.0.0.1:\(client.port!)", model: "slow", encoding: .json)
            let requests = try RequestSource.generated(metadata: try await target.metadata(), shapes: [], fill: .zero)
            var settings = RunSettings()
            settings.warmupSeconds = 0
            settings.windowSeconds = 0.2
            settings.minWindowRequests = 15
            settings.stability = StabilityRule(threshold: 10, windows: 1)
            settings.maxDurationSeconds = 0.2
            settings.maxOutstanding = 1
            let runner = LoadRunner(target: target, requests: requests, settings: settings)
            let level = await runner.run(.rate(perSecond: 100, poisson: false))
            try await target.shutdown()

            let s = level.summary
            #expect(s.errors == 0)
            let n = Double(s.latency.count)
            #expect(n >= 15, "the window waits for 15 completions")
            let uncorrected = try #require(s.uncorrectedLatency)
            #expect(uncorrected.count == s.latency.count)  // every send after the first is late, so each has both
            #expect(uncorrected.meanUs >= 20_000 * 0.999)  // the server sleeps 20 ms: a floor under any load
            // Corrected ≥ uncorrected, request by request, hence for every statistic (0.1 % histogram precision).
            for (c, u) in [(s.latency.meanUs, uncorrected.meanUs), (s.latency.p50Us, uncorrected.p50Us), (s.latency.maxUs, uncorrected.maxUs)] {
                #expect(c >= u * 0.999, "corrected \(c) < uncorrected \(u)")
            }
            // The n requests in the window are consecutive (k0 … k0+n−1, k0 ≥ 0), each at least 10·k + 20 ms.
            let floorMax = 10_000 * (n - 1) + 20_000, floorMean = 20_000 + 10_000 * (n - 1) / 2
            #expect(s.latency.maxUs >= floorMax * 0.999, "max \(s.latency.maxUs) below the schedule's floor \(floorMax)")
            #expect(s.latency.meanUs >= floorMean * 0.999, "mean \(s.latency.meanUs) below the schedule's floor \(floorMean)")
            // The latency grows through the run, so the worst is far above the service time: an uncorrected
            // generator would report max ≈ mean.
            #expect(s.latency.maxUs >= 5 * 20_000)
            #expect(s.lateSends >= UInt64(n) - 1)
        }
    }

    /// Closed loop at concurrency 1 against the same server: latency is at least the service time, measured from
    /// the actual send (no uncorrected histogram), and one request in flight bounds the throughput by 1 / latency.
    @Test func closedLoopMeasuresServiceTime() async throws {
        try await slowServer(delay: .milliseconds(10)).test(.live) { client in
            let target = try RESTTarget(url: "http://127.0.0.1:\(client.port!)", model: "slow", encoding: .json)
            let requests = try RequestSource.generated(metadata: try await target.metadata(), shapes: [], fill: .zero)
            var settings = RunSettings()
            settings.warmupSeconds = 0.05
            settings.windowSeconds = 0.2
            settings.minWindowRequests = 20
            settings.stability = StabilityRule(threshold: 10, windows: 1)
            settings.maxDurationSeconds = 0.2
            let level = await LoadRunner(target: target, requests: requests, settings: settings).run(.concurrency(1))
            try await target.shutdown()
            let s = level.summary
            #expect(s.errors == 0)
            let n = Double(s.latency.count)
            #expect(n >= 20)
            #expect(s.latency.p50Us >= 10_000 * 0.999 && s.latency.p50Us <= s.latency.maxUs)
            #expect(s.uncorrectedLatency == nil)
            #expect(s.lateSends == 0)
            // Throughput is the successes over the window's length.
            #expect(abs(s.throughput - n / s.seconds) <= 1e-9 * s.throughput)
            // No bound of throughput by 1/mean latency here: under a loaded CI host the window (closed by request count)
            // and the latencies it holds do not line up closely enough (21.4 req/s against a 59 ms mean was seen).
        }
    }
}
