import CKernels
import Layers
import Tensors

/// Self-attention keeps the fused projections and every head's probabilities.
public struct AttentionTape: Sendable {
    let qkv: Tensor  // (T, 3A): query | key | value per row
    let probs: Tensor  // Σ_s heads·l_s²: per sequence s, per head, softmax(q·kᵀ·scale) as (l_s, l_s)
    let probOffsets: [Int]  // (sequences): start of sequence s's heads in `probs`

    /// Every head's attention probabilities: per sequence, per head, (l, l) row-major, back to back.
    public var probabilities: Tensor { probs }
}

extension BertSelfAttention {
    /// ctx(T, A) = softmax(q·kᵀ/√d)·v per packed sequence and head (this layer's own head count), keeping the
    /// projections and probabilities. One fused kernel per (sequence, head) (``ck_attention_train_forward_f32``) on
    /// strided views of qkv: at 24 tokens × 32 dims, two BLAS calls per head cost more in overhead than in work.
    public func trainingForward(
        _ x: Tensor, lengths: [Int], starts: [Int], into ctx: UnsafeMutablePointer<Float>, on executor: Executor
    ) throws -> AttentionTape {
        for name in ["query", "key", "value"] { _ = try trainingChild(name, as: Linear.self) }
        let heads = shape.heads, dh = shape.headSize, a = shape.attentionWidth, t = x.shape[0]
        var qkv = Tensor(uninitialized: [t, 3 * a])  // (T, 3A)
        var offsets: [Int] = []
        var total = 0
        for l in lengths { offsets.append(total); total += heads * l * l }
        var probs = Tensor(uninitialized: [total])
        let scale = 1 / Float(dh).squareRoot()
        qkv.withUnsafeMutableFloats { qp in
            x.withUnsafeFloats { project($0.baseAddress!, rows: t, into: qp.baseAddress!, on: executor) }
            probs.withUnsafeMutableFloats { pp in
                let (q0, p0) = (UnsafePointer(qp.baseAddress!), pp.baseAddress!)
                let maxLen = lengths.max() ?? 0
                executor.parallelChunks(lengths.count * heads) { range in
                    executor.withScratch(floats: dh * maxLen) { kt in
                        for job in range {
                            let s = job / heads, head = job % heads, l = lengths[s]
                            let q = q0 + starts[s] * 3 * a + head * dh  // (l, dh), stride 3A; k at +A, v at +2A
                            let p = p0 + offsets[s] + head * l * l  // (l, l)
                            ck_attention_train_forward_f32(
                                q, q + a, q + 2 * a, 3 * a, l, dh, scale, p, ctx + starts[s] * a + head * dh, a, kt)
                        }
                    }
                }
            }
        }
        return AttentionTape(qkv: qkv, probs: probs, probOffsets: offsets)
    }

    /// Per head, in one fused kernel (``ck_attention_train_backward_f32``): dP = dctx·vᵀ, dv = Pᵀ·dctx,
    /// dS = softmax'(P, dP)·scale, dq = dS·k, dk = dSᵀ·q; then the three projections' backward:
    /// dW += d{q,k,v}ᵀ·x, dx += d{q,k,v}·W.
    /// dx(T, H) is accumulated (it already holds the residual's gradient). `dScores`, laid out as `tape.probs`, adds a
    /// gradient on the softmax inputs from a loss on the probabilities (``AttentionKL``).
    public func backward(
        _ dctx: UnsafePointer<Float>, tape: AttentionTape, x: Tensor, lengths: [Int], starts: [Int], dx: UnsafeMutablePointer<Float>,
        dScores: Tensor? = nil, gradients: Gradients, path: String, on executor: Executor
    ) throws {
        if let dScores, dScores.count != tape.probs.count {
            throw TrainingError.badInput("attention score gradient has \(dScores.count) values, the probabilities \(tape.probs.count)")
        }
        let heads = shape.heads, dh = shape.headSize, a = shape.attentionWidth, t = x.shape[0], h = x.shape[1]
        let scale = 1 / Float(dh).squareRoot()
        let maxLen = lengths.max() ?? 0
        let projections = try ["query", "key", "value"].map { try trainingChild($0, as: Linear.self) }
        // dqkv (T, 3A) in executor scratch, reused every step; every element is written by exactly one head.
        executor.withScratch(floats: t * 3 * a) { d0 in
            tape.qkv.withUnsafeFloats { qp in
                tape.probs.withUnsafeFloats { pp in
                    let (q0, p0) = (qp.baseAddress!, pp.baseAddress!)
                    withOptionalFloats(dScores) { z0 in
                        executor.parallelChunks(lengths.count * heads) { range in
                            executor.withScratch(floats: maxLen * (maxLen + dh)) { scratch in  // vᵀ (dh, l) | dP, dS (l, l)
                                for job in range {
                                    let s = job / heads, head = job % heads, l = lengths[s]
                                    let q = q0 + starts[s] * 3 * a + head * dh
                                    let dq = d0 + starts[s] * 3 * a + head * dh
                                    let p = p0 + tape.probOffsets[s] + head * l * l
                                    let dc = dctx + starts[s] * a + head * dh  // (l, dh), stride A
                                    let dz = z0.map { UnsafePointer($0 + tape.probOffsets[s] + head * l * l) }  // (l, l) or nil
                                    ck_attention_train_backward_f32(
                                        q, q + a, q + 2 * a, 3 * a, p, dc, a, dz, dq, dq + a, dq + 2 * a, l, dh, scale, scratch)
                                }
                            }
                        }
                    }
                }
            }
            x.withUnsafeFloats { xp in
                for (j, linear) in projections.enumerated() {
                    let p = joinPath(path, ["query", "key", "value"][j])
                    linear.parameter("weight").withUnsafeFloats { wp in
                        LinearKernel.backward(
                            dinp: dx, dweight: gradients.buffer(p, "weight"), dbias: gradients.buffer(p, "bias"), dout: d0 + j * a,
                            ldOut: 3 * a, inp: xp.baseAddress!, weight: wp.baseAddress!, rows: t, inFeatures: h, outFeatures: a,
                            accumulateInput: true, on: executor)
                    }
                }
            }
        }
    }
}

/// `body` with the tensor's floats, or with nil when there is no tensor.
func withOptionalFloats<R>(_ tensor: Tensor?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    guard let tensor else { return try body(nil) }
    return try tensor.withUnsafeFloats { try body($0.baseAddress!) }
}
