import Tensors

/// The fields of a Hugging Face BERT `config.json` the encoder needs; any size works.
public struct BertConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var hiddenAct: String
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var positionEmbeddingType: String?
    /// Per-layer widths after structured pruning. Hugging Face configs have none: every layer then has
    /// `num_attention_heads` heads of `hidden_size / num_attention_heads` and `intermediate_size` FFN neurons.
    /// Artifacts (v2) always record them.
    public var layerShapes: [BertLayerShape]?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", positionEmbeddingType = "position_embedding_type"
        case layerShapes = "layer_shapes"
    }

    public init(
        vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
        hiddenAct: String = "gelu", maxPositionEmbeddings: Int = 512, typeVocabSize: Int = 2, layerNormEps: Float = 1e-12,
        positionEmbeddingType: String? = "absolute", layerShapes: [BertLayerShape]? = nil
    ) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads; self.intermediateSize = intermediateSize; self.hiddenAct = hiddenAct
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.typeVocabSize = typeVocabSize; self.layerNormEps = layerNormEps
        self.positionEmbeddingType = positionEmbeddingType
        self.layerShapes = layerShapes
    }

    /// The widths of every layer: `layer_shapes` when present, else the uniform Hugging Face sizes.
    public var layers: [BertLayerShape] {
        layerShapes
            ?? Array(
                repeating: BertLayerShape(
                    heads: numAttentionHeads, headSize: hiddenSize / max(numAttentionHeads, 1), intermediateSize: intermediateSize),
                count: numHiddenLayers)
    }

    /// This config with every layer's widths written out (what a v2 artifact stores).
    public var withExplicitLayerShapes: BertConfig {
        var c = self
        c.layerShapes = layers
        return c
    }

    /// The activation of the feed-forward block; only the exact (erf) GELU and ReLU are supported.
    public func activation() throws -> Activation {
        switch hiddenAct {
        case "gelu": return .gelu
        case "relu": return .relu
        default: throw ModelError.invalidConfig("hidden_act '\(hiddenAct)' is not supported (gelu, relu)")
        }
    }

    /// Checks sizes and options; errors name the field.
    public func validate() throws {
        for (name, v) in [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
            ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
            ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize),
        ] where v <= 0 {
            throw ModelError.invalidConfig("\(name) must be positive, got \(v)")
        }
        if let shapes = layerShapes {
            guard shapes.count == numHiddenLayers else {
                throw ModelError.invalidConfig("layer_shapes has \(shapes.count) entries for num_hidden_layers \(numHiddenLayers)")
            }
            for (i, s) in shapes.enumerated() {
                for (name, v) in [("heads", s.heads), ("head_size", s.headSize), ("intermediate_size", s.intermediateSize)] where v <= 0 {
                    throw ModelError.invalidConfig("layer_shapes[\(i)].\(name) must be positive, got \(v)")
                }
            }
        } else if hiddenSize % numAttentionHeads != 0 {
            throw ModelError.invalidConfig("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        // A non-positive epsilon divides by zero on a constant row; NaN poisons every output.
        guard layerNormEps.isFinite, layerNormEps > 0 else {
            throw ModelError.invalidConfig("layer_norm_eps must be a positive finite number, got \(layerNormEps)")
        }
        // Every table and projection is allocated (zero-filled) before the weights load: refuse sizes that cannot fit.
        guard numHiddenLayers <= 10_000 else {
            // Checked before `layers` builds one entry per layer; real encoders have tens.
            throw ModelError.invalidConfig("num_hidden_layers \(numHiddenLayers) is implausible (at most 10000)")
        }
        var weights: [(String, [Int])] = [
            ("word_embeddings", [vocabSize, hiddenSize]), ("position_embeddings", [maxPositionEmbeddings, hiddenSize]),
            ("token_type_embeddings", [typeVocabSize, hiddenSize]),
        ]
        for (i, l) in layers.enumerated() {
            weights.append(("layer \(i) attention", [4, l.attentionWidth, hiddenSize]))
            weights.append(("layer \(i) FFN", [2, l.intermediateSize, hiddenSize]))
        }
        var total = 0
        for (what, shape) in weights {
            guard let b = MemoryBudget.byteCount(shape, dtype: .float32) else {
                throw ModelError.invalidConfig("\(what) of shape \(shape) overflows")
            }
            total = total.addingReportingOverflow(b).overflow ? Int.max : total + b
        }
        do { try MemoryBudget.check(bytes: total, what: "the encoder's weights") } catch let e as TensorError {
            throw ModelError.invalidConfig(e.description)
        }
        if let p = positionEmbeddingType, p != "absolute" {
            throw ModelError.invalidConfig("position_embedding_type '\(p)' is not supported (absolute)")
        }
        _ = try activation()
    }
}

/// How token states become one sentence vector (sentence-transformers' Pooling + Normalize modules).
public struct SentencePooling: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable { case mean, cls, max }
    public var mode: Mode
    public var normalize: Bool
    public init(mode: Mode, normalize: Bool) { self.mode = mode; self.normalize = normalize }
}

/// The widths of one encoder layer; they may differ between layers once heads or FFN neurons are pruned.
public struct BertLayerShape: Codable, Sendable, Equatable {
    /// Attention heads.
    public var heads: Int
    /// Width of one head (64 in BERT-base, 32 in MiniLM-L6).
    public var headSize: Int
    /// FFN neurons (rows of `intermediate.dense`).
    public var intermediateSize: Int

    /// Query/key/value width: heads × headSize.
    public var attentionWidth: Int { heads * headSize }

    enum CodingKeys: String, CodingKey {
        case heads, headSize = "head_size", intermediateSize = "intermediate_size"
    }

    public init(heads: Int, headSize: Int, intermediateSize: Int) {
        self.heads = heads
        self.headSize = headSize
        self.intermediateSize = intermediateSize
    }
}
