/// perf_analyzer's stability rule: the last `windows` measurement windows are stable when none had zero
/// throughput and both their throughput and their latency vary by at most `threshold`: max / min ≤ 1 + threshold
/// (perf_analyzer's `IsInferWindowStable` / `IsLatencyWindowStable`, `--stability-percentage 10`, 3 windows).
public struct StabilityRule: Sendable, Equatable, Codable {
    /// Allowed spread, as a fraction (0.1 = 10 %).
    public var threshold: Double
    /// Consecutive windows that must agree.
    public var windows: Int

    public init(threshold: Double = 0.1, windows: Int = 3) {
        self.threshold = threshold
        self.windows = windows
    }

    /// Whether the trailing `windows` entries of (throughput, latency) pairs are stable.
    public func isStable(throughputs: [Double], latencies: [Double]) -> Bool {
        precondition(throughputs.count == latencies.count, "one latency per window")
        guard windows >= 1, throughputs.count >= windows else { return false }
        let t = throughputs.suffix(windows), l = latencies.suffix(windows)
        guard let tMin = t.min(), let tMax = t.max(), let lMin = l.min(), let lMax = l.max(), tMin > 0, lMin > 0 else { return false }
        return tMax / tMin <= 1 + threshold && lMax / lMin <= 1 + threshold
    }
}
