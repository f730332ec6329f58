import Layers
import Tensors

/// Linear keeps its input (for dW) and its activation's tape.
struct LinearTape: LayerTape {
    let x: Tensor  // (rows, in)
    let activation: ActivationTape
}

extension Linear: TrainableLayer {
    /// y(…, out) = act(x · Wᵀ + b). The product runs on the packed weight ``prepare()`` keeps current.
    public func trainingForward(_ x: Tensor, context: TrainingContext) throws -> (y: Tensor, tape: any LayerTape) {
        try trainingForward(x, context: context, activation: activation)
    }

    /// The forward with `activation` in place of the layer's own (`.linear` for logits).
    func trainingForward(_ x: Tensor, context: TrainingContext, activation: Activation) throws -> (y: Tensor, tape: any LayerTape) {
        guard x.shape.last == inFeatures else {
            throw TrainingError.badInput("layer '\(name)' expects \(inFeatures) features, got \(x.shape)")
        }
        let x = x.toFloat32()
        let rows = x.count / inFeatures
        var y = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])  // (rows, out)
        y.withUnsafeMutableFloats { yp in
            x.withUnsafeFloats { xp in matmul(xp.baseAddress!, rows: rows, into: yp.baseAddress!, on: context.executor) }
            if let b = biasTensor {
                b.withUnsafeFloats { Ops.biasAdd(yp.baseAddress!, bias: $0.baseAddress!, rows: rows, cols: outFeatures) }
            }
        }
        let act = activation.trainingForward(&y, on: context.executor)
        return (y, LinearTape(x: x, activation: act))
    }

    /// dW += dpreᵀ·x, db += Σ dpre, dx = dpre·W with dpre = act'(dy).
    public func backward(
        _ dy: Tensor, tape: any LayerTape, gradients: Gradients, path: String, needInputGradient: Bool, context: TrainingContext
    ) throws -> Tensor? {
        let tape = tape as! LinearTape
        let rows = tape.x.count / inFeatures
        var dx = needInputGradient ? Tensor(uninitialized: tape.x.shape) : nil  // (rows, in)
        let weight = parameter("weight")
        let dweight = gradients.buffer(path, "weight"), dbias = useBias ? gradients.buffer(path, "bias") : nil
        let (k, n) = (inFeatures, outFeatures)
        // dpre (rows, out) = act'(dy), with db += Σ dpre fused into the activation pass.
        tape.activation.withPreActivationGradient(dy, dbias: dbias, on: context.executor) { dp in
            tape.x.withUnsafeFloats { xp in
                weight.withUnsafeFloats { wp in
                    let run = { (dinp: UnsafeMutablePointer<Float>?) in
                        LinearKernel.backward(
                            dinp: dinp, dweight: dweight, dbias: nil,
                            dout: dp, inp: xp.baseAddress!, weight: wp.baseAddress!, rows: rows, inFeatures: k, outFeatures: n, on: context.executor)
                    }
                    if dx != nil { dx!.withUnsafeMutableFloats { run($0.baseAddress!) } } else { run(nil) }
                }
            }
        }
        return dx
    }
}
