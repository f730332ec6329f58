import Foundation
import Layers

/// `model.json` of an artifact: what the model is, how each tensor is stored, where it came from.
///
/// Version 2 records every BERT layer's widths (`config.layer_shapes`: heads, head size, FFN size), so structurally
/// pruned encoders round-trip, and the sha256 of the weights (`weightsSha256`); version 1 files (uniform layers, no
/// checksum) still load, unverified.
///
/// An artifact is a directory: `model.json`, `model.safetensors` (or `model.safetensors.zst`), the tokenizer
/// files of text models, and `metrics.json`.
public struct ArtifactManifest: Codable, Sendable {
    public static let formatName = "compress-artifact"
    public static let currentVersion = 2
    /// Versions `load` accepts.
    public static let readableVersions: ClosedRange<Int> = 1...2

    public var format: String = ArtifactManifest.formatName
    public var version: Int = ArtifactManifest.currentVersion
    /// `classification` (outputs are class probabilities) or `sentence-embedding`.
    public var task: String
    public var architecture: Architecture
    /// Per tensor: dtype, shape and encoding (`f32` now; quantized encodings later).
    public var tensors: [String: TensorEntry]
    public var provenance: Provenance
    /// The weights file inside the artifact.
    public var weightsFile: String
    /// sha256 (hex) of the uncompressed safetensors bytes, whichever form (`.zst` or raw) is on disk; checked at
    /// load so a flipped byte is an error, not a silently different model. Required from version 2; version 1
    /// artifacts predate it and load without verification.
    public var weightsSha256: String?
    /// Tokenizer files copied next to the weights (text models).
    public var tokenizerFiles: [String]?
    /// Quantized modules by path; they replace the fp32 modules the architecture builds.
    public var modules: [String: QuantizedModuleSpec]?

    public struct TensorEntry: Codable, Sendable, Equatable {
        public var dtype: String
        public var shape: [Int]
        public var encoding: String
    }

    public struct Provenance: Codable, Sendable {
        /// Path of the model the artifact was made from.
        public var source: String
        /// sha256 of the source file (or of a source folder's files in sorted order).
        public var sourceSha256: String
        /// Recipe that produced it, if any.
        public var recipe: String?
        public var toolVersion: String
        public var createdAt: String
        /// Stages applied, in order.
        public var stages: [String]

        public init(source: String, sourceSha256: String, recipe: String?, toolVersion: String, createdAt: String, stages: [String]) {
            self.source = source; self.sourceSha256 = sourceSha256; self.recipe = recipe
            self.toolVersion = toolVersion; self.createdAt = createdAt; self.stages = stages
        }
    }

    /// The module tree's description, enough to rebuild it empty before loading weights.
    public enum Architecture: Codable, Sendable {
        case sequential(inputShape: [Int], layers: [LayerSpec])
        case bert(config: BertConfig, pooling: SentencePooling, maxSequenceLength: Int, hasPooler: Bool)

        private enum CodingKeys: String, CodingKey { case kind, inputShape, layers, config, pooling, maxSequenceLength, hasPooler }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            switch try c.decode(String.self, forKey: .kind) {
            case "sequential":
                self = .sequential(
                    inputShape: try c.decode([Int].self, forKey: .inputShape), layers: try c.decode([LayerSpec].self, forKey: .layers))
            case "bert":
                self = .bert(
                    config: try c.decode(BertConfig.self, forKey: .config), pooling: try c.decode(SentencePooling.self, forKey: .pooling),
                    maxSequenceLength: try c.decode(Int.self, forKey: .maxSequenceLength),
                    hasPooler: try c.decode(Bool.self, forKey: .hasPooler))
            case let kind:
                throw DecodingError.dataCorruptedError(
                    forKey: .kind, in: c, debugDescription: "unknown architecture kind '\(kind)' (sequential, bert)")
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case let .sequential(inputShape, layers):
                try c.encode("sequential", forKey: .kind)
                try c.encode(inputShape, forKey: .inputShape)
                try c.encode(layers, forKey: .layers)
            case let .bert(config, pooling, maxSequenceLength, hasPooler):
                try c.encode("bert", forKey: .kind)
                try c.encode(config, forKey: .config)
                try c.encode(pooling, forKey: .pooling)
                try c.encode(maxSequenceLength, forKey: .maxSequenceLength)
                try c.encode(hasPooler, forKey: .hasPooler)
            }
        }
    }
}

/// The tool's version, recorded in provenance.
public let compressToolVersion = "0.1.0"
