import Foundation
import Formats
import Layers
import Runtime
import Tensors
import Testing

/// A MiniLM whose layers keep different numbers of heads and FFN neurons (layer 4 keeps one head and 1003 neurons)
/// against the float64 numpy output of tools/make_pruned_minilm.py, which deleted the same rows and columns.
@Suite(.serialized)
struct PrunedMiniLMTests {
    struct Plan: Decodable {
        struct Layer: Decodable {
            let headsKept: [Int]
            let ffnKept: [Int]
            enum CodingKeys: String, CodingKey { case headsKept = "heads_kept", ffnKept = "ffn_kept" }
        }
        let headSize: Int
        let layers: [Layer]
        enum CodingKeys: String, CodingKey { case headSize = "head_size", layers }
    }

    /// Rows `keep` of a (rows, cols) tensor, or of a vector.
    static func rows(_ t: Tensor, _ keep: [Int]) -> Tensor {
        let cols = t.rank == 2 ? t.shape[1] : 1, v = t.floats
        let out = keep.flatMap { v[($0 * cols)..<($0 * cols + cols)] }
        return Tensor(shape: t.rank == 2 ? [keep.count, cols] : [keep.count], floats: out)
    }

    /// Columns `keep` of a (rows, cols) tensor.
    static func columns(_ t: Tensor, _ keep: [Int]) -> Tensor {
        let (r, c) = (t.shape[0], t.shape[1]), v = t.floats
        return Tensor(shape: [r, keep.count], floats: (0..<r).flatMap { i in keep.map { v[i * c + $0] } })
    }

    /// The source MiniLM with the plan's heads and FFN neurons deleted, as a per-layer-width BertModel.
    static func prunedModel() throws -> (LoadedModel, BertModel) {
        let source = try HuggingFaceLoader.load(try TestPaths.requireMiniLM())
        guard case let .sentenceEncoder(bert, pooling, tokenizer) = source.kind else { throw TestSetupError("not a BERT") }
        let plan = try JSONDecoder().decode(Plan.self, from: Data(contentsOf: TestPaths.fixture("pruned-minilm/plan.json")))
        var config = bert.config
        config.layerShapes = plan.layers.map {
            BertLayerShape(heads: $0.headsKept.count, headSize: plan.headSize, intermediateSize: $0.ffnKept.count)
        }
        var weights = Dictionary(uniqueKeysWithValues: bert.namedParameters())
        for (i, layer) in plan.layers.enumerated() {
            let p = "encoder.layer.\(i)."
            let headRows = layer.headsKept.flatMap { h in (h * plan.headSize)..<((h + 1) * plan.headSize) }
            for proj in ["query", "key", "value"] {
                for kind in ["weight", "bias"] {
                    let key = p + "attention.self.\(proj).\(kind)"
                    weights[key] = rows(weights[key]!, headRows)
                }
            }
            weights[p + "attention.output.dense.weight"] = columns(weights[p + "attention.output.dense.weight"]!, headRows)
            for kind in ["weight", "bias"] {
                weights[p + "intermediate.dense.\(kind)"] = rows(weights[p + "intermediate.dense.\(kind)"]!, layer.ffnKept)
            }
            weights[p + "output.dense.weight"] = columns(weights[p + "output.dense.weight"]!, layer.ffnKept)
        }
        let pruned = try BertModel(config: config, withPooler: bert.hasPooler)
        try pruned.update(parameters: weights)
        pruned.freeze()
        let model = LoadedModel(kind: .sentenceEncoder(pruned, pooling, tokenizer), source: source.source, format: "huggingface")
        return (model, pruned)
    }

    @Test(arguments: [1, 2])
    func perLayerWidthsMatchTheNumpyReference(threads: Int) throws {
        let (model, pruned) = try Self.prunedModel()
        #expect(pruned.layers.map(\.shape.heads) == [12, 8, 4, 12, 1, 6])
        #expect(pruned.layers.map(\.shape.intermediateSize) == [1536, 768, 1536, 384, 1003, 768])
        let ref = try SafeTensors.read(TestPaths.fixture("pruned-minilm/reference.safetensors")).tensors
        let width = ref["input_ids"]!.shape[1], allIds = ref["input_ids"]!.int64s
        let lengths = ref["lengths"]!.int64s.map { Int($0) }
        let ids = lengths.enumerated().flatMap { i, n in allIds[(i * width)..<(i * width + n)].map { Int32($0) } }
        let out = try model.run(.tokens(ids: ids, lengths: lengths), on: Executor(threads: threads))
        let expected = ref["embeddings"]!
        #expect(out.shape == expected.shape)
        let diff = zip(out.floats, expected.floats).map { abs($0 - $1) }.max()!
        #expect(diff < 1e-4, "max abs diff \(diff)")
        // Pruning changed the model: the unpruned reference must be far away, or the test proves nothing.
        let unprunedDiff = zip(out.floats, ref["unpruned_embeddings"]!.floats).map { abs($0 - $1) }.max()!
        #expect(unprunedDiff > 0.05)
    }

    @Test func prunedModelRoundTripsThroughAVersion2Artifact() throws {
        let (model, pruned) = try Self.prunedModel()
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let provenance = ArtifactManifest.Provenance(
            source: "pruned", sourceSha256: "-", recipe: nil, toolVersion: compressToolVersion, createdAt: "now", stages: ["prune"])
        try Artifact.write(model, to: dir.appendingPathComponent("model"), provenance: provenance, zstd: false)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("model/model.json"))) as! [String: Any]
        #expect(json["version"] as? Int == 2)
        let again = try Artifact.load(dir.appendingPathComponent("model"))
        guard case let .sentenceEncoder(reloaded, _, _) = again.kind else { Issue.record("not a BERT"); return }
        #expect(reloaded.config.layers == pruned.config.layers)
        let texts = ["Structured pruning keeps a layer's shape in the artifact.", "One head left."]
        #expect(try model.predict(.texts(texts), on: testExecutor).bitwiseEqual(try again.predict(.texts(texts), on: testExecutor)))
    }

    @Test func inconsistentLayerShapesAreRejected() {
        var config = BertConfig(vocabSize: 10, hiddenSize: 8, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 16)
        config.layerShapes = [BertLayerShape(heads: 2, headSize: 4, intermediateSize: 16)]
        #expect(throws: ModelError.invalidConfig("layer_shapes has 1 entries for num_hidden_layers 2")) {
            try BertModel(config: config, withPooler: false)
        }
        config.layerShapes = [
            BertLayerShape(heads: 2, headSize: 4, intermediateSize: 16), BertLayerShape(heads: 0, headSize: 4, intermediateSize: 16),
        ]
        #expect(throws: ModelError.invalidConfig("layer_shapes[1].heads must be positive, got 0")) {
            try BertModel(config: config, withPooler: false)
        }
    }
}
