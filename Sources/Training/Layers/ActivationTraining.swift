import CKernels
import Layers
import Tensors

/// What an activation's backward reads: GELU keeps its input; ReLU, sigmoid, tanh and softmax their output.
public struct ActivationTape: LayerTape {
    let activation: Activation
    /// GELU: x (rows, cols); others: y (rows, cols); nil for `.linear`.
    let saved: Tensor?
}

extension Activation {
    /// x ← act(x) in place over (…, cols), keeping what ``backward(_:tape:on:)`` needs.
    public func trainingForward(_ x: inout Tensor, on executor: Executor) -> ActivationTape {
        let cols = x.shape.last ?? 1
        switch self {
        case .linear:
            return ActivationTape(activation: self, saved: nil)
        case .gelu:
            let input = x
            x.withUnsafeMutableFloats { apply($0.baseAddress!, rows: $0.count / cols, cols: cols, on: executor) }
            return ActivationTape(activation: self, saved: input)
        case .relu, .sigmoid, .tanh, .softmax:
            x.withUnsafeMutableFloats { apply($0.baseAddress!, rows: $0.count / cols, cols: cols, on: executor) }
            return ActivationTape(activation: self, saved: x)
        }
    }

    /// dy ← dL/dx in place, from dL/dy and the tape of ``trainingForward(_:on:)``.
    public func backward(_ dy: inout Tensor, tape: ActivationTape, on executor: Executor) {
        guard let saved = tape.saved else { return }
        let cols = dy.shape.last ?? 1
        dy.withUnsafeMutableFloats { dp in
            saved.withUnsafeFloats { sp in
                Self.backward(tape.activation, dy: dp.baseAddress!, saved: sp.baseAddress!, count: dp.count, cols: cols, on: executor)
            }
        }
    }

    /// Raw form: dy(count) ← dL/dx given `saved` (GELU: the input; others: the output), rows of `cols`.
    static func backward(
        _ activation: Activation, dy: UnsafeMutablePointer<Float>, saved s: UnsafePointer<Float>, count n: Int, cols: Int,
        on executor: Executor
    ) {
        switch activation {
        case .linear: break
        case .relu: for i in 0..<n where s[i] <= 0 { dy[i] = 0 }
        case .sigmoid: for i in 0..<n { dy[i] *= s[i] * (1 - s[i]) }
        case .tanh: for i in 0..<n { dy[i] *= 1 - s[i] * s[i] }
        case .softmax: ck_softmax_backward_rows_f32(dy, s, dy, n / cols, cols, 1)
        case .gelu:
            executor.parallelChunks(n, minimumPerChunk: 1 << 14) { r in
                ck_gelu_backward_f32(dy + r.lowerBound, s + r.lowerBound, dy + r.lowerBound, r.count)
            }
        }
    }
}

extension ActivationLayer: TrainableLayer {
    public func trainingForward(_ x: Tensor, context: TrainingContext) throws -> (y: Tensor, tape: any LayerTape) {
        var y = x
        let tape = activation.trainingForward(&y, on: context.executor)
        return (y, tape)
    }

    public func backward(
        _ dy: Tensor, tape: any LayerTape, gradients: Gradients, path: String, needInputGradient: Bool, context: TrainingContext
    ) throws -> Tensor? {
        guard needInputGradient else { return nil }
        var dx = dy
        activation.backward(&dx, tape: tape as! ActivationTape, on: context.executor)
        return dx
    }
}
