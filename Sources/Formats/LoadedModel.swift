import Foundation
import Layers
import Tensors
import Tokenizers

/// A model ready to run, whatever file it came from: a Keras/MLP chain over tensors, or a BERT sentence
/// encoder over text. Every command takes one of these, so artifacts work wherever source models do.
public final class LoadedModel {
    /// What the model computes.
    public enum Kind {
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
    public var provenance: [String: String]
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

    /// Whether inputs are text lines.
    public var takesText: Bool {
        if case .sentenceEncoder = kind { return true }
        return false
    }

    /// Inputs converted to what the network consumes (token ids for text), so timing covers the network only,
    /// as ONNX Runtime's benchmark does.
    public enum Prepared {
        case tensor(Tensor)
        case tokens(ids: [Int32], lengths: [Int])

        /// Number of items.
        public var count: Int {
            switch self {
            case let .tensor(t): return t.shape.first ?? 0
            case let .tokens(_, lengths): return lengths.count
            }
        }
    }

    /// Input items: text lines or a tensor whose first axis is the item axis.
    public enum Items {
        case texts([String])
        case tensor(Tensor)

        public var count: Int {
            switch self {
            case let .texts(t): return t.count
            case let .tensor(t): return t.shape.first ?? 0
            }
        }

        /// Items `range`.
        public func slice(_ range: Range<Int>) -> Items {
            switch self {
            case let .texts(t): return .texts(Array(t[range]))
            case let .tensor(t): return .tensor(t.rows(range))
            }
        }
    }

    /// Tokenizes text or checks a tensor's shape.
    public func prepare(_ items: Items) throws -> Prepared {
        switch (kind, items) {
        case let (.sentenceEncoder(_, _, tokenizer), .texts(texts)):
            var ids: [Int32] = []
            var lengths: [Int] = []
            for text in texts {
                let e = tokenizer.encode(text)
                ids += e
                lengths.append(e.count)
            }
            return .tokens(ids: ids, lengths: lengths)
        case let (.sequential(model), .tensor(t)):
            guard Array(t.shape.dropFirst()) == model.inputShape else {
                throw ModelError.badInput("model expects items of shape \(model.inputShape), got \(Array(t.shape.dropFirst()))")
            }
            return .tensor(t.toFloat32())
        case (.sentenceEncoder, .tensor):
            throw ModelError.badInput("this is a text model: give a text file, one item a line")
        case (.sequential, .texts):
            throw ModelError.badInput("this model takes tensors: give an HDF5 or safetensors array, not text")
        }
    }

    /// Runs prepared inputs: probabilities/outputs (N, ...) or sentence embeddings (N, hidden).
    public func run(_ prepared: Prepared) throws -> Tensor {
        switch (kind, prepared) {
        case let (.sequential(model), .tensor(t)):
            return try model.forward(t)
        case let (.sentenceEncoder(bert, pooling, _), .tokens(ids, lengths)):
            let (hidden, _) = try bert.forward(ids: ids, lengths: lengths)
            return bert.pool(hidden, lengths: lengths, pooling: pooling)
        default:
            throw ModelError.badInput("prepared inputs do not match the model kind")
        }
    }

    /// prepare + run.
    public func predict(_ items: Items) throws -> Tensor { try run(try prepare(items)) }
}
