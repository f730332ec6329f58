import ArgumentParser
import Evaluation
import Formats
import Foundation
import Tensors

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure accuracy, fidelity to a reference, latency, throughput, memory and size.")

    @Argument(help: "Model to evaluate.")
    var model: String
    @Option(name: .long, help: "Data spec (repeatable): FILE.txt, pairs FILE.tsv, or FILE.h5/.safetensors[#x,y].")
    var data: [String] = []
    @Option(name: .long, help: "Reference model for fidelity (same inputs).")
    var reference: String?
    @Option(name: .long, help: "Batch size for throughput (latency is always at batch 1).")
    var batchSize = 32
    @Option(name: .long, help: "Seconds of timed passes per batch size at most.")
    var timeBudget: Double = 10
    @Option(name: .long, help: "Items per timed pass.")
    var timedItems = 256
    @Flag(name: .long, help: "Skip latency and throughput.")
    var noTiming = false
    @Flag(name: .long, help: "Print JSON.")
    var json = false
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if data.isEmpty { throw ValidationError("give at least one --data") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let executor = common.makeExecutor()
            let progress = common.progress()
            let m = try ModelLoader.load(model, verify: common.verify)
            let ref = try reference.map { try ModelLoader.load($0, verify: common.verify) }
            let sets = try data.map { try EvalData.load($0) }
            sets.forEach(warnNonFiniteInputs)
            var options = Evaluator.Options()
            options.batchSizes = batchSize == 1 ? [1] : [1, batchSize]
            options.timeBudget = timeBudget
            options.timedItems = timedItems
            options.skipTiming = noTiming
            let report = try Evaluator(options: options, executor: executor, progress: progress).evaluate(m, data: sets, reference: ref)
            warnNonFinite(report.nonFiniteOutputs, of: nil)
            if json {
                printOut(String(decoding: try report.jsonData(), as: UTF8.self))
            } else {
                printOut(EvalText.render(report))
            }
        }
    }
}

/// Plain-text rendering of an eval report.
enum EvalText {
    static func render(_ r: EvalReport) -> String {
        var s = "model: \(r.model) (\(r.format)), \(r.parameters) parameters, threads \(r.threads)\n"
        s += "data: \(r.data.joined(separator: ", ")) (\(r.items) items)\n"
        if let a = r.accuracy { s += String(format: "accuracy: %.4f\n", a) }
        if let f = r.fidelity {
            s += String(
                format: "fidelity to %@: cosine mean %.6f min %.6f, max |diff| %.3g", f.reference, f.cosineMean, f.cosineMin, f.maxAbsDiff)
            if let o = f.top5Overlap { s += String(format: ", top-5 overlap %.3f", o) }
            if let t = f.topOneAgreement { s += String(format: ", top-1 agreement %.4f", t) }
            s += "\n"
        }
        if let p = r.paraphrase {
            s += String(
                format: "paraphrase: %d pairs, AUC %.3f, above median unrelated %.3f\n", p.pairs, p.auc, p.paraphraseAboveMedianUnrelated)
        }
        if let l = r.latency {
            s += String(
                format: "latency (batch 1): p50 %.3f ms, p99 %.3f ms, %.1f items/s%@\n", l.latencyMs.p50, l.latencyMs.p99, l.throughputPerS,
                l.stable ? "" : " (not stable)")
        }
        for t in r.throughput {
            s += String(
                format: "throughput (batch %d): %.1f items/s, p50 %.2f ms per batch%@\n", t.batchSize, t.throughputPerS, t.latencyMs.p50,
                t.stable ? "" : " (not stable)")
        }
        s += String(
            format: "size: files %.2f MB, weights %.2f MB, zstd-%d %.2f MB\n", Double(r.size.fileBytes) / 1e6,
            Double(r.size.weightsBytes) / 1e6,
            r.size.zstdLevel, Double(r.size.weightsZstdBytes) / 1e6)
        s += String(format: "peak RSS: %.1f MB", Double(r.peakRssBytes) / 1e6)
        return s
    }
}
