import Layers
import Tensors

/// Hidden-state distillation (TinyBERT / MiniLM style): L = mean((s·Pᵀ + b − t)²) through an optional learned
/// projection P (student width → teacher width); identity when the widths match and no projection is given.
/// The projection is an ordinary ``Linear`` whose gradients go into a ``Gradients`` under `projectionPath`, so the
/// optimizer trains it with the student (give the trainer a Container holding both).
public struct HiddenStateMSE: Sendable {
    public let projection: Linear?
    public let projectionPath: String
    public init(projection: Linear? = nil, projectionPath: String = "projection") {
        self.projection = projection
        self.projectionPath = projectionPath
    }

    /// student: (T, Hs); target: (T, Ht). Returns the loss and dL/dstudent; projection gradients are accumulated.
    public func evaluate(student: Tensor, target: Tensor, gradients: Gradients?, context: TrainingContext) throws -> LossResult {
        guard let projection else { return try MeanSquaredError().evaluate(student, target: target) }
        let (projected, tape) = try projection.trainingForward(student, context: context)
        let mse = try MeanSquaredError().evaluate(projected, target: target)
        let scratch = gradients ?? Gradients(shapes: [])
        let ds = try projection.backward(
            mse.gradient, tape: tape, gradients: scratch, path: projectionPath, needInputGradient: true, context: context)
        return LossResult(loss: mse.loss, gradient: ds!)
    }
}
