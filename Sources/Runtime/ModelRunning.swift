import Formats
import Foundation
import Layers
import Tensors
import Tokenizers

/// Inputs converted to what the network consumes (token ids for text), so timing covers the network only, as ONNX
/// Runtime's benchmark does.
public enum PreparedInputs: Sendable {
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
public enum ModelInputs: Sendable {
    case texts([String])
    case tensor(Tensor)

    public var count: Int {
        switch self {
        case let .texts(t): return t.count
        case let .tensor(t): return t.shape.first ?? 0
        }
    }

    /// Items `range`.
    public func slice(_ range: Range<Int>) -> ModelInputs {
        switch self {
        case let .texts(t): return .texts(Array(t[range]))
        case let .tensor(t): return .tensor(t.rows(range))
        }
    }
}

extension LoadedModel {
    /// Tokenizes text or checks a tensor's shape.
    public func prepare(_ items: ModelInputs) throws -> PreparedInputs {
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

    /// Runs prepared inputs on `executor`: probabilities/outputs (N, ...) or sentence embeddings (N, hidden).
    /// Never writes to the model, so many threads may call it at once (each with its own executor, or sharing one).
    public func run(_ prepared: PreparedInputs, on executor: Executor) throws -> Tensor {
        switch (kind, prepared) {
        case let (.sequential(model), .tensor(t)):
            return try model.forward(t, on: executor)
        case let (.sentenceEncoder(bert, pooling, _), .tokens(ids, lengths)):
            let (hidden, _) = try bert.forward(ids: ids, lengths: lengths, on: executor)
            return executor.timed(.pooling) { bert.pool(hidden, lengths: lengths, pooling: pooling) }
        default:
            throw ModelError.badInput("prepared inputs do not match the model kind")
        }
    }

    /// prepare + run.
    public func predict(_ items: ModelInputs, on executor: Executor) throws -> Tensor {
        try run(try prepare(items), on: executor)
    }
}
