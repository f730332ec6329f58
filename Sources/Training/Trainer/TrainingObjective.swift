import Layers
import Tensors

/// The validation figures of one epoch: a loss (keep-best picks the lowest) and an optional metric for reports.
public struct ValidationResult: Sendable {
    public var loss: Double
    /// Accuracy for classifiers, mean cosine to the teacher for sentence students.
    public var metric: Double?
    public init(loss: Double, metric: Double? = nil) {
        self.loss = loss
        self.metric = metric
    }
}

/// What a ``Trainer`` trains: the module whose parameters move, how many training examples there are, how one
/// mini-batch becomes a loss and gradients, and how the held-out split is scored.
///
/// ```swift
/// let objective = ClosureObjective(module: model, count: 1000, step: { indices, grads, ctx in
///     let (logits, tape) = try model.trainingForward(batch(indices), context: ctx)
///     let r = try CrossEntropy().evaluate(logits: logits, labels: labels(indices))
///     try model.backward(r.gradient, tape: tape, gradients: grads, context: ctx)
///     return r.loss
/// }, validate: { executor in ValidationResult(loss: try heldOutLoss(on: executor)) })
/// ```
public protocol TrainingObjective: AnyObject {
    /// The module whose parameters the optimizer updates (a student, or a container of a student and projections).
    var module: Module { get }
    /// Training examples (indices 0..<count are shuffled into mini-batches).
    var trainingCount: Int { get }
    /// Whether the parameter at `path` is trained (default: every float parameter; BatchNorm statistics never).
    func trains(_ path: String) -> Bool
    /// Forward, loss and backward on the examples `indices`: accumulates into `gradients` (zeroed by the caller)
    /// and returns the batch's mean loss.
    func step(indices: [Int], gradients: Gradients, context: TrainingContext) throws -> Double
    /// The held-out loss (and metric) with the current weights.
    func validate(executor: Executor) throws -> ValidationResult
}

extension TrainingObjective {
    public func trains(_ path: String) -> Bool { true }
}

/// A ``TrainingObjective`` from closures: for fine-tuning code (pruning) that brings its own model, loss and data.
public final class ClosureObjective: TrainingObjective {
    public let module: Module
    public let trainingCount: Int
    let stepBody: ([Int], Gradients, TrainingContext) throws -> Double
    let validateBody: (Executor) throws -> ValidationResult
    let trainsBody: (String) -> Bool

    public init(
        module: Module, count: Int, trains: @escaping (String) -> Bool = { _ in true },
        step: @escaping ([Int], Gradients, TrainingContext) throws -> Double,
        validate: @escaping (Executor) throws -> ValidationResult
    ) {
        self.module = module
        trainingCount = count
        stepBody = step
        validateBody = validate
        trainsBody = trains
    }

    public func trains(_ path: String) -> Bool { trainsBody(path) }
    public func step(indices: [Int], gradients: Gradients, context: TrainingContext) throws -> Double {
        try stepBody(indices, gradients, context)
    }
    public func validate(executor: Executor) throws -> ValidationResult { try validateBody(executor) }
}
