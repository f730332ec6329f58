import Compression
import Formats
import Foundation
import Layers
import Tensors
import Training

/// `prune.fine_tune`: recovery training of a pruned model by the training engine (``Trainer``), distilling from the
/// model that entered the stage (`distill_from: teacher`) or another model, or on labels alone. Classifiers train
/// with Hinton's loss (``ClassifierObjective``), sentence encoders with the embedding MSE + cosine (and optionally
/// per-layer hidden-state MSE) of ``SentenceDistillObjective``. Masked pruning keeps its zeros: the masks are
/// re-applied after every optimizer step, and a gradual schedule prunes further inside the same training.
struct PruneFineTune {
    let settings: PruneConfig.FineTune
    let context: StageContext
    /// `stage3-prune-ft` checkpoints; nil (no checkpoint, no resume) when masks change during training, because a
    /// checkpoint does not hold them.
    var checkpointName: String?

    /// The pruning still to happen during training: step `k` (2…steps) of the schedule after optimizer step `at[k]`.
    struct Gradual {
        var steps: Int
        /// Prunes the model to schedule step `k` and returns its masks.
        var prune: (_ k: Int) throws -> PruningMasks
    }

    /// The teacher named by `distill_from`: `teacher` is `entering` (a copy, so pruning in place cannot touch it), any
    /// other value a model path; nil without distillation.
    static func teacher(_ settings: PruneConfig.FineTune, entering: LoadedModel, verify: Bool) throws -> LoadedModel? {
        guard let from = settings.distillFrom else { return nil }
        if from == "teacher" { return try ModelSnapshot(entering).copy() }
        do { return try ModelLoader.load(from, verify: verify) } catch {
            throw StageFailure("prune.fine_tune.distill_from '\(from)': \(error)")
        }
    }

    /// Trains `model` in place; `masks` (nil for structured pruning) are re-applied after every optimizer step and
    /// replaced by each gradual step's masks. Returns the run's report and the final masks.
    func run(
        _ model: LoadedModel, teacher: LoadedModel?, masks initial: PruningMasks?, gradual: Gradual? = nil
    ) throws -> (TrainingRunReport, PruningMasks?) {
        let s = settings
        guard let dataSpec = s.data else { throw StageFailure("prune.fine_tune.data is missing") }
        let batch = s.batchSize ?? 32
        let section = TrainDataSection(
            train: dataSpec.train, validation: dataSpec.validation, validationFraction: dataSpec.validationFraction,
            maxTrain: dataSpec.maxTrain, maxValidation: dataSpec.maxValidation)
        let held = Set(context.evaluation.map(\.spec) + (context.recipe.data?.evaluation ?? []))
        for spec in [section.train, section.validation].compactMap({ $0 }) where held.contains(spec) {
            throw StageFailure("prune.fine_tune.data '\(spec)' is also the recipe's evaluation data; fine-tuning needs its own split")
        }
        let splits: TrainingSplits
        do { splits = try TrainingSplits.load(section, minimum: batch) } catch let e as StageFailure {
            throw StageFailure("prune.fine_tune.\(e.description)")
        }
        let objective: TrainingObjective
        let objectiveText: String
        let validationCount: Int
        var optimizer = OptimizerSettings(kind: .adamw)
        optimizer.weightDecay = Float(s.weightDecay ?? 0.01)
        optimizer.warmup = s.warmup ?? 0
        do {
            switch model.kind {
            case let .sequential(m):
                let (x, y) = try TrainingSplits.labelled(splits.train, field: "prune.fine_tune.data.train", model: m)
                let (vx, vy) = try TrainingSplits.labelled(splits.validation, field: "prune.fine_tune.data.validation", model: m)
                var t: SequentialModel?
                if let teacher {
                    guard case let .sequential(tm) = teacher.kind else { throw StageFailure("prune.fine_tune.distill_from is not a classifier") }
                    t = tm
                }
                let alpha = Float(s.alpha ?? 0.9), temperature = Float(s.temperature ?? 4)
                objective = try ClassifierObjective(
                    model: m, inputs: x, labels: y, validationInputs: vx, validationLabels: vy, teacher: t,
                    distillation: Distillation(temperature: temperature, alpha: alpha), executor: context.executor)
                objectiveText = t == nil ? "cross-entropy on labels" : "Hinton KD α=\(alpha) T=\(temperature)"
                validationCount = vy.count
                optimizer.learningRate = Float(s.learningRate ?? 1e-3)
            case let .sentenceEncoder(student, _, tokenizer):
                guard let teacher, case let .sentenceEncoder(t, _, _) = teacher.kind else {
                    throw StageFailure("prune.fine_tune.distill_from: a sentence encoder has no labels; distil from `teacher` or a sentence-encoder path")
                }
                let train = try TrainingSplits.tokens(splits.train, field: "prune.fine_tune.data.train", tokenizer: tokenizer)
                let validation = try TrainingSplits.tokens(splits.validation, field: "prune.fine_tune.data.validation", tokenizer: tokenizer)
                let hidden = Float(s.hiddenWeight ?? 0)
                // Width pruning keeps the layer count and hidden size, so layer i imitates the teacher's layer i.
                let pairs = hidden > 0 && student.config.numHiddenLayers == t.config.numHiddenLayers
                    ? (0..<student.config.numHiddenLayers).map { (student: $0, teacher: $0) } : []
                let loss = SentenceDistillLoss(mse: 1, cosine: 1, layerMap: pairs, hiddenWeight: pairs.isEmpty ? 0 : hidden)
                objective = try SentenceDistillObjective(
                    student: student, teacher: t, sequences: train, validationSequences: validation, loss: loss, executor: context.executor)
                objectiveText = "embedding MSE + cosine" + (pairs.isEmpty ? "" : " + hidden MSE ×\(hidden)")
                validationCount = validation.count
                optimizer.learningRate = Float(s.learningRate ?? 5e-5)
            }
        } catch let e as TrainingError {
            throw StageFailure("stage \(context.index + 1) (prune), fine_tune: \(e)")
        }
        let seed = UInt64(s.seed ?? 0)
        var options = context.trainerOptions(
            optimizer, epochs: s.epochs, batchSize: batch, seed: seed, checkpointEvery: nil, name: checkpointName ?? "prune-ft")
        if checkpointName == nil { options.checkpoint = nil }
        let n = objective.trainingCount
        let stepsPerEpoch = (n + batch - 1) / batch
        let total = stepsPerEpoch * s.epochs
        // Gradual steps 2…steps spread evenly over the first `prune_window` of the optimizer steps (step 1 ran before).
        var pruneAt: [Int: Int] = [:]
        if let g = gradual, g.steps > 1 {
            let window = max(1, Int((Double(total) * (s.pruneWindow ?? 0.7)).rounded(.down)))
            for k in 2...g.steps { pruneAt[max(1, Int((Double(k - 1) * Double(window) / Double(g.steps - 1)).rounded()))] = k }
            options.keepBestFromEpoch = (pruneAt.keys.max()! + stepsPerEpoch - 1) / stepsPerEpoch
        }
        let trainer = Trainer(options: options, progress: context.progress)
        var masks = initial
        trainer.afterStep = { step, module in
            if let k = pruneAt[step], let g = gradual {
                masks = try g.prune(k)
            } else {
                try masks?.apply(to: module)
            }
        }
        let start = Date()
        let result: TrainingResult
        do { result = try trainer.fit(objective, executor: context.executor) } catch let e as TrainingError {
            throw StageFailure("stage \(context.index + 1) (prune), fine_tune: \(e)")
        }
        // Keep-best restored weights of an epoch after the last pruning step; masking again changes nothing then,
        // and guarantees the zeros whatever the trainer did.
        try masks?.apply(to: objective.module)
        let report = TrainingRunReport(
            role: "fine-tuned after pruning", objective: objectiveText, student: "pruned model", parameters: objective.module.parameterCount,
            trainExamples: n, validationExamples: validationCount, epochs: s.epochs, batchSize: batch, steps: result.steps, seed: seed,
            optimizer: optimizer.summary, curve: result.history, bestEpoch: result.bestEpoch, trainSeconds: Date().timeIntervalSince(start),
            resumedAtStep: result.resumedAtStep, heldOut: nil)
        return (report, masks)
    }
}
