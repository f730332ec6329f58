import Compression
import Formats
import Foundation
import Layers
import Runtime
import Tensors
import Testing

/// Structured pruning through the dependency graph against Keras running the same deletion
/// (tools/make_structured_pruning_ref.py), zero-ratio identity, artifact round trips and bad settings.
@Suite(.serialized)
struct StructuredPruningTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func fixture(_ p: String) -> URL { repo.appendingPathComponent("Tests/Fixtures").appendingPathComponent(p) }

    /// The digits CNN with its BatchNorms (the graph must carry channels through them).
    static func cnn() throws -> LoadedModel {
        let url = fixture("keras/digits_cnn.keras")
        return LoadedModel(kind: .sequential(try KerasModelLoader.load(url)), source: url, format: "keras-v3")
    }

    static func reference() throws -> (tensors: [String: Tensor], plans: [String: [String: [String: [Int]]]]) {
        let file = try SafeTensors.read(fixture("structured-pruning/digits_cnn.safetensors"))
        let plans = try JSONDecoder().decode(
            [String: [String: [String: [Int]]]].self, from: Data((file.metadata["plans"] ?? "{}").utf8))
        return (file.tensors, plans)
    }

    static func prune(
        _ model: LoadedModel, _ kind: PruningUnitKind, _ ratio: Double, _ criterion: PruningCriterion, calibration: Tensor? = nil,
        scope: PruningScope = .perLayer
    ) throws -> (LoadedModel, StructuredPruningPlan) {
        let pruner = StructuredPruner(kind: kind, ratio: ratio, scope: scope)
        let groups = try DependencyGraph.groups(of: model)
        let scores: [String: [Double]]
        if criterion == .activation {
            scores = try ActivationImportance.scores(
                try pruner.selectedGroups(groups), model: model, calibration: .tensor(calibration!), on: testExecutor)
        } else {
            scores = try pruner.weightScores(groups, model: model, criterion: criterion)
        }
        let plan = try pruner.plan(groups: groups, scores: scores)
        return (try StructuredPruner.apply(plan, to: model), plan)
    }

    static func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.floats, b.floats).map { abs($0 - $1) }.max() ?? .infinity }

    @Test func theGraphCouplesConvBatchNormFlattenAndDense() throws {
        let groups = try DependencyGraph.groups(of: Self.cnn())
        #expect(groups.map(\.root) == ["conv1", "conv2", "fc1"])
        let conv2 = groups[1]
        #expect(conv2.kind == .channels && conv2.units == 32)
        #expect(conv2.slices.map(\.parameter) == [
            "conv2.weight", "conv2.bias", "bn2.gamma", "bn2.beta", "bn2.mean", "bn2.variance", "fc1.weight",
        ])
        // NHWC flatten of (4, 4, 32): channel 5 is read by fc1 at columns p·32 + 5.
        #expect(conv2.slices.last!.indices[5] == (0..<16).map { $0 * 32 + 5 })
        #expect(conv2.slices.last!.axis == 1)
    }

    @Test func channelsThenNeuronsMatchKeras() throws {
        let (ref, plans) = try Self.reference()
        let (a, p1) = try Self.prune(try Self.cnn(), .channels, 0.5, .l2)
        #expect(p1.kept["conv1"] == plans["a"]?["channels"]?["conv1"])
        #expect(p1.kept["conv2"] == plans["a"]?["channels"]?["conv2"])
        let (b, p2) = try Self.prune(a, .neurons, 0.5, .l1)
        #expect(p2.kept["fc1"] == plans["a"]?["neurons"]?["fc1"])
        guard case let .sequential(m) = b.kind else { Issue.record("not sequential"); return }
        #expect(m.specs.compactMap(\.outFeatures) == [8, 8, 16, 16, 32, 10])
        let out = try b.predict(.tensor(ref["x"]!), on: testExecutor)
        #expect(Self.maxDiff(out, ref["probs_a"]!) < 1e-5)
        // The deletion changed the model: the unpruned probabilities are far away.
        #expect(Self.maxDiff(out, ref["probs"]!) > 1e-2)
        let original = try Self.cnn().root.parameterCount
        #expect(b.root.parameterCount < original / 2)
    }

    @Test func activationImportanceMatchesKeras() throws {
        let (ref, plans) = try Self.reference()
        let (pruned, plan) = try Self.prune(try Self.cnn(), .channels, 0.5, .activation, calibration: ref["calibration"]!)
        #expect(plan.kept["conv1"] == plans["b"]?["channels"]?["conv1"])
        #expect(plan.kept["conv2"] == plans["b"]?["channels"]?["conv2"])
        #expect(Self.maxDiff(try pruned.predict(.tensor(ref["x"]!), on: testExecutor), ref["probs_b"]!) < 1e-5)
    }

    @Test(arguments: [PruningUnitKind.channels, .neurons])
    func zeroRatioIsTheIdentity(kind: PruningUnitKind) throws {
        let (ref, _) = try Self.reference()
        let model = try Self.cnn()
        let (pruned, _) = try Self.prune(model, kind, 0, .l2)
        let x = ref["x"]!
        #expect(try pruned.predict(.tensor(x), on: testExecutor).bitwiseEqual(try model.predict(.tensor(x), on: testExecutor)))
    }

    @Test func globalScopeKeepsAUnitInEveryGroupAndMeetsTheBudget() throws {
        let (_, plan) = try Self.prune(try Self.cnn(), .channels, 0.7, .l2, scope: .global)
        let kept = plan.kept.values.map(\.count).reduce(0, +)
        #expect(kept == 14)  // ⌊48 · 0.3⌋
        #expect(plan.kept.values.allSatisfy { !$0.isEmpty })
    }

    @Test func prunedModelRoundTripsThroughAnArtifact() throws {
        let (ref, _) = try Self.reference()
        let (pruned, _) = try Self.prune(try Self.cnn(), .channels, 0.5, .l2)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prune-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let provenance = ArtifactManifest.Provenance(
            source: "cnn", sourceSha256: "-", recipe: nil, toolVersion: "test", createdAt: "now", stages: ["prune"])
        try Artifact.write(pruned, to: dir, provenance: provenance)
        let again = try Artifact.load(dir)
        let x = ref["x"]!
        #expect(try again.predict(.tensor(x), on: testExecutor).bitwiseEqual(try pruned.predict(.tensor(x), on: testExecutor)))
        #expect(again.root.namedParameters().first { $0.0 == "conv2.weight" }?.1.shape == [16, 3, 3, 8])
    }

    @Test func badRatiosAndStructuresAreOneLineErrors() throws {
        let model = try Self.cnn()
        let groups = try DependencyGraph.groups(of: model)
        #expect(throws: CompressionError.pruning(key: "structure", message: "the model has no prunable heads")) {
            try StructuredPruner(kind: .heads, ratio: 0.25).selectedGroups(groups)
        }
        let pruner = StructuredPruner(kind: .channels, ratio: 1.0)
        let scores = try StructuredPruner(kind: .channels, ratio: 0).weightScores(groups, model: model, criterion: .l2)
        #expect(throws: CompressionError.pruning(key: "sparsity", message: "1.0 is outside [0, 1)")) {
            try pruner.plan(groups: groups, scores: scores)
        }
        // 0.95 of conv1's 16 channels keeps ⌊0.8⌋ = 0: refused, not an empty layer.
        #expect(throws: CompressionError.pruning(key: "sparsity", message: "0.95 would remove every one of the 16 channels of 'conv1'")) {
            try StructuredPruner(kind: .channels, ratio: 0.95).plan(groups: groups, scores: scores)
        }
        #expect(throws: CompressionError.self) { try StructuredPruner(kind: .layers, ratio: 0.5).weightScores(groups, model: model, criterion: .l2) }
    }
}

/// MiniLM: whole layers (block influence on calibration sentences), a quarter of the heads (L2) and half the FFN
/// neurons (L1) against float64 numpy deleting the same units (tools/make_structured_pruning_minilm_ref.py).
@Suite(.serialized)
struct BertStructuredPruningTests {
    static let repo = StructuredPruningTests.repo
    static let sentences = URL(fileURLWithPath: "/work/shared/fixtures/minilm/sentences.txt")

    static func minilm() throws -> LoadedModel { try HuggingFaceLoader.load(repo.appendingPathComponent("models/all-MiniLM-L6-v2")) }

    static func step(
        _ model: LoadedModel, _ kind: PruningUnitKind, _ ratio: Double, _ criterion: PruningCriterion, calibration: [String] = []
    ) throws -> (LoadedModel, StructuredPruningPlan) {
        let pruner = StructuredPruner(kind: kind, ratio: ratio)
        let groups = try DependencyGraph.groups(of: model)
        let scores: [String: [Double]]
        if criterion == .activation {
            scores = try ActivationImportance.scores(
                try pruner.selectedGroups(groups), model: model, calibration: .texts(calibration), on: testExecutor)
        } else {
            scores = try pruner.weightScores(groups, model: model, criterion: criterion)
        }
        let plan = try pruner.plan(groups: groups, scores: scores)
        return (try StructuredPruner.apply(plan, to: model), plan)
    }

    @Test func layersHeadsAndNeuronsMatchNumpy() throws {
        let file = try SafeTensors.read(StructuredPruningTests.fixture("structured-pruning/minilm.safetensors"))
        struct Plan: Decodable { let layers: [Int]; let heads: [[Int]]; let ffn: [[Int]] }
        let expected = try JSONDecoder().decode(Plan.self, from: Data(file.metadata["plan"]!.utf8))
        let lines = try String(contentsOf: Self.sentences, encoding: .utf8).split(separator: "\n").map(String.init).filter {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty
        }
        let (a, layers) = try Self.step(try Self.minilm(), .layers, 0.15, .activation, calibration: Array(lines.dropFirst(16).prefix(16)))
        #expect(layers.kept["encoder.layer"] == expected.layers)
        let (b, heads) = try Self.step(a, .heads, 0.25, .l2)
        #expect((0..<5).map { heads.kept["encoder.layer.\($0).attention"]! } == expected.heads)
        let (c, ffn) = try Self.step(b, .neurons, 0.5, .l1)
        #expect((0..<5).map { ffn.kept["encoder.layer.\($0).intermediate"]! } == expected.ffn)
        guard case let .sentenceEncoder(bert, _, _) = c.kind else { Issue.record("not BERT"); return }
        #expect(bert.config.numHiddenLayers == 5)
        #expect(bert.layers.map(\.shape) == Array(repeating: BertLayerShape(heads: 9, headSize: 32, intermediateSize: 768), count: 5))
        let t = file.tensors, width = t["input_ids"]!.shape[1], all = t["input_ids"]!.int64s
        let lengths = t["lengths"]!.int64s.map { Int($0) }
        let ids = lengths.enumerated().flatMap { i, n in all[(i * width)..<(i * width + n)].map { Int32($0) } }
        let out = try c.run(.tokens(ids: ids, lengths: lengths), on: testExecutor)
        #expect(StructuredPruningTests.maxDiff(out, t["embeddings"]!) < 1e-4)
    }

    @Test func zeroRatioIsTheIdentity() throws {
        let model = try Self.minilm()
        var pruned = model
        for kind in [PruningUnitKind.heads, .neurons] { pruned = try Self.step(pruned, kind, 0, .l2).0 }
        let texts = ["Pruning nothing must change nothing.", "A second sentence."]
        #expect(try pruned.predict(.texts(texts), on: testExecutor).bitwiseEqual(try model.predict(.texts(texts), on: testExecutor)))
    }
}
