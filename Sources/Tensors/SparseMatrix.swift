import CKernels

/// A pruned weight W (n, k) in CSR by output row, for ``ck_spmm_csr_f32``: `y = x · Wᵀ` reading only the nonzeros.
///
/// Whether it beats the dense packed GEMM depends on density and on the number of rows; ``isFaster(rows:)`` uses the
/// crossover densities measured by `Benchmarks/SparseBench` (BENCHMARKS.md, "Pruning (issue 8)").
///
/// `@unchecked Sendable`: the arrays are written once in init and only read afterwards.
public final class SparseMatrix: @unchecked Sendable {
    public let n: Int
    public let k: Int
    /// (n + 1) offsets into ``columns``/``values``.
    public let rowStarts: [Int32]
    public let columns: [UInt16]
    public let values: [Float]

    /// Nonzero fraction.
    public var density: Double { Double(values.count) / Double(max(n * k, 1)) }

    /// Densities below which sparse wins, by rows per call, from `Tests/CKernelsC/bench_sparse.c` (one thread, MiniLM's
    /// 1536×384 and 384×1536, and the Fashion CNN's 64×288 convolution GEMM at 196 and 6272 rows): with AVX-512, 1 row
    /// wins up to density 0.30 (1.28×) and loses at 0.40; 8 rows win at 0.10 (1.39–1.73×) and lose at 0.20
    /// (0.71–0.93×); from 32 rows 0.10 wins (1.13–2.36×) and 0.20 lost on three of four shapes (0.53–0.96×; the
    /// earlier 0.20 entry sent the pruned Fashion CNN's conv2, density 0.19, to a slower kernel). See BENCHMARKS.md
    /// "Pruning (issue 8)". A call with rows between two entries takes the entry below it.
    public static let crossover: [(rows: Int, density: Double)] = [(1, 0.25), (8, 0.10), (32, 0.10)]

    /// Inputs per output below which the sparse kernels never win: a 32×9 convolution GEMM (3×3×1 patches) ran
    /// 0.15–0.16× of dense at every density from 0.05 with AVX-512 (0.47–0.74× AVX2), while k = 288 follows the table
    /// above; the cutoff lies between those two measured points.
    public static let minimumInputs = 32

    /// The density below which a weight is worth keeping in CSR at all (the batch-1 crossover).
    public static var maximumUsefulDensity: Double { crossover.map(\.density).max() ?? 0 }

    /// CSR of `weight` (n, k); nil when k exceeds the 16-bit column index or the weight is too dense to ever win.
    public init?(_ weight: Tensor, maximumDensity: Double = SparseMatrix.maximumUsefulDensity) {
        precondition(weight.rank == 2, "SparseMatrix needs a 2-D weight, got \(weight.shape)")
        let n = weight.shape[0], k = weight.shape[1]
        self.n = n
        self.k = k
        guard k <= 65536, n * k > 0 else { return nil }
        let w = weight.toFloat32()
        var starts: [Int32] = [0]
        var cols: [UInt16] = []
        var vals: [Float] = []
        var nonzero = 0
        w.withUnsafeFloats { p in for v in p where v != 0 { nonzero += 1 } }
        guard Double(nonzero) / Double(n * k) <= maximumDensity else { return nil }
        cols.reserveCapacity(nonzero)
        vals.reserveCapacity(nonzero)
        w.withUnsafeFloats { p in
            for o in 0..<n {
                for j in 0..<k where p[o * k + j] != 0 {
                    cols.append(UInt16(j))
                    vals.append(p[o * k + j])
                }
                starts.append(Int32(vals.count))
            }
        }
        rowStarts = starts
        columns = cols
        values = vals
    }

    /// Whether the sparse kernel is expected to beat the dense GEMM for calls of `rows` rows.
    public func isFaster(rows: Int) -> Bool {
        guard k >= Self.minimumInputs else { return false }
        let limit = Self.crossover.last { $0.rows <= rows }?.density ?? Self.crossover.first!.density
        return density <= limit
    }

    /// y(m, n) = x(m, k) · Wᵀ, output rows split across the executor's threads.
    public func multiply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>, on executor: Executor) {
        if m == 0 { return }
        rowStarts.withUnsafeBufferPointer { rp in
            columns.withUnsafeBufferPointer { cp in
                values.withUnsafeBufferPointer { vp in
                    let (r, c, v) = (rp.baseAddress!, cp.baseAddress!, vp.baseAddress!)
                    let scratch = ck_spmm_scratch_floats(k)
                    // Below ~0.25 M multiply-adds a second thread costs more to wake than it saves.
                    if executor.threads <= 1 || m * values.count < 1 << 18 {
                        executor.withScratch(floats: scratch) { s in ck_spmm_csr_f32(r, c, v, 0, n, x, k, m, y, n, s) }
                        return
                    }
                    executor.columnChunks(n) { o0, o1 in
                        executor.withScratch(floats: scratch) { s in ck_spmm_csr_f32(r, c, v, o0, o1, x, k, m, y, n, s) }
                    }
                }
            }
        }
    }

    /// The scalar reference (for tests): same CSR, no SIMD.
    public func multiplyReference(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>) {
        rowStarts.withUnsafeBufferPointer { rp in
            columns.withUnsafeBufferPointer { cp in
                values.withUnsafeBufferPointer { vp in
                    ck_spmm_csr_f32_ref(rp.baseAddress!, cp.baseAddress!, vp.baseAddress!, 0, n, x, k, m, y, n, nil)
                }
            }
        }
    }
}

/// How a crossover table (rows per call → highest density at which the sparse kernel wins) applies to one weight.
public enum SparseKernelRows {
    /// The call sizes that take the sparse kernel for a weight of `density`, e.g. "1–7 rows" or "1+ rows"; nil when
    /// none does. Each entry covers rows from its own count up to the next entry's.
    public static func describe(density: Double, crossover: [(rows: Int, density: Double)]) -> String? {
        var ranges: [String] = []
        for (i, entry) in crossover.enumerated() where density <= entry.density {
            let from = i == 0 ? 1 : entry.rows
            if i + 1 < crossover.count {
                let to = crossover[i + 1].rows - 1
                ranges.append(from == to ? "\(from)" : "\(from)–\(to)")
            } else {
                ranges.append("\(from)+")
            }
        }
        return ranges.isEmpty ? nil : ranges.joined(separator: ", ") + " rows"
    }
}
