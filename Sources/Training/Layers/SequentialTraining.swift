import Layers
import Tensors

/// The tapes of every layer of one ``SequentialModel`` training forward, in order.
public struct SequentialTape {
    let tapes: [any LayerTape]
    /// How many layers ran (all, or all but a final softmax when logits were asked for).
    let layerCount: Int
}

extension SequentialModel: TrainableModel {
    /// Runs every layer's training forward. The output is the model's output, except that a final softmax
    /// (a softmax Dense's activation, or a softmax Activation layer) is left out, so losses receive logits
    /// (``CrossEntropy`` and ``Distillation`` apply the softmax themselves, stably).
    public func trainingForward(_ x: Tensor, context: TrainingContext) throws -> (output: Tensor, tape: SequentialTape) {
        guard Array(x.shape.dropFirst()) == inputShape else {
            throw TrainingError.badInput(
                "model expects input shape (N, \(inputShape.map(String.init).joined(separator: ", "))), got \(x.shape)")
        }
        var h = x.toFloat32()
        var tapes: [any LayerTape] = []
        let trainable = try layers.map { layer -> any TrainableLayer in
            guard let t = layer as? any TrainableLayer else { throw TrainingError.unsupported("layer '\(layer.name)' (\(layer.typeName))") }
            return t
        }
        var count = trainable.count
        if let last = layers.last as? ActivationLayer, last.activation == .softmax { count -= 1 }
        for (i, layer) in trainable.prefix(count).enumerated() {
            if i == trainable.count - 1, let dense = layer as? Linear, dense.activation == .softmax {
                let logits = try dense.logitsForward(h, context: context)
                h = logits.y
                tapes.append(logits.tape)
                continue
            }
            let (y, tape) = try layer.trainingForward(h, context: context)
            h = y
            tapes.append(tape)
        }
        return (h, SequentialTape(tapes: tapes, layerCount: count))
    }

    /// Backward through the layers that ran, last first; the first layer skips its input gradient.
    public func backward(_ dOutput: Tensor, tape: SequentialTape, gradients: Gradients, context: TrainingContext) throws {
        var g = dOutput
        for i in stride(from: tape.layerCount - 1, through: 0, by: -1) {
            let layer = layers[i] as! any TrainableLayer
            guard
                let dx = try layer.backward(
                    g, tape: tape.tapes[i], gradients: gradients, path: layer.name, needInputGradient: i > 0, context: context)
            else { break }
            g = dx
        }
    }
}

extension Linear {
    /// The training forward without the softmax activation: logits for a loss that applies softmax itself.
    func logitsForward(_ x: Tensor, context: TrainingContext) throws -> (y: Tensor, tape: any LayerTape) {
        let (y, tape) = try trainingForward(x, context: context, activation: .linear)
        return (y, tape)
    }
}
