import Foundation
import Tensors

/// Inference-mode batch normalization over the last axis:
/// `y = (x - mean) / sqrt(variance + eps) · gamma + beta`. Parameters: gamma, beta, mean, variance, each (features).
/// ``SequentialModel/foldBatchNorms()`` merges it into the preceding Dense/Conv2D when it can.
public final class BatchNorm: Layer, SpecBuildable {
    public let features: Int
    public let epsilon: Float

    public init(name: String, features: Int, epsilon: Float) {
        self.features = features
        self.epsilon = epsilon
        super.init(name: name)
        for p in ["gamma", "beta", "mean", "variance"] { declareParameter(p, shape: [features]) }
        prepare()
    }

    public override var summary: String { "\(features), eps \(epsilon)" }
    public override var spec: LayerSpec { LayerSpec(type: .batchNorm, name: name, outFeatures: features, epsilon: epsilon) }

    public static func make(_ s: LayerSpec, inputShape: [Int]) throws -> Layer {
        BatchNorm(name: s.name, features: s.outFeatures ?? inputShape.last ?? 0, epsilon: s.epsilon ?? 1e-3)
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.last == features else {
            throw ModelError.invalidConfig("layer '\(name)' normalizes \(features) features, previous layer gives \(input)")
        }
        return input
    }

    /// Per-feature (scale, shift) with y = x · scale + shift.
    public func affine() -> (scale: [Float], shift: [Float]) {
        let g = parameter("gamma").floats, b = parameter("beta").floats
        let m = parameter("mean").floats, v = parameter("variance").floats
        var scale = [Float](repeating: 0, count: features), shift = scale
        for i in 0..<features {
            // In double: folding should not add rounding beyond what float32 weights already carry.
            let s = Double(g[i]) / (Double(v[i]) + Double(epsilon)).squareRoot()
            scale[i] = Float(s)
            shift[i] = Float(Double(b[i]) - Double(m[i]) * s)
        }
        return (scale, shift)
    }

    /// ``affine()`` of the current parameters, rebuilt by ``prepare()``.
    private var folded: (scale: [Float], shift: [Float]) = ([], [])

    public override func prepare() { folded = affine() }

    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor {
        guard x.shape.last == features else { throw ModelError.badInput("layer '\(name)' expects \(features) features, got \(x.shape)") }
        let (scale, shift) = folded
        var y = x
        y.withUnsafeMutableFloats { yp in
            for r in 0..<(yp.count / features) {
                let row = yp.baseAddress! + r * features
                for i in 0..<features { row[i] = row[i] * scale[i] + shift[i] }
            }
        }
        return y
    }
}
