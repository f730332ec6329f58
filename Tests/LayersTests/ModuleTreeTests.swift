import Layers
import Tensors
import Testing

/// The module tree: dotted paths, strict updates, replacement by path.
struct ModuleTreeTests {
    static func tinyBert() throws -> BertModel {
        try BertModel(
            config: BertConfig(
                vocabSize: 50, hiddenSize: 8, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 16,
                maxPositionEmbeddings: 16), withPooler: true)
    }

    @Test func bertParametersUseHuggingFacePaths() throws {
        let names = try Self.tinyBert().namedParameters().map(\.0)
        #expect(names.contains("embeddings.word_embeddings.weight"))
        #expect(names.contains("encoder.layer.1.attention.self.query.weight"))
        #expect(names.contains("encoder.layer.0.attention.output.LayerNorm.bias"))
        #expect(names.contains("encoder.layer.1.intermediate.dense.weight"))
        #expect(names.contains("pooler.dense.bias"))
        #expect(names.count == 5 + 2 * 16 + 2)
    }

    @Test func updateIsStrict() throws {
        let bert = try Self.tinyBert()
        var params = Dictionary(uniqueKeysWithValues: bert.namedParameters())
        params["encoder.layer.0.output.dense.weight"] = Tensor(zeros: [8, 15])
        #expect(throws: ModelError.shapeMismatch(name: "encoder.layer.0.output.dense.weight", expected: [8, 16], got: [8, 15])) {
            try bert.update(parameters: params)
        }
        params["encoder.layer.0.output.dense.weight"] = nil
        #expect(throws: ModelError.missingParameter("encoder.layer.0.output.dense.weight")) { try bert.update(parameters: params) }
        params["encoder.layer.0.output.dense.weight"] = Tensor(zeros: [8, 16])
        params["encoder.layer.9.extra"] = Tensor(zeros: [1])
        #expect(throws: ModelError.unexpectedParameter("encoder.layer.9.extra")) { try bert.update(parameters: params) }
    }

    /// In-place edits (the optimizer's path) must leave every derived cache current: the packed Linear weights and
    /// the fused QKV projection give the same outputs as a model that received the edited values through the
    /// strict ``Module/update(parameters:)``.
    @Test func editInPlaceRefreshesPackedAndFusedCaches() throws {
        let edited = try Self.tinyBert(), fresh = try Self.tinyBert()
        var rng: UInt64 = 3
        func rand() -> Float {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: rng >> 11) % 2000) / 2000 - 0.5
        }
        var params: [String: Tensor] = [:]
        for (name, t) in edited.namedParameters() { params[name] = Tensor(shape: t.shape, floats: (0..<t.count).map { _ in rand() }) }
        try edited.update(parameters: params)
        let paths = ["encoder.layer.0.attention.self.query.weight", "encoder.layer.1.intermediate.dense.weight", "embeddings.LayerNorm.bias"]
        try edited.editParametersInPlace(paths) { _, w in for i in w.indices { w[i] = w[i] * 1.5 + 0.01 } }
        for path in paths { params[path] = Tensor(shape: params[path]!.shape, floats: params[path]!.floats.map { $0 * 1.5 + 0.01 }) }
        try fresh.update(parameters: params)
        for (path, t) in edited.namedParameters() { #expect(t.floats == params[path]!.floats, "\(path)") }
        let ids: [Int32] = [1, 5, 7, 2, 1, 9, 2]
        let a = try edited.forward(ids: ids, lengths: [4, 3], on: testExecutor).hidden
        let b = try fresh.forward(ids: ids, lengths: [4, 3], on: testExecutor).hidden
        #expect(a.floats == b.floats)
        #expect(throws: ModelError.unexpectedParameter("encoder.layer.0.nope")) { try edited.editParametersInPlace(["encoder.layer.0.nope"]) { _, _ in } }
        edited.freeze()
        #expect(throws: ModelError.frozen(paths[0])) { try edited.editParametersInPlace([paths[0]]) { _, _ in } }
    }

    @Test func replaceModuleByPath() throws {
        let bert = try Self.tinyBert()
        let path = "encoder.layer.0.intermediate.dense"
        let replacement = Linear(name: "dense", inFeatures: 8, outFeatures: 16)
        try bert.replaceModule(at: path, with: replacement)
        #expect(bert.module(at: path) === replacement)
        #expect(throws: ModelError.noSuchModule("encoder.layer.7.intermediate.dense")) {
            try bert.replaceModule(at: "encoder.layer.7.intermediate.dense", with: replacement)
        }
    }

    @Test func packedBatchEqualsSequencesAlone() throws {
        // Random weights: the packed (no padding) batch must equal running each sequence alone.
        let bert = try Self.tinyBert()
        var rng: UInt64 = 7
        func rand() -> Float {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: rng >> 11) % 2000) / 2000
        }
        var params: [String: Tensor] = [:]
        for (name, t) in bert.namedParameters() { params[name] = Tensor(shape: t.shape, floats: (0..<t.count).map { _ in rand() }) }
        try bert.update(parameters: params)
        let seqs: [[Int32]] = [[1, 5, 7, 2], [1, 9, 2], [1, 3, 4, 5, 6, 7, 8, 2]]
        let pooling = SentencePooling(mode: .mean, normalize: true)
        let (hidden, _) = try bert.forward(ids: seqs.flatMap { $0 }, lengths: seqs.map(\.count), on: testExecutor)
        let packed = bert.pool(hidden, lengths: seqs.map(\.count), pooling: pooling).floats
        var alone: [Float] = []
        for s in seqs {
            let (h, _) = try bert.forward(ids: s, lengths: [s.count], on: testExecutor)
            alone += bert.pool(h, lengths: [s.count], pooling: pooling).floats
        }
        #expect(zip(packed, alone).map { abs($0 - $1) }.max()! < 1e-6)
        #expect(throws: ModelError.self) { try bert.forward(ids: [1, 99], lengths: [2], on: testExecutor) }
    }
}
