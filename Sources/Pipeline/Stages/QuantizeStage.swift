import Compression
import Formats
import Foundation
import Layers

/// `- quantize: {weights: {...}, activations: {...}, smoothquant: {...}, targets: [...], ...}`: replaces the
/// model's Linear (and Conv2D) modules by quantized ones; optionally records per-module sensitivity, or tunes
/// mixed precision against the recipe's constraints. The keys are ``QuantizeConfig``'s.
public struct QuantizeStage: RecipeStage {
    public static let name = "quantize"
    public static let changesModel = true

    public var config: QuantizeConfig

    public init(_ config: QuantizeConfig) { self.config = config }

    // The stage's mapping is the config itself (no wrapper key).
    public init(from decoder: Decoder) throws { config = try QuantizeConfig(from: decoder) }
    public func encode(to encoder: Encoder) throws { try config.encode(to: encoder) }
    public static var keySchema: KeySchema { QuantizeConfig.keySchema }

    public func validate(in recipe: Recipe, at index: Int) throws {
        do { try config.validate() } catch let e as CompressionError { throw StageProblem(e.description) }
        if config.needsCalibration, recipe.data?.calibration == nil {
            throw StageProblem(
                "stage \(index + 1) (quantize) needs data.calibration for static activations, smoothquant, gptq or awq", at: ["data"])
        }
        if config.tuning == true, recipe.constraints == nil {
            throw StageProblem("quantize tuning needs constraints (min_cosine and/or max_accuracy_drop)", at: ["stages"])
        }
    }

    public func run(_ context: inout StageContext) throws -> StageRecord {
        try context.keepOriginal()
        var record = context.record(self)
        if config.sensitivity == true, let eval = context.evaluation.first {
            record.sensitivity = try SensitivityAnalysis(config: config, executor: context.executor, progress: context.progress).run(
                context.model, eval: eval, calibration: context.calibration)
        }
        if config.tuning == true, let constraints = context.recipe.constraints, let eval = context.evaluation.first {
            let tuner = MixedPrecisionTuner(
                config: config, constraints: constraints, executor: context.executor, progress: context.progress)
            let (source, verify) = (context.recipe.model, context.verify)
            let (tuned, attempts, summary) = try tuner.run(
                load: { try ModelLoader.load(source, verify: verify) }, eval: eval, calibration: context.calibration)
            context.model = tuned
            record.tuning = attempts
            record.tuningSummary = summary
            record.quantization = Self.quantizedModules(tuned)
        } else {
            record.quantization = try Quantizer(config: config, executor: context.executor, progress: context.progress).apply(
                to: context.model, calibration: context.calibration)
        }
        return record
    }

    /// What the tuned model's quantized modules are (the tuner rebuilt the model, so reports come from the tree).
    static func quantizedModules(_ model: LoadedModel) -> [QuantizedLayerReport] {
        model.root.namedModules().compactMap { path, module in
            guard let q = module as? any QuantizedModule else { return nil }
            let spec = q.quantSpec
            return QuantizedLayerReport(
                path: path, bits: spec.kind.bits, method: spec.method ?? .rtn, activations: (spec.activationMode ?? .none).rawValue,
                bitsPerWeight: q.bitsPerWeight, weightRelativeError: nil, smoothingAlpha: nil)
        }
    }
}
