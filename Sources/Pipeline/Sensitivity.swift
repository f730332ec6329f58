import Compression
import Console
import Evaluation
import Formats
import Foundation
import Layers
import Runtime
import Tensors

/// One layer's sensitivity: the damage when only it is quantized.
public struct LayerSensitivity: Codable, Sendable {
    public var path: String
    /// Mean squared difference of the model outputs against fp32.
    public var outputMSE: Double
    /// Metric drop against fp32: 1 − cosine mean (embeddings) or accuracy points lost (classifiers).
    public var metricDrop: Double
    public var metric: String

    enum CodingKeys: String, CodingKey { case path, outputMSE = "output_mse", metricDrop = "metric_drop", metric }
}

/// Per-layer sensitivity analysis (`compress sensitivity`, and the ranking used by mixed-precision tuning):
/// each target is quantized alone, measured, and put back.
public struct SensitivityAnalysis {
    public var config: QuantizeConfig
    public let executor: Executor
    /// Modules measured, with each one's quantization and output passes nested in them.
    public var progress: ProgressReporter

    public init(config: QuantizeConfig, executor: Executor, progress: ProgressReporter = .silent) {
        self.config = config
        self.executor = executor
        self.progress = progress
    }

    /// Measures every target of `config` on `model` (restored afterwards), most sensitive first.
    public func run(_ model: LoadedModel, eval: EvalData, calibration: ModelInputs?) throws -> [LayerSensitivity] {
        let evaluator = Evaluator(options: Evaluator.Options(), executor: executor, progress: progress)
        let reference = try evaluator.outputs(model, eval.items, label: "fp32 outputs")
        let baseAccuracy = eval.labels.map { Fidelity.accuracy(reference, labels: $0) }
        let quantizer = Quantizer(config: config, executor: executor)
        let paths = try quantizer.targetPaths(model)
        var out: [LayerSensitivity] = []
        progress.begin(total: paths.count, label: "sensitivity")
        defer { progress.end() }
        for path in paths {
            let original = model.root.module(at: path)!
            var only = Quantizer(config: config, executor: executor, progress: progress)
            for p in paths where p != path { only.overrides[p] = 32 }
            try only.apply(to: model, calibration: calibration)
            let outputs = try evaluator.outputs(model, eval.items)
            try model.root.replaceModule(at: path, with: original)
            progress.advance()
            let mse = Self.meanSquaredDifference(reference.floats, outputs.floats)
            if let labels = eval.labels, let base = baseAccuracy {
                out.append(
                    LayerSensitivity(
                        path: path, outputMSE: mse, metricDrop: base - Fidelity.accuracy(outputs, labels: labels), metric: "accuracy"))
            } else {
                let cos = Fidelity.rowCosines(outputs, reference)
                out.append(
                    LayerSensitivity(path: path, outputMSE: mse, metricDrop: 1 - cos.reduce(0, +) / Double(cos.count), metric: "cosine"))
            }
        }
        return out.sorted { ($0.metricDrop, $0.outputMSE) > ($1.metricDrop, $1.outputMSE) }
    }

    /// A Markdown table.
    public static func markdown(_ rows: [LayerSensitivity]) -> String {
        var s = "| rank | module | output MSE | metric drop |\n|---:|---|---:|---:|\n"
        for (i, r) in rows.enumerated() {
            s +=
                "| \(i + 1) | \(r.path) | \(String(format: "%.3e", r.outputMSE)) | \(String(format: "%.3e", r.metricDrop)) (\(r.metric)) |\n"
        }
        return s
    }

    static func meanSquaredDifference(_ a: [Float], _ b: [Float]) -> Double {
        var sum = 0.0
        for j in 0..<a.count {
            let d = Double(a[j]) - Double(b[j])
            sum += d * d
        }
        return sum / Double(max(a.count, 1))
    }
}
