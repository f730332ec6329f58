import Layers
import Tensors

/// The embedding block keeps the token ids and its LayerNorm's tape.
public struct BertEmbeddingsTape: Sendable {
    let ids: [Int32]
    let lengths: [Int]
    let norm: LayerNormTape
}

extension BertEmbeddings {
    /// x(T, H) = LN(word[id] + position[p] + token_type[0]) for packed sequences.
    public func trainingForward(ids: [Int32], lengths: [Int], on executor: Executor) throws -> (x: Tensor, tape: BertEmbeddingsTape) {
        let word = try trainingChild("word_embeddings", as: Embedding.self)
        let position = try trainingChild("position_embeddings", as: Embedding.self)
        let tokenType = try trainingChild("token_type_embeddings", as: Embedding.self)
        let norm = try trainingChild("LayerNorm", as: LayerNorm.self)
        let h = hiddenSize
        var sum = try word.trainingForward(ids: ids)  // (T, H): word + position + type 0, LayerNorm's input
        let pos = position.parameter("weight"), type0 = tokenType.parameter("weight")
        sum.withUnsafeMutableFloats { sp in
            pos.withUnsafeFloats { pp in
                type0.withUnsafeFloats { tp in
                    var row = 0
                    for len in lengths {
                        for p in 0..<len {
                            let dst = sp.baseAddress! + row * h, q = pp.baseAddress! + p * h
                            for j in 0..<h { dst[j] += q[j] + tp[j] }
                            row += 1
                        }
                    }
                }
            }
        }
        var x = Tensor(uninitialized: [ids.count, h])  // (T, H)
        let tape = x.withUnsafeMutableFloats { norm.trainingForward(sum, into: $0.baseAddress!, on: executor) }
        return (x, BertEmbeddingsTape(ids: ids, lengths: lengths, norm: tape))
    }

    /// Sparse row gradients for the three tables (only looked-up rows are touched) through the LayerNorm.
    public func backward(_ dx: Tensor, tape: BertEmbeddingsTape, gradients: Gradients, path: String, on executor: Executor) throws {
        let word = try trainingChild("word_embeddings", as: Embedding.self)
        let position = try trainingChild("position_embeddings", as: Embedding.self)
        let tokenType = try trainingChild("token_type_embeddings", as: Embedding.self)
        let norm = try trainingChild("LayerNorm", as: LayerNorm.self)
        var dsum = Tensor(zeros: dx.shape)  // (T, H)
        dsum.withUnsafeMutableFloats { dsp in
            dx.withUnsafeFloats {
                norm.backward(
                    $0.baseAddress!, tape: tape.norm, dx: dsp.baseAddress!, gradients: gradients, path: joinPath(path, "LayerNorm"),
                    on: executor)
            }
            let d = UnsafePointer(dsp.baseAddress!)
            word.backward(ids: tape.ids, dy: d, gradients: gradients, path: joinPath(path, "word_embeddings"))
            let positions = tape.lengths.flatMap { (0..<$0).map { Int32($0) } }
            position.backward(ids: positions, dy: d, gradients: gradients, path: joinPath(path, "position_embeddings"))
            tokenType.backward(
                ids: [Int32](repeating: 0, count: tape.ids.count), dy: d, gradients: gradients,
                path: joinPath(path, "token_type_embeddings"))
        }
    }
}

/// A batch of packed sequences: token ids back to back, no padding.
public struct PackedSequences: Sendable {
    public var ids: [Int32]
    public var lengths: [Int]
    public init(ids: [Int32], lengths: [Int]) {
        self.ids = ids
        self.lengths = lengths
    }
    /// Row of the first token of each sequence.
    public var starts: [Int] {
        var out: [Int] = []
        var acc = 0
        for l in lengths { out.append(acc); acc += l }
        return out
    }
}

/// A BERT training forward's tape; ``states`` are the hidden states after the embeddings and after each layer
/// (numHiddenLayers + 1 tensors of (T, H)) for hidden-state distillation.
public struct BertTape: Sendable {
    let input: PackedSequences
    let embeddings: BertEmbeddingsTape
    let layers: [BertLayerTape]
    public let states: [Tensor]

    /// Layer i's attention probabilities: per sequence, per head, softmax(q·kᵀ/√d) as (l, l) row-major, back to back
    /// (Σ_s heads·l_s² floats).
    public func attentionProbabilities(layer i: Int) -> Tensor { layers[i].attention.probabilities }
}

extension BertModel: TrainableModel {
    /// Last hidden states (T, H) of packed sequences. The pooler is not run (sentence embeddings pool the tokens), so
    /// leave it out of the gradients, or weight decay alone would move it:
    /// `Gradients(trainableIn: bert) { !$0.hasPrefix("pooler.") }`.
    public func trainingForward(_ input: PackedSequences, context: TrainingContext) throws -> (output: Tensor, tape: BertTape) {
        let t = input.ids.count
        guard input.lengths.reduce(0, +) == t else {
            throw TrainingError.badInput("lengths sum to \(input.lengths.reduce(0, +)) but there are \(t) ids")
        }
        if let bad = input.lengths.first(where: { $0 <= 0 || $0 > config.maxPositionEmbeddings }) {
            throw TrainingError.badInput("sequence length \(bad) outside 1...\(config.maxPositionEmbeddings)")
        }
        let embeddings = try trainingChild("embeddings", as: BertEmbeddings.self)
        let starts = input.starts
        var (x, embTape) = try embeddings.trainingForward(ids: input.ids, lengths: input.lengths, on: context.executor)
        var states = [x]
        var tapes: [BertLayerTape] = []
        for layer in layers {
            let (y, tape) = try layer.trainingForward(x, lengths: input.lengths, starts: starts, on: context.executor)
            tapes.append(tape)
            states.append(y)
            x = y
        }
        return (x, BertTape(input: input, embeddings: embTape, layers: tapes, states: states))
    }

    public func backward(_ dOutput: Tensor, tape: BertTape, gradients: Gradients, context: TrainingContext) throws {
        try backward(dOutput, dStates: [:], tape: tape, gradients: gradients, context: context)
    }

    /// The backward with extra gradients on hidden states (`dStates[i]` for ``BertTape/states``[i], from a
    /// hidden-state loss) and on layer i's attention softmax inputs (`dScores[i]`, laid out as
    /// ``BertTape/attentionProbabilities(layer:)``, from ``AttentionKL``); dOutput is the gradient on the last state.
    public func backward(
        _ dOutput: Tensor, dStates: [Int: Tensor], dScores: [Int: Tensor] = [:], tape: BertTape, gradients: Gradients,
        context: TrainingContext
    ) throws {
        let starts = tape.input.starts
        var g = dOutput
        func addState(_ i: Int) {
            guard let extra = dStates[i] else { return }
            g.withUnsafeMutableFloats { gp in extra.withUnsafeFloats { ep in for j in 0..<gp.count { gp[j] += ep[j] } } }
        }
        addState(layers.count)
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            g = try layers[i].backward(
                g, tape: tape.layers[i], lengths: tape.input.lengths, starts: starts, dScores: dScores[i], gradients: gradients,
                path: "encoder.layer.\(i)", on: context.executor)
            addState(i)
        }
        let embeddings = try trainingChild("embeddings", as: BertEmbeddings.self)
        try embeddings.backward(g, tape: tape.embeddings, gradients: gradients, path: "embeddings", on: context.executor)
    }
}
