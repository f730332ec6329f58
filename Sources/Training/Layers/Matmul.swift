import CKernels
import Tensors

/// The fully connected forward and backward on raw buffers (llm.c `matmul_forward` / `matmul_backward`), shared
/// by Linear, Conv2D (on im2col rows) and the BERT blocks. Weights are PyTorch (out, in).
///
/// Every GEMM runs on ``ck_sgemm_packed`` (the AVX-512/AVX2 kernel of inference) after packing its right-hand side
/// into executor scratch, output columns split across the executor's threads. Measured on this host (perf, one
/// thread): with OpenBLAS 0.3.21, which does not recognise the virtual CPU and falls back to its SSE3 "PRESCOTT"
/// kernel, 60 % (Fashion CNN) and 72 % (MiniLM-L3) of a training step was `sgemm_kernel_PRESCOTT`.
enum LinearKernel {
    /// out(rows, n) = inp(rows, k) · weight(n, k)ᵀ + bias(n).
    static func forward(
        _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        rows: Int, inFeatures k: Int, outFeatures n: Int, on executor: Executor
    ) {
        executor.withScratch(floats: ck_sgemm_packed_size(n, k)) { packed in
            ck_sgemm_pack_b(weight, n, k, packed)
            TrainingGEMM.run(packed, a: inp, lda: k, bias: bias, c: out, ldc: n, m: rows, n: n, k: k, accumulate: false, on: executor)
        }
    }

    /// dweight(n, k) += doutᵀ · inp; dbias(n) += Σ_rows dout; dinp(rows, k) (+)= dout · weight.
    /// dout rows have stride `ldOut` (≥ n) so a column block of a wider matrix (one of Q|K|V) can be passed.
    /// `accumulateInput`: add into dinp instead of overwriting it.
    static func backward(
        dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?,
        dout: UnsafePointer<Float>, ldOut: Int? = nil, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, inFeatures k: Int, outFeatures n: Int, accumulateInput: Bool = false, on executor: Executor
    ) {
        let ld = ldOut ?? n
        if let dweight {
            // doutᵀ (n, rows) · inp (rows, k), reduced over rows by ck_sgemm_tn_f32 straight from both row-major
            // buffers: no transpose of dout, no packed copy of inp.
            TrainingGEMM.accumulateTransposed(
                dweight, ldc: k, a: dout, lda: ld, b: inp, ldb: k, rows: rows, m: n, n: k, on: executor)
        }
        if let dbias { ck_colsum_f32(dbias, dout, ld, rows, n) }
        if let dinp {
            executor.withScratch(floats: ck_sgemm_packed_size(k, n)) { packed in
                ck_sgemm_pack_b_kn(weight, k, n, k, packed)  // weight (n, k) as the right operand of dout · weight
                TrainingGEMM.run(
                    packed, a: dout, lda: ld, c: dinp, ldc: k, m: rows, n: k, k: n, accumulate: accumulateInput, on: executor)
            }
        }
    }
}

/// c(m, n) (+)= a(m, k) · B with B already packed for ``ck_sgemm_packed`` (n outputs, k inner).
enum TrainingGEMM {
    static func run(
        _ packed: UnsafePointer<Float>, a: UnsafePointer<Float>, lda: Int, bias: UnsafePointer<Float>? = nil,
        c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, k: Int, accumulate: Bool, on executor: Executor
    ) {
        if m == 0 || n == 0 { return }
        // ck_sgemm_packed walks every row of `a` once per 32-column panel pair. With many rows (im2col rows of a
        // convolution: 25,088 × 288 floats = 29 MB per Fashion-CNN batch) that streamed `a` from memory n/32 times,
        // so tall products run in row blocks whose slice of `a` (~192 KB) stays in L2 across the panels, and threads
        // take row ranges (each reads all of the small packed B). Short products keep the column split.
        let block = max(48, 196_608 / (4 * max(1, k)) / 12 * 12)
        let tall = m >= 4 * block
        let rowBlocks = { (out: UnsafeMutablePointer<Float>, ldo: Int, r0: Int, r1: Int) in
            var i = r0
            while i < r1 {
                let rows = min(block, r1 - i)
                ck_sgemm_packed(a + i * lda, lda, packed, bias, out + i * ldo, ldo, rows, n, k, 0, n)
                i += rows
            }
        }
        let multiply = { (out: UnsafeMutablePointer<Float>, ldo: Int) in
            // Below ~1 MFLOP a second thread costs more to wake than it saves (as PackedMatrix).
            if executor.threads <= 1 || m * n * k < 1 << 20 {
                if tall { rowBlocks(out, ldo, 0, m) } else { ck_sgemm_packed(a, lda, packed, bias, out, ldo, m, n, k, 0, n) }
            } else if tall {
                let per = (m + executor.threads - 1) / executor.threads
                executor.parallelChunks(executor.threads) { r in
                    for t in r { rowBlocks(out, ldo, min(m, t * per), min(m, (t + 1) * per)) }
                }
            } else {
                executor.columnChunks(n) { n0, n1 in ck_sgemm_packed(a, lda, packed, bias, out, ldo, m, n, k, n0, n1) }
            }
        }
        guard accumulate else { return multiply(c, ldc) }
        executor.withScratch(floats: m * n) { tmp in
            multiply(tmp, n)
            for i in 0..<m {
                let dst = c + i * ldc, src = tmp + i * n
                for j in 0..<n { dst[j] += src[j] }
            }
        }
    }

    /// c(m, n) += aᵀ·b reduced over `rows`: a (rows, m; lda), b (rows, n; ldb), c (m, ldc) — a weight gradient
    /// doutᵀ·x on ``ck_sgemm_tn_f32``. Threads take column ranges when there are enough columns (disjoint parts of c:
    /// the same bits as one thread), otherwise row ranges summed into per-range buffers and added in order, so a run
    /// is bit-identical for a given thread count.
    static func accumulateTransposed(
        _ c: UnsafeMutablePointer<Float>, ldc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        rows: Int, m: Int, n: Int, on executor: Executor
    ) {
        if rows == 0 || m == 0 || n == 0 { return }
        let threads = executor.threads
        if threads <= 1 || m * n * rows < 1 << 20 {
            ck_sgemm_tn_f32(c, ldc, a, lda, b, ldb, 0, rows, m, 0, n)
            return
        }
        if n >= 32 * threads {
            let per = ((n + threads - 1) / threads + 31) / 32 * 32  // whole 32-column tiles per thread
            executor.parallelChunks((n + per - 1) / per) { r in
                for t in r { ck_sgemm_tn_f32(c, ldc, a, lda, b, ldb, 0, rows, m, t * per, min(n, (t + 1) * per)) }
            }
            return
        }
        let per = (rows + threads - 1) / threads, size = m * n
        executor.withScratch(floats: threads * size) { partial in
            partial.initialize(repeating: 0, count: threads * size)
            executor.parallelChunks(threads) { r in
                for t in r { ck_sgemm_tn_f32(partial + t * size, n, a, lda, b, ldb, min(rows, t * per), min(rows, (t + 1) * per), m, 0, n) }
            }
            for t in 0..<threads {
                for i in 0..<m {
                    let dst = c + i * ldc, src = partial + t * size + i * n
                    for j in 0..<n { dst[j] += src[j] }
                }
            }
        }
    }
}
