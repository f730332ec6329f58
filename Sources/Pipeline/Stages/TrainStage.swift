import Compression
import Evaluation
import Foundation
import Formats
import Layers
import Tensors
import Training

/// `- train: {data: {...}, optimizer: {...}, epochs: 3, batch_size: 64}`: fine-tunes the model entering the stage
/// on labelled data (cross-entropy with optional label smoothing), keeping the epoch with the best validation loss.
/// For recovering accuracy after pruning or quantization-aware changes.
public struct TrainStage: RecipeStage {
    public static let name = "train"
    public static let changesModel = true

    public var data: TrainDataSection
    public var optimizer: OptimizerSection?
    public var epochs: Int?
    public var batchSize: Int?
    public var seed: Int?
    public var labelSmoothing: Double?
    public var checkpointEvery: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case data, optimizer, epochs, batchSize = "batch_size", seed, labelSmoothing = "label_smoothing", checkpointEvery = "checkpoint_every"
    }
    public static var keySchema: KeySchema {
        KeySchema(CodingKeys.self, nested: [.data: TrainDataSection.self, .optimizer: OptimizerSection.self])
    }

    public func validate(in recipe: Recipe, at index: Int) throws {
        try data.check(in: recipe)
        try optimizer?.check()
        try checkCommon(epochs: epochs, batchSize: batchSize, seed: seed, checkpointEvery: checkpointEvery)
        if let s = labelSmoothing, !(s >= 0 && s < 1) { throw StageProblem("label_smoothing must be in [0, 1), got \(s)") }
    }

    public func run(_ context: inout StageContext) throws -> StageRecord {
        try context.keepOriginal()
        guard case let .sequential(model) = context.model.kind else {
            throw StageFailure("stage \(context.index + 1) (train) fine-tunes classifiers on labels; for sentence encoders use distill")
        }
        let batch = batchSize ?? 32
        let splits = try TrainingSplits.load(data, minimum: batch)
        let (x, y) = try TrainingSplits.labelled(splits.train, field: "data.train", model: model)
        let (vx, vy) = try TrainingSplits.labelled(splits.validation, field: "data.validation", model: model)
        let smoothing = Float(labelSmoothing ?? 0)
        let objective = try ClassifierObjective(
            model: model, inputs: x, labels: y, validationInputs: vx, validationLabels: vy, labelSmoothing: smoothing,
            executor: context.executor)
        let settings = (optimizer ?? OptimizerSection()).settings(defaultLR: 1e-3)
        var run = try trainAndReport(
            objective,
            options: context.trainerOptions(
                settings, epochs: epochs ?? 3, batchSize: batch, seed: UInt64(seed ?? 0), checkpointEvery: checkpointEvery, name: "train"),
            context: context, role: "fine-tuned", objectiveText: "cross-entropy on labels (smoothing \(smoothing))",
            studentText: "the model entering the stage", validationCount: vy.count)
        run.heldOut = try context.heldOut(context.model, reference: context.original, referenceIsSource: true)
        var record = context.record(self)
        record.training = TrainingStageReport(teacher: nil, teacherParameters: nil, teacherHeldOut: nil, runs: [run])
        return record
    }
}
