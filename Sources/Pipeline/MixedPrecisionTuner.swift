import Compression
import Console
import Evaluation
import Formats
import Foundation
import Layers
import Runtime
import Tensors

/// One candidate tried by accuracy-aware tuning.
public struct TuningAttempt: Codable, Sendable {
    /// Modules kept at higher precision: path → bits (8, or 32 for fp32).
    public var overrides: [String: Int]
    public var weightsBytes: Int
    public var cosineMean: Double?
    public var accuracyDrop: Double?
    public var meetsConstraints: Bool

    enum CodingKeys: String, CodingKey {
        case overrides, weightsBytes = "weights_bytes", cosineMean = "cosine_mean", accuracyDrop = "accuracy_drop", meetsConstraints =
            "meets_constraints"
    }
}

/// Accuracy-aware tuning (as in Intel Neural Compressor): quantize everything; while constraints fail, keep the
/// most sensitive modules at higher precision (int4 → int8 → fp32), re-measure, and stop at the first (smallest)
/// model that meets them. If none does, keep the candidate with the best fidelity and say why.
public struct MixedPrecisionTuner {
    public var config: QuantizeConfig
    public var constraints: Recipe.Constraints
    public let executor: Executor
    /// The sensitivity ranking, then the candidates tried.
    public var progress: ProgressReporter

    public init(
        config: QuantizeConfig, constraints: Recipe.Constraints, executor: Executor, progress: ProgressReporter = .silent
    ) {
        self.executor = executor
        self.config = config
        self.constraints = constraints
        self.progress = progress
    }

    /// Returns the chosen model (freshly loaded and quantized), all attempts, and a sentence for the report.
    public func run(
        load: () throws -> LoadedModel, eval: EvalData, calibration: ModelInputs?
    ) throws -> (LoadedModel, [TuningAttempt], String) {
        let original = try load()
        let evaluator = Evaluator(options: Evaluator.Options(), executor: executor, progress: progress)
        let reference = try evaluator.outputs(original, eval.items, label: "fp32 outputs")
        let baseAccuracy = eval.labels.map { Fidelity.accuracy(reference, labels: $0) }
        progress.message("tuning: ranking module sensitivity")
        let ranking = try SensitivityAnalysis(config: config, executor: executor, progress: progress).run(
            original, eval: eval, calibration: calibration
        ).map(
            \.path)
        // Fallback ladder: the k most sensitive modules move one step up in precision, k = 0, 1, 2, 4, 8, ….
        var plans: [[String: Int]] = [[:]]
        let steps: [Int] = config.weights.bits == 4 ? [8, 32] : [32]
        for target in steps {
            var k = 1
            while k <= ranking.count {
                var plan: [String: Int] = [:]
                for p in ranking.prefix(k) { plan[p] = target }
                if target == 32, steps.count > 1 { for p in ranking.dropFirst(k) { plan[p] = 8 } }  // everything else already at int8
                plans.append(plan)
                if k == ranking.count { break }
                k = min(ranking.count, k * 2)
            }
        }
        var attempts: [TuningAttempt] = []
        var best: (model: LoadedModel, score: Double)?
        progress.begin(total: plans.count, label: "tuning candidates")
        defer { progress.end() }
        for (i, plan) in plans.enumerated() {
            defer { progress.advance() }
            let model = try load()
            var q = Quantizer(config: config, executor: executor, progress: progress)
            q.overrides = plan
            try q.apply(to: model, calibration: calibration)
            let out = try evaluator.outputs(model, eval.items)
            let cos = Fidelity.rowCosines(out, reference)
            let cosMean = cos.reduce(0, +) / Double(cos.count)
            var drop: Double?
            if let labels = eval.labels, let base = baseAccuracy { drop = base - Fidelity.accuracy(out, labels: labels) }
            var ok = true
            if let m = constraints.minCosine { ok = ok && cosMean >= m }
            if let d = constraints.maxAccuracyDrop, let drop { ok = ok && drop <= d + 1e-12 }
            let bytes = model.root.namedParameters().reduce(0) { $0 + $1.1.byteCount }
            attempts.append(
                TuningAttempt(overrides: plan, weightsBytes: bytes, cosineMean: cosMean, accuracyDrop: drop, meetsConstraints: ok))
            if ok {
                return (
                    model, attempts,
                    "candidate \(i + 1) of \(plans.count) meets the constraints with \(plan.count) module(s) kept at higher precision"
                )
            }
            let score = cosMean - (drop ?? 0)
            if best == nil || score > best!.score { best = (model, score) }
        }
        return (best!.model, attempts, "no candidate met the constraints (\(constraintText)); kept the one with the best fidelity")
    }

    var constraintText: String {
        [constraints.minCosine.map { "min_cosine \($0)" }, constraints.maxAccuracyDrop.map { "max_accuracy_drop \($0)" }].compactMap { $0 }
            .joined(separator: ", ")
    }
}
