/// How load is offered.
public enum LoadMode: Sendable, Equatable, Codable {
    /// Closed loop: `n` requests in flight at all times; each sends its next request when the previous answer
    /// arrives (perf_analyzer `--concurrency-range`).
    case concurrency(Int)
    /// Open loop: requests at `perSecond`, evenly spaced or with exponential gaps (Poisson arrivals), sent on
    /// schedule whatever the server does; latency counts from the intended send time (wrk2, MLPerf LoadGen's
    /// server scenario), so a stalled server cannot hide its queue (coordinated omission).
    case rate(perSecond: Double, poisson: Bool)

    /// The level as a number: concurrency or requests per second.
    public var level: Double {
        switch self {
        case let .concurrency(n): return Double(n)
        case let .rate(r, _): return r
        }
    }

    public var label: String {
        switch self {
        case let .concurrency(n): return "concurrency \(n)"
        case let .rate(r, poisson): return String(format: "%@ %.1f req/s", poisson ? "poisson" : "rate", r)
        }
    }
}

/// Parses perf_analyzer's range syntax `start:end:step` (`1:64:x2` doubles; `1:8:2` adds; `4` alone is one level).
public func parseRange(_ text: String, what: String) throws -> [Double] {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard (1...3).contains(parts.count), let start = Double(parts[0]), start > 0 else {
        throw BenchError("\(what) '\(text)': expected START[:END[:STEP]] with a positive START, e.g. 1:64:x2")
    }
    guard parts.count > 1 else { return [start] }
    guard let end = Double(parts[1]), end >= start else { throw BenchError("\(what) '\(text)': END must be a number ≥ START") }
    var step = parts.count == 3 ? parts[2] : "1"
    let multiply = step.hasPrefix("x")
    if multiply { step.removeFirst() }
    guard let s = Double(step), multiply ? s > 1 : s > 0 else {
        throw BenchError("\(what) '\(text)': STEP must be positive (or xK with K > 1)")
    }
    var levels: [Double] = []
    var v = start
    while v <= end * (1 + 1e-9) && levels.count < 1000 {
        levels.append(v)
        v = multiply ? v * s : v + s
    }
    return levels
}
