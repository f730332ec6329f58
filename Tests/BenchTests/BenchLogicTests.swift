import Bench
import Foundation
import Histogram
import Testing

@Suite struct StabilityRuleTests {
    let rule = StabilityRule(threshold: 0.1, windows: 3)

    @Test func stableWhenLastThreeWithinTenPercent() {
        // Early windows may be anything; only the trailing three count.
        #expect(rule.isStable(throughputs: [50, 100, 105, 109], latencies: [9, 5, 5.2, 5.4]))
    }

    @Test func throughputSpreadAboveTenPercentIsUnstable() {
        // 111 / 100 = 1.11 > 1.10.
        #expect(!rule.isStable(throughputs: [100, 105, 111], latencies: [5, 5, 5]))
        #expect(rule.isStable(throughputs: [100, 105, 110], latencies: [5, 5, 5]))
    }

    @Test func latencySpreadAboveTenPercentIsUnstable() {
        #expect(!rule.isStable(throughputs: [100, 100, 100], latencies: [5, 5.6, 5.2]))
    }

    @Test func fewerWindowsThanRequiredOrZeroThroughputIsUnstable() {
        #expect(!rule.isStable(throughputs: [100, 100], latencies: [5, 5]))
        #expect(!rule.isStable(throughputs: [0, 0, 0], latencies: [5, 5, 5]))
        #expect(!rule.isStable(throughputs: [100, 0, 100], latencies: [5, 5, 5]))
    }

    @Test func windowCountAndThresholdAreSettings() {
        let loose = StabilityRule(threshold: 0.5, windows: 2)
        #expect(loose.isStable(throughputs: [10, 100, 140], latencies: [1, 1, 1.4]))
        #expect(!loose.isStable(throughputs: [10, 100, 160], latencies: [1, 1, 1]))
    }
}

@Suite struct PercentileTests {
    struct Reference: Decodable {
        var samples_ns: [UInt64]
        var percentiles_ns: [String: UInt64]
        var max_ns: UInt64
        var mean_ns: Double
    }

    /// Percentiles against numpy's nearest-rank percentiles of the same samples (tools/make_bench_fixtures.py):
    /// equal within HdrHistogram's 3 significant digits.
    @Test func summaryMatchesNumpy() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/bench/latencies.json")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        var h = LatencySummary.makeHistogram()
        for s in ref.samples_ns { _ = h.record(s) }
        let summary = LatencySummary(h)
        #expect(summary.count == UInt64(ref.samples_ns.count))
        let pairs: [(Double, String)] = [
            (summary.p50Us, "50"), (summary.p90Us, "90"), (summary.p95Us, "95"), (summary.p99Us, "99"), (summary.p999Us, "99.9"),
        ]
        for (ours, key) in pairs {
            let expected = Double(ref.percentiles_ns[key]!) / 1000
            #expect(abs(ours - expected) <= expected * 1e-3, "p\(key): \(ours) µs vs numpy \(expected) µs")
        }
        #expect(abs(summary.maxUs - Double(ref.max_ns) / 1000) <= Double(ref.max_ns) / 1000 * 1e-3)
        #expect(abs(summary.meanUs - ref.mean_ns / 1000) <= ref.mean_ns / 1000 * 1e-3)
    }

    @Test func emptyHistogramIsZeros() {
        let s = LatencySummary(LatencySummary.makeHistogram())
        #expect(s.count == 0 && s.p99Us == 0 && s.maxUs == 0)
    }
}

@Suite struct OptionParsingTests {
    @Test func rangesAsPerfAnalyzerWritesThem() throws {
        #expect(try parseRange("1:64:x2", what: "c") == [1, 2, 4, 8, 16, 32, 64])
        #expect(try parseRange("1:8:3", what: "c") == [1, 4, 7])
        #expect(try parseRange("5", what: "c") == [5])
        #expect(try parseRange("1:4", what: "c") == [1, 2, 3, 4])
        for bad in ["0", "4:2", "1:8:x1", "a:b", "1:2:3:4", "1:8:-1"] {
            #expect(throws: BenchError.self) { try parseRange(bad, what: "c") }
        }
    }

    @Test func shapeOptions() throws {
        let s = try RequestSource.ShapeOption(parsing: "input_ids:16")
        #expect(s.name == "input_ids" && s.dims == [16])
        #expect(try RequestSource.ShapeOption(parsing: "x:28,28,1").dims == [28, 28, 1])
        for bad in ["x", ":3", "x:", "x:0", "x:a"] {
            #expect(throws: BenchError.self) { try RequestSource.ShapeOption(parsing: bad) }
        }
    }
}

@Suite struct CSVTests {
    /// The header equals the first line of a CSV the real perf_analyzer 2.47 wrote (`-f`) against `compress serve`
    /// (tools/bench_vs_perf_analyzer.sh records it).
    @Test func headerIsPerfAnalyzers() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/bench/perf_analyzer.csv")
        let text = try String(contentsOf: url, encoding: .utf8)
        let header = text.split(separator: "\n").first.map(String.init) ?? ""
        #expect(BenchReport.csvHeader(openLoop: false).joined(separator: ",") == header)
    }
}
