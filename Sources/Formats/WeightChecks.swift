import Foundation
import Layers
import Tensors

/// Checks run on every model after its weights are applied, so corrupted files fail at load with the tensor's
/// name instead of producing NaN outputs (or accuracy 0.10) later.
enum WeightChecks {
    /// Every floating-point parameter must be finite. Costs one pass over the weights (~10 ms for MiniLM's 22M).
    static func checkFinite(_ root: Module, file: String) throws {
        for (name, t) in root.namedParameters() where t.dtype.isFloatingPoint {
            let bad = t.dtype == .float32 ? t.withUnsafeFloats { countNonFinite($0) } : t.floats.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            if bad > 0 {
                throw FormatError.invalid(file: file, message: "tensor '\(name)' has \(bad) NaN or infinite values")
            }
        }
    }

    /// Quantization parameters must describe a real grid: scales finite and positive (zero only for a row whose
    /// codes are all zero, which is how an all-zero row is stored), static zero points inside the u8 range,
    /// int4 block scales finite (their sign is part of the q4_0 layout: d = max / −8, and 0 for an all-zero block).
    static func checkQuantization(_ root: Module, file: String) throws {
        for (path, module) in root.namedModules() {
            let prefix = path.isEmpty ? "" : path + "."
            func fail(_ name: String, _ message: String) -> FormatError {
                FormatError.invalid(file: file, message: "tensor '\(prefix)\(name)': \(message)")
            }
            func positiveScales(_ name: String, rows: Tensor?, allowZeroRows: Bool) throws {
                let scales = module.parameter(name).floats
                let codes = rows?.withUnsafeElements(as: Int8.self) { Array($0) }
                let width = rows.map { $0.count / max(scales.count, 1) } ?? 0
                for (i, s) in scales.enumerated() {
                    guard s.isFinite, s >= 0 else { throw fail(name, "scale \(s) at index \(i) is not a positive finite number") }
                    if s == 0 {
                        let zeroRow = allowZeroRows && codes.map { c in c[(i * width)..<((i + 1) * width)].allSatisfy { $0 == 0 } } == true
                        guard zeroRow else { throw fail(name, "scale 0 at index \(i) for a row with non-zero codes") }
                    }
                }
            }
            if let q = module as? Int8Linear {
                try positiveScales("weight_scale", rows: q.parameter("weight"), allowZeroRows: true)
                if q.hasInputScale { try positiveScales("input_scale", rows: nil, allowZeroRows: false) }
                if q.mode == .static {
                    try positiveScales("act_scale", rows: nil, allowZeroRows: false)
                    let z = q.parameter("act_zero_point").int64s[0]
                    guard (0...255).contains(z) else { throw fail("act_zero_point", "zero point \(z) is outside 0...255 (u8 activations)") }
                }
            } else if let q = module as? Int8Embedding {
                try positiveScales("weight_scale", rows: q.parameter("weight"), allowZeroRows: true)
            } else if let q = module as? Int4Linear {
                if q.hasInputScale { try positiveScales("input_scale", rows: nil, allowZeroRows: false) }
                let bad = q.firstNonFiniteBlockScale()
                if let bad { throw fail("weight", "int4 block \(bad) has a NaN or infinite scale") }
            }
        }
    }

    static func countNonFinite(_ p: UnsafeBufferPointer<Float>) -> Int {
        var n = 0
        for x in p where x.bitPattern & 0x7f80_0000 == 0x7f80_0000 { n += 1 }
        return n
    }
}
