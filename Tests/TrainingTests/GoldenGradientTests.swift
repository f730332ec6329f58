import Formats
import Foundation
import Layers
import Tensors
import Testing
import Training

/// Whole models against `jax.grad` in float64 (tools/make_grad_goldens.py → Tests/Fixtures/grads/): the loss and
/// every parameter's gradient, normwise relative error ≤ 1e-4 per tensor (against 1 % of the model's largest gradient
/// norm for the gradients that vanish mathematically: conv biases before train-mode BatchNorm, attention key biases).
struct GoldenGradientTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func golden(_ name: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try SafeTensors.read(repo.appendingPathComponent("Tests/Fixtures/grads/\(name)"))
    }

    /// A golden's tiny BERT (layer shapes from its metadata, weights from its `param.*` tensors) and packed input.
    static func tinyBert(_ name: String) throws -> (
        golden: [String: Tensor], shapes: [BertLayerShape], bert: BertModel, input: PackedSequences
    ) {
        let (golden, metadata) = try Self.golden(name)
        let shapes = try JSONDecoder().decode([BertLayerShape].self, from: Data(metadata["layer_shapes"]!.utf8))
        let config = BertConfig(
            vocabSize: 50, hiddenSize: 32, numHiddenLayers: shapes.count, numAttentionHeads: shapes[0].heads, intermediateSize: 64,
            maxPositionEmbeddings: 32, layerShapes: shapes)
        let bert = try BertModel(config: config, withPooler: false)
        var params: [String: Tensor] = [:]
        for (k, v) in golden where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        try bert.update(parameters: params)
        let input = PackedSequences(ids: golden["input_ids"]!.int64s.map { Int32($0) }, lengths: golden["lengths"]!.int64s.map { Int($0) })
        return (golden, shapes, bert, input)
    }

    /// The goldens' embedding loss: MSE + cosine of the L2-normalized mean pooling of `hidden` against `target`, and
    /// its gradient on `hidden`.
    static func embeddingLoss(_ hidden: Tensor, lengths: [Int], target: Tensor) throws -> (loss: Double, dHidden: Tensor) {
        let (e, norms) = L2Normalize.forward(MeanPooling.forward(hidden, lengths: lengths))
        let mse = try MeanSquaredError().evaluate(e, target: target)
        let cos = try CosineEmbeddingLoss().evaluate(e, target: target)
        var dE = mse.gradient
        dE.withUnsafeMutableFloats { d in cos.gradient.withUnsafeFloats { c in for i in 0..<d.count { d[i] += c[i] } } }
        return (mse.loss + cos.loss, MeanPooling.backward(L2Normalize.backward(dE, y: e, norms: norms), lengths: lengths))
    }

    /// Checks every `grad.<path>` of the golden against `grads`; returns the worst error for the report.
    @discardableResult
    func expectGradients(_ golden: [String: Tensor], _ grads: Gradients) -> Double {
        let expected = golden.filter { $0.key.hasPrefix("grad.") }
        #expect(Set(expected.keys.map { String($0.dropFirst(5)) }) == Set(grads.paths))
        var worstError = 0.0
        let floor = vanishingGradientFloor * (expected.values.map { norm($0.floats.map(Double.init)) }.max() ?? 0)
        for (key, g) in expected {
            let path = String(key.dropFirst(5))
            guard let ours = grads.tensor(path) else { continue }
            let e = relativeError(ours.floats.map(Double.init), g.floats.map(Double.init), floor: floor)
            worstError = max(worstError, e)
            #expect(e <= 1e-4, "\(path): relative error \(e)")
        }
        return worstError
    }

    @Test func digitsCNNMatchesJax() throws {
        let golden = try Self.golden("digits_cnn_grads.safetensors").tensors
        let model = try KerasModelLoader.load(Self.repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras"))
        let ctx = TrainingContext(executor: testExecutor, mode: .train, dropout: false)
        let grads = Gradients(trainableIn: model)
        let (logits, tape) = try model.trainingForward(golden["x"]!, context: ctx)
        let loss = try CrossEntropy(labelSmoothing: 0.1).evaluate(logits: logits, labels: golden["y"]!.int64s.map { Int($0) })
        #expect(abs(loss.loss - Double(golden["loss"]!.floats[0])) <= 1e-5 * abs(loss.loss))
        try model.backward(loss.gradient, tape: tape, gradients: grads, context: ctx)
        print("digits CNN vs jax.grad: worst gradient relative error \(expectGradients(golden, grads))")
    }

    @Test func tinyBertMatchesJax() throws {
        let (golden, _, bert, input) = try Self.tinyBert("tiny_bert_grads.safetensors")
        let ctx = TrainingContext(executor: testExecutor)
        let grads = Gradients(trainableIn: bert)
        let (hidden, tape) = try bert.trainingForward(input, context: ctx)
        // The golden's loss: embedding MSE + cosine on L2-normalized mean pooling, plus 0.5 · MSE on layer 0's output.
        let embedding = try Self.embeddingLoss(hidden, lengths: input.lengths, target: golden["target_embedding"]!)
        let hiddenLoss = try HiddenStateMSE().evaluate(
            student: tape.states[1], target: golden["target_state"]!, gradients: nil, context: ctx)
        let total = embedding.loss + 0.5 * hiddenLoss.loss
        #expect(abs(total - Double(golden["loss"]!.floats[0])) <= 1e-5 * abs(total))
        var dState = hiddenLoss.gradient
        dState.withUnsafeMutableFloats { for i in 0..<$0.count { $0[i] *= 0.5 } }
        try bert.backward(embedding.dHidden, dStates: [1: dState], tape: tape, gradients: grads, context: ctx)
        print("tiny BERT vs jax.grad: worst gradient relative error \(expectGradients(golden, grads))")
    }

    /// The same BERT with MiniLM's attention-distribution KL on layer 1 (4 heads) against random teacher
    /// distributions, plus the embedding losses: AttentionKL's gradient on the softmax inputs through the fused
    /// attention backward (`dScores`).
    @Test func tinyBertAttentionKLMatchesJax() throws {
        let (golden, shapes, bert, input) = try Self.tinyBert("tiny_bert_attention_kl_grads.safetensors")
        let ctx = TrainingContext(executor: testExecutor)
        let grads = Gradients(trainableIn: bert)
        let (hidden, tape) = try bert.trainingForward(input, context: ctx)
        // The golden's loss: embedding MSE + cosine on L2-normalized mean pooling, plus 0.7 · KL(t ‖ layer 1's attention).
        let embedding = try Self.embeddingLoss(hidden, lengths: input.lengths, target: golden["target_embedding"]!)
        let kl = try AttentionKL().evaluate(
            student: tape.attentionProbabilities(layer: 1), teacher: golden["target_attention"]!, lengths: input.lengths,
            heads: shapes[1].heads)
        let total = embedding.loss + 0.7 * kl.loss
        #expect(abs(total - Double(golden["loss"]!.floats[0])) <= 1e-5 * abs(total))
        var dScores = kl.gradient
        dScores.withUnsafeMutableFloats { for i in 0..<$0.count { $0[i] *= 0.7 } }
        try bert.backward(embedding.dHidden, dStates: [:], dScores: [1: dScores], tape: tape, gradients: grads, context: ctx)
        print("tiny BERT + attention KL vs jax.grad: worst gradient relative error \(expectGradients(golden, grads))")
    }
}
