import CKernels

/// Integer kernels over raw buffers, dispatched to CKernels, with output columns split across threads.
public enum QuantOps {
    /// Multiply-adds below which an int8 GEMM stays on one thread (a 4M-MAC GEMM takes ~8 µs at ~1 TOPS).
    /// Measured on MiniLM W8A8 batch 1, 2 threads, with the spinning pool: 4M ≈ 1400 sentences/s, 8M ≈ 1350,
    /// 2M ≈ 1035 (splitting the 23×384×384 projections costs more than it saves).
    public static let int8ParallelThreshold = 4 << 20

    /// y(m, n) = dequant(u8 x · s8 wᵀ) with per-row activation scale/zero point and per-channel weight scale.
    public static func gemmU8S8(
        _ a: UnsafePointer<UInt8>, aScale: UnsafePointer<Float>, aZeroPoint: UnsafePointer<Int32>,
        packed: UnsafeRawPointer, weightScale: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        into c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, on executor: Executor
    ) {
        if m * n * k < int8ParallelThreshold {
            ck_gemm_u8s8_f32(a, k, aScale, aZeroPoint, packed, weightScale, bias, c, n, m, n, k, 0, n)
            return
        }
        executor.columnChunks(n) { n0, n1 in
            ck_gemm_u8s8_f32(a, k, aScale, aZeroPoint, packed, weightScale, bias, c, n, m, n, k, n0, n1)
        }
    }

    /// Dynamic per-row asymmetric u8 quantization (ONNX DynamicQuantizeLinear per row).
    public static func quantizeRowsU8(
        _ x: UnsafePointer<Float>, rows: Int, k: Int, into q: UnsafeMutablePointer<UInt8>,
        scale: UnsafeMutablePointer<Float>, zeroPoint: UnsafeMutablePointer<Int32>
    ) {
        ck_quantize_rows_u8(x, rows, k, q, scale, zeroPoint)
    }

    /// y(m, n) = x(m, k) · dequant(q4 blocks)ᵀ (+ bias), dequantizing on the fly.
    public static func gemmQ4(
        _ a: UnsafePointer<Float>, blocks: UnsafeRawPointer, bias: UnsafePointer<Float>?,
        into c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, on executor: Executor
    ) {
        let w = blocks.assumingMemoryBound(to: ck_block_q4.self)
        executor.columnChunks(n) { n0, n1 in ck_gemm_q4_f32(a, k, w, bias, c, n, m, n, k, n0, n1) }
    }

    /// Bytes of one row of q4 blocks for k inputs.
    public static func q4RowBytes(_ k: Int) -> Int { ck_q4_blocks_per_row(k) * MemoryLayout<ck_block_q4>.stride }
}
