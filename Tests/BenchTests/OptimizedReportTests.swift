@testable import Bench
import Evaluation
import Foundation
import Histogram
import ServingCore
import Testing

/// `compress report`: run measurements and bench results in, tables and charts out, nothing recomputed.
@Suite struct OptimizedReportTests {
    func eval(_ name: String, cosine: Double, p50: Double, rate: Double, bytes: Int) -> EvalReport {
        EvalReport(
            model: name, format: "artifact", data: ["held-out.txt"], items: 100, parameters: 22_000_000, accuracy: nil,
            fidelity: FidelityReport(reference: "fp32", cosineMean: cosine, cosineMin: cosine - 0.01, maxAbsDiff: 0.1, top5Overlap: 0.9, topOneAgreement: nil),
            paraphrase: nil,
            latency: Timing.Result(
                batchSize: 1, threads: 2, throughputPerS: rate, latencyMs: .init(p50: p50, p90: p50 * 1.1, p99: p50 * 1.3, mean: p50),
                calls: 100, passes: 3, stable: true),
            throughput: [], size: SizeReport(fileBytes: bytes, weightsBytes: bytes, weightsZstdBytes: bytes * 9 / 10, zstdLevel: 3),
            peakRssBytes: 1, threads: 2)
    }

    func bench(_ protocolName: String, levels: [(Int, Double, UInt64)]) -> BenchResult {
        var result = BenchResult(url: "http://127.0.0.1:8000", model: "m", protocolName: protocolName, levels: [])
        for (c, rps, latencyNs) in levels {
            var h = LatencySummary.makeHistogram()
            for k in 0..<1000 { h.record(latencyNs + UInt64(k) * 1000) }
            let components = ComponentBreakdown(requests: 10, serializeNs: 50_000, sendWaitNs: 5_000_000, deserializeNs: 30_000, server: nil)
            let w = WindowResult(
                index: 0, seconds: 1, throughput: rps, latency: LatencySummary(h), uncorrectedLatency: nil, statuses: ["200": 1000],
                components: components, lateSends: 0)
            result.levels.append(LevelResult(mode: .concurrency(c), stable: true, windows: [w], summary: w, firstError: nil))
        }
        return result
    }

    func write(_ value: some Encodable, _ url: URL) throws { try JSONEncoder().encode(value).write(to: url) }

    func fixture() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try write(eval("fp32", cosine: 1, p50: 4.0, rate: 250, bytes: 90_000_000), dir.appendingPathComponent("fp32.json"))
        try write(eval("int8", cosine: 0.993, p50: 1.5, rate: 660, bytes: 23_000_000), dir.appendingPathComponent("int8.json"))
        try write(bench("rest-binary", levels: [(1, 240, 4_100_000), (8, 300, 26_000_000)]), dir.appendingPathComponent("fp32-rest.json"))
        try write(bench("rest-binary", levels: [(1, 600, 1_600_000), (8, 900, 9_000_000)]), dir.appendingPathComponent("int8-rest.json"))
        try write(bench("grpc", levels: [(1, 640, 1_500_000)]), dir.appendingPathComponent("int8-grpc.json"))
        let manifest = """
            {"title": "MiniLM after every optimization", "commands": ["make bench-optimized"],
             "variants": [
               {"family": "MiniLM", "name": "fp32", "run": "fp32.json", "bench": ["fp32-rest.json"]},
               {"family": "MiniLM", "name": "int8", "run": "int8.json", "bench": ["int8-rest.json", "int8-grpc.json"]}]}
            """
        try Data(manifest.utf8).write(to: dir.appendingPathComponent("manifest.json"))
        return dir
    }

    @Test func combinesRunsAndBenchResultsUnchanged() throws {
        let dir = try fixture()
        let results = try OptimizedResults.build(try OptimizedManifest.load(dir.appendingPathComponent("manifest.json").path))
        #expect(results.families == ["MiniLM"])
        let int8 = try #require(results.variants.last)
        #expect(int8.quality == 0.993 && int8.qualityMetric == "cosine to original")
        #expect(int8.engineP50Ms == 1.5 && int8.weightsBytes == 23_000_000)
        #expect(int8.protocols == ["grpc", "rest-binary"])
        #expect(int8.server.count == 3 && int8.server.first { $0.protocolName == "grpc" }?.throughputPerS == 640)

        let md = results.markdown()
        #expect(md.contains("| int8 | 0.9930 | 23.0 MB |"))
        #expect(md.contains("×2.64"))  // 660 / 250 items/s at batch 1
        #expect(md.contains("| int8 | grpc | concurrency 1 | 640/s |"))

        let html = results.html()
        for kind in ["scatter", "bar", "line", "stacked-bar"] { #expect(html.contains("data-chart=\"\(kind)\"")) }
        // Throughput-vs-concurrency and a CDF per protocol: rest-binary has both variants at 1 and 8, gRPC one level.
        #expect(html.contains("rest-binary: latency distribution at concurrency 8"))
        #expect(html.contains("grpc: latency distribution at concurrency 1"))
    }

    @Test func namesTheFileOrFieldThatIsWrong() throws {
        let dir = try fixture()
        let path = dir.appendingPathComponent("manifest.json").path
        func message(_ manifest: String) -> String {
            try? Data(manifest.utf8).write(to: URL(fileURLWithPath: path))
            do {
                _ = try OptimizedResults.build(try OptimizedManifest.load(path))
                return ""
            } catch { return "\(error)" }
        }
        #expect(message(#"{"title": "t", "variants": [{"family": "F", "name": "a", "run": "nope", "bench": []}]}"#).contains("nope"))
        #expect(message(#"{"title": "t", "variants": [{"family": "F", "name": "a", "bench": []}]}"#).contains("variants[0].run: missing"))
        #expect(message(#"{"title": "t", "variants": []}"#).contains("variants: empty"))
        #expect(message(#"{"title": "t", "variants": [{"family": "F", "name": "a", "run": "int8.json", "bench": ["int8.json"]}]}"#).contains("int8.json: not a `compress bench --json` result"))
        let dup = #"{"family": "F", "name": "a", "run": "int8.json", "bench": []}"#
        #expect(message(#"{"title": "t", "variants": [\#(dup), \#(dup)]}"#).contains("'a' appears twice"))
        #expect(message("{").contains("not valid JSON"))
    }
}
