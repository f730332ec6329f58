import Layers
import Tensors

/// What one layer's training forward keeps for its backward (inputs, pre-activations, statistics, argmax…).
/// Each layer defines its own tape next to its forward and backward.
public protocol LayerTape: Sendable {}

/// A ``Layer`` of a ``SequentialModel`` that can be trained: a training forward that keeps what its backward needs,
/// and the backward, in the same file (STYLE rule 14). The inference `forward` is untouched.
public protocol TrainableLayer: Layer {
    /// y = layer(x) and the tape for ``backward(_:tape:gradients:path:needInputGradient:context:)``.
    func trainingForward(_ x: Tensor, context: TrainingContext) throws -> (y: Tensor, tape: any LayerTape)
    /// Accumulates parameter gradients into `gradients` under `path` (the layer's module path) and returns dL/dx,
    /// or nil when `needInputGradient` is false (the first layer: nothing upstream wants it).
    func backward(
        _ dy: Tensor, tape: any LayerTape, gradients: Gradients, path: String, needInputGradient: Bool, context: TrainingContext
    ) throws -> Tensor?
}

/// A whole model that can be trained: one training forward producing an output and a tape, one backward turning
/// dL/doutput into gradients keyed by parameter path. The next session's Trainer drives these:
///
/// ```swift
/// let grads = Gradients(trainableIn: model)
/// grads.zero()
/// let (logits, tape) = try model.trainingForward(x, context: ctx)
/// let (loss, dLogits) = CrossEntropy(labelSmoothing: 0.1).evaluate(logits: logits, labels: y)
/// try model.backward(dLogits, tape: tape, gradients: grads, context: ctx)
/// optimizer.step(model, gradients: grads, learningRate: schedule.rate(at: step))
/// ```
public protocol TrainableModel: Module {
    associatedtype Input
    associatedtype Tape
    func trainingForward(_ input: Input, context: TrainingContext) throws -> (output: Tensor, tape: Tape)
    func backward(_ dOutput: Tensor, tape: Tape, gradients: Gradients, context: TrainingContext) throws
}

/// Typed access to a child for training code (which supports only fp32 modules).
extension Module {
    func trainingChild<T>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let child = children.first(where: { $0.name == name })?.module else {
            throw TrainingError.unsupported("\(typeName) has no child '\(name)'")
        }
        guard let typed = child as? T else {
            throw TrainingError.unsupported("'\(name)' is a \(child.typeName), training needs \(T.self) (dequantize first)")
        }
        return typed
    }
}
