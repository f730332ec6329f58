import COpenBLAS

/// Matrix products through cblas_sgemm. All operands are float32, row-major.
public enum MatMul {
    /// `y = x · wᵀ (+ bias)`: the PyTorch Linear product.
    /// - x: (..., k) activations; w: (n, k) weight; bias: (n) or nil. Returns (..., n).
    public static func linear(_ x: Tensor, weight w: Tensor, bias: Tensor? = nil) -> Tensor {
        let k = x.shape.last!, n = w.shape[0]
        precondition(w.rank == 2 && w.shape[1] == k, "linear: input \(x.shape) does not match weight \(w.shape)")
        let m = x.count / k
        var y = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])
        y.withUnsafeMutableFloats { yp in
            x.withUnsafeFloats { xp in
                w.withUnsafeFloats { wp in
                    linearRaw(xp.baseAddress!, wp.baseAddress!, yp.baseAddress!, m: m, n: n, k: k)
                }
            }
        }
        if let bias { y = addBias(y, bias) }
        return y
    }

    /// `y(m,n) = x(m,k) · w(n,k)ᵀ` into `y` (overwritten).
    @inlinable
    public static func linearRaw(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int
    ) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, x, Int32(k), w, Int32(k), 0, y, Int32(n))
    }

    /// General strided sgemm, row-major: `c = alpha · op(a) · op(b) + beta · c`.
    @inlinable
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `x + bias` broadcast over the last dimension.
    public static func addBias(_ x: Tensor, _ bias: Tensor) -> Tensor {
        let n = bias.count
        precondition(x.shape.last == n, "bias \(bias.shape) does not match \(x.shape)")
        var y = x
        y.withUnsafeMutableFloats { yp in
            bias.withUnsafeFloats { bp in
                let rows = yp.count / n
                for r in 0..<rows {
                    let row = yp.baseAddress! + r * n
                    for j in 0..<n { row[j] += bp[j] }
                }
            }
        }
        return y
    }
}
