import Tensors

/// `embeddings`: word[id] + position[p] + token_type[0], then LayerNorm. Tables may be int8 (``Int8Embedding``).
public final class BertEmbeddings: Module {
    public let hiddenSize: Int
    public let maxPositions: Int
    public let vocabSize: Int
    private var word: any EmbeddingTable
    private var position: any EmbeddingTable
    private var tokenType: any EmbeddingTable
    private var norm: LayerNorm

    public init(config: BertConfig) {
        let h = config.hiddenSize
        hiddenSize = h
        maxPositions = config.maxPositionEmbeddings
        vocabSize = config.vocabSize
        word = Embedding(count: config.vocabSize, dim: h)
        position = Embedding(count: config.maxPositionEmbeddings, dim: h)
        tokenType = Embedding(count: config.typeVocabSize, dim: h)
        norm = LayerNorm(dim: h, eps: config.layerNormEps)
        super.init()
        addChild("word_embeddings", word)
        addChild("position_embeddings", position)
        addChild("token_type_embeddings", tokenType)
        addChild("LayerNorm", norm)
    }

    public override func prepare() {
        word = typedChild("word_embeddings")
        position = typedChild("position_embeddings")
        tokenType = typedChild("token_type_embeddings")
        norm = typedChild("LayerNorm")
    }

    /// x(T, H) = LN(word[ids] + position[p] + token_type[0]) for packed sequences of `lengths`.
    public func forward(ids: [Int32], lengths: [Int], into x: UnsafeMutablePointer<Float>, on executor: Executor) {
        executor.timed(.embedding) { gather(ids: ids, lengths: lengths, into: x, on: executor) }
        norm.apply(x, residual: nil, bias: nil, rows: ids.count, on: executor)
    }

    /// x(T, H) = word[ids] + position[p] + token_type[0], before the LayerNorm.
    private func gather(ids: [Int32], lengths: [Int], into x: UnsafeMutablePointer<Float>, on executor: Executor) {
        let h = hiddenSize, maxLength = lengths.max() ?? 0
        // positions(maxLength, H) = position[p] + token_type[0], shared by every sequence.
        executor.withScratch(floats: (maxLength + 1) * h) { positions in
            let type0 = positions + maxLength * h
            tokenType.copyRow(0, into: type0)
            for p in 0..<maxLength {
                let row = positions + p * h
                position.copyRow(p, into: row)
                for j in 0..<h { row[j] += type0[j] }
            }
            var row = 0
            for len in lengths {
                for p in 0..<len {
                    let dst = x + row * h
                    word.copyRow(Int(ids[row]), into: dst)
                    let q = positions + p * h
                    for j in 0..<h { dst[j] += q[j] }
                    row += 1
                }
            }
        }
    }
}

extension Module {
    /// The child `name` as `T`. A model tree whose child has another type was built wrongly (a replacement must
    /// keep the role of what it replaces), which is a programming error, not bad input.
    func typedChild<T>(_ name: String, as type: T.Type = T.self) -> T {
        guard let child = children.first(where: { $0.name == name })?.module as? T else {
            preconditionFailure("\(typeName): child '\(name)' is not a \(T.self)")
        }
        return child
    }
}
