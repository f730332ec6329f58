import Charts
import Evaluation
import Formats
import Foundation

/// A before/after comparison of two measurements (`compress compare`).
public struct Comparison: Codable, Sendable {
    public var before: EvalReport
    public var after: EvalReport

    public init(before: EvalReport, after: EvalReport) {
        self.before = before
        self.after = after
    }

    /// One compared metric.
    public struct Row: Codable, Sendable {
        public var metric: String
        public var before: Double?
        public var after: Double?
        /// after ÷ before.
        public var ratio: Double?
        /// Whether larger is better (for colouring and wording).
        public var higherIsBetter: Bool
    }

    public var rows: [Row] {
        func row(_ name: String, _ a: Double?, _ b: Double?, higher: Bool) -> Row {
            Row(metric: name, before: a, after: b, ratio: (a != nil && b != nil && a! != 0) ? b! / a! : nil, higherIsBetter: higher)
        }
        var out = [
            row("weights_bytes", Double(before.size.weightsBytes), Double(after.size.weightsBytes), higher: false),
            row("weights_zstd_bytes", Double(before.size.weightsZstdBytes), Double(after.size.weightsZstdBytes), higher: false),
            row(
                "file_bytes", before.size.fileBytes > 0 ? Double(before.size.fileBytes) : nil,
                after.size.fileBytes > 0 ? Double(after.size.fileBytes) : nil, higher: false),
            row("parameters", Double(before.parameters), Double(after.parameters), higher: false),
        ]
        if before.accuracy != nil || after.accuracy != nil { out.append(row("accuracy", before.accuracy, after.accuracy, higher: true)) }
        if before.fidelity != nil || after.fidelity != nil {
            out.append(row("cosine_mean", before.fidelity?.cosineMean, after.fidelity?.cosineMean, higher: true))
            out.append(row("cosine_min", before.fidelity?.cosineMin, after.fidelity?.cosineMin, higher: true))
        }
        out.append(row("latency_p50_ms", before.latency?.latencyMs.p50, after.latency?.latencyMs.p50, higher: false))
        out.append(row("latency_p99_ms", before.latency?.latencyMs.p99, after.latency?.latencyMs.p99, higher: false))
        out.append(row("throughput_b1_per_s", before.latency?.throughputPerS, after.latency?.throughputPerS, higher: true))
        for t in after.throughput {
            let b = before.throughput.first { $0.batchSize == t.batchSize }
            out.append(row("throughput_b\(t.batchSize)_per_s", b?.throughputPerS, t.throughputPerS, higher: true))
        }
        out.append(row("peak_rss_bytes", Double(before.peakRssBytes), Double(after.peakRssBytes), higher: false))
        return out
    }

    /// Sentences for the main ratios (size, speed).
    public func ratioLines() -> [String] {
        rows.compactMap { r in
            guard let ratio = r.ratio,
                ["weights_bytes", "weights_zstd_bytes", "latency_p50_ms", "throughput_b1_per_s"].contains(r.metric)
                    || r.metric.hasPrefix("throughput_b")
            else { return nil }
            return "\(r.metric): ×\(String(format: "%.3f", ratio))"
        }
    }

    /// Markdown table.
    public func markdown() -> String {
        var s = "# Compare\n\n- before: `\(before.model)` (\(before.format))\n- after: `\(after.model)` (\(after.format))\n"
        s += "- data: \(Set(before.data + after.data).sorted().joined(separator: ", ")); threads \(before.threads) / \(after.threads)\n"
        if before.threads != after.threads { s += "- **warning**: measured with different thread counts; speed ratios mix both effects\n" }
        if Set(before.data) != Set(after.data) { s += "- **warning**: measured on different data\n" }
        s += "\n"
        s += "| metric | before | after | after ÷ before |\n|---|---:|---:|---:|\n"
        for r in rows {
            s +=
                "| \(r.metric) | \(Self.format(r.before)) | \(Self.format(r.after)) | \(r.ratio.map { String(format: "×%.3f", $0) } ?? "–") |\n"
        }
        return s
    }

    /// A standalone HTML page: the table in human units, then size, latency and throughput as before/after bar
    /// charts (inline SVG; colours tell before from after, never good from bad, since "fewer parameters" is neither).
    public func html() -> String {
        var page = HTMLReport(title: "compress compare")
        page.list(["before: \(before.model) (\(before.format))", "after: \(after.model) (\(after.format))",
                   "data: \(Set(before.data + after.data).sorted().joined(separator: ", ")); threads \(before.threads) / \(after.threads)"])
        if before.threads != after.threads { page.paragraph("Warning: measured with different thread counts; speed ratios mix both effects.") }
        if Set(before.data) != Set(after.data) { page.paragraph("Warning: measured on different data.") }
        page.table(
            header: ["metric", "before", "after", "after ÷ before", ""],
            rows: rows.map { r in
                let verdict: String
                if let a = r.before, let b = r.after, r.metric != "parameters", a != b {
                    verdict = (r.higherIsBetter ? b > a : b < a) ? "better" : "worse"
                } else {
                    verdict = ""
                }
                return [Self.label(r.metric), Self.human(r.metric, r.before), Self.human(r.metric, r.after), r.ratio.map(Units.ratio) ?? "–", verdict]
            })
        func chart(_ title: String, _ metrics: [String], _ axis: Axis) -> String? {
            let chosen = rows.filter { metrics.contains($0.metric) && ($0.before != nil || $0.after != nil) }
            guard !chosen.isEmpty else { return nil }
            return BarChart(
                title: title, value: axis, categories: chosen.map { Self.label($0.metric) },
                groups: [.init("before", values: chosen.map(\.before)), .init("after", values: chosen.map(\.after))]
            ).html()
        }
        let throughputs = rows.map(\.metric).filter { $0.hasPrefix("throughput_b") }
        page.heading("Charts")
        page.chartRow(
            [
                chart("Size on disk", ["weights_bytes", "weights_zstd_bytes", "file_bytes"], Axis("bytes", format: Units.bytes)),
                chart("Peak memory", ["peak_rss_bytes"], Axis("bytes", format: Units.bytes)),
                chart("Latency at batch 1 (lower is better)", ["latency_p50_ms", "latency_p99_ms"], Axis("latency", format: { Units.duration(milliseconds: $0) })),
                chart("Throughput (higher is better)", throughputs, Axis("items per second", format: Units.rate)),
            ].compactMap { $0 })
        return page.render()
    }

    /// A readable name for a metric key.
    static func label(_ metric: String) -> String {
        switch metric {
        case "weights_bytes": return "weights (safetensors)"
        case "weights_zstd_bytes": return "weights, zstd"
        case "file_bytes": return "model files"
        case "peak_rss_bytes": return "peak memory (RSS)"
        case "parameters": return "parameters"
        case "accuracy": return "accuracy"
        case "cosine_mean": return "cosine to reference, mean"
        case "cosine_min": return "cosine to reference, min"
        case "latency_p50_ms": return "latency p50, batch 1"
        case "latency_p99_ms": return "latency p99, batch 1"
        default:
            if metric.hasPrefix("throughput_b"), let b = Int(metric.dropFirst("throughput_b".count).prefix { $0.isNumber }) {
                return "throughput, batch \(b)"
            }
            return metric
        }
    }

    /// A metric's value in its unit (MB, ms, /s, a count or a fraction).
    static func human(_ metric: String, _ v: Double?) -> String {
        guard let v else { return "–" }
        if metric.hasSuffix("_bytes") { return Units.bytes(v) }
        if metric.hasSuffix("_ms") { return Units.duration(milliseconds: v) }
        if metric.hasSuffix("_per_s") { return Units.rate(v) }
        if metric == "parameters" { return Units.number(v) }
        return String(format: "%.4f", v)
    }

    /// Pretty JSON with the two reports and the rows.
    public func json() throws -> Data {
        struct Out: Codable { var before: EvalReport; var after: EvalReport; var rows: [Row] }
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(Out(before: before, after: after, rows: rows))
    }

    static func format(_ v: Double?) -> String {
        guard let v else { return "–" }
        if v == v.rounded(), abs(v) >= 1000 { return String(format: "%.0f", v) }
        return abs(v) >= 100 ? String(format: "%.1f", v) : String(format: "%.4g", v)
    }

    /// Reads a measurement from a run directory (its metrics.json), a run's metrics.json, or an eval JSON file.
    public static func loadMeasurement(_ path: String) throws -> EvalReport? {
        var url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw FormatError.missingFile(path) }
        if isDir.boolValue {
            url = url.appendingPathComponent("metrics.json")
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        } else if url.pathExtension != "json" {
            return nil
        }
        let data = try Data(contentsOf: url)
        if let run = try? JSONDecoder().decode(RunRecord.self, from: data) {
            guard let m = run.finalMetrics else { throw FormatError.invalid(file: url.path, message: "the run has no evaluate stage") }
            return m
        }
        do { return try JSONDecoder().decode(EvalReport.self, from: data) } catch {
            throw FormatError.invalid(file: url.path, message: "neither a run's metrics.json nor an eval --json report")
        }
    }
}
