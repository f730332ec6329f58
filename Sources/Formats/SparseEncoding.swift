import Layers
import Tensors

/// How an artifact stores a pruned fp32 weight: whichever of these is smallest for its density.
///
/// - `f32`: dense, 32 bits per weight.
/// - `bitmask`: one bit per weight (row-major) + the nonzero values: N/8 + 4·nnz bytes; smallest from ~3 % density
///   up to ~97 %.
/// - `csr`: per output row, the nonzeros' column (u16, little-endian, stored as bytes) and value, with row starts
///   (i32): 6·nnz + 4·(rows + 1) bytes; smallest below ~3 % density.
///
/// Parts are stored as `<name>.<part>` next to nothing else: the manifest lists `<name>` with its logical (dense)
/// shape and the encoding, and loading rebuilds the dense tensor before anything else sees it.
public enum SparseEncoding {
    public static let bitmask = "bitmask"
    public static let csr = "csr"

    /// Bytes each encoding needs for a weight of `count` values in `rows` rows with `nonzeros` nonzeros.
    public static func sizes(count: Int, rows: Int, nonzeros: Int) -> [(encoding: String, bytes: Int)] {
        [("f32", 4 * count), (bitmask, (count + 7) / 8 + 4 * nonzeros), (csr, 6 * nonzeros + 4 * (rows + 1))]
    }

    /// The smallest encoding for `t` (rows = first axis); `f32` for anything but a float32 matrix, and for a weight
    /// whose rows are wider than a 16-bit column index when CSR would be chosen.
    public static func choose(_ t: Tensor) -> (encoding: String, bytes: Int) {
        guard t.dtype == .float32, t.rank >= 2 else { return ("f32", t.byteCount) }
        let nonzeros = t.withUnsafeFloats { p in p.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
        let cols = t.count / t.shape[0]
        return sizes(count: t.count, rows: t.shape[0], nonzeros: nonzeros)
            .filter { $0.encoding != csr || cols <= 65536 }
            .min { $0.bytes < $1.bytes }!
    }

    /// Bits per weight of the encoding ``choose(_:)`` picks.
    public static func bitsPerWeight(_ t: Tensor) -> Double { Double(choose(t).bytes * 8) / Double(max(t.count, 1)) }

    /// The stored parts of `t` under `encoding`, keyed by `<name>.<part>`.
    public static func encode(_ t: Tensor, name: String, encoding: String) -> [String: Tensor] {
        let v = t.floats
        let rows = t.shape[0], cols = t.count / rows
        switch encoding {
        case bitmask:
            var bits = [UInt8](repeating: 0, count: (v.count + 7) / 8)
            var values: [Float] = []
            for (i, x) in v.enumerated() where x != 0 {
                bits[i / 8] |= 1 << UInt8(i % 8)
                values.append(x)
            }
            return [
                name + ".mask": Tensor(shape: [bits.count], integers: bits, dtype: .uint8),
                name + ".values": Tensor(shape: [values.count], floats: values),
            ]
        case csr:
            var starts: [Int32] = [0]
            var columns: [UInt8] = []
            var values: [Float] = []
            for r in 0..<rows {
                for c in 0..<cols where v[r * cols + c] != 0 {
                    columns += [UInt8(c & 0xff), UInt8(c >> 8)]
                    values.append(v[r * cols + c])
                }
                starts.append(Int32(values.count))
            }
            return [
                name + ".row_starts": Tensor(shape: [starts.count], integers: starts, dtype: .int32),
                name + ".columns": Tensor(shape: [columns.count], integers: columns, dtype: .uint8),
                name + ".values": Tensor(shape: [values.count], floats: values),
            ]
        default:
            return [name: t]
        }
    }

    /// Part names of `encoding`.
    static func parts(_ encoding: String) -> [String] {
        switch encoding {
        case bitmask: return ["mask", "values"]
        case csr: return ["row_starts", "columns", "values"]
        default: return []
        }
    }

    /// Rebuilds the dense tensor `name` of `shape` from its parts in `tensors` (which are removed); errors name the
    /// file and tensor when a part is missing or inconsistent.
    static func decode(name: String, shape: [Int], encoding: String, from tensors: inout [String: Tensor], file: String) throws -> Tensor {
        func part(_ p: String, _ dtype: DType) throws -> Tensor {
            guard let t = tensors.removeValue(forKey: name + "." + p) else {
                throw FormatError.invalid(file: file, message: "tensor '\(name)' (\(encoding)) has no part '\(name).\(p)'")
            }
            guard t.dtype == dtype, t.rank == 1 else {
                throw FormatError.invalid(file: file, message: "part '\(name).\(p)' must be a \(dtype.rawValue) vector, got \(t.dtype.rawValue) \(t.shape)")
            }
            return t
        }
        guard shape.count >= 2, let count = MemoryBudget.elementCount(shape), count > 0 else {
            throw FormatError.invalid(file: file, message: "tensor '\(name)' (\(encoding)) needs a matrix shape, got \(shape)")
        }
        let bad = { (why: String) in FormatError.invalid(file: file, message: "tensor '\(name)' (\(encoding)): \(why)") }
        var dense = [Float](repeating: 0, count: count)
        switch encoding {
        case bitmask:
            let mask = try part("mask", .uint8).withUnsafeElements(as: UInt8.self) { Array($0) }
            let values = try part("values", .float32).floats
            guard mask.count == (count + 7) / 8 else { throw bad("mask has \(mask.count) bytes for \(count) weights") }
            var next = 0
            for i in 0..<count where mask[i / 8] & (1 << UInt8(i % 8)) != 0 {
                guard next < values.count else { throw bad("the mask has more bits set than the \(values.count) values") }
                dense[i] = values[next]
                next += 1
            }
            guard next == values.count else { throw bad("\(values.count) values for \(next) set bits") }
        case csr:
            let rows = shape[0], cols = count / rows
            let starts = try part("row_starts", .int32).withUnsafeElements(as: Int32.self) { Array($0) }
            let columns = try part("columns", .uint8).withUnsafeElements(as: UInt8.self) { Array($0) }
            let values = try part("values", .float32).floats
            guard starts.count == rows + 1, starts.first == 0, Int(starts.last!) == values.count, columns.count == 2 * values.count,
                zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 })
            else { throw bad("row_starts, columns and values do not agree") }
            for r in 0..<rows {
                for i in Int(starts[r])..<Int(starts[r + 1]) {
                    let c = Int(columns[2 * i]) | Int(columns[2 * i + 1]) << 8
                    guard c < cols else { throw bad("column \(c) outside \(cols)") }
                    dense[r * cols + c] = values[i]
                }
            }
        default:
            throw bad("unknown encoding")
        }
        return Tensor(shape: shape, floats: dense)
    }

    /// ``decode(name:shape:encoding:from:file:)`` for tests (file name "test").
    public static func decodeForTesting(name: String, shape: [Int], encoding: String, from tensors: inout [String: Tensor]) throws -> Tensor {
        try decode(name: name, shape: shape, encoding: encoding, from: &tensors, file: "test")
    }
}
