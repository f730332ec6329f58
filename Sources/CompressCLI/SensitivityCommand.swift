import ArgumentParser
import Compression
import Evaluation
import Formats
import Foundation
import Layers
import Pipeline
import Runtime
import Tensors

struct SensitivityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sensitivity",
        abstract: "Per-module quantization sensitivity: output MSE and metric drop when only that module is quantized.")

    @Argument(help: "Model to analyse.")
    var model: String
    @Option(name: .long, help: "Evaluation data spec (labelled data gives accuracy drop; otherwise 1 − cosine).")
    var data: String
    @Option(name: .long, help: "Calibration data spec (needed for static activations, gptq, awq).")
    var calibration: String?
    @Option(name: .long, help: "Weight bits: 8 or 4.")
    var bits = 8
    @Option(name: .long, help: "Weight method.")
    var method = QuantizationMethod.rtn
    @Option(name: .long, help: "Activation mode.")
    var activations = Int8Linear.ActivationMode.none
    @Option(name: .long, help: "int4 group size.")
    var groupSize = 32
    @Option(name: .long, help: "Items of --data to use (a prefix).")
    var items = 256
    @Flag(name: .long, help: "Print JSON.")
    var json = false
    @OptionGroup var common: CommonOptions

    func run() throws {
        try reportingErrors {
            let executor = common.makeExecutor()
            var weights = QuantizeConfig.WeightConfig(bits: bits, method: method)
            weights.groupSize = bits == 4 ? groupSize : nil
            let config = QuantizeConfig(weights: weights, activations: .init(mode: activations))
            try config.validate()
            let m = try ModelLoader.load(model, verify: common.verify)
            var eval = try EvalData.load(data)
            let n = min(items, eval.items.count)
            eval.items = eval.items.slice(0..<n)
            eval.labels = eval.labels.map { Array($0.prefix(n)) }
            let cal = try calibration.map { try EvalData.load($0).items }
            let rows = try SensitivityAnalysis(config: config, executor: executor, progress: common.progress()).run(
                m, eval: eval, calibration: cal)
            if json {
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                printOut(String(decoding: try e.encode(rows), as: UTF8.self))
            } else {
                printOut(SensitivityAnalysis.markdown(rows))
            }
        }
    }
}
