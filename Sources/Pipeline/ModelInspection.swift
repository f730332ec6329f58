import Formats
import Foundation
import Layers
import Tensors

/// What `compress inspect` reports about a model: every module holding parameters, with its shapes, stored values,
/// bytes and encodings, plus totals and provenance. Encodes to the `inspect --json` document; ``text`` is the table.
///
/// ```swift
/// let report = ModelInspection(try ModelLoader.load("models/all-MiniLM-L6-v2"), name: "models/all-MiniLM-L6-v2")
/// print(report.text)
/// ```
public struct ModelInspection: Codable, Sendable {
    /// One module that holds parameters.
    public struct Row: Codable, Sendable {
        public var path: String
        public var type: String
        public var summary: String
        /// Stored values (codes and scales for quantized modules).
        public var parameters: Int
        public var bytes: Int
        /// Storage encodings of its tensors, joined with `+` (`f32`, `int8-per-channel`, …).
        public var encoding: String
        public var bitsPerWeight: Double
        /// Nonzero fraction of the module's weight (1 for dense; pruning lowers it).
        public var density: Double?
        /// The sparse kernel a pruned weight runs on and the call sizes (rows) for which the measured crossover picks
        /// it over the dense GEMM, e.g. `int8-b4 sparse for 1–7 rows`; nil when every call runs dense.
        public var kernel: String?
        /// Tensor name → shape.
        public var tensors: [String: [Int]]
    }

    /// The model as the user named it.
    public var model: String
    public var format: String
    /// `sentence-embedding` or `sequential`.
    public var kind: String
    /// Stored values in all rows.
    public var parameters: Int
    public var bytes: Int
    public var layers: [Row]
    public var provenance: [String: String]
    /// Weights the model represents (a quantized module counts in × out, not its codes); text only.
    public var weights = 0
    /// Header line: input/output shapes or the BERT configuration; text only.
    public var architecture: String?

    // `weights` and `architecture` stay out of the JSON so `inspect --json` keeps its established keys.
    enum CodingKeys: String, CodingKey { case model, format, kind, parameters, bytes, layers, provenance }

    /// Inspects `loaded`; `name` is how the user named it (shown as `model`).
    public init(_ loaded: LoadedModel, name: String) {
        var rows: [Row] = []
        let encodingsByPath = parameterEncodings(loaded.root)
        for (path, module) in loaded.root.namedModules() where !module.parameterNames.isEmpty {
            let prefix = path.isEmpty ? "" : path + "."
            var tensors: [String: [Int]] = [:]
            var count = 0, bytes = 0
            var encodings = Set<String>()
            for name in module.parameterNames {
                let t = module.parameter(name)
                tensors[name] = t.shape
                count += t.count
                bytes += t.byteCount
                encodings.insert(encodingsByPath[prefix + name] ?? "f32")
            }
            var bits = (module as? any QuantizedModule)?.bitsPerWeight ?? 32
            var density: Double?
            var kernel: String?
            if !(module is any QuantizedModule), module.parameterNames.contains("weight"), module.parameter("weight").rank >= 2 {
                // A pruned weight is stored in the smallest sparse encoding (what an artifact would hold).
                let w = module.parameter("weight")
                let chosen = SparseEncoding.choose(w)
                let d = Double(w.withUnsafeFloats { p in p.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }) / Double(max(w.count, 1))
                density = d
                bits = Double(chosen.bytes * 8) / Double(max(w.count, 1))
                if chosen.encoding != "f32" { encodings = [chosen.encoding] }
                if module is Linear || module is Conv2D, d <= SparseMatrix.maximumUsefulDensity,
                    w.count / max(w.shape[0], 1) >= SparseMatrix.minimumInputs,
                    let rows = SparseKernelRows.describe(density: d, crossover: SparseMatrix.crossover)
                {
                    kernel = "fp32-csr sparse for \(rows)"
                }
            }
            if let q = module as? Int8Linear, q.parameter("weight").rank == 2 {
                // Pruned int8 codes: stored like pruned fp32 (smallest of dense, bitmask, CSR) next to the scales.
                let w = q.parameter("weight")
                let chosen = SparseEncoding.chooseInt8(w)
                let d = Double(w.withUnsafeElements(as: Int8.self) { p in p.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }) / Double(max(w.count, 1))
                density = d
                bits = Double(chosen.bytes * 8) / Double(max(w.count, 1)) + 32 / Double(max(q.inFeatures, 1))
                if chosen.encoding != SparseEncoding.int8Dense {
                    encodings.remove(SparseEncoding.int8Dense)
                    encodings.insert(chosen.encoding)
                }
                if let sparse = q.sparseKernel, q.inFeatures >= SparseMatrix.minimumInputs {
                    let table = sparse.kind == "int8-b4" ? SparseInt8Matrix.crossover : SparseMatrix.crossover
                    if let rows = SparseKernelRows.describe(density: sparse.density, crossover: table) {
                        kernel = "\(sparse.kind) sparse for \(rows)"
                    }
                }
            }
            rows.append(
                Row(
                    path: path, type: module.typeName, summary: module.summary, parameters: count, bytes: bytes,
                    encoding: encodings.sorted().joined(separator: "+"), bitsPerWeight: bits, density: density, kernel: kernel,
                    tensors: tensors))
        }
        model = name
        format = loaded.format
        kind = loaded.takesText ? "sentence-embedding" : "sequential"
        parameters = rows.reduce(0) { $0 + $1.parameters }
        bytes = rows.reduce(0) { $0 + $1.bytes }
        layers = rows
        provenance = loaded.provenance
        weights = logicalParameterCount(loaded.root)
        switch loaded.kind {
        case let .sequential(seq):
            architecture =
                "input (N, \(seq.inputShape.map(String.init).joined(separator: ", "))) → output (N, \(seq.outputShape.map(String.init).joined(separator: ", ")))"
        case let .sentenceEncoder(bert, pooling, tok):
            let c = bert.config
            architecture =
                "BERT \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), heads \(c.numAttentionHeads), ffn \(c.intermediateSize); pooling \(pooling.mode.rawValue)\(pooling.normalize ? " + normalize" : ""); max tokens \(tok.maxLength)"
        }
    }

    /// The JSON document `inspect --json` prints (pretty, sorted keys).
    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}
