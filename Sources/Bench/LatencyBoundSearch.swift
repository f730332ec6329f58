/// MLPerf's server scenario as a search: the highest request rate whose p99 latency (from the intended send time,
/// Poisson arrivals) stays under a bound, by bisection between a rate that passes and one that fails.
public struct LatencyBoundSearch: Sendable {
    public var boundMs: Double
    /// Bisection steps after the bracket is found.
    public var steps: Int
    /// Stop when the bracket is narrower than this fraction of its upper end.
    public var tolerance: Double

    public init(boundMs: Double, steps: Int = 6, tolerance: Double = 0.03) {
        self.boundMs = boundMs
        self.steps = steps
        self.tolerance = tolerance
    }

    /// Whether a level passes: p99 under the bound, no errors, and the offered rate actually served (within 5 %,
    /// so a server that sheds load with 429s or falls behind does not pass).
    public func passes(_ level: LevelResult) -> Bool {
        let s = level.summary
        return s.latency.count > 0 && s.latency.p99Us <= boundMs * 1000 && s.errors == 0 && s.throughput >= level.mode.level * 0.95
    }

    /// Runs levels through `measure` starting from `startRate` (e.g. the closed-loop throughput): doubles or
    /// halves until the bound is bracketed, then bisects. Returns every level measured and the best passing rate.
    public func run(startRate: Double, measure: (Double) async -> LevelResult) async -> (levels: [LevelResult], best: Double?) {
        var levels: [LevelResult] = []
        var pass: Double? = nil, fail: Double? = nil
        var rate = max(startRate, 1)
        // Bracket: at most 8 doublings or halvings.
        for _ in 0..<8 {
            let r = await measure(rate)
            levels.append(r)
            if passes(r) {
                pass = max(pass ?? 0, rate)
                if fail != nil { break }
                rate *= 2
            } else {
                fail = min(fail ?? .infinity, rate)
                if pass != nil { break }
                rate /= 2
                if rate < 0.5 { break }
            }
        }
        guard var lo = pass, var hi = fail else { return (levels, pass) }
        for _ in 0..<steps where (hi - lo) / hi > tolerance {
            let mid = (lo + hi) / 2
            let r = await measure(mid)
            levels.append(r)
            if passes(r) { lo = mid } else { hi = mid }
        }
        return (levels, lo)
    }
}
