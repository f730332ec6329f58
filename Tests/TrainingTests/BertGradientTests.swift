import Layers
import Tensors
import Testing
import Training

/// BERT blocks on packed sequences of different lengths: LayerNorm, embedding, attention (per-layer head counts),
/// a whole layer, the whole encoder, mean pooling and L2 normalization, each against float64 central differences.
struct BertGradientTests {
    static let lengths = [3, 5, 1]
    static var starts: [Int] { [0, 3, 8] }
    static let config = BertConfig(
        vocabSize: 13, hiddenSize: 8, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 12, maxPositionEmbeddings: 8,
        layerNormEps: 1e-5,
        layerShapes: [
            BertLayerShape(heads: 2, headSize: 3, intermediateSize: 12), BertLayerShape(heads: 4, headSize: 2, intermediateSize: 7),
        ])

    func expectGradients(
        _ values: [String: [Double]], r: [Double], _ analytic: [String: [Float]], what: String = #function,
        reference: ([String: [Double]]) -> [Double]
    ) {
        let (key, error) = worst(gradientErrors(values: values, r: r, analytic: analytic, reference: reference), what)
        #expect(error <= gradientTolerance, "gradient of \(key) off by \(error)")
    }

    @Test func layerNorm() throws {
        let norm = LayerNorm(dim: 7, eps: 1e-5)
        try randomize(norm, seed: 1)
        var rng = Rng(2)
        let x = rng.tensor([40, 7], -2, 3)  // 40 rows: split over both threads, partial dweight/dbias summed
        var y = Tensor(zeros: [40, 7])
        let tape = y.withUnsafeMutableFloats { norm.trainingForward(x, into: $0.baseAddress!, on: testExecutor) }
        var values = parameters64(norm)
        values["x"] = x.floats.map(Double.init)
        let reference = { (v: [String: [Double]]) in Ref.layerNorm(v["x"]!, v["weight"]!, v["bias"]!, eps: 1e-5, cols: 7) }
        #expect(relativeError(y.floats.map(Double.init), reference(values)) < 1e-6)
        let r = rng.floats(280).map(Double.init)
        let grads = Gradients(trainableIn: norm)
        var dx = Tensor(zeros: [40, 7])
        let dy = r.map(Float.init)
        dx.withUnsafeMutableFloats { dp in
            dy.withUnsafeBufferPointer {
                norm.backward($0.baseAddress!, tape: tape, dx: dp.baseAddress!, gradients: grads, path: "", on: testExecutor)
            }
        }
        expectGradients(
            values, r: r, ["x": dx.floats, "weight": Array(grads["weight"]!), "bias": Array(grads["bias"]!)], reference: reference)
    }

    @Test func embeddingAccumulatesRepeatedRows() throws {
        let table = Embedding(count: 6, dim: 3)
        try randomize(table, seed: 3)
        let ids: [Int32] = [4, 1, 4, 0, 4]
        let y = try table.trainingForward(ids: ids)
        var rng = Rng(4)
        let r = rng.floats(15).map(Double.init)
        let grads = Gradients(trainableIn: table)
        r.map(Float.init).withUnsafeBufferPointer { table.backward(ids: ids, dy: $0.baseAddress!, gradients: grads, path: "") }
        let reference = { (v: [String: [Double]]) in ids.flatMap { id in (0..<3).map { v["weight"]![Int(id) * 3 + $0] } } }
        #expect(relativeError(y.floats.map(Double.init), reference(parameters64(table))) == 0)
        expectGradients(parameters64(table), r: r, ["weight": Array(grads["weight"]!)], reference: reference)
        #expect(Array(grads["weight"]!)[6..<9].allSatisfy { $0 == 0 })  // row 2 was never looked up
    }

    @Test(arguments: [
        BertLayerShape(heads: 2, headSize: 3, intermediateSize: 12), BertLayerShape(heads: 4, headSize: 2, intermediateSize: 7),
    ])
    func attention(shape: BertLayerShape) throws {
        let attention = BertSelfAttention(hiddenSize: 8, shape: shape)
        try randomize(attention, seed: 5)
        var rng = Rng(6)
        let x = rng.tensor([9, 8])
        let a = shape.attentionWidth
        var ctx = Tensor(zeros: [9, a])
        let tape = try ctx.withUnsafeMutableFloats {
            try attention.trainingForward(x, lengths: Self.lengths, starts: Self.starts, into: $0.baseAddress!, on: testExecutor)
        }
        var values = parameters64(attention)
        values["x"] = x.floats.map(Double.init)
        let reference = { (v: [String: [Double]]) -> [Double] in
            let q = Ref.linear(v["x"]!, v["query.weight"]!, v["query.bias"]!, rows: 9, k: 8, n: a)
            let k = Ref.linear(v["x"]!, v["key.weight"]!, v["key.bias"]!, rows: 9, k: 8, n: a)
            let vv = Ref.linear(v["x"]!, v["value.weight"]!, v["value.bias"]!, rows: 9, k: 8, n: a)
            return Ref.attention(q: q, k: k, v: vv, lengths: Self.lengths, heads: shape.heads, dh: shape.headSize)
        }
        #expect(relativeError(ctx.floats.map(Double.init), reference(values)) < 1e-5)
        let r = rng.floats(9 * a).map(Double.init)
        let grads = Gradients(trainableIn: attention)
        var dx = Tensor(zeros: [9, 8])
        try dx.withUnsafeMutableFloats { dp in
            try r.map(Float.init).withUnsafeBufferPointer {
                try attention.backward(
                    $0.baseAddress!, tape: tape, x: x, lengths: Self.lengths, starts: Self.starts, dx: dp.baseAddress!, gradients: grads,
                    path: "",
                    on: testExecutor)
            }
        }
        var analytic = ["x": dx.floats]
        for p in grads.paths { analytic[p] = Array(grads[p]!) }
        expectGradients(values, r: r, analytic, reference: reference)
    }

    /// The attention-distribution KL (MiniLM) through self-attention: loss = Σ r·ctx + 0.7·KL(t ‖ p) with fixed
    /// random teacher distributions t; AttentionKL's gradient enters the fused backward as dScores (on the softmax
    /// inputs). Every parameter and the input against float64 central differences, and the loss value.
    @Test(arguments: [
        BertLayerShape(heads: 2, headSize: 3, intermediateSize: 12), BertLayerShape(heads: 4, headSize: 2, intermediateSize: 7),
    ])
    func attentionWithAttentionKL(shape: BertLayerShape) throws {
        let attention = BertSelfAttention(hiddenSize: 8, shape: shape)
        try randomize(attention, seed: 15)
        var rng = Rng(16)
        let x = rng.tensor([9, 8], -2, 2)
        let a = shape.attentionWidth, heads = shape.heads, w = 0.7
        var ctx = Tensor(zeros: [9, a])
        let tape = try ctx.withUnsafeMutableFloats {
            try attention.trainingForward(x, lengths: Self.lengths, starts: Self.starts, into: $0.baseAddress!, on: testExecutor)
        }
        let rows = heads * Self.lengths.reduce(0, +)
        // Teacher rows: softmax of random logits, one row of l per (sequence, head, query).
        var t: [Double] = []
        for l in Self.lengths { for _ in 0..<(heads * l) { t += Ref.softmax(rng.floats(l, -3, 3).map(Double.init), cols: l) } }
        var values = parameters64(attention)
        values["x"] = x.floats.map(Double.init)
        let probabilities = { (v: [String: [Double]]) -> [Double] in
            let q = Ref.linear(v["x"]!, v["query.weight"]!, v["query.bias"]!, rows: 9, k: 8, n: a)
            let k = Ref.linear(v["x"]!, v["key.weight"]!, v["key.bias"]!, rows: 9, k: 8, n: a)
            return Ref.attentionProbabilities(q: q, k: k, lengths: Self.lengths, heads: heads, dh: shape.headSize)
        }
        let reference = { (v: [String: [Double]]) -> [Double] in
            let q = Ref.linear(v["x"]!, v["query.weight"]!, v["query.bias"]!, rows: 9, k: 8, n: a)
            let k = Ref.linear(v["x"]!, v["key.weight"]!, v["key.bias"]!, rows: 9, k: 8, n: a)
            let vv = Ref.linear(v["x"]!, v["value.weight"]!, v["value.bias"]!, rows: 9, k: 8, n: a)
            let c = Ref.attention(q: q, k: k, v: vv, lengths: Self.lengths, heads: heads, dh: shape.headSize)
            return c + [Ref.klRows(teacher: t, student: probabilities(v), rows: rows)]
        }
        let kl = try AttentionKL().evaluate(
            student: tape.probabilities, teacher: Tensor(shape: [t.count], floats: t.map(Float.init)), lengths: Self.lengths, heads: heads)
        let klReference = reference(values).last!
        #expect(abs(kl.loss - klReference) <= 1e-5 * klReference, "KL \(kl.loss) against \(klReference)")
        var dScores = kl.gradient
        dScores.withUnsafeMutableFloats { for i in 0..<$0.count { $0[i] *= Float(w) } }
        let r = rng.floats(9 * a).map(Double.init) + [w]
        let grads = Gradients(trainableIn: attention)
        var dx = Tensor(zeros: [9, 8])
        try dx.withUnsafeMutableFloats { dp in
            try r.dropLast().map(Float.init).withUnsafeBufferPointer {
                try attention.backward(
                    $0.baseAddress!, tape: tape, x: x, lengths: Self.lengths, starts: Self.starts, dx: dp.baseAddress!, dScores: dScores,
                    gradients: grads, path: "", on: testExecutor)
            }
        }
        var analytic = ["x": dx.floats]
        for p in grads.paths { analytic[p] = Array(grads[p]!) }
        expectGradients(values, r: r, analytic, reference: reference)
    }

    @Test func bertLayer() throws {
        let shape = Self.config.layers[1]
        let layer = BertLayer(config: Self.config, shape: shape, activation: .gelu)
        try randomize(layer, seed: 7)
        var rng = Rng(8)
        let x = rng.tensor([9, 8])
        let (y, tape) = try layer.trainingForward(x, lengths: Self.lengths, starts: Self.starts, on: testExecutor)
        var values = parameters64(layer)
        values["x"] = x.floats.map(Double.init)
        let reference = { (v: [String: [Double]]) in
            Ref.bertLayer(v["x"]!, p: v, shape: shape, hidden: 8, lengths: Self.lengths, eps: 1e-5)
        }
        #expect(relativeError(y.floats.map(Double.init), reference(values)) < 1e-5)
        let r = rng.floats(72).map(Double.init)
        let grads = Gradients(trainableIn: layer)
        let dx = try layer.backward(
            Tensor(shape: [9, 8], floats: r.map(Float.init)), tape: tape, lengths: Self.lengths, starts: Self.starts, gradients: grads,
            path: "",
            on: testExecutor)
        var analytic = ["x": dx.floats]
        for p in grads.paths { analytic[p] = Array(grads[p]!) }
        #expect(analytic.count == 17)
        expectGradients(values, r: r, analytic, reference: reference)
    }

    @Test func wholeEncoderWithPerLayerHeadCountsThenMeanPoolAndNormalize() throws {
        // Two layers with 2 heads × 3 and 4 heads × 2: every parameter of the encoder, through mean pooling and L2
        // normalization, as a sentence-embedding loss sees it.
        let bert = try BertModel(config: Self.config, withPooler: false)
        try randomize(bert, seed: 9)
        let ids: [Int32] = [1, 5, 7, 2, 9, 12, 3, 3, 0]
        let ctx = TrainingContext(executor: testExecutor)
        let (hidden, tape) = try bert.trainingForward(PackedSequences(ids: ids, lengths: Self.lengths), context: ctx)
        #expect(tape.states.count == 3)
        let inference = try bert.forward(ids: ids, lengths: Self.lengths, on: testExecutor).hidden
        #expect(relativeError(hidden.floats.map(Double.init), inference.floats.map(Double.init)) < 1e-5)
        let pooled = MeanPooling.forward(hidden, lengths: Self.lengths)
        let (embedding, norms) = L2Normalize.forward(pooled)
        var rng = Rng(10)
        let r = rng.floats(embedding.count).map(Double.init)
        let dEmbedding = Tensor(shape: embedding.shape, floats: r.map(Float.init))
        let dHidden = MeanPooling.backward(L2Normalize.backward(dEmbedding, y: embedding, norms: norms), lengths: Self.lengths)
        let grads = Gradients(trainableIn: bert)
        try bert.backward(dHidden, tape: tape, gradients: grads, context: ctx)
        let reference = { (v: [String: [Double]]) in
            Ref.l2Normalize(
                Ref.meanPool(Ref.bert(ids: ids, lengths: Self.lengths, p: v, config: Self.config), lengths: Self.lengths, cols: 8), cols: 8)
        }
        #expect(relativeError(embedding.floats.map(Double.init), reference(parameters64(bert))) < 1e-5)
        var analytic: [String: [Float]] = [:]
        for p in grads.paths { analytic[p] = Array(grads[p]!) }
        expectGradients(parameters64(bert), r: r, analytic, reference: reference)
    }
}
