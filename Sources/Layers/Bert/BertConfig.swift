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

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", positionEmbeddingType = "position_embedding_type"
    }

    public init(
        vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
        hiddenAct: String = "gelu", maxPositionEmbeddings: Int = 512, typeVocabSize: Int = 2, layerNormEps: Float = 1e-12,
        positionEmbeddingType: String? = "absolute"
    ) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads; self.intermediateSize = intermediateSize; self.hiddenAct = hiddenAct
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.typeVocabSize = typeVocabSize; self.layerNormEps = layerNormEps
        self.positionEmbeddingType = positionEmbeddingType
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
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModelError.invalidConfig("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
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
