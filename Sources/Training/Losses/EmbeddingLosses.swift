import Tensors

/// Mean squared error over all elements: L = mean((s − t)²), dL/ds = 2(s − t)/count.
/// For sentence embeddings (N, H) or hidden states (T, H).
public struct MeanSquaredError: Sendable {
    public init() {}

    public func evaluate(_ student: Tensor, target: Tensor) throws -> LossResult {
        guard student.shape == target.shape else { throw TrainingError.badInput("student \(student.shape) vs target \(target.shape)") }
        var grad = Tensor(uninitialized: student.shape)
        var total = 0.0
        let n = Double(student.count)
        grad.withUnsafeMutableFloats { gp in
            student.withUnsafeFloats { sp in
                target.withUnsafeFloats { tp in
                    for i in 0..<gp.count {
                        let d = Double(sp[i]) - Double(tp[i])
                        total += d * d
                        gp[i] = Float(2 * d / n)
                    }
                }
            }
        }
        return LossResult(loss: total / n, gradient: grad)
    }
}

/// Cosine embedding loss: L = mean_rows (1 − cos(s_r, t_r)), with
/// dL/ds_r = −(t_r/(‖s_r‖‖t_r‖) − cos·s_r/‖s_r‖²) / N.
public struct CosineEmbeddingLoss: Sendable {
    public init() {}

    public func evaluate(_ student: Tensor, target: Tensor) throws -> LossResult {
        guard student.shape == target.shape else { throw TrainingError.badInput("student \(student.shape) vs target \(target.shape)") }
        let h = student.shape.last!, n = student.count / h
        var grad = Tensor(uninitialized: student.shape)
        var total = 0.0
        grad.withUnsafeMutableFloats { gp in
            student.withUnsafeFloats { sp in
                target.withUnsafeFloats { tp in
                    for r in 0..<n {
                        let o = r * h
                        var ss = 0.0, tt = 0.0, st = 0.0
                        for j in 0..<h {
                            let s = Double(sp[o + j]), t = Double(tp[o + j])
                            ss += s * s; tt += t * t; st += s * t
                        }
                        let ns = max(ss.squareRoot(), 1e-12), nt = max(tt.squareRoot(), 1e-12)
                        let cos = st / (ns * nt)
                        total += 1 - cos
                        for j in 0..<h {
                            let g = -(Double(tp[o + j]) / (ns * nt) - cos * Double(sp[o + j]) / (ns * ns)) / Double(n)
                            gp[o + j] = Float(g)
                        }
                    }
                }
            }
        }
        return LossResult(loss: total / Double(n), gradient: grad)
    }
}
