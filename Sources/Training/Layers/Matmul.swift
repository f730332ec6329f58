import Tensors

/// The fully connected forward and backward on raw buffers (llm.c `matmul_forward` / `matmul_backward`), shared
/// by Linear, Conv2D (on im2col rows) and the BERT blocks. Weights are PyTorch (out, in). GEMMs: OpenBLAS.
enum LinearKernel {
    /// out(rows, n) = inp(rows, k) · weight(n, k)ᵀ + bias(n).
    static func forward(
        _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        rows: Int, inFeatures k: Int, outFeatures n: Int
    ) {
        MatMul.gemm(transA: false, transB: true, m: rows, n: n, k: k, a: inp, lda: k, b: weight, ldb: k, c: out, ldc: n)
        if let bias { Ops.biasAdd(out, bias: bias, rows: rows, cols: n) }
    }

    /// dweight(n, k) += doutᵀ · inp; dbias(n) += Σ_rows dout; dinp(rows, k) (+)= dout · weight.
    /// dout rows have stride `ldOut` (≥ n) so a column block of a wider matrix (one of Q|K|V) can be passed.
    /// `accumulateInput`: add into dinp instead of overwriting it.
    static func backward(
        dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?,
        dout: UnsafePointer<Float>, ldOut: Int? = nil, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, inFeatures k: Int, outFeatures n: Int, accumulateInput: Bool = false
    ) {
        let ld = ldOut ?? n
        if let dweight {
            MatMul.gemm(transA: true, transB: false, m: n, n: k, k: rows, a: dout, lda: ld, b: inp, ldb: k, beta: 1, c: dweight, ldc: k)
        }
        if let dbias {
            for r in 0..<rows {
                let row = dout + r * ld
                for j in 0..<n { dbias[j] += row[j] }
            }
        }
        if let dinp {
            MatMul.gemm(
                transA: false, transB: false, m: rows, n: k, k: n, a: dout, lda: ld, b: weight, ldb: k, beta: accumulateInput ? 1 : 0,
                c: dinp, ldc: k)
        }
    }
}
