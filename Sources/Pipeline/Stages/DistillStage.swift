import Compression
import Evaluation
import Foundation
import Formats
import Layers
import Tensors
import Training

/// `- distill: {...}`: trains a smaller student to imitate a teacher and hands the student to the next stages.
///
/// ```yaml
/// - distill:
///     teacher: models/all-MiniLM-L6-v2                     # default: the model entering the stage
///     student: {init: teacher, keep_layers: [0, 2, 4]}     # or {architecture: {width: 0.25}}, or a model path
///     loss: {embedding: {mse: 1.0, cosine: 1.0}, hidden: {layer_map: {0: 1, 1: 3, 2: 5}, weight: 0.5},
///            attention: {layer_map: {2: 5}, weight: 1.0}}   # optional: MiniLM attention-distribution KL
///     data: {train: datasets/sentences/train.txt, validation: datasets/sentences/validation.txt}
///     optimizer: {name: adamw, lr: 1e-4, weight_decay: 0.01, warmup: 0.1, schedule: cosine}
///     epochs: 3
///     batch_size: 32
///     baseline: true        # also train the same student without the teacher (classifiers: on labels alone)
/// ```
/// Classifiers use Hinton's loss (`loss.kd`); sentence encoders the embedding and hidden-state losses. Teacher
/// outputs are computed once and reused every epoch. Held-out figures come from the recipe's `data.evaluation`.
public struct DistillStage: RecipeStage {
    public static let name = "distill"
    public static let changesModel = true

    public var teacher: String?
    public var student: StudentSection
    public var loss: DistillLossSection?
    public var data: TrainDataSection
    public var optimizer: OptimizerSection?
    public var epochs: Int?
    public var batchSize: Int?
    public var seed: Int?
    /// Also train (classifiers) or measure (sentence encoders: the untrained student) the baseline without the teacher.
    public var baseline: Bool?
    /// Parameter path prefixes kept fixed (e.g. `embeddings.word_embeddings`).
    public var frozen: [String]?
    /// Checkpoint every N optimizer steps as well as at each epoch end.
    public var checkpointEvery: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case teacher, student, loss, data, optimizer, epochs, batchSize = "batch_size", seed, baseline, frozen
        case checkpointEvery = "checkpoint_every"
    }
    public static var keySchema: KeySchema {
        KeySchema(
            CodingKeys.self,
            nested: [.student: StudentSection.self, .loss: DistillLossSection.self, .data: TrainDataSection.self, .optimizer: OptimizerSection.self])
    }

    public func validate(in recipe: Recipe, at index: Int) throws {
        try student.check()
        try loss?.check()
        try data.check(in: recipe)
        try optimizer?.check()
        try checkCommon(epochs: epochs, batchSize: batchSize, seed: seed, checkpointEvery: checkpointEvery)
    }

    public func run(_ context: inout StageContext) throws -> StageRecord {
        try context.keepOriginal()
        let teacherModel = try teacher.map { try ModelLoader.load($0, verify: context.verify) } ?? context.model
        // The teacher's held-out outputs are the source model's (computed once per run) unless it came from elsewhere.
        let teacherIsSource = teacher == nil && context.modelIsSource
        let seed = UInt64(seed ?? 0)
        let (studentModel, studentText) = try StudentBuilder.build(student, teacher: teacherModel, seed: seed, verify: context.verify)
        let epochs = epochs ?? 3, batch = batchSize ?? 32
        let splits = try TrainingSplits.load(data, minimum: batch)
        var report = TrainingStageReport(
            teacher: teacher ?? context.recipe.model, teacherParameters: teacherModel.root.parameterCount, teacherHeldOut: nil, runs: [])
        switch (teacherModel.kind, studentModel.kind) {
        case let (.sequential(t), .sequential(s)):
            let (x, y) = try TrainingSplits.labelled(splits.train, field: "data.train", model: t)
            let (vx, vy) = try TrainingSplits.labelled(splits.validation, field: "data.validation", model: t)
            guard t.outputShape == s.outputShape else {
                throw StageFailure("student outputs \(s.outputShape) but the teacher outputs \(t.outputShape)")
            }
            let alpha = Float(loss?.kd?.alpha ?? 0.9), temperature = Float(loss?.kd?.temperature ?? 4)
            let alphaEnd = loss?.kd?.alphaEnd.map { Float($0) }
            let smoothing = Float(loss?.labelSmoothing ?? 0)
            let settings = (optimizer ?? OptimizerSection()).settings(defaultLR: 1e-3)
            let objective = try ClassifierObjective(
                model: s, inputs: x, labels: y, validationInputs: vx, validationLabels: vy, teacher: t,
                distillation: Distillation(temperature: temperature, alpha: alpha, alphaEnd: alphaEnd, labelSmoothing: smoothing), executor: context.executor)
            if let a = objective.teacherTrainingAccuracy {
                context.progress.message("teacher logits cached for \(y.count) training examples (teacher accuracy on them \(String(format: "%.4f", a)))")
            }
            var run = try trainAndReport(
                objective,
                options: context.trainerOptions(settings, epochs: epochs, batchSize: batch, seed: seed, checkpointEvery: checkpointEvery, name: "distill"),
                context: context, role: "distilled", objectiveText: "Hinton KD α=\(alpha)\(alphaEnd.map { "→\($0)" } ?? "") T=\(temperature)", studentText: studentText,
                validationCount: vy.count)
            run.heldOut = try context.heldOut(studentModel, reference: teacherModel, referenceIsSource: teacherIsSource)
            report.runs.append(run)
            if baseline ?? true {
                let (baselineModel, _) = try StudentBuilder.build(student, teacher: teacherModel, seed: seed, verify: context.verify)
                guard case let .sequential(b) = baselineModel.kind else { throw StageFailure("student: the baseline is not a layer chain") }
                let plain = try ClassifierObjective(
                    model: b, inputs: x, labels: y, validationInputs: vx, validationLabels: vy, labelSmoothing: smoothing,
                    executor: context.executor)
                var base = try trainAndReport(
                    plain,
                    options: context.trainerOptions(settings, epochs: epochs, batchSize: batch, seed: seed, checkpointEvery: checkpointEvery, name: "baseline"),
                    context: context, role: "baseline: labels only", objectiveText: "cross-entropy on labels", studentText: studentText,
                    validationCount: vy.count)
                base.heldOut = try context.heldOut(baselineModel, reference: teacherModel, referenceIsSource: teacherIsSource)
                report.runs.append(base)
            }
        case let (.sentenceEncoder(t, _, tokenizer), .sentenceEncoder(s, _, _)):
            let sequences = try TrainingSplits.tokens(splits.train, field: "data.train", tokenizer: tokenizer)
            let validation = try TrainingSplits.tokens(splits.validation, field: "data.validation", tokenizer: tokenizer)
            let pairs = try loss?.hidden?.pairs() ?? []
            let attentionPairs = try loss?.attention?.pairs(field: "attention") ?? []
            let l = SentenceDistillLoss(
                mse: Float(loss?.embedding?.mse ?? 1), cosine: Float(loss?.embedding?.cosine ?? 1), layerMap: pairs,
                hiddenWeight: Float(loss?.hidden?.weight ?? (pairs.isEmpty ? 0 : 1)), attentionMap: attentionPairs,
                attentionWeight: Float(loss?.attention?.weight ?? (attentionPairs.isEmpty ? 0 : 1)))
            // The objective first: a bad layer map or width fails before any measuring.
            let objective: SentenceDistillObjective
            do {
                objective = try SentenceDistillObjective(
                    student: s, teacher: t, sequences: sequences, validationSequences: validation, loss: l, frozen: frozen ?? [],
                    executor: context.executor)
            } catch let e as TrainingError {
                throw StageFailure("stage \(context.index + 1) (distill): \(e)")
            }
            var untrained: TrainingRunReport?
            if baseline ?? true {
                // The layer-dropped student before any training: what distillation must improve on.
                let (copy, _) = try StudentBuilder.build(student, teacher: teacherModel, seed: seed, verify: context.verify)
                untrained = TrainingRunReport(
                    role: "baseline: untrained student", objective: "none", student: studentText, parameters: copy.root.parameterCount,
                    trainExamples: 0, validationExamples: 0, epochs: 0, batchSize: 0, steps: 0, seed: seed, optimizer: "–", curve: [],
                    bestEpoch: nil, trainSeconds: 0, resumedAtStep: nil, heldOut: try context.heldOut(copy, reference: teacherModel, referenceIsSource: teacherIsSource))
            }
            let settings = (optimizer ?? OptimizerSection()).settings(defaultLR: 1e-4)
            var parts: [String] = []
            if l.mse > 0 { parts.append("embedding MSE ×\(l.mse)") }
            if l.cosine > 0 { parts.append("cosine ×\(l.cosine)") }
            if l.hiddenWeight > 0, !pairs.isEmpty {
                parts.append("hidden MSE ×\(l.hiddenWeight) {\(pairs.map { "\($0.student):\($0.teacher)" }.joined(separator: ", "))}")
            }
            if l.attentionWeight > 0, !attentionPairs.isEmpty {
                parts.append(
                    "attention KL ×\(l.attentionWeight) {\(attentionPairs.map { "\($0.student):\($0.teacher)" }.joined(separator: ", "))}")
            }
            var run = try trainAndReport(
                objective,
                options: context.trainerOptions(settings, epochs: epochs, batchSize: batch, seed: seed, checkpointEvery: checkpointEvery, name: "distill"),
                context: context, role: "distilled", objectiveText: parts.joined(separator: " + "), studentText: studentText,
                validationCount: validation.count)
            run.heldOut = try context.heldOut(studentModel, reference: teacherModel, referenceIsSource: teacherIsSource)
            report.runs.append(run)
            if let untrained { report.runs.append(untrained) }
        default:
            throw StageFailure("student and teacher are different kinds of model")
        }
        report.teacherHeldOut = try context.heldOut(teacherModel, reference: nil, isSource: teacherIsSource)
        context.model = studentModel
        var record = context.record(self)
        record.training = report
        return record
    }
}

/// Field checks shared by train and distill stages.
func checkCommon(epochs: Int?, batchSize: Int?, seed: Int?, checkpointEvery: Int?) throws {
    if let e = epochs, !(1...10_000).contains(e) { throw StageProblem("epochs must be in 1...10000, got \(e)") }
    if let b = batchSize, !(1...65_536).contains(b) { throw StageProblem("batch_size must be in 1...65536, got \(b)") }
    if let s = seed, s < 0 { throw StageProblem("seed must be ≥ 0, got \(s)") }
    if let c = checkpointEvery, c < 1 { throw StageProblem("checkpoint_every must be ≥ 1, got \(c)") }
}
