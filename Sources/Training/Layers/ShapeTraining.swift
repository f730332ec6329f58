import Layers
import Tensors

extension Flatten: TrainableLayer {
    public func trainingForward(_ x: Tensor, context: TrainingContext) throws -> (y: Tensor, tape: any LayerTape) {
        (try forward(x, on: context.executor), ShapeTape(inputShape: x.shape))
    }

    /// A reshape back to the input's shape.
    public func backward(
        _ dy: Tensor, tape: any LayerTape, gradients: Gradients, path: String, needInputGradient: Bool, context: TrainingContext
    ) throws -> Tensor? {
        needInputGradient ? dy.reshaped((tape as! ShapeTape).inputShape) : nil
    }
}

/// Dropout keeps its scaled keep-mask (empty when it acted as the identity).
struct DropoutTape: LayerTape {
    let mask: Tensor?  // same shape as x: 0 or 1/(1 − rate)
}

extension Dropout: TrainableLayer {
    /// Train mode (with ``TrainingContext/dropout``): y = x · mask, mask = Bernoulli(1 − rate) / (1 − rate) drawn
    /// from the context's seed. Otherwise the identity.
    public func trainingForward(_ x: Tensor, context: TrainingContext) throws -> (y: Tensor, tape: any LayerTape) {
        guard context.mode == .train, context.dropout, rate > 0 else { return (x, DropoutTape(mask: nil)) }
        let keep = 1 - rate, scale = 1 / keep
        let threshold = UInt64(Double(keep) * Double(UInt64.max >> 11))
        var mask = Tensor(uninitialized: x.shape)
        var y = x
        mask.withUnsafeMutableFloats { mp in
            for i in 0..<mp.count { mp[i] = (context.nextRandom() >> 11) < threshold ? scale : 0 }
            y.withUnsafeMutableFloats { yp in for i in 0..<yp.count { yp[i] *= mp[i] } }
        }
        return (y, DropoutTape(mask: mask))
    }

    public func backward(
        _ dy: Tensor, tape: any LayerTape, gradients: Gradients, path: String, needInputGradient: Bool, context: TrainingContext
    ) throws -> Tensor? {
        guard needInputGradient else { return nil }
        guard let mask = (tape as! DropoutTape).mask else { return dy }
        var dx = dy
        dx.withUnsafeMutableFloats { dp in mask.withUnsafeFloats { mp in for i in 0..<dp.count { dp[i] *= mp[i] } } }
        return dx
    }
}
