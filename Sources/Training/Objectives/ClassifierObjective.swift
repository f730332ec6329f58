import Layers
import Tensors

/// Trains a ``SequentialModel`` classifier on labelled tensors: cross-entropy on the labels, or Hinton distillation
/// from teacher logits computed once (the teacher is frozen, its logits do not change between epochs).
/// Validation: cross-entropy on the held-out labels, metric = accuracy.
public final class ClassifierObjective: TrainingObjective {
    public let model: SequentialModel
    public var module: Module { model }
    public var trainingCount: Int { labels.count }
    let inputs: Tensor  // (N, inputShape...)
    let labels: [Int]
    let validationInputs: Tensor  // (V, inputShape...)
    let validationLabels: [Int]
    /// (N, C) teacher logits of every training example, when distilling.
    public let teacherLogits: Tensor?
    let distillation: Distillation?
    let crossEntropy: CrossEntropy

    /// - teacher: distil from it with `distillation` (its logits are computed here, once, in eval mode).
    public init(
        model: SequentialModel, inputs: Tensor, labels: [Int], validationInputs: Tensor, validationLabels: [Int],
        teacher: SequentialModel? = nil, distillation: Distillation? = nil, labelSmoothing: Float = 0, executor: Executor
    ) throws {
        guard inputs.shape.first == labels.count, validationInputs.shape.first == validationLabels.count else {
            throw TrainingError.badInput("inputs and labels differ in count")
        }
        guard !validationLabels.isEmpty else { throw TrainingError.badInput("the validation split is empty") }
        self.model = model
        self.inputs = inputs.toFloat32()
        self.labels = labels
        self.validationInputs = validationInputs.toFloat32()
        self.validationLabels = validationLabels
        self.crossEntropy = CrossEntropy(labelSmoothing: labelSmoothing)
        if let teacher {
            guard teacher.outputShape == model.outputShape else {
                throw TrainingError.badInput("teacher outputs \(teacher.outputShape) but the student outputs \(model.outputShape)")
            }
            teacherLogits = try Self.logits(teacher, inputs: self.inputs, executor: executor)
            self.distillation = distillation ?? Distillation()
        } else {
            teacherLogits = nil
            self.distillation = nil
        }
    }

    /// Logits (no final softmax) of `model` in eval mode, in batches of 256.
    public static func logits(_ model: SequentialModel, inputs: Tensor, executor: Executor) throws -> Tensor {
        let context = TrainingContext(executor: executor, mode: .eval, dropout: false)
        var parts: [Tensor] = []
        let n = inputs.shape[0]
        for start in stride(from: 0, to: n, by: 256) {
            parts.append(try model.trainingForward(inputs.rows(start..<min(n, start + 256)), context: context).output)
        }
        return try Tensor.concatenateRows(parts)
    }

    public func trains(_ path: String) -> Bool { true }

    public func step(indices: [Int], gradients: Gradients, context: TrainingContext) throws -> Double {
        let x = Self.gather(inputs, indices)
        let (logits, tape) = try model.trainingForward(x, context: context)
        let y = indices.map { labels[$0] }
        let result: LossResult
        if let teacherLogits, let distillation {
            result = try distillation.scheduled(progress: context.runProgress).evaluate(
                student: logits, teacher: Self.gather(teacherLogits, indices), labels: y)
        } else {
            result = try crossEntropy.evaluate(logits: logits, labels: y)
        }
        try model.backward(result.gradient, tape: tape, gradients: gradients, context: context)
        return result.loss
    }

    public func validate(executor: Executor) throws -> ValidationResult {
        let logits = try Self.logits(model, inputs: validationInputs, executor: executor)
        let ce = try CrossEntropy().evaluate(logits: logits, labels: validationLabels)
        return ValidationResult(loss: ce.loss, metric: Self.accuracy(logits, validationLabels))
    }

    /// Accuracy of the cached teacher logits on the training labels (nil without a teacher): what the soft targets
    /// are worth, printed by the distill stage.
    public var teacherTrainingAccuracy: Double? {
        guard let teacherLogits else { return nil }
        return Self.accuracy(teacherLogits, labels)
    }

    /// Fraction of rows of (N, C) `logits` whose argmax is the label.
    static func accuracy(_ logits: Tensor, _ labels: [Int]) -> Double {
        let c = logits.shape[1]
        var correct = 0
        logits.withUnsafeFloats { p in
            for (r, label) in labels.enumerated() {
                var best = 0
                for j in 1..<c where p[r * c + j] > p[r * c + best] { best = j }
                if best == label { correct += 1 }
            }
        }
        return Double(correct) / Double(max(labels.count, 1))
    }

    /// Rows `indices` of `t`, in that order.
    static func gather(_ t: Tensor, _ indices: [Int]) -> Tensor {
        let row = t.count / t.shape[0]
        var out = Tensor(uninitialized: [indices.count] + t.shape.dropFirst())
        out.withUnsafeMutableFloats { op in
            t.withUnsafeFloats { tp in
                for (k, i) in indices.enumerated() {
                    (op.baseAddress! + k * row).update(from: tp.baseAddress! + i * row, count: row)
                }
            }
        }
        return out
    }
}
