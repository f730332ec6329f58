import CKernels

/// A pruned int8 weight W (n, k) in the "b4" blocked-sparse layout of ``ck_spmm_b4_u8s8_f32``: per output row, the
/// groups of 4 consecutive inputs that hold a nonzero, so `y = dequant(u8 x · Wᵀ)` reads only those groups and gives
/// bit for bit what the dense u8×s8 GEMM gives on the same weight.
///
/// Whether it beats the dense GEMM depends on density and rows per call; ``isFaster(rows:)`` uses the crossovers
/// measured by `Tests/CKernelsC/bench_sparse.c` (BENCHMARKS.md, "Pruning (issue 8)").
///
/// `@unchecked Sendable`: the arrays are written once in init and only read afterwards.
public final class SparseInt8Matrix: @unchecked Sendable {
    public let n: Int
    public let k: Int
    /// Nonzero weights / (n · k).
    public let density: Double
    /// (n + 1) offsets into ``groups`` (values: 4 per block).
    let blockStarts: [Int32]
    let groups: [UInt16]
    let values: [Int8]
    /// Σ of each output row's weights (for the activation zero point).
    let columnSums: [Int32]

    /// Densities at or below which the sparse int8 kernel beats the dense u8×s8 GEMM, by rows per call, for the ISA
    /// in use; measured by `Tests/CKernelsC/bench_sparse.c` (BENCHMARKS.md "Pruning (issue 8)", int8 tables). With
    /// AVX-512 VNNI the dense kernel does 64 multiply-adds per instruction and sparse lost at every density with 1
    /// and 8 rows (0.29–0.57× at density 0.05–0.10); it won only at 32 rows and density 0.05 (1.25–1.44×). With
    /// AVX2 it won from 8 rows up to density 0.10 (1.46–1.83×; 0.20: 0.99–1.18×), at 1 row only on one shape.
    /// Density 0 means never (bar an all-zero weight). The scalar level was not measured: dense.
    public static var crossover: [(rows: Int, density: Double)] {
        switch Int(ck_isa()) {
        case Int(CK_ISA_AVX512): return [(1, 0), (32, 0.05)]
        case Int(CK_ISA_AVX2): return [(1, 0), (8, 0.10)]
        default: return [(1, 0)]
        }
    }

    /// The density below which a weight is worth keeping blocked at all.
    public static var maximumUsefulDensity: Double { crossover.map(\.density).max() ?? 0 }

    /// The blocked layout of `weight` (n, k) int8; nil when it is too dense to ever win or k exceeds the 16-bit
    /// group index.
    public init?(_ weight: Tensor, maximumDensity: Double = SparseInt8Matrix.maximumUsefulDensity) {
        precondition(weight.rank == 2 && weight.dtype == .int8, "SparseInt8Matrix needs a 2-D int8 weight, got \(weight.dtype) \(weight.shape)")
        let n = weight.shape[0], k = weight.shape[1]
        self.n = n
        self.k = k
        guard n * k > 0, (k + 3) / 4 <= 65536 else { return nil }
        let nonzero = weight.withUnsafeElements(as: Int8.self) { p in p.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
        density = Double(nonzero) / Double(n * k)
        guard density <= maximumDensity else { return nil }
        let blocks = weight.withUnsafeElements(as: Int8.self) { ck_b4_count_blocks($0.baseAddress!, n, k) }
        var starts = [Int32](repeating: 0, count: n + 1)
        var groups = [UInt16](repeating: 0, count: max(blocks, 1))
        var values = [Int8](repeating: 0, count: max(4 * blocks, 4))
        var sums = [Int32](repeating: 0, count: n)
        weight.withUnsafeElements(as: Int8.self) { w in
            ck_b4_pack_s8(w.baseAddress!, n, k, &starts, &groups, &values, &sums)
        }
        blockStarts = starts
        self.groups = groups
        self.values = values
        columnSums = sums
    }

    /// Blocks kept (groups of 4 inputs holding a nonzero).
    public var blockCount: Int { Int(blockStarts.last ?? 0) }

    /// Whether the sparse kernel is expected to beat the dense int8 GEMM for calls of `rows` rows.
    public func isFaster(rows: Int) -> Bool {
        guard k >= SparseMatrix.minimumInputs else { return false }
        let limit = Self.crossover.last { $0.rows <= rows }?.density ?? Self.crossover.first!.density
        return density <= limit
    }

    /// y(m, n) = dequant(a(m, k) · Wᵀ) with per-row activation scale and zero point and per-output weight scale, as
    /// ``QuantOps/gemmU8S8(_:aScale:aZeroPoint:packed:weightScale:bias:into:m:n:k:on:)``; output rows split across
    /// the executor's threads.
    public func multiply(
        _ a: UnsafePointer<UInt8>, aScale: UnsafePointer<Float>, aZeroPoint: UnsafePointer<Int32>,
        weightScale: UnsafePointer<Float>, bias: UnsafePointer<Float>?, rows m: Int, into y: UnsafeMutablePointer<Float>,
        on executor: Executor
    ) {
        if m == 0 { return }
        let (n, k, blocks) = (self.n, self.k, blockCount)
        withBuffers { s, g, v, c in
            let bytes = ck_spmm_b4_scratch_bytes(k)
            let call = { (o0: Int, o1: Int) in
                executor.withScratch(floats: (bytes + 3) / 4) { scratch in
                    ck_spmm_b4_u8s8_f32(s, g, v, c, o0, o1, a, k, m, aScale, aZeroPoint, weightScale, bias, y, n, scratch)
                }
            }
            // Below ~1 M multiply-adds of blocks a second thread costs more to wake than it saves.
            if executor.threads <= 1 || m * blocks * 4 < 1 << 20 { call(0, n); return }
            executor.columnChunks(n, call)
        }
    }

    /// The scalar twin (for tests).
    public func multiplyReference(
        _ a: UnsafePointer<UInt8>, aScale: UnsafePointer<Float>, aZeroPoint: UnsafePointer<Int32>,
        weightScale: UnsafePointer<Float>, bias: UnsafePointer<Float>?, rows m: Int, into y: UnsafeMutablePointer<Float>
    ) {
        let (n, k) = (self.n, self.k)
        withBuffers { s, g, v, c in
            ck_spmm_b4_u8s8_f32_ref(s, g, v, c, 0, n, a, k, m, aScale, aZeroPoint, weightScale, bias, y, n, nil)
        }
    }

    private func withBuffers(
        _ body: (UnsafePointer<Int32>, UnsafePointer<UInt16>, UnsafePointer<Int8>, UnsafePointer<Int32>) -> Void
    ) {
        blockStarts.withUnsafeBufferPointer { s in
            groups.withUnsafeBufferPointer { g in
                values.withUnsafeBufferPointer { v in
                    columnSums.withUnsafeBufferPointer { c in body(s.baseAddress!, g.baseAddress!, v.baseAddress!, c.baseAddress!) }
                }
            }
        }
    }
}
