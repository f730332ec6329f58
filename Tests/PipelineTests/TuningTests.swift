import Runtime
import Compression
import Evaluation
import Formats
import Foundation
import Layers
import Pipeline
import Testing

/// Accuracy-aware mixed precision: when all-int4 misses the constraint, the most sensitive modules move up.
struct TuningTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let mlp = repo.deletingLastPathComponent().appendingPathComponent("shared/fixtures/keras/digits_mlp.h5").path

    @Test func tightConstraintKeepsSensitiveModulesHigher() throws {
        let eval = try EvalData.load(Self.repo.appendingPathComponent("datasets/digits/test.h5").path)
        let config = QuantizeConfig(weights: .init(bits: 4, granularity: .group, groupSize: 32))
        var constraints = Recipe.Constraints()
        constraints.minCosine = 0.99999
        let tuner = MixedPrecisionTuner(config: config, constraints: constraints, executor: testExecutor)
        let (model, attempts, summary) = try tuner.run(load: { try ModelLoader.load(Self.mlp) }, eval: eval, calibration: nil)
        #expect(attempts.count > 1)
        #expect(attempts.first?.meetsConstraints == false, "all-int4 should miss cosine 0.99999")
        let chosen = try #require(attempts.last)
        #expect(chosen.meetsConstraints, "\(summary)")
        #expect(!chosen.overrides.isEmpty)
        #expect(chosen.weightsBytes > attempts[0].weightsBytes)
        // The returned model is the chosen candidate: its non-int4 modules are the overridden ones.
        let kept = Set(model.root.namedModules().filter { !($0.1 is Int4Linear) && ($0.1 is Int8Linear || $0.1 is Linear) }.map(\.0))
        #expect(kept == Set(chosen.overrides.keys))
    }

    @Test func sensitivityRanksEveryTarget() throws {
        let model = try ModelLoader.load(Self.mlp)
        let eval = try EvalData.load(Self.repo.appendingPathComponent("datasets/digits/test.h5").path)
        let rows = try SensitivityAnalysis(config: QuantizeConfig(weights: .init(bits: 4, granularity: .group, groupSize: 32)), executor: testExecutor)
            .run(model, eval: eval, calibration: nil)
        #expect(Set(rows.map(\.path)) == ["dense_1", "dense_2", "dense_3"])
        #expect(zip(rows, rows.dropFirst()).allSatisfy { $0.metricDrop >= $1.metricDrop })
        #expect(rows.allSatisfy { $0.outputMSE > 0 })
        // The model is restored afterwards.
        #expect(model.root.namedModules().allSatisfy { !($0.1 is Int4Linear) })
    }
}
