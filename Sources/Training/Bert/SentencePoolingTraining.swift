import Tensors

/// Mean pooling over packed sequences (sentence-transformers' Pooling, mean mode), forward and backward.
public enum MeanPooling {
    /// pooled(S, H)[s] = mean of hidden(T, H) over sequence s's rows.
    public static func forward(_ hidden: Tensor, lengths: [Int]) -> Tensor {
        let h = hidden.shape[1]
        var out = Tensor(zeros: [lengths.count, h])  // (S, H)
        out.withUnsafeMutableFloats { op in
            hidden.withUnsafeFloats { hp in
                var row = 0
                for (s, len) in lengths.enumerated() {
                    let dst = op.baseAddress! + s * h
                    for r in row..<(row + len) { let src = hp.baseAddress! + r * h; for j in 0..<h { dst[j] += src[j] } }
                    let inv = 1 / Float(len)
                    for j in 0..<h { dst[j] *= inv }
                    row += len
                }
            }
        }
        return out
    }

    /// dhidden(T, H)[t] = dpooled[s] / len(s) for each token t of sequence s.
    public static func backward(_ dPooled: Tensor, lengths: [Int]) -> Tensor {
        let h = dPooled.shape[1]
        var dx = Tensor(uninitialized: [lengths.reduce(0, +), h])  // (T, H)
        dx.withUnsafeMutableFloats { xp in
            dPooled.withUnsafeFloats { dp in
                var row = 0
                for (s, len) in lengths.enumerated() {
                    let inv = 1 / Float(len)
                    for r in row..<(row + len) { for j in 0..<h { xp[r * h + j] = dp[s * h + j] * inv } }
                    row += len
                }
            }
        }
        return dx
    }
}

/// Row-wise L2 normalization y = x / max(‖x‖, eps) (sentence-transformers' Normalize), keeping y and the norms.
public enum L2Normalize {
    public static let epsilon: Float = 1e-12

    /// y(rows, cols) and each row's norm (before the eps floor).
    public static func forward(_ x: Tensor) -> (y: Tensor, norms: [Float]) {
        let cols = x.shape.last!, rows = x.count / cols
        var y = x
        var norms = [Float](repeating: 0, count: rows)
        y.withUnsafeMutableFloats { yp in
            for r in 0..<rows {
                let row = yp.baseAddress! + r * cols
                var ss = 0.0
                for j in 0..<cols { ss += Double(row[j]) * Double(row[j]) }
                norms[r] = Float(ss.squareRoot())
                let inv = 1 / max(norms[r], epsilon)
                for j in 0..<cols { row[j] *= inv }
            }
        }
        return (y, norms)
    }

    /// dx = (dy − y·(y·dy)) / ‖x‖; below the eps floor the map is linear, dx = dy / eps.
    public static func backward(_ dy: Tensor, y: Tensor, norms: [Float]) -> Tensor {
        let cols = dy.shape.last!, rows = dy.count / cols
        var dx = Tensor(uninitialized: dy.shape)
        dx.withUnsafeMutableFloats { xp in
            dy.withUnsafeFloats { dp in
                y.withUnsafeFloats { yp in
                    for r in 0..<rows {
                        let o = r * cols
                        if norms[r] < epsilon {
                            for j in 0..<cols { xp[o + j] = dp[o + j] / epsilon }
                            continue
                        }
                        var dot = 0.0
                        for j in 0..<cols { dot += Double(yp[o + j]) * Double(dp[o + j]) }
                        let inv = 1 / norms[r], d = Float(dot)
                        for j in 0..<cols { xp[o + j] = (dp[o + j] - yp[o + j] * d) * inv }
                    }
                }
            }
        }
        return dx
    }
}
