import Foundation
import Tensors

/// Integer codes and scales for one weight matrix W (rows = out, cols = in), symmetric:
/// `W[r, c] ≈ codes[r, c] · scales[r, group(c)]`.
///
/// int8: codes in [-127, 127] (−128 is never produced: the AVX2 int8 path would fall back to scalar for it).
/// int4: codes in [-8, 7] with scale = 2·max|w|/15 over the group (the GPTQ reference's symmetric grid);
/// stored as `ck_block_q4` with q = code + 8.
public struct QuantizedWeight: Sendable {
    public let rows: Int
    public let cols: Int
    public let bits: Int
    /// 0 = one scale per row (per output channel); otherwise the group length along `cols`.
    public let groupSize: Int
    /// (rows, cols)
    public var codes: [Int8]
    /// (rows, groups)
    public var scales: [Float]

    /// Groups per row.
    public var groups: Int { groupSize == 0 ? 1 : (cols + groupSize - 1) / groupSize }

    /// W as fp32 (rows, cols).
    public func dequantized() -> Tensor {
        var out = [Float](repeating: 0, count: rows * cols)
        let g = groups
        for r in 0..<rows {
            for c in 0..<cols {
                out[r * cols + c] = Float(codes[r * cols + c]) * scales[r * g + (groupSize == 0 ? 0 : c / groupSize)]
            }
        }
        return Tensor(shape: [rows, cols], floats: out)
    }
}

/// The symmetric grid for `bits`: code range and the scale for a given max |w|.
@usableFromInline
struct SymmetricGrid {
    let lo: Float
    let hi: Float
    /// scale = maxAbs / divisor.
    let divisor: Float

    init(bits: Int) {
        if bits == 8 { (lo, hi, divisor) = (-127, 127, 127) } else { (lo, hi, divisor) = (-8, 7, 7.5) }
    }

    func scale(maxAbs: Float) -> Float { maxAbs > 0 ? maxAbs / divisor : 1 }

    /// The scale for a group of weights: max|w| / divisor, or with `search`, the shrunk scale p · max|w| / divisor
    /// (p from 1 down to 0.8 in steps of 0.01) minimizing Σ |w − q(w)|^2.4 — the GPTQ reference's `mse` grid.
    func scale(_ values: UnsafeBufferPointer<Float>, stride: Int = 1, search: Bool) -> Float {
        var m: Float = 0
        for i in Swift.stride(from: 0, to: values.count, by: stride) { m = Swift.max(m, abs(values[i])) }
        let base = scale(maxAbs: m)
        guard search, m > 0 else { return base }
        var best = base, bestErr = Float.infinity
        for step in 0...20 {
            let s = base * (1 - Float(step) * 0.01)
            var err: Float = 0
            for i in Swift.stride(from: 0, to: values.count, by: stride) {
                let d = abs(values[i] - code(values[i], scale: s) * s)
                err += powf(d, 2.4)
            }
            if err < bestErr { bestErr = err; best = s }
        }
        return best
    }

    /// round-half-to-even(w / scale), clamped to the code range.
    @inline(__always)
    func code(_ w: Float, scale: Float) -> Float { min(hi, max(lo, (w / scale).rounded(.toNearestOrEven))) }
}
