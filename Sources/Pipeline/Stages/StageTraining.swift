import Evaluation
import Formats
import Foundation
import Layers
import Runtime
import Tensors
import Tokenizers
import Training

/// The training and validation splits of a train/distill stage, loaded and checked.
struct TrainingSplits {
    var train: EvalData
    var validation: EvalData

    /// Loads `data.train` and `data.validation` (first `max_*` items); a split smaller than `minimum` items is an error
    /// naming the field.
    static func load(_ section: TrainDataSection, minimum: Int) throws -> TrainingSplits {
        var train = try EvalData.load(section.train)
        var validation: EvalData
        if let spec = section.validation {
            validation = try EvalData.load(spec)
        } else {
            // The tail of the training file, never trained on.
            let n = train.items.count
            let held = max(1, Int((Double(n) * (section.validationFraction ?? 0.1)).rounded()))
            validation = train
            validation.items = train.items.slice((n - held)..<n)
            validation.labels = train.labels.map { Array($0[(n - held)...]) }
            validation.spec = section.train + " (last \(held) items)"
            train.items = train.items.slice(0..<(n - held))
            train.labels = train.labels.map { Array($0[..<(n - held)]) }
        }
        func cut(_ d: inout EvalData, _ max: Int?) {
            guard let max, max < d.items.count else { return }
            d.items = d.items.slice(0..<max)
            d.labels = d.labels.map { Array($0.prefix(max)) }
        }
        cut(&train, section.maxTrain)
        cut(&validation, section.maxValidation)
        guard train.items.count >= minimum else {
            throw StageFailure(
                "data.train '\(section.train)' has \(train.items.count) training items, fewer than one batch (\(minimum)); give more training data")
        }
        guard validation.items.count >= 2 else {
            throw StageFailure("data.validation '\(validation.spec)' has \(validation.items.count) item; at least 2 are needed")
        }
        return TrainingSplits(train: train, validation: validation)
    }

    /// Inputs and labels of a labelled tensor split; errors name the field.
    static func labelled(_ d: EvalData, field: String, model: SequentialModel) throws -> (Tensor, [Int]) {
        guard case let .tensor(x) = d.items else {
            throw StageFailure("\(field) '\(d.spec)' holds text; this model takes tensors (an .h5 or .safetensors array with labels)")
        }
        guard let y = d.labels else { throw StageFailure("\(field) '\(d.spec)' has no labels (an array 'y')") }
        guard Array(x.shape.dropFirst()) == model.inputShape else {
            throw StageFailure("\(field) '\(d.spec)' items have shape \(Array(x.shape.dropFirst())); the model takes \(model.inputShape)")
        }
        let classes = model.outputShape.last ?? 0
        if let bad = y.first(where: { $0 < 0 || $0 >= classes }) {
            throw StageFailure("\(field) '\(d.spec)' has label \(bad), outside the model's \(classes) classes")
        }
        return (x, y)
    }

    /// Token ids of a text split (the tokenizer adds [CLS]/[SEP] and truncates).
    static func tokens(_ d: EvalData, field: String, tokenizer: WordPieceTokenizer) throws -> [[Int32]] {
        guard case let .texts(texts) = d.items else { throw StageFailure("\(field) '\(d.spec)' is not text; a sentence encoder needs a .txt file") }
        return texts.map { tokenizer.encode($0) }
    }
}

extension StageContext {
    /// Trainer options for the stage's checkpoint `name` (`stage3-distill`).
    func trainerOptions(
        _ optimizer: OptimizerSettings, epochs: Int, batchSize: Int, seed: UInt64, checkpointEvery: Int?, name: String
    ) -> TrainerOptions {
        TrainerOptions(
            optimizer: optimizer, epochs: epochs, batchSize: batchSize, seed: seed,
            checkpoint: checkpointDirectory?.appendingPathComponent("stage\(index + 1)-\(name).safetensors"), resume: resume,
            checkpointEvery: checkpointEvery, label: name)
    }

    /// Held-out quality (no timing) of `model` on the recipe's evaluation data, against `reference`. Say which of
    /// the two is the unchanged source model (`isSource`, `referenceIsSource`) so its outputs are computed once per run.
    func heldOut(_ model: LoadedModel, reference: LoadedModel?, isSource: Bool = false, referenceIsSource: Bool = false) throws -> EvalReport? {
        guard !evaluation.isEmpty else { return nil }
        var options = Evaluator.Options()
        options.skipTiming = true
        return try Evaluator(options: options, executor: executor, progress: progress).evaluate(
            model, data: evaluation, reference: reference, modelCache: isSource ? sourceOutputs : nil,
            referenceCache: referenceIsSource ? sourceOutputs : nil)
    }
}

/// Runs the trainer and turns what it did into a report row; `TrainingError`s become one-line stage failures.
func trainAndReport(
    _ objective: TrainingObjective, options: TrainerOptions, context: StageContext, role: String, objectiveText: String,
    studentText: String, validationCount: Int
) throws -> TrainingRunReport {
    let start = Date()
    let result: TrainingResult
    do {
        result = try Trainer(options: options, progress: context.progress).fit(objective, executor: context.executor)
    } catch let e as TrainingError {
        throw StageFailure("stage \(context.index + 1) (\(context.recipe.stages[context.index].name)), \(role): \(e)")
    }
    return TrainingRunReport(
        role: role, objective: objectiveText, student: studentText, parameters: objective.module.parameterCount,
        trainExamples: objective.trainingCount, validationExamples: validationCount, epochs: options.epochs, batchSize: options.batchSize,
        steps: result.steps, seed: options.seed, optimizer: options.optimizer.summary, curve: result.history, bestEpoch: result.bestEpoch,
        trainSeconds: Date().timeIntervalSince(start), resumedAtStep: result.resumedAtStep, heldOut: nil)
}
