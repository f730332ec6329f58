import Foundation

/// A histogram with fixed upper bounds, Prometheus-shaped: `counts[i]` is the number of observations `<= bounds[i]`
/// and above the previous bound; the last count is the `+Inf` bucket.
public struct Histogram: Sendable, Equatable, Codable {
    public var bounds: [Double]
    /// bounds.count + 1 buckets (the last is +Inf), not cumulative.
    public var counts: [UInt64]
    public var sum: Double = 0
    public var count: UInt64 = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    public mutating func observe(_ value: Double) {
        let i = bounds.firstIndex { value <= $0 } ?? bounds.count
        counts[i] += 1
        sum += value
        count += 1
    }

    /// Cumulative counts per bound (then +Inf), as Prometheus' `_bucket{le=...}` series want them.
    public var cumulative: [UInt64] {
        var acc: UInt64 = 0
        return counts.map { acc += $0; return acc }
    }

    static let cosine = [0.5, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1.0]
    static let absoluteDifference = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.5, 1]
    static let latencyMicroseconds: [Double] = [100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100_000, 250_000, 1_000_000]
}

/// How a compressed model agrees with the original it shadows (`shadow: {model: minilm, sample: 0.1}`): one
/// snapshot per model with a shadow, for `GET /v2/models/{m}/shadow` and the Prometheus exporter.
public struct ShadowStatistics: Sendable, Equatable, Codable {
    /// The model answering live requests (the compressed one).
    public var model: String
    /// The model mirrored to (the original).
    public var shadowModel: String
    public var sample: Double
    /// Requests mirrored and compared.
    public var mirrored: UInt64 = 0
    /// Requests sampled but not mirrored because enough mirrors were already in flight (the shadow never queues
    /// without bound behind live traffic).
    public var skipped: UInt64 = 0
    /// Mirrors that failed (shadow model unavailable, or it refused the request).
    public var failed: UInt64 = 0
    /// Rows whose arg-max agrees, of rows compared (classification outputs; embeddings count too, as a rough check).
    public var top1Agreements: UInt64 = 0
    public var rowsCompared: UInt64 = 0
    /// Per row: cosine similarity of the two outputs.
    public var cosine = Histogram(bounds: Histogram.cosine)
    /// Per request: the largest absolute element difference.
    public var maxAbsDiff = Histogram(bounds: Histogram.absoluteDifference)
    /// Server-side latency of the live model and of the shadow, per mirrored request (µs).
    public var latencyMicroseconds = Histogram(bounds: Histogram.latencyMicroseconds)
    public var shadowLatencyMicroseconds = Histogram(bounds: Histogram.latencyMicroseconds)

    public init(model: String, shadowModel: String, sample: Double) {
        self.model = model
        self.shadowModel = shadowModel
        self.sample = sample
    }

    enum CodingKeys: String, CodingKey {
        case model, shadowModel = "shadow_model", sample, mirrored, skipped, failed, top1Agreements = "top1_agreements"
        case rowsCompared = "rows_compared", cosine, maxAbsDiff = "max_abs_diff", latencyMicroseconds = "latency_us"
        case shadowLatencyMicroseconds = "shadow_latency_us"
    }

    /// Compares the live outputs with the shadow's (same names; FP32 ones only) and records both latencies.
    mutating func record(live: [InferOutput], shadow: [InferOutput], liveNanoseconds: UInt64, shadowNanoseconds: UInt64) {
        mirrored += 1
        latencyMicroseconds.observe(Double(liveNanoseconds) / 1000)
        shadowLatencyMicroseconds.observe(Double(shadowNanoseconds) / 1000)
        var worst = 0.0
        for a in live {
            guard case let .fp32(x) = a.data, let b = shadow.first(where: { $0.name == a.name }), case let .fp32(y) = b.data,
                x.count == y.count, !x.isEmpty
            else { continue }
            let rows = max(1, a.shape.first ?? 1)
            let width = x.count / rows
            for r in 0..<rows {
                var dot = 0.0, nx = 0.0, ny = 0.0
                var bestX = 0, bestY = 0
                for j in 0..<width {
                    let (u, v) = (Double(x[r * width + j]), Double(y[r * width + j]))
                    dot += u * v
                    nx += u * u
                    ny += v * v
                    worst = max(worst, abs(u - v))
                    if x[r * width + j] > x[r * width + bestX] { bestX = j }
                    if y[r * width + j] > y[r * width + bestY] { bestY = j }
                }
                cosine.observe(nx > 0 && ny > 0 ? dot / (nx.squareRoot() * ny.squareRoot()) : (nx == ny ? 1 : 0))
                rowsCompared += 1
                if bestX == bestY { top1Agreements += 1 }
            }
        }
        maxAbsDiff.observe(worst)
    }
}

/// A canary split's counts: requests routed to each target model.
public struct TrafficSplitStatistics: Sendable, Equatable, Codable {
    public var model: String
    /// Target → weight, as configured.
    public var weights: [String: Int]
    /// Target → requests routed to it.
    public var routed: [String: UInt64]
}

/// Everything a metrics exporter reads from the core in one call: per-model statistics (the statistics extension's
/// figures), queue depths, shadow agreement and canary counts. A plain value: take it, then format it.
public struct ServingMetricsSnapshot: Sendable, Equatable {
    public var models: [ModelStatistics]
    /// Model → requests waiting in its queue now (Triton's `nv_inference_pending_request_count`).
    public var pendingRequests: [String: Int]
    public var shadows: [ShadowStatistics]
    public var trafficSplits: [TrafficSplitStatistics]
}
