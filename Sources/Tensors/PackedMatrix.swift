import CKernels

/// A weight W (n, k) packed once for ``ck_sgemm_packed``: `y = x · Wᵀ (+ bias)` without re-packing per call.
///
/// Measured on this machine (Zen 4, one thread, M = 23 tokens, MiniLM shapes): ~200 GFLOP/s against OpenBLAS
/// 0.3.21's ~72, which re-packs W on every call and runs Haswell kernels here.
///
/// `@unchecked Sendable`: the packed block is written once in init and only read afterwards.
public final class PackedMatrix: @unchecked Sendable {
    public let n: Int
    public let k: Int
    private let packed: UnsafeMutablePointer<Float>

    /// Packs `weight` (n, k).
    public init(_ weight: Tensor) {
        precondition(weight.rank == 2, "PackedMatrix needs a 2-D weight, got \(weight.shape)")
        n = weight.shape[0]
        k = weight.shape[1]
        let count = ck_sgemm_packed_size(n, k)
        packed = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        weight.toFloat32().withUnsafeFloats { ck_sgemm_pack_b($0.baseAddress!, n, k, packed) }
    }

    deinit { packed.deallocate() }

    /// y(m, n) = x(m, k) · Wᵀ (+ bias(n)), output columns split across the executor's threads.
    public func multiply(
        _ x: UnsafePointer<Float>, rows m: Int, bias: UnsafePointer<Float>? = nil, into y: UnsafeMutablePointer<Float>,
        on executor: Executor
    ) {
        if m == 0 { return }
        // Below ~1 MFLOP a second thread costs more to wake than it saves.
        if executor.threads <= 1 || m * n * k < 1 << 20 {
            ck_sgemm_packed(x, k, packed, bias, y, n, m, n, k, 0, n)
            return
        }
        executor.columnChunks(n) { n0, n1 in ck_sgemm_packed(x, k, packed, bias, y, n, m, n, k, n0, n1) }
    }

    /// x (..., k) → (..., n).
    public func multiply(_ x: Tensor, bias: Tensor? = nil, on executor: Executor) -> Tensor {
        precondition(x.shape.last == k, "input \(x.shape) does not match packed weight (\(n), \(k))")
        let m = x.count / k
        var y = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])
        let x32 = x.toFloat32()
        y.withUnsafeMutableFloats { yp in
            x32.withUnsafeFloats { xp in
                if let bias {
                    bias.withUnsafeFloats { multiply(xp.baseAddress!, rows: m, bias: $0.baseAddress!, into: yp.baseAddress!, on: executor) }
                } else {
                    multiply(xp.baseAddress!, rows: m, into: yp.baseAddress!, on: executor)
                }
            }
        }
        return y
    }
}
