import ArgumentParser
import Evaluation
import Formats
import Foundation
import Pipeline
import Tensors

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Before/after report: size, parameters, accuracy/fidelity, p50/p99, throughput and ratios.",
        discussion:
            "BEFORE and AFTER are run directories (artifacts/NAME), metrics JSON files (from run or eval --json), or models; models are evaluated on --data first (AFTER against BEFORE as reference)."
    )

    @Argument(help: "Before: run directory, metrics JSON, or model.")
    var before: String
    @Argument(help: "After: run directory, metrics JSON, or model.")
    var after: String
    @Option(name: .long, help: "Write the report here; the extension picks the format: .md, .html or .json (default: Markdown on stdout).")
    var output: String?
    @Option(name: .long, help: "Data spec(s) for evaluating models given directly.")
    var data: [String] = []
    @Option(name: .long, help: "Batch size for throughput when evaluating models.")
    var batchSize = 32
    @Option(name: .long, help: "Seconds of timed passes per batch size when evaluating models.")
    var timeBudget: Double = 10
    @Flag(name: .long, help: "Print JSON on stdout.")
    var json = false
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let output, !["md", "html", "json"].contains(URL(fileURLWithPath: output).pathExtension) {
            throw ValidationError("--output must end in .md, .html or .json")
        }
    }

    func run() throws {
        try reportingErrors {
            let executor = common.makeExecutor()
            let progress = common.progress()
            var options = Evaluator.Options()
            options.batchSizes = [1, batchSize]
            options.timeBudget = timeBudget
            let evaluator = Evaluator(options: options, executor: executor, progress: progress)
            var beforeModel: LoadedModel?
            func measurement(_ path: String, reference: LoadedModel?) throws -> EvalReport {
                if let m = try Comparison.loadMeasurement(path) { return m }
                guard !data.isEmpty else { throw ValidationError("'\(path)' is a model: give --data to evaluate it") }
                let model = try ModelLoader.load(path, verify: common.verify)
                if reference == nil { beforeModel = model }
                return try evaluator.evaluate(model, data: try data.map { try EvalData.load($0) }, reference: reference)
            }
            let a = try measurement(before, reference: nil)
            let b = try measurement(after, reference: beforeModel)
            let comparison = Comparison(before: a, after: b)
            let text: String
            switch output.map({ URL(fileURLWithPath: $0).pathExtension }) ?? (json ? "json" : "md") {
            case "html": text = comparison.html()
            case "json": text = String(decoding: try comparison.json(), as: UTF8.self)
            default: text = comparison.markdown()
            }
            if let output {
                try writeAtomically(Data(text.utf8), to: URL(fileURLWithPath: output))
                progress.message("wrote \(output)")
            } else {
                printOut(text)
            }
        }
    }
}
