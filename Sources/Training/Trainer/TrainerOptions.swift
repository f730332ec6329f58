import Foundation

/// Which optimizer, at which rate, on which schedule: the `optimizer:` mapping of a recipe's train/distill stage.
///
/// ```swift
/// var o = OptimizerSettings(kind: .adamw, learningRate: 1e-4)
/// o.warmup = 0.1            // 10 % of all steps (a value ≥ 1 is a step count)
/// o.schedule = .cosine
/// ```
public struct OptimizerSettings: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case sgd, adamw }
    public var kind: Kind
    public var learningRate: Float
    /// Decoupled (AdamW) or L2 (SGD) weight decay; never on biases and norms (``WeightDecayRule/matricesOnly``).
    public var weightDecay: Float
    /// SGD momentum.
    public var momentum: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// Linear warmup: a fraction of all steps when < 1, else a number of steps.
    public var warmup: Double
    public var schedule: LearningRateSchedule.Decay
    /// The rate at the end, as a fraction of the peak.
    public var minimumRatio: Float
    /// Global gradient-norm clip (nil: none).
    public var clipNorm: Float?

    public init(
        kind: Kind = .adamw, learningRate: Float = 1e-3, weightDecay: Float = 0.01, momentum: Float = 0.9, warmup: Double = 0,
        schedule: LearningRateSchedule.Decay = .cosine, minimumRatio: Float = 0, clipNorm: Float? = 1
    ) {
        self.kind = kind; self.learningRate = learningRate; self.weightDecay = weightDecay; self.momentum = momentum
        self.warmup = warmup; self.schedule = schedule; self.minimumRatio = minimumRatio; self.clipNorm = clipNorm
    }

    /// A fresh optimizer with these settings.
    public func makeOptimizer() -> any CheckpointableOptimizer {
        switch kind {
        case .sgd: return SGD(momentum: momentum, weightDecay: weightDecay)
        case .adamw: return AdamW(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        }
    }

    /// The learning-rate schedule over `totalSteps`.
    public func schedule(totalSteps: Int) -> LearningRateSchedule {
        let warm = warmup < 1 ? Int((warmup * Double(totalSteps)).rounded()) : Int(warmup)
        return LearningRateSchedule(
            peak: learningRate, warmupSteps: min(warm, totalSteps), totalSteps: totalSteps, decay: schedule, minimumRatio: minimumRatio)
    }

    /// A one-line description for checkpoints (a resume with other settings is refused) and reports.
    public var summary: String {
        "\(kind.rawValue) lr \(learningRate) wd \(weightDecay) momentum \(momentum) warmup \(warmup) \(schedule.rawValue) min \(minimumRatio) clip \(clipNorm.map { "\($0)" } ?? "none")"
    }
}

/// How long and how a ``Trainer`` trains.
public struct TrainerOptions: Sendable {
    public var optimizer: OptimizerSettings
    public var epochs: Int
    public var batchSize: Int
    /// Seeds the shuffling of every epoch and the dropout masks: the same seed and threads give a bitwise-identical run.
    public var seed: UInt64
    /// Where the checkpoint lives (written atomically at every epoch end and every ``checkpointEvery`` steps); nil:
    /// no checkpoint, no resume.
    public var checkpoint: URL?
    /// Continue from ``checkpoint`` when it exists (after a kill); a checkpoint of a finished run only restores it.
    public var resume: Bool
    /// Also checkpoint every this many optimizer steps (nil: at epoch ends only).
    public var checkpointEvery: Int?
    /// Name shown in progress lines.
    public var label: String
    /// Epochs before this (1-based) are never kept as the best: gradual pruning is still removing weights in them,
    /// and keep-best must not hand back a denser model than the schedule's end.
    public var keepBestFromEpoch = 1

    public init(
        optimizer: OptimizerSettings = OptimizerSettings(), epochs: Int = 1, batchSize: Int = 32, seed: UInt64 = 0,
        checkpoint: URL? = nil, resume: Bool = false, checkpointEvery: Int? = nil, label: String = "train"
    ) {
        self.optimizer = optimizer; self.epochs = epochs; self.batchSize = batchSize; self.seed = seed
        self.checkpoint = checkpoint; self.resume = resume; self.checkpointEvery = checkpointEvery; self.label = label
    }
}

/// One epoch of a learning curve.
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    /// Mean training loss over the epoch's mini-batches.
    public var trainLoss: Double
    /// Loss on the held-out validation split after the epoch.
    public var validationLoss: Double
    /// The objective's validation metric (accuracy, cosine to the teacher), when it has one.
    public var validationMetric: Double?
    /// Learning rate at the epoch's last step.
    public var learningRate: Double
    public var samplesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss = "train_loss", validationLoss = "validation_loss", validationMetric = "validation_metric"
        case learningRate = "learning_rate", samplesPerSecond = "samples_per_second"
    }
}

/// What ``Trainer/fit(_:executor:)`` did.
public struct TrainingResult: Sendable {
    public var history: [EpochRecord]
    /// 1-based epoch whose weights the model holds at the end (lowest validation loss).
    public var bestEpoch: Int
    public var bestValidationLoss: Double
    /// Optimizer steps of the whole run.
    public var steps: Int
    /// The step the run resumed from (nil: started fresh).
    public var resumedAtStep: Int?
}
