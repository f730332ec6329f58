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
    private let activation: Activation
    private var fusedQKV: [Int: FusedQKV] = [:]

    /// Builds an empty (zero) tree for `config`; `withPooler` adds `pooler.dense` when the checkpoint has one.
    public init(config: BertConfig, withPooler: Bool) throws {
        try config.validate()
        self.config = config
        self.hasPooler = withPooler
        self.activation = try config.activation()
        super.init()
        let h = config.hiddenSize, eps = config.layerNormEps
        addChild(
            "embeddings",
            Container([
                ("word_embeddings", Embedding(count: config.vocabSize, dim: h)),
                ("position_embeddings", Embedding(count: config.maxPositionEmbeddings, dim: h)),
                ("token_type_embeddings", Embedding(count: config.typeVocabSize, dim: h)),
                ("LayerNorm", LayerNorm(dim: h, eps: eps)),
            ]))
        var layers: [(String, Module)] = []
        for i in 0..<config.numHiddenLayers {
            let attention = Container([
                (
                    "self",
                    Container([
                        ("query", Linear(name: "query", inFeatures: h, outFeatures: h)),
                        ("key", Linear(name: "key", inFeatures: h, outFeatures: h)),
                        ("value", Linear(name: "value", inFeatures: h, outFeatures: h)),
                    ])
                ),
                (
                    "output",
                    Container([("dense", Linear(name: "dense", inFeatures: h, outFeatures: h)), ("LayerNorm", LayerNorm(dim: h, eps: eps))])
                ),
            ])
            layers.append(
                (
                    "\(i)",
                    Container([
                        ("attention", attention),
                        (
                            "intermediate",
                            Container([("dense", Linear(name: "dense", inFeatures: h, outFeatures: config.intermediateSize))])
                        ),
                        (
                            "output",
                            Container([
                                ("dense", Linear(name: "dense", inFeatures: config.intermediateSize, outFeatures: h)),
                                ("LayerNorm", LayerNorm(dim: h, eps: eps)),
                            ])
                        ),
                    ])
                ))
        }
        addChild("encoder", Container([("layer", Container(layers))]))
        if withPooler { addChild("pooler", Container([("dense", Linear(name: "dense", inFeatures: h, outFeatures: h))])) }
    }

    private func op(_ path: String) -> any LinearOperator {
        guard let m = module(at: path) as? any LinearOperator else { preconditionFailure("no linear operator at \(path)") }
        return m
    }

    private func norm(_ path: String) -> LayerNorm {
        guard let m = module(at: path) as? LayerNorm else { preconditionFailure("no LayerNorm at \(path)") }
        return m
    }

    /// Last hidden states for packed sequences.
    /// - ids: token ids of all sequences back to back; lengths: tokens per sequence (sum = ids.count).
    /// - Returns: hidden (T, hidden) and, when `collectHiddenStates`, the states after the embedding LayerNorm
    ///   and after each layer (numHiddenLayers + 1 tensors of (T, hidden)).
    public func forward(ids: [Int32], lengths: [Int], collectHiddenStates: Bool = false) throws -> (hidden: Tensor, states: [Tensor]) {
        let h = config.hiddenSize, t = ids.count
        guard lengths.reduce(0, +) == t else { throw ModelError.badInput("lengths sum to \(lengths.reduce(0, +)) but there are \(t) ids") }
        if let bad = lengths.first(where: { $0 <= 0 || $0 > config.maxPositionEmbeddings }) {
            throw ModelError.badInput("sequence length \(bad) outside 1...\(config.maxPositionEmbeddings)")
        }
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw ModelError.badInput("token id \(bad) outside the vocabulary (0..<\(config.vocabSize))")
        }
        var x = Tensor(uninitialized: [t, h])
        // Embeddings: word[id] + position[p] + token_type[0], then LayerNorm. Tables may be int8.
        func table(_ name: String) -> any EmbeddingTable {
            guard let t = module(at: "embeddings." + name) as? any EmbeddingTable else { preconditionFailure("no embedding table \(name)") }
            return t
        }
        let word = table("word_embeddings"), position = table("position_embeddings")
        var type0 = [Float](repeating: 0, count: h)
        type0.withUnsafeMutableBufferPointer { table("token_type_embeddings").copyRow(0, into: $0.baseAddress!) }
        let maxLength = lengths.max() ?? 0
        var positions = [Float](repeating: 0, count: maxLength * h)  // (maxLength, H): position[p] + token_type[0]
        positions.withUnsafeMutableBufferPointer { pp in
            for p in 0..<maxLength {
                position.copyRow(p, into: pp.baseAddress! + p * h)
                for j in 0..<h { pp[p * h + j] += type0[j] }
            }
        }
        x.withUnsafeMutableFloats { xp in
            positions.withUnsafeBufferPointer { pp in
                var row = 0
                for len in lengths {
                    for p in 0..<len {
                        let dst = xp.baseAddress! + row * h
                        word.copyRow(Int(ids[row]), into: dst)
                        let q = pp.baseAddress! + p * h
                        for j in 0..<h { dst[j] += q[j] }
                        row += 1
                    }
                }
            }
            norm("embeddings.LayerNorm").apply(xp.baseAddress!, residual: nil, bias: nil, rows: t)
        }
        var states: [Tensor] = collectHiddenStates ? [x] : []
        for i in 0..<config.numHiddenLayers {
            x = layerForward(i, x, lengths: lengths)
            if collectHiddenStates { states.append(x) }
        }
        return (x, states)
    }

    /// One encoder layer. x: (T, hidden) → (T, hidden).
    private func layerForward(_ i: Int, _ x: Tensor, lengths: [Int]) -> Tensor {
        let p = "encoder.layer.\(i)."
        let h = config.hiddenSize, t = x.shape[0], heads = config.numAttentionHeads, dh = h / heads
        var qkv = Tensor(uninitialized: [t, 3 * h])  // (T, 3H): query | key | value
        x.withUnsafeFloats { xp in qkv.withUnsafeMutableFloats { qp in projectQKV(i, xp.baseAddress!, rows: t, into: qp.baseAddress!) } }

        var ctx = Tensor(uninitialized: [t, h])  // (T, H), heads side by side
        var starts: [Int] = []
        var acc = 0
        for len in lengths { starts.append(acc); acc += len }
        let maxLen = lengths.max() ?? 0
        let scale = 1 / Float(dh).squareRoot()
        qkv.withUnsafeFloats { qp in
            ctx.withUnsafeMutableFloats { cp in
                let q = qp.baseAddress!, c = cp.baseAddress!
                let jobs = lengths.count * heads
                Threading.parallelChunks(jobs, minimumPerChunk: max(1, 8192 / max(1, maxLen * maxLen * dh / 8))) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: ck_attention_scratch_size(maxLen, dh))
                    defer { scratch.deallocate() }
                    for job in range {
                        let s = job / heads, head = job % heads, l = lengths[s], base = starts[s]
                        let qh = q + base * 3 * h + head * dh
                        ck_attention_head_f32(qh, qh + h, qh + 2 * h, 3 * h, l, dh, scale, c + base * h + head * dh, h, scratch)
                    }
                }
            }
        }

        var attnOut = Tensor(uninitialized: [t, h])
        let outDense = op(p + "attention.output.dense")
        ctx.withUnsafeFloats { cp in
            attnOut.withUnsafeMutableFloats { ap in
                x.withUnsafeFloats { xp in
                    outDense.matmul(cp.baseAddress!, rows: t, into: ap.baseAddress!)
                    withOptionalFloats(outDense.biasTensor) { b in
                        norm(p + "attention.output.LayerNorm").apply(ap.baseAddress!, residual: xp.baseAddress!, bias: b, rows: t)
                    }
                }
            }
        }

        let inter = op(p + "intermediate.dense"), out = op(p + "output.dense")
        var mid = Tensor(uninitialized: [t, inter.outFeatures])
        var y = Tensor(uninitialized: [t, h])
        attnOut.withUnsafeFloats { ap in
            mid.withUnsafeMutableFloats { mp in
                y.withUnsafeMutableFloats { yp in
                    inter.matmul(ap.baseAddress!, rows: t, into: mp.baseAddress!)
                    withOptionalFloats(inter.biasTensor) { b in
                        activation.applyWithBias(mp.baseAddress!, bias: b, rows: t, cols: inter.outFeatures)
                    }
                    out.matmul(mp.baseAddress!, rows: t, into: yp.baseAddress!)
                    withOptionalFloats(out.biasTensor) { b in
                        norm(p + "output.LayerNorm").apply(yp.baseAddress!, residual: ap.baseAddress!, bias: b, rows: t)
                    }
                }
            }
        }
        return y
    }

    /// qkv(T, 3H) = x · [Wq; Wk; Wv]ᵀ + [bq; bk; bv]. When all three are fp32 Linears, one GEMM on a fused
    /// (3H, H) weight: one larger GEMM keeps the cores busier than three small ones at batch 1.
    private func projectQKV(_ i: Int, _ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let p = "encoder.layer.\(i).attention.self."
        let ops = [op(p + "query"), op(p + "key"), op(p + "value")]
        let h = config.hiddenSize
        if let linears = ops as? [Linear] {
            let fused = fusedQKVWeights(i, linears)
            fused.bias.withUnsafeFloats { b in fused.weight.multiply(x, rows: rows, bias: b.baseAddress!, into: y) }
            return
        }
        // Mixed operators (e.g. quantized): run each and interleave into the (T, 3H) rows.
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: rows * h)
        defer { tmp.deallocate() }
        for (j, o) in ops.enumerated() {
            o.matmul(x, rows: rows, into: tmp)
            withOptionalFloats(o.biasTensor) { b in if let b { Ops.biasAdd(tmp, bias: b, rows: rows, cols: h) } }
            for r in 0..<rows { (y + r * 3 * h + j * h).update(from: tmp + r * h, count: h) }
        }
    }

    private struct FusedQKV {
        let key: [ObjectIdentifier]
        let revisions: [Int]
        let weight: PackedMatrix  // (3H, H)
        let bias: Tensor  // (3H)
    }

    private func fusedQKVWeights(_ i: Int, _ linears: [Linear]) -> FusedQKV {
        let key = linears.map { ObjectIdentifier($0) }, revisions = linears.map(\.revision)
        if let cached = fusedQKV[i], cached.key == key, cached.revisions == revisions { return cached }
        let weight = PackedMatrix(Tensor.concatenateRows(linears.map { $0.parameter("weight") }))
        let bias = Tensor.concatenateRows(linears.map { $0.biasTensor ?? Tensor(zeros: [$0.outFeatures]) })
        let fused = FusedQKV(key: key, revisions: revisions, weight: weight, bias: bias)
        fusedQKV[i] = fused
        return fused
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

/// Calls `body` with the tensor's float pointer, or nil.
@inlinable
func withOptionalFloats<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.withUnsafeFloats { body($0.baseAddress!) }
}
