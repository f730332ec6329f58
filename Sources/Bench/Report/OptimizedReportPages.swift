import Charts
import Foundation

/// `report.md` and `report.html` of `compress report`: per model family, the engine table (quality, size, batch-1
/// latency and throughput), the server table per protocol and load, and the charts.
extension OptimizedResults {
    func variants(of family: String) -> [Variant] { variants.filter { $0.family == family } }

    static func quality(_ v: Variant) -> String {
        guard let q = v.quality, let metric = v.qualityMetric else { return "–" }
        return metric == "accuracy" ? Units.percent(q) : String(format: "%.4f", q)
    }

    /// `×r` of a variant against the family's first (its baseline).
    static func relative(_ value: Double?, _ base: Double?) -> String {
        guard let value, let base, base > 0 else { return "–" }
        return Units.ratio(value / base)
    }

    func engineTable(_ family: String) -> (header: [String], rows: [[String]]) {
        let vs = variants(of: family)
        let metric = vs.compactMap(\.qualityMetric).first ?? "quality"
        let largest = vs.compactMap(\.engineLargestBatch).max()
        let header = [
            "variant", metric, "weights", "zstd", "bits/weight", "parameters", "engine p50 (b=1)", "engine p99 (b=1)", "items/s (b=1)",
            largest.map { "items/s (b=\($0))" } ?? "items/s (batch)", "speed-up (b=1)", "size ratio",
        ]
        let rows = vs.map { v in
            [
                v.name, Self.quality(v), Units.bytes(Double(v.weightsBytes)), Units.bytes(Double(v.weightsZstdBytes)),
                String(format: "%.2f", v.bitsPerWeight), Units.number(Double(v.parameters)),
                v.engineP50Ms.map { Units.duration(milliseconds: $0) } ?? "–", v.engineP99Ms.map { Units.duration(milliseconds: $0) } ?? "–",
                v.engineThroughputB1.map(Units.rate) ?? "–", v.engineThroughputLargest.map(Units.rate) ?? "–",
                Self.relative(v.engineThroughputB1, vs.first?.engineThroughputB1),
                Self.relative(Double(v.weightsBytes), vs.first.map { Double($0.weightsBytes) }),
            ]
        }
        return (header, rows)
    }

    func serverTable(_ family: String) -> (header: [String], rows: [[String]]) {
        let header = ["variant", "protocol", "load", "requests/s", "p50", "p90", "p99", "p99.9", "errors", "stable"]
        var rows: [[String]] = []
        for v in variants(of: family) {
            for s in v.server.sorted(by: { ($0.protocolName, $0.level) < ($1.protocolName, $1.level) }) {
                rows.append(
                    [
                        v.name, s.protocolName, s.load, Units.rate(s.throughputPerS), Units.duration(microseconds: s.latency.p50Us),
                        Units.duration(microseconds: s.latency.p90Us), Units.duration(microseconds: s.latency.p99Us),
                        Units.duration(microseconds: s.latency.p999Us), String(s.errors), s.stable ? "yes" : "no",
                    ])
            }
        }
        return (header, rows)
    }

    /// Markdown: the same tables as the page, without charts.
    public func markdown() -> String {
        func table(_ t: (header: [String], rows: [[String]])) -> String {
            var s = "| " + t.header.joined(separator: " | ") + " |\n|" + t.header.enumerated().map { $0.offset == 0 ? "---" : "---:" }.joined(separator: "|") + "|\n"
            for r in t.rows { s += "| " + r.joined(separator: " | ") + " |\n" }
            return s
        }
        var s = "# \(title)\n\n"
        for n in notes { s += "- \(n)\n" }
        for family in families {
            s += "\n## \(family)\n\n### Engine (quality on held-out data; latency and throughput in-process)\n\n" + table(engineTable(family))
            let server = serverTable(family)
            if !server.rows.isEmpty { s += "\n### Behind `compress serve`\n\n" + table(server) }
        }
        if !commands.isEmpty { s += "\n## Commands\n\n```bash\n" + commands.joined(separator: "\n") + "\n```\n" }
        return s
    }

    /// The standalone page with charts.
    public func html() -> String {
        var page = HTMLReport(title: title)
        if !notes.isEmpty { page.list(notes) }
        for family in families {
            let vs = variants(of: family)
            page.heading(family)
            let engine = engineTable(family)
            page.table(header: engine.header, rows: engine.rows)
            var figures: [String] = []
            let scored = vs.filter { $0.quality != nil && $0.engineP50Ms != nil }
            if !scored.isEmpty, let metric = scored.first?.qualityMetric {
                figures.append(
                    ScatterChart(
                        title: "\(family): \(metric) against latency", caption: "Engine, batch 1, p50; quality on held-out data",
                        x: Axis("latency p50, batch 1", format: { Units.duration(milliseconds: $0) }),
                        y: {
                            var a = Axis(metric, format: { metric == "accuracy" ? Units.percent($0, digits: 1) : String(format: "%.3f", $0) })
                            a.maximum = 1
                            return a
                        }(),
                        points: scored.map { LabeledPoint($0.name, x: $0.engineP50Ms!, y: $0.quality!) }
                    ).html())
            }
            figures.append(
                BarChart(
                    title: "\(family): size", value: Axis("weights", format: Units.bytes), categories: vs.map(\.name),
                    groups: [.init("weights", values: vs.map { Double($0.weightsBytes) }), .init("zstd", values: vs.map { Double($0.weightsZstdBytes) })]
                ).html())
            page.chartRow(figures)
            let server = serverTable(family)
            guard !server.rows.isEmpty else { continue }
            page.heading("\(family) behind compress serve", level: 3)
            page.table(header: server.header, rows: server.rows)
            page.chartRow(serverCharts(family))
        }
        if !commands.isEmpty {
            page.heading("Commands")
            page.code(commands.joined(separator: "\n"))
        }
        return page.render()
    }

    /// Throughput against concurrency and latency CDFs per protocol, and the per-component split at the lowest load.
    func serverCharts(_ family: String) -> [String] {
        let vs = variants(of: family)
        let protocols = Array(Set(vs.flatMap(\.protocols))).sorted()
        var out: [String] = []
        for p in protocols {
            let series = vs.compactMap { v -> Series? in
                let pts = v.server.filter { $0.protocolName == p && $0.closedLoop }.sorted { $0.level < $1.level }.map { (x: $0.level, y: $0.throughputPerS) }
                return pts.isEmpty ? nil : Series(v.name, points: pts)
            }
            if !series.isEmpty {
                out.append(
                    LineChart(
                        title: "\(family), \(p): throughput against concurrency", x: Axis("concurrency (requests in flight)", scale: .log),
                        y: Axis("requests per second", includesZero: true, format: Units.rate), series: series
                    ).html())
            }
            // The CDF at the highest concurrency every variant reached on this protocol.
            let levels = vs.map { Set($0.server.filter { $0.protocolName == p && $0.closedLoop }.map(\.level)) }.filter { !$0.isEmpty }
            if let common = levels.dropFirst().reduce(levels.first, { $0?.intersection($1) }), let top = common.max() {
                let cdf = vs.compactMap { v -> Series? in
                    guard let s = v.server.first(where: { $0.protocolName == p && $0.closedLoop && $0.level == top }) else { return nil }
                    let l = s.latency
                    return Series(v.name, points: [(l.p50Us, 50), (l.p90Us, 90), (l.p95Us, 95), (l.p99Us, 99), (l.p999Us, 99.9), (l.maxUs, 100)])
                }
                var chart = LineChart(
                    title: "\(family), \(p): latency distribution at concurrency \(Int(top))",
                    caption: "Percentiles p50, p90, p95, p99, p99.9 and max from each run's HdrHistogram",
                    x: Axis("latency", scale: .log, format: { Units.duration(microseconds: $0) }),
                    y: Axis("percent of requests at or below", format: { String(format: "%.0f %%", $0) }), series: cdf)
                chart.stepped = true
                out.append(chart.html())
            }
        }
        let parts = ComponentBreakdown.partNames
        var bars: [StackedBarChart.Bar] = []
        for v in vs {
            for p in v.protocols {
                guard let s = v.server.filter({ $0.protocolName == p && $0.closedLoop }).min(by: { $0.level < $1.level }) else { continue }
                bars.append(.init("\(v.name) · \(p) · c=\(Int(s.level))", parts: s.components.rows.map(\.1)))
            }
        }
        if !bars.isEmpty {
            out.append(
                StackedBarChart(
                    title: "\(family): where a request's time goes (lowest concurrency)",
                    caption: "Client parts from the generator, server parts from the statistics extension",
                    value: Axis("mean time per request", format: { Units.duration(microseconds: $0) }), partNames: parts, bars: bars
                ).html())
        }
        return out
    }
}

extension ComponentBreakdown {
    /// The labels of ``rows``, in the same order.
    public static var partNames: [String] {
        ComponentBreakdown(requests: 1, serializeNs: 0, sendWaitNs: 0, deserializeNs: 0, server: nil).rows.map(\.0)
    }
}
