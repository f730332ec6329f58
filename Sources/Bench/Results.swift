import Histogram

/// One measurement window's figures.
public struct WindowResult: Sendable, Codable {
    public var index: Int
    public var seconds: Double
    /// Successful requests per second.
    public var throughput: Double
    public var latency: LatencySummary
    /// Open loop: latency from the actual send, what an uncorrected generator would print.
    public var uncorrectedLatency: LatencySummary?
    /// Answers by status code ("200", "429", "0" = no answer, "-1" = malformed).
    public var statuses: [String: UInt64]
    public var components: ComponentBreakdown
    /// Open loop: sends more than 1 ms behind schedule.
    public var lateSends: UInt64

    enum CodingKeys: String, CodingKey {
        case index, seconds, throughput = "throughput_per_s", latency, uncorrectedLatency = "uncorrected_latency", statuses
        case components, lateSends = "late_sends"
    }

    /// Requests that did not end in 200.
    public var errors: UInt64 { statuses.filter { $0.key != "200" }.reduce(0) { $0 + $1.value } }
}

/// One load level (a concurrency or a rate): its windows and the summary over the last stable ones.
public struct LevelResult: Sendable, Codable {
    public var mode: LoadMode
    /// Whether the last windows met the stability rule before `--max-duration`.
    public var stable: Bool
    public var windows: [WindowResult]
    /// The trailing `stability.windows` windows merged (all windows when fewer ran): what the tables print.
    public var summary: WindowResult
    public var firstError: String?

    enum CodingKeys: String, CodingKey { case mode, stable, windows, summary, firstError = "first_error" }
}

/// A whole `compress bench` run.
public struct BenchResult: Sendable, Codable {
    public var url: String
    public var model: String
    public var protocolName: String
    public var levels: [LevelResult]
    /// `--latency-bound-ms`: the bound and the highest passing rate (nil when none passed).
    public var latencyBoundMs: Double?
    public var bestRate: Double?

    enum CodingKeys: String, CodingKey {
        case url, model, protocolName = "protocol", levels, latencyBoundMs = "latency_bound_ms", bestRate = "best_rate_per_s"
    }
}
