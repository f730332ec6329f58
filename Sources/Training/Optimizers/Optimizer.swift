import CKernels
import Layers
import Tensors

/// Updates a model's parameters from gradients keyed by the same paths (mlx's `OptimizerBase.applySingle`).
public protocol Optimizer: AnyObject {
    /// One update of every parameter in `gradients` at `learningRate`, in place in the model's own parameter
    /// buffers; the edited modules' packed caches are rebuilt once (``Module/editParametersInPlace(_:_:)``).
    func step(_ model: Module, gradients: Gradients, learningRate: Float) throws
}

/// Which parameters get weight decay: by default every parameter of rank ≥ 2 (Linear/Conv kernels, embedding
/// tables), never rank-1 ones (biases, LayerNorm and BatchNorm scales and shifts) nor any path naming a norm —
/// the usual BERT/AdamW rule (`no_decay = ["bias", "LayerNorm.weight"]`).
public struct WeightDecayRule: Sendable {
    public let decays: @Sendable (_ path: String, _ shape: [Int]) -> Bool
    public init(_ decays: @escaping @Sendable (_ path: String, _ shape: [Int]) -> Bool) { self.decays = decays }

    public static let matricesOnly = WeightDecayRule { path, shape in
        shape.count >= 2 && !path.hasSuffix(".bias") && !path.contains("LayerNorm") && !path.lowercased().contains("norm.")
    }
}

extension Optimizer {
    /// Applies `update(path, parameter, gradient)` to each trained parameter in place, in the model's own buffers,
    /// then rebuilds only the edited modules' derived state (packed weights) once
    /// (``Module/editParametersInPlace(_:_:)``): no parameter is copied and nothing else is re-prepared.
    func apply(
        _ model: Module, gradients: Gradients,
        _ update: (_ path: String, _ p: UnsafeMutableBufferPointer<Float>, _ g: UnsafeMutableBufferPointer<Float>) -> Void
    ) throws {
        do {
            try model.editParametersInPlace(gradients.paths) { path, p in
                let g = gradients[path]!
                guard g.count == p.count else {
                    throw TrainingError.badInput("gradient for '\(path)' has \(g.count) values, the parameter \(p.count)")
                }
                update(path, p, g)
            }
        } catch ModelError.unexpectedParameter(let path) {
            throw TrainingError.badInput("gradient for '\(path)', which the model does not have")
        }
    }
}

/// SGD with momentum (PyTorch's form): v ← μ·v + g (+ λ·p for decayed parameters), p ← p − lr·v.
public final class SGD: Optimizer {
    public let momentum: Float
    public let weightDecay: Float
    public let decayRule: WeightDecayRule
    var velocity: ParameterBuffers?

    public init(momentum: Float = 0.9, weightDecay: Float = 0, decayRule: WeightDecayRule = .matricesOnly) {
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.decayRule = decayRule
    }

    public func step(_ model: Module, gradients: Gradients, learningRate lr: Float) throws {
        let v = velocity ?? gradients.zerosLike()
        velocity = v
        try apply(model, gradients: gradients) { path, p, g in
            let vb = v[path]!
            let wd = decayRule.decays(path, gradients.shapes[path]!) ? weightDecay : 0
            for i in 0..<p.count {
                vb[i] = momentum * vb[i] + g[i] + wd * p[i]
                p[i] -= lr * vb[i]
            }
        }
    }
}

/// AdamW (Loshchilov & Hutter; PyTorch's `torch.optim.AdamW`): decoupled weight decay p ← p − lr·λ·p on decayed
/// parameters, then m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g², p ← p − lr·m̂/(√v̂ + ε) with bias corrections
/// m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ). Moments live in ``ParameterBuffers`` keyed like the gradients, allocated on
/// the first step and reused.
public final class AdamW: Optimizer {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public let decayRule: WeightDecayRule
    /// Where the update runs: large parameters (the word-embedding table) are split across its threads.
    public let executor: Executor?
    /// Steps taken (t in the bias corrections).
    public internal(set) var stepCount = 0
    var moments: (m: ParameterBuffers, v: ParameterBuffers)?

    public init(
        beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01,
        decayRule: WeightDecayRule = .matricesOnly, executor: Executor? = nil
    ) {
        self.executor = executor
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decayRule = decayRule
    }

    /// The first and second moments (nil before the first step): for checkpoints.
    public var state: (m: ParameterBuffers, v: ParameterBuffers)? { moments }

    public func step(_ model: Module, gradients: Gradients, learningRate lr: Float) throws {
        let (m, v) = moments ?? (gradients.zerosLike(), gradients.zerosLike())
        moments = (m, v)
        stepCount += 1
        let t = Double(stepCount)
        let c1 = Float(1 - pow(Double(beta1), t)), c2 = Float(1 - pow(Double(beta2), t))
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        try apply(model, gradients: gradients) { path, p, g in
            let mb = m[path]!, vb = v[path]!
            let decay = decayRule.decays(path, gradients.shapes[path]!) ? 1 - lr * weightDecay : 1
            let (p0, m0, v0, g0) = (p.baseAddress!, mb.baseAddress!, vb.baseAddress!, UnsafePointer(g.baseAddress!))
            // Element-wise and memory-bound: chunks of ≥ 64k floats are worth a thread.
            let run = { (r: Range<Int>) in
                let o = r.lowerBound
                ck_adamw_f32(p0 + o, m0 + o, v0 + o, g0 + o, r.count, lr, b1, b2, eps, decay, c1, c2)
            }
            if let executor, p.count >= 1 << 17 { executor.parallelChunks(p.count, minimumPerChunk: 1 << 16, run) } else { run(0..<p.count) }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
