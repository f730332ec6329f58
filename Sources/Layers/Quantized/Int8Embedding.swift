import CKernels
import Tensors

/// A lookup table stored as int8 rows with one scale per row: `table[i] ≈ weight[i] · weight_scale[i]`.
/// Parameters: weight I8 (count, dim), weight_scale (count). For MiniLM's 30522 × 384 word embeddings this is
/// 11.8 MB instead of 46.9 MB.
public final class Int8Embedding: Module, QuantizedModule, EmbeddingTable {
    public let count: Int
    public let dim: Int

    public init(count: Int, dim: Int) {
        self.count = count
        self.dim = dim
        super.init()
        declareParameter("weight", shape: [count, dim], dtype: .int8)
        declareParameter("weight_scale", shape: [count])
    }

    public override var typeName: String { "Int8Embedding" }
    public override var summary: String { "\(count) × \(dim), int8 per row" }

    public var quantSpec: QuantizedModuleSpec {
        QuantizedModuleSpec(kind: .int8Embedding, name: "", inFeatures: dim, outFeatures: count, useBias: false, activation: .linear)
    }

    public static func make(_ s: QuantizedModuleSpec) throws -> any QuantizedModule {
        Int8Embedding(count: s.outFeatures, dim: s.inFeatures)
    }

    public var bitsPerWeight: Double { 8 + 32 / Double(dim) }
    public var parameterEncodings: [String: String] { ["weight": "int8-per-row", "weight_scale": "f32"] }

    public func copyRow(_ index: Int, into destination: UnsafeMutablePointer<Float>) {
        parameter("weight").withUnsafeElements(as: Int8.self) { w in
            parameter("weight_scale").withUnsafeFloats { s in
                ck_dequantize_rows_s8(w.baseAddress! + index * dim, s.baseAddress! + index, 1, dim, destination)
            }
        }
    }
}

/// Something rows can be read from by index: fp32 ``Embedding`` or ``Int8Embedding``.
public protocol EmbeddingTable: Module {
    var count: Int { get }
    var dim: Int { get }
    /// Writes row `index` (dim floats) to `destination`.
    func copyRow(_ index: Int, into destination: UnsafeMutablePointer<Float>)
}
