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
        case .relu: reluBackward(dy, dy: dy, y: s, rows: n / max(1, cols), cols: cols, dbias: nil, on: executor)
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

extension ActivationTape {
    /// Calls `body` with dL/d(pre-activation) (rows, cols) for the upstream gradient `dy` (rows, cols), and adds its
    /// column sums into `dbias` (cols) when given: the bias gradient of the layer this activation follows.
    ///
    /// The result is written out of place into executor scratch: mutating `dy` in place copied it first (the caller
    /// still holds it: copy-on-write), and that copy plus a branchy Swift ReLU loop were 14 % + 14 % of a Fashion-CNN
    /// step (perf, one thread). ReLU runs ``ck_relu_backward_f32`` with the bias sums fused into the same pass.
    func withPreActivationGradient<R>(
        _ dy: Tensor, dbias: UnsafeMutablePointer<Float>?, on executor: Executor, _ body: (UnsafePointer<Float>) -> R
    ) -> R {
        let cols = dy.shape.last ?? 1, count = dy.count, rows = count / max(1, cols)
        guard let saved else {
            return dy.withUnsafeFloats { dp in
                if let dbias { ck_colsum_f32(dbias, dp.baseAddress!, cols, rows, cols) }
                return body(dp.baseAddress!)
            }
        }
        return executor.withScratch(floats: count) { dpre in
            dy.withUnsafeFloats { dp in
                saved.withUnsafeFloats { sp in
                    if activation == .relu {
                        Activation.reluBackward(dpre, dy: dp.baseAddress!, y: sp.baseAddress!, rows: rows, cols: cols, dbias: dbias, on: executor)
                    } else {
                        dpre.update(from: dp.baseAddress!, count: count)
                        Activation.backward(activation, dy: dpre, saved: sp.baseAddress!, count: count, cols: cols, on: executor)
                        if let dbias { ck_colsum_f32(dbias, dpre, cols, rows, cols) }
                    }
                }
            }
            return body(dpre)
        }
    }
}

extension Activation {
    /// dx(rows, cols) = y ≤ 0 ? 0 : dy (dx may alias dy), and dbias(cols) += Σ_rows dx when given. Row ranges run
    /// on the executor's threads; with bias sums each range sums into its own buffer and the buffers are added in
    /// order, so a run is bit-identical for a given thread count.
    static func reluBackward(
        _ dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, rows: Int, cols: Int,
        dbias: UnsafeMutablePointer<Float>?, on executor: Executor
    ) {
        let chunks = min(executor.threads, max(1, rows * cols / (1 << 15)))
        if chunks <= 1 {
            ck_relu_backward_f32(dx, dy, y, rows, cols, dbias)
            return
        }
        let per = (rows + chunks - 1) / chunks
        let run = { (partial: UnsafeMutablePointer<Float>?) in
            executor.parallelChunks(chunks) { r in
                for t in r {
                    let (r0, r1) = (min(rows, t * per), min(rows, (t + 1) * per))
                    ck_relu_backward_f32(dx + r0 * cols, dy + r0 * cols, y + r0 * cols, r1 - r0, cols, partial.map { $0 + t * cols })
                }
            }
        }
        guard let dbias else { return run(nil) }
        executor.withScratch(floats: chunks * cols) { partial in
            partial.initialize(repeating: 0, count: chunks * cols)
            run(partial)
            for t in 0..<chunks { for j in 0..<cols { dbias[j] += partial[t * cols + j] } }
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
        let tape = tape as! ActivationTape
        guard activation == .relu, let y = tape.saved else {
            var dx = dy
            activation.backward(&dx, tape: tape, on: context.executor)
            return dx
        }
        // Out of place: dy is still held by the caller, so an in-place update would copy it first.
        var dx = Tensor(uninitialized: dy.shape)
        let cols = dy.shape.last ?? 1
        dx.withUnsafeMutableFloats { xp in
            dy.withUnsafeFloats { dp in
                y.withUnsafeFloats { yp in
                    Activation.reluBackward(
                        xp.baseAddress!, dy: dp.baseAddress!, y: yp.baseAddress!, rows: xp.count / max(1, cols), cols: cols, dbias: nil,
                        on: context.executor)
                }
            }
        }
        return dx
    }
}
