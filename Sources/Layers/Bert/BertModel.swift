import CKernels
import Foundation
import Tensors

/// A Hugging Face BERT encoder as a module tree with HF parameter paths
/// (`embeddings.word_embeddings.weight`, `encoder.layer.3.attention.self.query.weight`, …).
///
/// It runs on packed tokens: sequences are concatenated without padding, so dense layers only see real
/// tokens and attention runs per sequence at its own length. This equals the padded computation with an
/// attention mask (masked keys get weight exactly 0) and skips the padding work.
public final class BertModel: Module {
    public let config: BertConfig
    public let hasPooler: Bool
    private var embeddings: BertEmbeddings
    /// The encoder layers in order (typed views of `encoder.layer.N`, refreshed by ``prepare()``).
    public private(set) var layers: [BertLayer]

    /// Builds an empty (zero) tree for `config` (per-layer widths from ``BertConfig/layers``); `withPooler` adds
    /// `pooler.dense` when the checkpoint has one.
    public init(config: BertConfig, withPooler: Bool) throws {
        try config.validate()
        self.config = config
        self.hasPooler = withPooler
        let activation = try config.activation()
        embeddings = BertEmbeddings(config: config)
        layers = config.layers.map { BertLayer(config: config, shape: $0, activation: activation) }
        super.init()
        addChild("embeddings", embeddings)
        addChild("encoder", Container([("layer", Container(layers.enumerated().map { ("\($0.offset)", $0.element) }))]))
        let h = config.hiddenSize
        if withPooler { addChild("pooler", Container([("dense", Linear(name: "dense", inFeatures: h, outFeatures: h))])) }
    }

    public override func prepare() {
        embeddings = typedChild("embeddings")
        let stack: Module = (typedChild("encoder") as Module).typedChild("layer")
        layers = stack.children.map { stack.typedChild($0.name) }
    }

    /// Last hidden states for packed sequences.
    /// - ids: token ids of all sequences back to back; lengths: tokens per sequence (sum = ids.count).
    /// - Returns: hidden (T, hidden) and, when `collectHiddenStates`, the states after the embedding LayerNorm
    ///   and after each layer (numHiddenLayers + 1 tensors of (T, hidden)).
    public func forward(
        ids: [Int32], lengths: [Int], collectHiddenStates: Bool = false, on executor: Executor
    ) throws -> (hidden: Tensor, states: [Tensor]) {
        let h = config.hiddenSize, t = ids.count
        guard lengths.reduce(0, +) == t else { throw ModelError.badInput("lengths sum to \(lengths.reduce(0, +)) but there are \(t) ids") }
        if let bad = lengths.first(where: { $0 <= 0 || $0 > config.maxPositionEmbeddings }) {
            throw ModelError.badInput("sequence length \(bad) outside 1...\(config.maxPositionEmbeddings)")
        }
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw ModelError.badInput("token id \(bad) outside the vocabulary (0..<\(config.vocabSize))")
        }
        var starts: [Int] = []
        var acc = 0
        for len in lengths { starts.append(acc); acc += len }
        var hidden = Tensor(uninitialized: [t, h])
        var states: [Tensor] = []
        // Every intermediate lives in one executor scratch block reused across calls; only the output is allocated.
        let layerScratch = layers.map { $0.scratchFloats(rows: t, hiddenSize: h) }.max() ?? 0
        hidden.withUnsafeMutableFloats { xp in
            let x = xp.baseAddress!
            embeddings.forward(ids: ids, lengths: lengths, into: x, on: executor)
            if collectHiddenStates { states.append(Tensor(shape: [t, h], floats: Array(xp))) }
            executor.withScratch(floats: layerScratch) { scratch in
                for layer in layers {
                    layer.forward(x, hiddenSize: h, lengths: lengths, starts: starts, scratch: scratch, on: executor)
                    if collectHiddenStates { states.append(Tensor(shape: [t, h], floats: Array(xp))) }
                }
            }
        }
        return (hidden, states)
    }

    /// Sentence vectors from packed hidden states (T, H) → (sequences, H).
    public func pool(_ hidden: Tensor, lengths: [Int], pooling: SentencePooling) -> Tensor {
        let h = config.hiddenSize
        var out = Tensor(zeros: [lengths.count, h])
        out.withUnsafeMutableFloats { op in
            hidden.withUnsafeFloats { hp in
                var row = 0
                for (s, len) in lengths.enumerated() {
                    let dst = op.baseAddress! + s * h
                    switch pooling.mode {
                    case .cls:
                        dst.update(from: hp.baseAddress! + row * h, count: h)
                    case .mean:
                        // Sum in double: 256 tokens of float rounding would otherwise show at 1e-6.
                        var acc = [Double](repeating: 0, count: h)
                        for r in row..<(row + len) { let src = hp.baseAddress! + r * h; for j in 0..<h { acc[j] += Double(src[j]) } }
                        for j in 0..<h { dst[j] = Float(acc[j] / Double(len)) }
                    case .max:
                        for j in 0..<h { dst[j] = -.infinity }
                        for r in row..<(row + len) { let src = hp.baseAddress! + r * h; for j in 0..<h { dst[j] = max(dst[j], src[j]) } }
                    }
                    if pooling.normalize {
                        var ss = 0.0
                        for j in 0..<h { ss += Double(dst[j]) * Double(dst[j]) }
                        let inv = Float(1 / max(ss.squareRoot(), 1e-12))
                        for j in 0..<h { dst[j] *= inv }
                    }
                    row += len
                }
            }
        }
        return out
    }
}
