import ServingCore

/// Shadow agreement and canary counts in Prometheus' text format. The core keeps them as plain values
/// (``ShadowStatistics``, ``TrafficSplitStatistics``) with their own histogram buckets, so they are written out
/// here rather than re-recorded through swift-metrics.
///
/// Series (labels `model` = the live, compressed model, `shadow_model` = the original it is compared with):
/// - `compress_shadow_mirrored_total`, `_skipped_total` (too many mirrors in flight), `_failed_total`
/// - `compress_shadow_rows_compared_total`, `compress_shadow_top1_agreements_total` (agreement = their ratio)
/// - `compress_shadow_cosine` and `compress_shadow_max_abs_diff` histograms (per row, per request)
/// - `compress_shadow_latency_us` histogram with `role="live"` and `role="shadow"`
/// - `compress_canary_routed_total` and `compress_canary_weight` (labels `model`, `target`)
enum ShadowExposition {
    static func text(shadows: [ShadowStatistics], splits: [TrafficSplitStatistics]) -> String {
        var out = ""
        if !shadows.isEmpty {
            func counters(_ name: String, _ help: String, _ value: (ShadowStatistics) -> UInt64) {
                out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
                for s in shadows { out += "\(name){\(labels(s))} \(value(s))\n" }
            }
            counters("compress_shadow_mirrored_total", "Requests mirrored to the shadow model and compared.", \.mirrored)
            counters("compress_shadow_skipped_total", "Sampled requests not mirrored: too many mirrors in flight.", \.skipped)
            counters("compress_shadow_failed_total", "Mirrors the shadow model failed to answer.", \.failed)
            counters("compress_shadow_rows_compared_total", "Output rows compared between the live and the shadow model.", \.rowsCompared)
            counters("compress_shadow_top1_agreements_total", "Compared rows whose arg-max agrees.", \.top1Agreements)
            histogram("compress_shadow_cosine", "Cosine similarity of live and shadow outputs, per row.", shadows.map { (labels($0), $0.cosine) }, into: &out)
            histogram(
                "compress_shadow_max_abs_diff", "Largest absolute difference between live and shadow outputs, per request.",
                shadows.map { (labels($0), $0.maxAbsDiff) }, into: &out)
            histogram(
                "compress_shadow_latency_us", "Server-side latency of mirrored requests on the live model and on the shadow, µs.",
                shadows.flatMap { [(labels($0) + #",role="live""#, $0.latencyMicroseconds), (labels($0) + #",role="shadow""#, $0.shadowLatencyMicroseconds)] },
                into: &out)
        }
        if !splits.isEmpty {
            out += "# HELP compress_canary_routed_total Requests a traffic split routed to each target.\n# TYPE compress_canary_routed_total counter\n"
            for s in splits {
                for target in s.weights.keys.sorted() {
                    out += "compress_canary_routed_total{model=\"\(escaped(s.model))\",target=\"\(escaped(target))\"} \(s.routed[target] ?? 0)\n"
                }
            }
            out += "# HELP compress_canary_weight A traffic split's configured weight per target.\n# TYPE compress_canary_weight gauge\n"
            for s in splits {
                for (target, weight) in s.weights.sorted(by: { $0.key < $1.key }) {
                    out += "compress_canary_weight{model=\"\(escaped(s.model))\",target=\"\(escaped(target))\"} \(weight)\n"
                }
            }
        }
        return out
    }

    private static func labels(_ s: ShadowStatistics) -> String {
        "model=\"\(escaped(s.model))\",shadow_model=\"\(escaped(s.shadowModel))\""
    }

    /// `_bucket{le=...}` (cumulative, then `+Inf`), `_sum` and `_count` for each labelled histogram.
    private static func histogram(_ name: String, _ help: String, _ series: [(String, ServingCore.Histogram)], into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (labels, h) in series {
            let cumulative = h.cumulative
            for (i, bound) in h.bounds.enumerated() { out += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(cumulative[i])\n" }
            out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(cumulative.last ?? 0)\n"
            out += "\(name)_sum{\(labels)} \(h.sum)\n\(name)_count{\(labels)} \(h.count)\n"
        }
    }

    /// Label values escaped as the exposition format requires (backslash, quote, newline).
    private static func escaped(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
