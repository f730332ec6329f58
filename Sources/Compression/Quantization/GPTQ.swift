import COpenBLAS
import Tensors

/// GPTQ (Frantar et al., 2022): quantizes W column by column and spreads each column's rounding error over the
/// columns not yet quantized, weighted by the inverse Hessian of the layer's inputs, so the layer's output on
/// the calibration data changes as little as possible. Follows the reference `fasterquant`: dampening
/// `λ = damp · mean(diag H)`, dead inputs zeroed, the upper Cholesky factor of H⁻¹, lazy updates in blocks.
public enum GPTQ {
    /// Accumulates H = 2/n · Σ xᵀx over a layer's calibration inputs.
    public struct HessianAccumulator {
        public let features: Int
        private var sum: [Float]  // (features, features)
        /// Rows seen.
        public private(set) var count = 0

        public init(features: Int) {
            self.features = features
            sum = [Float](repeating: 0, count: features * features)
        }

        /// Adds x (rows, features).
        public mutating func add(_ x: UnsafePointer<Float>, rows: Int) {
            let f = features
            sum.withUnsafeMutableBufferPointer { s in
                MatMul.gemm(
                    transA: true, transB: false, m: f, n: f, k: rows, a: x, lda: f, b: x, ldb: f, beta: 1, c: s.baseAddress!, ldc: f)
            }
            count += rows
        }

        /// H (features, features).
        public func hessian() -> Tensor {
            let k = count > 0 ? 2 / Float(count) : 0
            return Tensor(shape: [features, features], floats: sum.map { $0 * k })
        }
    }

    /// Quantizes W (out, in) given H (in, in).
    /// - actOrder: quantize inputs in order of decreasing H diagonal; group scales are then computed up front
    ///   from the unmodified weights ("static groups") so every group stays a contiguous run of inputs.
    /// - scaleSearch: choose each group's (or row's) scale by the MSE grid search instead of max |w|.
    public static func quantize(
        _ w: Tensor, hessian: Tensor, bits: Int, groupSize: Int, symmetric: Bool = true, actOrder: Bool = false,
        dampening: Double = 0.01, blockSize: Int = 128, scaleSearch: Bool = false
    ) throws -> QuantizedWeight {
        guard symmetric else {
            throw CompressionError.invalidConfig(key: "weights.symmetric", message: "asymmetric weights are not supported")
        }
        let (rows, cols) = (w.shape[0], w.shape[1])
        guard hessian.shape == [cols, cols] else {
            throw CompressionError.invalidConfig(key: "weights", message: "Hessian \(hessian.shape) does not match weight \(w.shape)")
        }
        let grid = SymmetricGrid(bits: bits)
        let gs = groupSize
        let groups = gs == 0 ? 1 : (cols + gs - 1) / gs
        // Wt: (cols, rows), column c of W contiguous.
        var wt = w.transposed2D().floats
        var h = hessian.floats.map(Double.init)
        // Dead inputs: never seen non-zero; their weights cannot matter.
        for i in 0..<cols where h[i * cols + i] == 0 {
            h[i * cols + i] = 1
            for r in 0..<rows { wt[i * rows + r] = 0 }
        }
        var scales = [Float](repeating: 0, count: rows * groups)
        /// Scales of group g from the columns of `wt` that start at `first` (original order unless permuted).
        func setGroupScales(_ g: Int, first: Int) {
            let c1 = min(cols, first + gs)
            wt.withUnsafeBufferPointer { wp in
                for r in 0..<rows {
                    // Column-major in wt: this row's group is every `rows`-th value from (first, r).
                    let start = first * rows + r, span = (c1 - first - 1) * rows + 1
                    scales[r * groups + g] = grid.scale(
                        UnsafeBufferPointer(rebasing: wp[start..<(start + span)]), stride: rows, search: scaleSearch)
                }
            }
        }
        var perm = Array(0..<cols)
        if actOrder {
            if gs > 0 { for g in 0..<groups { setGroupScales(g, first: g * gs) } }
            perm.sort { h[$0 * cols + $0] > h[$1 * cols + $1] }
            wt = perm.flatMap { wt[($0 * rows)..<(($0 + 1) * rows)] }
            var hp = [Double](repeating: 0, count: cols * cols)
            for i in 0..<cols { for j in 0..<cols { hp[i * cols + j] = h[perm[i] * cols + perm[j]] } }
            h = hp
        }
        if gs == 0 {
            wt.withUnsafeBufferPointer { wp in
                for r in 0..<rows {
                    let span = (cols - 1) * rows + 1
                    scales[r] = grid.scale(UnsafeBufferPointer(rebasing: wp[r..<(r + span)]), stride: rows, search: scaleSearch)
                }
            }
        }
        var mean = 0.0
        for i in 0..<cols { mean += h[i * cols + i] }
        let damp = dampening * mean / Double(cols)
        for i in 0..<cols { h[i * cols + i] += damp }
        let hinv = try upperCholeskyOfInverse(h, n: cols)  // (cols, cols) row-major, upper triangle
        var codesT = [Int8](repeating: 0, count: cols * rows)  // (cols, rows), permuted order
        let bs = max(1, blockSize)
        var w1 = [Float](repeating: 0, count: bs * rows), err1 = [Float](repeating: 0, count: bs * rows)
        for i1 in stride(from: 0, to: cols, by: bs) {
            let i2 = min(cols, i1 + bs), count = i2 - i1
            for i in 0..<(count * rows) { w1[i] = wt[i1 * rows + i] }
            for i in 0..<count {
                let col = i1 + i
                if gs > 0, !actOrder, col % gs == 0 {
                    // As the reference: scales from W as updated by earlier blocks (in-block updates live in w1).
                    setGroupScales(col / gs, first: col)
                }
                let d = hinv[col * cols + col]
                let g = gs == 0 ? 0 : (actOrder ? perm[col] / gs : col / gs)
                for r in 0..<rows {
                    let v = w1[i * rows + r], s = scales[r * groups + g]
                    let q = grid.code(v, scale: s)
                    codesT[col * rows + r] = Int8(q)
                    err1[i * rows + r] = (v - q * s) / d
                }
                // Spread the error over the rest of the block.
                for j in (i + 1)..<max(i + 1, count) {
                    let f = hinv[col * cols + i1 + j]
                    if f == 0 { continue }
                    let dst = j * rows, src = i * rows
                    for r in 0..<rows { w1[dst + r] -= err1[src + r] * f }
                }
            }
            // Lazy update of everything after the block: Wt[i2:] -= Hinv[i1:i2, i2:]ᵀ · Err1.
            if i2 < cols {
                hinv.withUnsafeBufferPointer { hp in
                    err1.withUnsafeBufferPointer { ep in
                        wt.withUnsafeMutableBufferPointer { wp in
                            MatMul.gemm(
                                transA: true, transB: false, m: cols - i2, n: rows, k: count, alpha: -1,
                                a: hp.baseAddress! + i1 * cols + i2, lda: cols, b: ep.baseAddress!, ldb: rows,
                                beta: 1, c: wp.baseAddress! + i2 * rows, ldc: rows)
                        }
                    }
                }
            }
        }
        var codes = [Int8](repeating: 0, count: rows * cols)
        for (pc, oc) in perm.enumerated() { for r in 0..<rows { codes[r * cols + oc] = codesT[pc * rows + r] } }
        return QuantizedWeight(rows: rows, cols: cols, bits: bits, groupSize: gs, codes: codes, scales: scales)
    }

    /// U with H⁻¹ = Uᵀ·U (upper triangular), as Float row-major; LAPACK in double.
    static func upperCholeskyOfInverse(_ h: [Double], n: Int) throws -> [Float] {
        var a = h  // symmetric: row- and column-major agree
        var nn = Int32(n), info: Int32 = 0
        let lower: CChar = 76, upper: CChar = 85  // "L", "U"
        withUnsafePointer(to: lower) { dpotrf_($0, &nn, &a, &nn, &info, 1) }
        guard info == 0 else {
            throw CompressionError.calibration("GPTQ: the Hessian is not positive definite (LAPACK info \(info)); raise dampening")
        }
        withUnsafePointer(to: lower) { dpotri_($0, &nn, &a, &nn, &info, 1) }
        guard info == 0 else { throw CompressionError.calibration("GPTQ: cannot invert the Hessian (LAPACK info \(info))") }
        // dpotri filled the lower triangle (column-major); mirror it to get the full symmetric inverse.
        for j in 0..<n { for i in (j + 1)..<max(j + 1, n) { a[i * n + j] = a[j * n + i] } }
        withUnsafePointer(to: upper) { dpotrf_($0, &nn, &a, &nn, &info, 1) }
        guard info == 0 else {
            throw CompressionError.calibration("GPTQ: H⁻¹ is not positive definite (LAPACK info \(info)); raise dampening")
        }
        // Column-major upper factor: U[i, j] = a[i + j·n] for j ≥ i.
        var u = [Float](repeating: 0, count: n * n)
        for j in 0..<n { for i in 0...j { u[i * n + j] = Float(a[i + j * n]) } }
        return u
    }
}
