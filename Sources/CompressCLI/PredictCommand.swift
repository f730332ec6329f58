import ArgumentParser
import Evaluation
import Formats
import Foundation
import Tensors

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a model on inputs and write its outputs as one safetensors tensor named 'output'.")

    @Argument(help: "Model (artifact, run directory, Hugging Face directory, .h5, .keras, .safetensors).")
    var model: String
    @Option(name: .long, help: "Inputs: a text file (one item a line) or an HDF5/safetensors array.")
    var input: String
    @Option(name: .long, help: "Array name inside an HDF5/safetensors input (default: x, x_test or input).")
    var dataset: String?
    @Option(name: .long, help: "Output .safetensors file (written atomically).")
    var output: String
    @Option(name: .long, help: "Items per forward call.")
    var batchSize = 32
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if !output.hasSuffix(".safetensors") { throw ValidationError("--output must end in .safetensors") }
    }

    func run() throws {
        try reportingErrors {
            let executor = common.makeExecutor()
            let progress = common.progress()
            let m = try ModelLoader.load(model, verify: common.verify)
            let data = try EvalData.load(dataset.map { "\(input)#\($0)" } ?? input)
            warnNonFiniteInputs(data)
            progress.message("running \(data.items.count) items")
            var options = Evaluator.Options()
            options.outputBatchSize = batchSize
            let out = try Evaluator(options: options, executor: executor, progress: progress).outputs(m, data.items, label: "predict")
            warnNonFinite(NonFinite.count(out), of: out.count)
            try SafeTensors.write(["output": out], metadata: ["model": model, "input": input], to: URL(fileURLWithPath: output))
            progress.message("wrote \(output): output \(out.shape)")
        }
    }
}
