import CKernels
import Layers
import Tensors

/// LayerNorm keeps its input and per-row mean and 1/σ (llm.c's `mean`, `rstd`).
public struct LayerNormTape: Sendable {
    let x: Tensor  // (rows, dim)
    let mean: Tensor  // (rows)
    let rstd: Tensor  // (rows)
}

extension LayerNorm {
    /// y(rows, dim) = (x − mean)·rstd·weight + bias, keeping x, mean and rstd.
    public func trainingForward(_ x: Tensor, into y: UnsafeMutablePointer<Float>, on executor: Executor) -> LayerNormTape {
        let rows = x.count / dim
        var mean = Tensor(uninitialized: [rows]), rstd = Tensor(uninitialized: [rows])
        parameter("weight").withUnsafeFloats { w in
            parameter("bias").withUnsafeFloats { b in
                x.withUnsafeFloats { xp in
                    mean.withUnsafeMutableFloats { mp in
                        rstd.withUnsafeMutableFloats { rp in
                            let (xb, mb, rb, wb, bb) = (xp.baseAddress!, mp.baseAddress!, rp.baseAddress!, w.baseAddress!, b.baseAddress!)
                            executor.parallelChunks(rows, minimumPerChunk: max(1, 16_384 / dim)) { r in
                                let o = r.lowerBound
                                ck_layernorm_forward_f32(y + o * dim, mb + o, rb + o, xb + o * dim, wb, bb, eps, r.count, dim)
                            }
                        }
                    }
                }
            }
        }
        return LayerNormTape(x: x, mean: mean, rstd: rstd)
    }

    /// dx(rows, dim) += LN'ᵀ·dy; dweight, dbias (at `path`) += their row sums. Rows are split across threads with
    /// per-thread partial dweight/dbias, summed at the end, so the result does not depend on scheduling order
    /// beyond float addition of the partials.
    public func backward(
        _ dy: UnsafePointer<Float>, tape: LayerNormTape, dx: UnsafeMutablePointer<Float>, gradients: Gradients, path: String,
        on executor: Executor
    ) {
        let rows = tape.x.count / dim, d = dim
        let chunks = min(executor.threads, max(1, rows / max(1, 4096 / d)))
        let per = (rows + chunks - 1) / chunks
        parameter("weight").withUnsafeFloats { w in
            tape.x.withUnsafeFloats { xp in
                tape.mean.withUnsafeFloats { mp in
                    tape.rstd.withUnsafeFloats { rp in
                        // (chunks, 2·dim): each chunk's dweight | dbias.
                        executor.withScratch(floats: chunks * 2 * d) { partial in
                            partial.update(repeating: 0, count: chunks * 2 * d)
                            let (wb, xb, mb, rb) = (w.baseAddress!, xp.baseAddress!, mp.baseAddress!, rp.baseAddress!)
                            executor.parallelChunks(chunks) { range in
                                for c in range {
                                    let lo = c * per, hi = min(rows, lo + per)
                                    if lo >= hi { continue }
                                    let pw = partial + c * 2 * d
                                    ck_layernorm_backward_f32(
                                        dx + lo * d, pw, pw + d, dy + lo * d, xb + lo * d, wb, mb + lo, rb + lo, hi - lo, d)
                                }
                            }
                            let gw = gradients.buffer(path, "weight"), gb = gradients.buffer(path, "bias")
                            for c in 0..<chunks {
                                let pw = partial + c * 2 * d
                                if let gw { for j in 0..<d { gw[j] += pw[j] } }
                                if let gb { for j in 0..<d { gb[j] += pw[d + j] } }
                            }
                        }
                    }
                }
            }
        }
    }
}
