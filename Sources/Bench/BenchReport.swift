import Foundation

/// Renders a ``BenchResult`` as a text table (with the component split), perf_analyzer's CSV, or JSON.
public enum BenchReport {
    /// perf_analyzer 2.47's `-f` CSV columns, in its order (checked against a file the real perf_analyzer wrote,
    /// Tests/Fixtures/bench/perf_analyzer.csv); `Request Rate` replaces `Concurrency` in open loop.
    public static func csvHeader(openLoop: Bool) -> [String] {
        [
            openLoop ? "Request Rate" : "Concurrency", "Inferences/Second", "Client Send", "Network+Server Send/Recv", "Server Queue",
            "Server Compute Input", "Server Compute Infer", "Server Compute Output", "Client Recv", "p50 latency", "p90 latency",
            "p95 latency", "p99 latency",
        ]
    }

    /// CSV in perf_analyzer's form: microseconds as integers, rows sorted by throughput (as perf_analyzer sorts).
    public static func csv(_ result: BenchResult) -> String {
        let openLoop = result.levels.contains { if case .rate = $0.mode { return true } else { return false } }
        var lines = [csvHeader(openLoop: openLoop).joined(separator: ",")]
        for level in result.levels.sorted(by: { $0.summary.throughput < $1.summary.throughput }) {
            let s = level.summary, c = s.components
            func us(_ v: Double) -> String { String(Int(v.rounded())) }
            let levelText: String
            switch level.mode {
            case let .concurrency(n): levelText = String(n)
            case let .rate(r, _): levelText = String(format: "%.1f", r)
            }
            let serverPart = c.serverQueueUs + c.serverComputeInputUs + c.serverComputeInferUs + c.serverComputeOutputUs
            lines.append(
                [
                    levelText, String(format: "%.2f", s.throughput), us(c.clientSerializeUs),
                    us(max(0, s.latency.meanUs - c.clientSerializeUs - c.clientDeserializeUs - serverPart)), us(c.serverQueueUs),
                    us(c.serverComputeInputUs), us(c.serverComputeInferUs), us(c.serverComputeOutputUs), us(c.clientDeserializeUs),
                    us(s.latency.p50Us), us(s.latency.p90Us), us(s.latency.p95Us), us(s.latency.p99Us),
                ].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func json(_ result: BenchResult) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(result), as: UTF8.self) + "\n"
    }

    /// The human table: one row per level, then where each millisecond went at each level.
    public static func text(_ result: BenchResult) -> String {
        var out = "compress bench \(result.url) · model \(result.model) · \(result.protocolName)\n\n"
        let head = ["load", "req/s", "p50", "p90", "p95", "p99", "p99.9", "max", "errors", "stable"]
        var rows: [[String]] = []
        for level in result.levels {
            let s = level.summary
            let errors = s.statuses.filter { $0.key != "200" }.sorted { $0.key < $1.key }.map { "\($0.value)×\($0.key == "0" ? "no answer" : $0.key)" }
            rows.append(
                [
                    level.mode.label, String(format: "%.1f", s.throughput), formatMicros(s.latency.p50Us), formatMicros(s.latency.p90Us),
                    formatMicros(s.latency.p95Us), formatMicros(s.latency.p99Us), formatMicros(s.latency.p999Us), formatMicros(s.latency.maxUs),
                    errors.isEmpty ? "0" : errors.joined(separator: " "), level.stable ? "yes" : "no (\(level.windows.count) windows)",
                ])
        }
        out += table(head, rows)
        if let bound = result.latencyBoundMs {
            out += "\nlatency bound p99 ≤ \(bound) ms: "
            out += result.bestRate.map { String(format: "highest passing rate %.1f req/s\n", $0) } ?? "no rate passed\n"
        }
        out += "\nwhere the average request's time goes (µs; server parts from GET v2/models/\(result.model)/stats deltas):\n"
        var split: [[String]] = []
        let labels = result.levels.first?.summary.components.rows.map(\.0) ?? []
        for (i, label) in labels.enumerated() {
            split.append([label] + result.levels.map { String(format: "%.0f", $0.summary.components.rows[i].1) })
        }
        split.append(["sum of parts"] + result.levels.map { String(format: "%.0f", $0.summary.components.totalUs) })
        split.append(["measured mean latency"] + result.levels.map { String(format: "%.0f", $0.summary.latency.meanUs) })
        out += table(["component"] + result.levels.map(\.mode.label), split)
        if result.levels.contains(where: { !$0.summary.components.hasServerStatistics }) {
            out += "(no statistics extension answered: server parts are inside 'network')\n"
        }
        for level in result.levels {
            if let e = level.firstError { out += "\(level.mode.label): first error: \(e)\n" }
            if let u = level.summary.uncorrectedLatency, case .rate = level.mode {
                out += "\(level.mode.label): uncorrected (from actual send) p50 \(formatMicros(u.p50Us)), p99 \(formatMicros(u.p99Us))"
                out += level.summary.lateSends > 0 ? "; \(level.summary.lateSends) sends > 1 ms late\n" : "\n"
            }
        }
        return out
    }

    static func table(_ head: [String], _ rows: [[String]]) -> String {
        var widths = head.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: max(0, widths[i] - c.count))
                return i == 0 ? c + pad : pad + c
            }.joined(separator: "  ") + "\n"
        }
        return line(head) + line(widths.map { String(repeating: "-", count: $0) }) + rows.map(line).joined()
    }
}
