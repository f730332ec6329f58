import Histogram

/// Latency percentiles of one window or run, in microseconds, from an HdrHistogram of nanoseconds (3 significant
/// digits: every value is within 0.1 % of the exact order statistic).
public struct LatencySummary: Sendable, Codable, Equatable {
    public var count: UInt64
    public var meanUs: Double
    public var p50Us: Double
    public var p90Us: Double
    public var p95Us: Double
    public var p99Us: Double
    public var p999Us: Double
    public var maxUs: Double

    enum CodingKeys: String, CodingKey {
        case count, meanUs = "mean_us", p50Us = "p50_us", p90Us = "p90_us", p95Us = "p95_us", p99Us = "p99_us", p999Us = "p99.9_us"
        case maxUs = "max_us"
    }

    /// The percentiles of `histogram` (nanoseconds). HdrHistogram's percentile is the nearest rank: the smallest
    /// recorded value with at least ⌈p·N⌉ values at or below it (numpy's `method="inverted_cdf"`).
    public init(_ histogram: Histogram<UInt64>) {
        count = histogram.totalCount
        func us(_ ns: UInt64) -> Double { Double(ns) / 1000 }
        guard count > 0 else {
            meanUs = 0; p50Us = 0; p90Us = 0; p95Us = 0; p99Us = 0; p999Us = 0; maxUs = 0
            return
        }
        meanUs = histogram.mean / 1000
        p50Us = us(histogram.valueAtPercentile(50))
        p90Us = us(histogram.valueAtPercentile(90))
        p95Us = us(histogram.valueAtPercentile(95))
        p99Us = us(histogram.valueAtPercentile(99))
        p999Us = us(histogram.valueAtPercentile(99.9))
        maxUs = us(histogram.max)
    }

    /// A histogram for request latencies: 1 µs to 10 minutes, 3 significant digits.
    public static func makeHistogram() -> Histogram<UInt64> {
        var h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
        h.autoResize = true
        return h
    }
}
