import Layers
import Tensors

/// How an artifact stores a pruned fp32 or int8 weight: whichever of these is smallest for its density.
///
/// - `f32`: dense, 32 bits per weight.
/// - `bitmask`: one bit per weight (row-major) + the nonzero values: N/8 + 4·nnz bytes; smallest from ~3 % density
///   up to ~97 %.
/// - `csr`: per output row, the nonzeros' column (u16, little-endian, stored as bytes) and value, with row starts
///   (i32): 6·nnz + 4·(rows + 1) bytes; smallest below ~3 % density.
/// - int8 weights (declared `int8-per-channel`, 8 bits per weight dense) the same way with 1-byte values:
///   `int8-bitmask` N/8 + nnz bytes, `int8-csr` 3·nnz + 4·(rows + 1) (smallest below ~6 %); only for weights at
///   most half dense (pruned), see ``chooseInt8(_:)``.
///   Their scales stay separate tensors.
///
/// Parts are stored as `<name>.<part>` next to nothing else: the manifest lists `<name>` with its logical (dense)
/// shape and the encoding, and loading rebuilds the dense tensor before anything else sees it.
public enum SparseEncoding {
    public static let bitmask = "bitmask"
    public static let csr = "csr"
    public static let int8Dense = "int8-per-channel"
    public static let int8Bitmask = "int8-bitmask"
    public static let int8CSR = "int8-csr"

    /// Whether `encoding` is one of the sparse encodings (stored as parts).
    public static func isSparse(_ encoding: String) -> Bool {
        [bitmask, csr, int8Bitmask, int8CSR].contains(encoding)
    }

    /// The dense encoding a sparse one stands for (`f32` or `int8-per-channel`); `encoding` itself otherwise.
    public static func denseEncoding(of encoding: String) -> String {
        switch encoding {
        case bitmask, csr: return "f32"
        case int8Bitmask, int8CSR: return int8Dense
        default: return encoding
        }
    }

    /// The tensor dtype a sparse encoding stores.
    static func valueType(_ encoding: String) -> DType { denseEncoding(of: encoding) == int8Dense ? .int8 : .float32 }

    /// Bytes each encoding needs for a weight of `count` values in `rows` rows with `nonzeros` nonzeros.
    public static func sizes(count: Int, rows: Int, nonzeros: Int) -> [(encoding: String, bytes: Int)] {
        [("f32", 4 * count), (bitmask, (count + 7) / 8 + 4 * nonzeros), (csr, 6 * nonzeros + 4 * (rows + 1))]
    }

    /// The smallest encoding for the int8 matrix `t` declared `int8-per-channel` (its codes only, not the scales);
    /// dense unless at least half the codes are zero, so an unpruned quantized weight (where rounding alone can zero
    /// 10–20 % of the codes) keeps the plain layout other tools expect.
    public static func chooseInt8(_ t: Tensor) -> (encoding: String, bytes: Int) {
        guard t.dtype == .int8, t.rank >= 2 else { return (int8Dense, t.byteCount) }
        let nonzeros = t.withUnsafeElements(as: Int8.self) { p in p.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
        guard 2 * nonzeros <= t.count else { return (int8Dense, t.count) }
        let rows = t.shape[0], cols = t.count / rows
        return [(int8Dense, t.count), (int8Bitmask, (t.count + 7) / 8 + nonzeros), (int8CSR, 3 * nonzeros + 4 * (rows + 1))]
            .filter { $0.0 != int8CSR || cols <= 65536 }
            .min { $0.1 < $1.1 }
            .map { (encoding: $0.0, bytes: $0.1) }!
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
        if encoding == int8Bitmask || encoding == int8CSR { return encodeInt8(t, name: name, encoding: encoding) }
        let v = t.floats
        let rows = t.shape[0], cols = t.count / rows
        switch encoding {
        case bitmask:
            let (bits, values) = bitmaskParts(v)
            return [
                name + ".mask": Tensor(shape: [bits.count], integers: bits, dtype: .uint8),
                name + ".values": Tensor(shape: [values.count], floats: values),
            ]
        case csr:
            let (starts, columns, values) = csrParts(v, rows: rows, cols: cols)
            return [
                name + ".row_starts": Tensor(shape: [starts.count], integers: starts, dtype: .int32),
                name + ".columns": Tensor(shape: [columns.count], integers: columns, dtype: .uint8),
                name + ".values": Tensor(shape: [values.count], floats: values),
            ]
        default:
            return [name: t]
        }
    }

    /// A bit per element (1: nonzero, element i at bit i % 8 of byte i / 8) and the nonzeros in order.
    private static func bitmaskParts<T: Numeric>(_ v: [T]) -> (bits: [UInt8], values: [T]) {
        var bits = [UInt8](repeating: 0, count: (v.count + 7) / 8)
        var values: [T] = []
        for (i, x) in v.enumerated() where x != 0 {
            bits[i / 8] |= 1 << UInt8(i % 8)
            values.append(x)
        }
        return (bits, values)
    }

    /// The nonzeros of a row-major (rows, cols) matrix row by row: where each row starts in `values`, each one's
    /// column as two little-endian bytes, and the values.
    private static func csrParts<T: Numeric>(_ v: [T], rows: Int, cols: Int) -> (starts: [Int32], columns: [UInt8], values: [T]) {
        var starts: [Int32] = [0]
        var columns: [UInt8] = []
        var values: [T] = []
        for r in 0..<rows {
            for c in 0..<cols where v[r * cols + c] != 0 {
                columns += [UInt8(c & 0xff), UInt8(c >> 8)]
                values.append(v[r * cols + c])
            }
            starts.append(Int32(values.count))
        }
        return (starts, columns, values)
    }

    /// The int8 encodings: the same parts as `bitmask`/`csr`, with I8 values.
    private static func encodeInt8(_ t: Tensor, name: String, encoding: String) -> [String: Tensor] {
        let v = t.withUnsafeElements(as: Int8.self) { Array($0) }
        let rows = t.shape[0], cols = t.count / rows
        let values: [Int8]
        var parts: [String: Tensor] = [:]
        if encoding == int8Bitmask {
            let bits: [UInt8]
            (bits, values) = bitmaskParts(v)
            parts[name + ".mask"] = Tensor(shape: [bits.count], integers: bits, dtype: .uint8)
        } else {
            let (starts, columns, nonzeros) = csrParts(v, rows: rows, cols: cols)
            values = nonzeros
            parts[name + ".row_starts"] = Tensor(shape: [starts.count], integers: starts, dtype: .int32)
            parts[name + ".columns"] = Tensor(shape: [columns.count], integers: columns, dtype: .uint8)
        }
        parts[name + ".values"] = Tensor(shape: [values.count], integers: values, dtype: .int8)
        return parts
    }

    /// Part names of `encoding`.
    static func parts(_ encoding: String) -> [String] {
        switch encoding {
        case bitmask, int8Bitmask: return ["mask", "values"]
        case csr, int8CSR: return ["row_starts", "columns", "values"]
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
        let valueType = Self.valueType(encoding)
        let valuesTensor = try part("values", valueType)
        // Positions of the nonzeros in the dense row-major tensor, in the order of `values`.
        var positions: [Int] = []
        positions.reserveCapacity(valuesTensor.count)
        switch encoding {
        case bitmask, int8Bitmask:
            let mask = try part("mask", .uint8).withUnsafeElements(as: UInt8.self) { Array($0) }
            guard mask.count == (count + 7) / 8 else { throw bad("mask has \(mask.count) bytes for \(count) weights") }
            for i in 0..<count where mask[i / 8] & (1 << UInt8(i % 8)) != 0 {
                guard positions.count < valuesTensor.count else { throw bad("the mask has more bits set than the \(valuesTensor.count) values") }
                positions.append(i)
            }
            guard positions.count == valuesTensor.count else { throw bad("\(valuesTensor.count) values for \(positions.count) set bits") }
        case csr, int8CSR:
            let rows = shape[0], cols = count / rows
            let starts = try part("row_starts", .int32).withUnsafeElements(as: Int32.self) { Array($0) }
            let columns = try part("columns", .uint8).withUnsafeElements(as: UInt8.self) { Array($0) }
            guard starts.count == rows + 1, starts.first == 0, Int(starts.last!) == valuesTensor.count, columns.count == 2 * valuesTensor.count,
                zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 })
            else { throw bad("row_starts, columns and values do not agree") }
            for r in 0..<rows {
                for i in Int(starts[r])..<Int(starts[r + 1]) {
                    let c = Int(columns[2 * i]) | Int(columns[2 * i + 1]) << 8
                    guard c < cols else { throw bad("column \(c) outside \(cols)") }
                    positions.append(r * cols + c)
                }
            }
        default:
            throw bad("unknown encoding")
        }
        if valueType == .int8 {
            let values = valuesTensor.withUnsafeElements(as: Int8.self) { Array($0) }
            var dense = [Int8](repeating: 0, count: count)
            for (i, p) in positions.enumerated() { dense[p] = values[i] }
            return Tensor(shape: shape, integers: dense, dtype: .int8)
        }
        let values = valuesTensor.floats
        var dense = [Float](repeating: 0, count: count)
        for (i, p) in positions.enumerated() { dense[p] = values[i] }
        return Tensor(shape: shape, floats: dense)
    }

    /// ``decode(name:shape:encoding:from:file:)`` for tests (file name "test").
    public static func decodeForTesting(name: String, shape: [Int], encoding: String, from tensors: inout [String: Tensor]) throws -> Tensor {
        try decode(name: name, shape: shape, encoding: encoding, from: &tensors, file: "test")
    }
}
