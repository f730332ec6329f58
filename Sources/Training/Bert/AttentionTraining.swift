import CKernels
import Layers
import Tensors

/// Self-attention keeps the fused projections and every head's probabilities.
public struct AttentionTape: Sendable {
    let qkv: Tensor  // (T, 3A): query | key | value per row
    let probs: Tensor  // Σ_s heads·l_s²: per sequence s, per head, softmax(q·kᵀ·scale) as (l_s, l_s)
    let probOffsets: [Int]  // (sequences): start of sequence s's heads in `probs`
}

extension BertSelfAttention {
    /// ctx(T, A) = softmax(q·kᵀ/√d)·v per packed sequence and head (this layer's own head count), keeping the
    /// projections and probabilities. Scores and context are OpenBLAS GEMMs on strided views of qkv.
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
                executor.parallelChunks(lengths.count * heads) { range in
                    for job in range {
                        let s = job / heads, head = job % heads, l = lengths[s]
                        let q = q0 + starts[s] * 3 * a + head * dh  // (l, dh), stride 3A; k at +A, v at +2A
                        let p = p0 + offsets[s] + head * l * l  // (l, l)
                        MatMul.gemm(transA: false, transB: true, m: l, n: l, k: dh, a: q, lda: 3 * a, b: q + a, ldb: 3 * a, c: p, ldc: l)
                        ck_softmax_rows_f32(p, l, l, scale, nil)
                        MatMul.gemm(
                            transA: false, transB: false, m: l, n: dh, k: l, a: p, lda: l, b: q + 2 * a, ldb: 3 * a,
                            c: ctx + starts[s] * a + head * dh, ldc: a)
                    }
                }
            }
        }
        return AttentionTape(qkv: qkv, probs: probs, probOffsets: offsets)
    }

    /// Per head: dP = dctx·vᵀ, dv = Pᵀ·dctx, dS = softmax'(P, dP)·scale (``ck_softmax_backward_rows_f32``),
    /// dq = dS·k, dk = dSᵀ·q; then the three projections' backward: dW += d{q,k,v}ᵀ·x, dx += d{q,k,v}·W.
    /// dx(T, H) is accumulated (it already holds the residual's gradient).
    public func backward(
        _ dctx: UnsafePointer<Float>, tape: AttentionTape, x: Tensor, lengths: [Int], starts: [Int], dx: UnsafeMutablePointer<Float>,
        gradients: Gradients, path: String, on executor: Executor
    ) throws {
        let heads = shape.heads, dh = shape.headSize, a = shape.attentionWidth, t = x.shape[0], h = x.shape[1]
        let scale = 1 / Float(dh).squareRoot()
        let maxLen = lengths.max() ?? 0
        var dqkv = Tensor(uninitialized: [t, 3 * a])  // (T, 3A); every element is written by exactly one head
        dqkv.withUnsafeMutableFloats { dp in
            tape.qkv.withUnsafeFloats { qp in
                tape.probs.withUnsafeFloats { pp in
                    let (d0, q0, p0) = (dp.baseAddress!, qp.baseAddress!, pp.baseAddress!)
                    executor.parallelChunks(lengths.count * heads) { range in
                        executor.withScratch(floats: maxLen * maxLen) { ds in  // (l, l): dP, then dS in place
                            for job in range {
                                let s = job / heads, head = job % heads, l = lengths[s]
                                let q = q0 + starts[s] * 3 * a + head * dh
                                let dq = d0 + starts[s] * 3 * a + head * dh
                                let p = p0 + tape.probOffsets[s] + head * l * l
                                let dc = dctx + starts[s] * a + head * dh  // (l, dh), stride A
                                MatMul.gemm(
                                    transA: false, transB: true, m: l, n: l, k: dh, a: dc, lda: a, b: q + 2 * a, ldb: 3 * a, c: ds, ldc: l)
                                MatMul.gemm(
                                    transA: true, transB: false, m: l, n: dh, k: l, a: p, lda: l, b: dc, ldb: a, c: dq + 2 * a, ldc: 3 * a)
                                ck_softmax_backward_rows_f32(ds, p, ds, l, l, scale)
                                MatMul.gemm(
                                    transA: false, transB: false, m: l, n: dh, k: l, a: ds, lda: l, b: q + a, ldb: 3 * a, c: dq, ldc: 3 * a)
                                MatMul.gemm(
                                    transA: true, transB: false, m: l, n: dh, k: l, a: ds, lda: l, b: q, ldb: 3 * a, c: dq + a, ldc: 3 * a)
                            }
                        }
                    }
                }
            }
        }
        let projections = try ["query", "key", "value"].map { try trainingChild($0, as: Linear.self) }
        dqkv.withUnsafeFloats { dp in
            x.withUnsafeFloats { xp in
                for (j, linear) in projections.enumerated() {
                    let p = joinPath(path, ["query", "key", "value"][j])
                    linear.parameter("weight").withUnsafeFloats { wp in
                        LinearKernel.backward(
                            dinp: dx, dweight: gradients.buffer(p, "weight"), dbias: gradients.buffer(p, "bias"),
                            dout: dp.baseAddress! + j * a,
                            ldOut: 3 * a, inp: xp.baseAddress!, weight: wp.baseAddress!, rows: t, inFeatures: h, outFeatures: a,
                            accumulateInput: true)
                    }
                }
            }
        }
    }
}
