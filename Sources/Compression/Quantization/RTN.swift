import Tensors

/// Round-to-nearest quantization: each weight to its nearest code on a symmetric grid.
public enum RTN {
    /// Quantizes W (out, in) with one scale per row (groupSize 0) or per group of `groupSize` inputs.
    ///
    /// ```swift
    /// let q = try RTN.quantize(w, bits: 4, groupSize: 32)   // int4, g32
    /// ```
    /// - scaleSearch: pick each group's scale by the MSE grid search (see `SymmetricGrid.scale`), not max |w|.
    public static func quantize(
        _ w: Tensor, bits: Int, groupSize: Int, symmetric: Bool = true, scaleSearch: Bool = false
    ) throws -> QuantizedWeight {
        guard w.rank == 2 else { throw CompressionError.invalidConfig(key: "weights", message: "RTN needs a 2-D weight, got \(w.shape)") }
        guard symmetric else {
            throw CompressionError.invalidConfig(key: "weights.symmetric", message: "asymmetric weights are not supported")
        }
        let (rows, cols) = (w.shape[0], w.shape[1])
        let grid = SymmetricGrid(bits: bits)
        let gs = groupSize == 0 ? cols : groupSize
        let groups = (cols + gs - 1) / gs
        var codes = [Int8](repeating: 0, count: rows * cols)
        var scales = [Float](repeating: 0, count: rows * groups)
        w.withUnsafeFloats { wp in
            for r in 0..<rows {
                for g in 0..<groups {
                    let c0 = g * gs, c1 = min(cols, c0 + gs)
                    let s = grid.scale(UnsafeBufferPointer(rebasing: wp[(r * cols + c0)..<(r * cols + c1)]), search: scaleSearch)
                    scales[r * groups + g] = s
                    for c in c0..<c1 { codes[r * cols + c] = Int8(grid.code(wp[r * cols + c], scale: s)) }
                }
            }
        }
        return QuantizedWeight(rows: rows, cols: cols, bits: bits, groupSize: groupSize, codes: codes, scales: scales)
    }

    /// One scale for the whole matrix (int8 per-tensor), repeated per row so kernels stay per-channel.
    public static func quantizePerTensor(_ w: Tensor, bits: Int) throws -> QuantizedWeight {
        let grid = SymmetricGrid(bits: bits)
        let m = w.withUnsafeFloats { $0.reduce(Float(0)) { max($0, abs($1)) } }
        let s = grid.scale(maxAbs: m)
        let codes = w.withUnsafeFloats { $0.map { Int8(grid.code($0, scale: s)) } }
        return QuantizedWeight(
            rows: w.shape[0], cols: w.shape[1], bits: bits, groupSize: 0, codes: codes,
            scales: [Float](repeating: s, count: w.shape[0]))
    }
}
