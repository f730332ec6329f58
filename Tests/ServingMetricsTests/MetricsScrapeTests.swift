import Formats
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Runtime
import ServingCore
@testable import ServingMetrics
import Tensors
import Testing

/// `GET /metrics` in Prometheus text format: Triton's names and labels, moving with requests, equal to the
/// statistics extension's figures (both come from the same recorder).
@Suite struct MetricsScrapeTests {
    static let cnn: LoadedModel = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let m = try! ModelLoader.load(repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras").path)
        m.freeze()
        return m
    }()

    static func request(_ n: Int) -> InferRequest {
        guard case let .sequential(s) = cnn.kind else { fatalError("sequential") }
        let shape = [n] + s.inputShape
        let values = (0..<shape.reduce(1, *)).map { Float($0 % 255) / 255 }
        return InferRequest(inputs: [InferInput(name: "x", datatype: .fp32, shape: shape, data: .fp32(values))])
    }

    @Test func countersMoveAndMatchStatistics() async throws {
        let metrics = PrometheusMetrics()
        var options = InferenceServer.Options(threadsPerInstance: 1)
        options.metrics = metrics.factory
        let server = InferenceServer(
            repository: ModelRepository(entries: [ModelEntry(name: "cnn", config: ModelConfig(maxBatchSize: 8), source: .loaded(Self.cnn))]),
            options: options)
        try await server.loadAll()
        let app = Application(router: MetricsServer.router(server: server, metrics: metrics))
        let labels = #"{model="cnn",version="1"}"#
        try await app.test(.router) { client in
            let before = try await scrape(client)
            #expect(before["nv_inference_request_success" + labels] == 0)
            #expect(before["nv_inference_pending_request_count" + labels] == 0)
            #expect((before["process_resident_memory_bytes"] ?? 0) > 1_000_000)
            #expect((before["process_cpu_seconds_total"] ?? 0) > 0)
            // Triton's CPU metrics: the host's utilization in 0...1 and its memory.
            #expect((0...1).contains(before["nv_cpu_utilization"] ?? -1))
            #expect((before["nv_cpu_memory_total_bytes"] ?? 0) > 100_000_000)
            #expect((before["nv_cpu_memory_used_bytes"] ?? 0) > 0 && before["nv_cpu_memory_used_bytes"]! < before["nv_cpu_memory_total_bytes"]!)

            _ = try await server.infer(model: "cnn", request: Self.request(3))
            _ = try await server.infer(model: "cnn", request: Self.request(1))
            var bad = Self.request(1)
            bad.inputs[0].name = "y"
            await #expect(throws: InferenceError.self) { _ = try await server.infer(model: "cnn", request: bad) }

            let after = try await scrape(client)
            let stats = try #require(try server.statistics(model: "cnn").modelStats.first)
            #expect(after["nv_inference_request_success" + labels] == 2)
            // Triton's failure reasons, every series present from load: a bad input is OTHER.
            #expect(after[#"nv_inference_request_failure{model="cnn",reason="OTHER",version="1"}"#] == 1)
            for reason in ["REJECTED", "CANCELED", "BACKEND"] {
                #expect(after[#"nv_inference_request_failure{model="cnn",reason="\#(reason)",version="1"}"#] == 0, "\(reason)")
            }
            #expect(after["nv_inference_count" + labels] == 4)
            #expect(after["nv_inference_exec_count" + labels] == 2)
            #expect(after["nv_inference_count" + labels] == Double(stats.inferenceCount))
            // µs counters are the statistics' ns / 1000, truncated once per increment.
            let inferUs = try #require(after["nv_inference_compute_infer_duration_us" + labels])
            #expect(inferUs > 0)
            #expect(abs(inferUs - Double(stats.inferenceStats.computeInfer.ns / 1000)) <= 2)
            let requestUs = try #require(after["nv_inference_request_duration_us" + labels])
            // Successes only, as Triton counts it.
            let statsUs = Double(stats.inferenceStats.success.ns / 1000)
            #expect(abs(requestUs - statsUs) <= 2)
            #expect(after["nv_inference_queue_duration_us" + labels] != nil)
            #expect(after["nv_inference_compute_input_duration_us" + labels] != nil)
            #expect(after["nv_inference_compute_output_duration_us" + labels] != nil)
            // Histograms: two successful requests' latencies, executions of 3 and 1 items.
            #expect(after["compress_inference_request_latency_seconds_count" + labels] == 2)
            #expect(after["compress_inference_batch_size_count" + labels] == 2)
            #expect(after["compress_inference_batch_size_sum" + labels] == 4)
            #expect(after[#"compress_inference_batch_size_bucket{model="cnn",version="1",le="2.0"}"#] == 1)
        }
        await server.shutdown()
    }

    /// A shadow's agreement and a canary's routing counts are on `/metrics` too, from the same snapshot as
    /// `GET v2/models/m/shadow`.
    @Test func shadowAndCanarySeries() async throws {
        var live = ModelConfig(maxBatchSize: 8, threads: 1)
        live.shadow = .init(model: "original", sample: 1.0)
        var canary = ModelConfig(maxBatchSize: 8)
        // Not routed to "cnn", whose shadow would then see more mirrors than the four counted below.
        canary.trafficSplit = ["other": 1, "original": 1]
        let metrics = PrometheusMetrics()
        var options = InferenceServer.Options(threadsPerInstance: 1)
        options.metrics = metrics.factory
        let server = InferenceServer(
            repository: ModelRepository(entries: [
                ModelEntry(name: "cnn", config: live, source: .loaded(Self.cnn)),
                ModelEntry(name: "original", config: ModelConfig(maxBatchSize: 8, threads: 1), source: .loaded(Self.cnn)),
                ModelEntry(name: "other", config: ModelConfig(maxBatchSize: 8, threads: 1), source: .loaded(Self.cnn)),
                ModelEntry(name: "split", config: canary, source: .loaded(Self.cnn)),
            ]),
            options: options)
        try await server.loadAll()
        for _ in 0..<4 { _ = try await server.infer(model: "cnn", request: Self.request(2)) }
        for _ in 0..<6 { _ = try await server.infer(model: "split", request: Self.request(1)) }
        // Mirrors finish off the response path.
        var shadow = try server.shadowStatistics(model: "cnn")[0]
        for _ in 0..<500 where shadow.mirrored + shadow.skipped + shadow.failed < 4 {
            try await Task.sleep(nanoseconds: 10_000_000)
            shadow = try server.shadowStatistics(model: "cnn")[0]
        }
        let app = Application(router: MetricsServer.router(server: server, metrics: metrics))
        try await app.test(.router) { [shadow] client in
            let v = try await scrape(client)
            let pair = #"model="cnn",shadow_model="original""#
            #expect(v["compress_shadow_mirrored_total{\(pair)}"] == Double(shadow.mirrored))
            #expect(shadow.mirrored >= 1)
            #expect(v["compress_shadow_rows_compared_total{\(pair)}"] == Double(shadow.rowsCompared))
            #expect(v["compress_shadow_top1_agreements_total{\(pair)}"] == Double(shadow.rowsCompared))
            #expect(v["compress_shadow_cosine_count{\(pair)}"] == Double(shadow.rowsCompared))
            #expect(v["compress_shadow_cosine_bucket{\(pair),le=\"+Inf\"}"] == Double(shadow.rowsCompared))
            // The same model as its own shadow: every request's largest difference is in the first bucket.
            #expect(v["compress_shadow_max_abs_diff_bucket{\(pair),le=\"1e-06\"}"] == Double(shadow.mirrored))
            #expect(v["compress_shadow_latency_us_count{\(pair),role=\"shadow\"}"] == Double(shadow.mirrored))
            let routed = ["other", "original"].map { v[#"compress_canary_routed_total{model="split",target="\#($0)"}"#] ?? -1 }
            #expect(routed.reduce(0, +) == 6 && routed.allSatisfy { $0 >= 0 })
            #expect(v[#"compress_canary_weight{model="split",target="other"}"#] == 1)
        }
        await server.shutdown()
    }
}

/// Scrapes `/metrics` and parses the text exposition format into `name{labels}` → value (label order as written).
func scrape(_ client: some TestClientProtocol) async throws -> [String: Double] {
    try await client.execute(uri: "/metrics", method: .get) { response in
        #expect(response.status == .ok)
        #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
        var out: [String: Double] = [:]
        for line in String(decoding: response.body.readableBytesView, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                Issue.record("unparsable exposition line: \(line)")
                continue
            }
            out[String(line[..<space])] = value
        }
        return out
    }
}

/// Triton's CPU metrics from /proc text: utilization between two reads, used = total − available.
@Test func systemUsageParsesProcFiles() throws {
    let first = try #require(SystemUsage.cpuTimes(procStat: "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n"))
    let second = try #require(SystemUsage.cpuTimes(procStat: "cpu  140 0 60 1050 50 0 0 0 0 0\n"))
    #expect(first.busy == 150 && first.total == 1000)
    #expect(abs(second.utilization(since: first) - 50.0 / 300.0) < 1e-12)
    #expect(SystemUsage.cpuTimes(procStat: "intr 1 2 3\n") == nil)
    let memory = try #require(SystemUsage.memory(procMeminfo: "MemTotal:       2000 kB\nMemFree:         100 kB\nMemAvailable:    500 kB\n"))
    #expect(memory.totalBytes == 2000 * 1024 && memory.usedBytes == 1500 * 1024)
}
