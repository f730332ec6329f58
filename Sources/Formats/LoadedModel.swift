import Foundation
import Layers
import Tensors
import Tokenizers

/// A model read from files, whatever they were: a Keras/MLP chain over tensors, or a BERT sentence encoder over
/// text. Every command takes one of these, so artifacts work wherever source models do. Running it (preparing
/// inputs, forward passes on an executor) lives in the `Runtime` target; this type only describes what was read.
///
/// Sendable: its module tree is shared between threads once frozen (``freeze()``), see ``Module``.
public final class LoadedModel: Sendable {
    /// What the model computes.
    public enum Kind: Sendable {
        /// A chain of layers over tensors; output (N, classes) probabilities for classifiers.
        case sequential(SequentialModel)
        /// A BERT encoder with sentence pooling over tokenized text; output (N, hidden) embeddings.
        case sentenceEncoder(BertModel, SentencePooling, WordPieceTokenizer)
    }

    public let kind: Kind
    /// Where it was loaded from (a file or a directory).
    public let source: URL
    /// Which reader loaded it: `keras-h5`, `keras-v3`, `huggingface`, `safetensors-mlp`, `artifact`.
    public let format: String
    /// Provenance carried by artifacts (source sha256, recipe, tool version); empty for source models.
    public let provenance: [String: String]
    public init(kind: Kind, source: URL, format: String, provenance: [String: String] = [:]) {
        self.kind = kind
        self.source = source
        self.format = format
        self.provenance = provenance
    }

    /// The module tree.
    public var root: Module {
        switch kind {
        case let .sequential(m): return m
        case let .sentenceEncoder(m, _, _): return m
        }
    }

    /// Makes the module tree immutable, so the model can serve many threads (edits then throw).
    public func freeze() { root.freeze() }

    /// Whether inputs are text lines.
    public var takesText: Bool {
        if case .sentenceEncoder = kind { return true }
        return false
    }
}
