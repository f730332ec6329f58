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

    /// A standalone HTML page: the table plus one bar chart per metric (inline SVG, no scripts).
    public func html() -> String {
        func esc(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") }
        var s = "<!doctype html><html><head><meta charset=\"utf-8\"><title>compress compare</title><style>"
        s +=
            "body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        s += "td:first-child,th:first-child{text-align:left}.chart{display:inline-block;margin:8px;vertical-align:top}</style></head><body>"
        s += "<h1>compress compare</h1><p>before: <code>\(esc(before.model))</code><br>after: <code>\(esc(after.model))</code></p>"
        s += "<table><tr><th>metric</th><th>before</th><th>after</th><th>after ÷ before</th></tr>"
        for r in rows {
            s +=
                "<tr><td>\(r.metric)</td><td>\(Self.format(r.before))</td><td>\(Self.format(r.after))</td><td>\(r.ratio.map { String(format: "×%.3f", $0) } ?? "–")</td></tr>"
        }
        s += "</table><h2>Charts</h2>"
        for r in rows {
            guard let a = r.before, let b = r.after, max(a, b) > 0 else { continue }
            let top = max(a, b), w = 220.0, h = 120.0
            let ha = a / top * (h - 40), hb = b / top * (h - 40)
            let better = r.higherIsBetter ? b >= a : b <= a
            s += "<div class=\"chart\"><svg width=\"\(Int(w))\" height=\"\(Int(h) + 20)\" role=\"img\" aria-label=\"\(r.metric)\">"
            s += "<text x=\"0\" y=\"12\" font-size=\"12\">\(r.metric)</text>"
            s +=
                "<rect x=\"30\" y=\"\(h - ha)\" width=\"60\" height=\"\(ha)\" fill=\"#999\"/><text x=\"30\" y=\"\(h + 14)\" font-size=\"11\">before</text>"
            s +=
                "<rect x=\"120\" y=\"\(h - hb)\" width=\"60\" height=\"\(hb)\" fill=\"\(better ? "#3a7" : "#c44")\"/><text x=\"120\" y=\"\(h + 14)\" font-size=\"11\">after</text>"
            // Values above the bars: near-equal pairs are unreadable from heights alone.
            s += "<text x=\"30\" y=\"\(h - ha - 3)\" font-size=\"10\">\(Self.format(a))</text>"
            s += "<text x=\"120\" y=\"\(h - hb - 3)\" font-size=\"10\">\(Self.format(b))</text>"
            s += "</svg></div>"
        }
        return s + "</body></html>\n"
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
