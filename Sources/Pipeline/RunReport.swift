import Compression
import Evaluation
import Foundation

/// Markdown for `report.md` of a run: one row per evaluate stage, ratios against the first.
public enum RunReport {
    public static func markdown(_ r: RunRecord) -> String {
        var s = "# \(r.name)\n\n"
        s +=
            "- model: `\(r.model)` (sha256 `\(r.sourceSha256.prefix(16))…`)\n- recipe: `\(r.recipe)`\n- tool: compress \(r.toolVersion)\n\n"
        s +=
            "## Stages\n\n| # | stage | accuracy | cosine mean / min | top-5 overlap | p50 ms (b=1) | p99 ms (b=1) | throughput /s | weights MB | zstd MB | bits/weight | params |\n"
        s += "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        for st in r.stages {
            if let m = st.metrics {
                s += "| \(st.index + 1) | \(st.stage) | \(fmt(m.accuracy, "%.4f")) | "
                s += m.fidelity.map { String(format: "%.6f / %.6f", $0.cosineMean, $0.cosineMin) } ?? "–"
                s += " | \(fmt(m.fidelity?.top5Overlap, "%.3f")) | \(ms(m.latency?.latencyMs.p50)) | \(ms(m.latency?.latencyMs.p99)) | "
                s += m.throughput.map { String(format: "%.1f (b=%d)", $0.throughputPerS, $0.batchSize) }.joined(separator: ", ").ifEmpty(
                    "–")
                s +=
                    " | \(String(format: "%.2f", Double(m.size.weightsBytes) / 1e6)) | \(String(format: "%.2f", Double(m.size.weightsZstdBytes) / 1e6)) | \(String(format: "%.2f", m.bitsPerWeight)) | \(m.parameters) |\n"
            } else if let p = st.pruning {
                s +=
                    "| \(st.index + 1) | \(st.stage) | \(p.structure) by \(p.criterion) (\(p.scope)), \(p.steps) step(s): parameters \(p.parametersBefore) → \(p.parametersAfter), weight sparsity \(String(format: "%.3f", p.weightSparsity)) ||||||||||\n"
            } else if let q = st.quantization {
                let byBits = Dictionary(grouping: q, by: { "int\($0.bits) \($0.method) act \($0.activations)" }).map {
                    "\($0.value.count)× \($0.key)"
                }.sorted()
                s += "| \(st.index + 1) | \(st.stage) | \(q.count) modules: \(byBits.joined(separator: ", ")) ||||||||||\n"
            } else if let t = st.training, let r = t.runs.first {
                let held = r.heldOut.map { m in
                    m.accuracy.map { String(format: "held-out accuracy %.4f", $0) }
                        ?? m.fidelity.map { String(format: "held-out cosine to teacher %.4f", $0.cosineMean) } ?? ""
                } ?? ""
                s += "| \(st.index + 1) | \(st.stage) | \(r.role) student, \(r.parameters) params, best epoch \(r.bestEpoch ?? 0)/\(r.epochs); \(held) ||||||||||\n"
            } else {
                s +=
                    "| \(st.index + 1) | \(st.stage) | artifact `\(st.artifact ?? "-")`, round-trip max |Δ| = \(fmt(st.roundtripMaxAbsDiff, "%.3g")) |||||||||\n"
            }
        }
        let evals = r.stages.compactMap(\.metrics)
        if evals.count > 1, let base = evals.first, let last = evals.last {
            s +=
                "\n## Ratios (last evaluate ÷ first)\n\n"
                + Comparison(before: base, after: last).ratioLines().map { "- \($0)" }.joined(separator: "\n") + "\n"
        }
        if let m = evals.first, let p = m.paraphrase {
            s +=
                "\n## Paraphrase check\n\n\(p.pairs) pairs: AUC \(String(format: "%.3f", p.auc)), paraphrase above median unrelated \(String(format: "%.3f", p.paraphraseAboveMedianUnrelated)), mean cosine \(String(format: "%.3f", p.meanParaphraseCosine)) vs \(String(format: "%.3f", p.meanUnrelatedCosine))\n"
        }
        for st in r.stages where st.quantization != nil {
            s += "\n## Quantize stage \(st.index + 1)\n\n"
            if let t = st.tuningSummary { s += "Tuning: \(t).\n\n" }
            if let attempts = st.tuning {
                s += "| candidate | kept higher | weights MB | cosine mean | accuracy drop | meets |\n|---:|---:|---:|---:|---:|---|\n"
                for (i, a) in attempts.enumerated() {
                    s +=
                        "| \(i + 1) | \(a.overrides.count) | \(String(format: "%.2f", Double(a.weightsBytes) / 1e6)) | \(fmt(a.cosineMean, "%.5f")) | \(fmt(a.accuracyDrop, "%.4f")) | \(a.meetsConstraints ? "yes" : "no") |\n"
                }
                s += "\n"
            }
            s += "| module | bits | method | activations | bits/weight | weight rel. error |\n|---|---:|---|---|---:|---:|\n"
            for q in st.quantization! {
                s +=
                    "| \(q.path) | \(q.bits) | \(q.method) | \(q.activations) | \(String(format: "%.2f", q.bitsPerWeight)) | \(fmt(q.weightRelativeError, "%.4f")) |\n"
            }
            if let sens = st.sensitivity { s += "\n### Sensitivity (each module quantized alone)\n\n" + SensitivityAnalysis.markdown(sens) }
        }
        for st in r.stages { if let t = st.training { s += t.markdown(stage: st.index + 1, name: st.stage) } }
        for st in r.stages {
            guard let p = st.pruning else { continue }
            s += "\n## Prune stage \(st.index + 1)\n\n"
            if let groups = p.groups, !groups.isEmpty {
                s += "| group | units | kept |\n|---|---:|---:|\n"
                for g in groups { s += "| \(g.root) | \(g.units) | \(g.kept) |\n" }
            }
            if let sens = p.sensitivity { s += "\n### Sensitivity (each module pruned alone)\n\n" + Pruner.markdown(sens) }
        }
        if !r.constraints.isEmpty {
            s +=
                "\n## Constraints: \(r.constraintsMet ? "met" : "NOT met")\n\n" + r.constraints.map { "- \($0)" }.joined(separator: "\n")
                + "\n"
        }
        return s
    }
}

extension RunReport {
    /// `report.html`: the run's Markdown facts as a page, with the learning curves of train/distill stages as charts
    /// (inline SVG, no scripts).
    public static func html(_ r: RunRecord) -> String {
        var s = "<!doctype html><html><head><meta charset=\"utf-8\"><title>\(esc(r.name))</title><style>"
        s += "body{font-family:sans-serif;max-width:960px;margin:2em auto}pre{white-space:pre-wrap;font-size:12px}"
        s += ".chart{display:inline-block;margin:8px}</style></head><body><h1>\(esc(r.name))</h1>"
        for st in r.stages {
            guard let t = st.training else { continue }
            s += "<h2>Learning curves (stage \(st.index + 1): \(esc(st.stage)))</h2>" + t.htmlCharts()
        }
        s += "<h2>Report</h2><pre>\(esc(markdown(r)))</pre></body></html>\n"
        return s
    }
}

func fmt(_ v: Double?, _ f: String) -> String { v.map { String(format: f, $0) } ?? "–" }

/// Milliseconds with enough digits for microsecond-scale models.
func ms(_ v: Double?) -> String { v.map { String(format: $0 < 0.1 ? "%.4f" : "%.2f", $0) } ?? "–" }

extension String {
    func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
}
