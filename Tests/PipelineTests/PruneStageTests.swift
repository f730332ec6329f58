import Compression
import Foundation
import Pipeline
import Testing

/// The `prune` stage: its keys decode into kinds, bad keys and values give line-numbered one-line errors, and a
/// digits CNN recipe prunes, measures and exports a physically smaller model.
@Suite(.serialized)
struct PruneStageTests {
    static let recipe = """
        name: p
        model: m
        data:
          calibration: c.h5
          evaluation: e.h5
        stages:
          - prune:
              structure: channels
              criterion: l2
              sparsity: 0.5
              scope: per-layer
              targets: ["conv*"]
        """

    @Test func keysDecodeToKinds() throws {
        let p = try #require(try RecipeLoader.parse(Self.recipe, file: "p.yaml").first(PruneStage.self)?.config)
        #expect(p.structure == .structured(.channels) && p.criterion == .l2 && p.sparsity == .uniform(0.5) && p.scope == .perLayer)
        let nm = try RecipeLoader.parse(
            Self.recipe.replacingOccurrences(of: "structure: channels", with: "structure: \"2:4\"")
                .replacingOccurrences(of: "criterion: l2", with: "criterion: magnitude")
                .replacingOccurrences(of: "sparsity: 0.5", with: "calibration_samples: 8"), file: "p.yaml")
        #expect(nm.first(PruneStage.self)?.config.structure == .sparse(.nOfM(n: 2, m: 4)))
        let ratios = try RecipeLoader.parse(
            Self.recipe.replacingOccurrences(of: "sparsity: 0.5", with: "sparsity: {\"conv1\": 0.25, \"conv2\": 0.5}"), file: "p.yaml")
        #expect(ratios.first(PruneStage.self)?.config.sparsity == .perTarget([("conv1", 0.25), ("conv2", 0.5)]))
    }

    static let bad: [RecipeTests.Bad] = [
        .init(yaml: recipe.replacingOccurrences(of: "scope:", with: "scopes:"), line: 11, fragment: "unknown key 'scopes'"),
        .init(
            yaml: recipe.replacingOccurrences(of: "structure: channels", with: "structure: filters"), line: 8,
            fragment: "unknown structure 'filters'"),
        .init(
            yaml: recipe.replacingOccurrences(of: "criterion: l2", with: "criterion: l3"), line: 9,
            fragment: "unknown value 'l3' (allowed: magnitude, l1, l2, taylor, activation)"),
        .init(yaml: recipe.replacingOccurrences(of: "sparsity: 0.5", with: "sparsity: 1.5"), line: 7, fragment: "prune.sparsity: 1.5 is outside [0, 1)"),
        .init(
            yaml: recipe.replacingOccurrences(of: "structure: channels", with: "structure: \"2:4\""), line: 7,
            fragment: "n:m fixes the sparsity"),
        .init(
            yaml: recipe.replacingOccurrences(of: "criterion: l2", with: "criterion: taylor").replacingOccurrences(
                of: "  calibration: c.h5\n", with: ""), line: 4, fragment: "needs data.calibration"),
        .init(
            yaml: recipe.replacingOccurrences(of: "scope: per-layer", with: "schedule: {kind: gradual-cubic, end: 0.5, stepz: 3}"),
            line: 11, fragment: "unknown key 'stepz'"),
        .init(
            yaml: recipe.replacingOccurrences(of: "scope: per-layer", with: "schedule: {kind: gradual-cubic, end: 0.6, steps: 3}"),
            line: 7, fragment: "differs from schedule.end"),
        .init(yaml: recipe.replacingOccurrences(of: "[\"conv*\"]", with: "[\"re:conv(\"]"), line: 7, fragment: "not a valid regular expression"),
    ]

    @Test(arguments: bad)
    func badPruneRecipesNameLineAndProblem(_ c: RecipeTests.Bad) {
        do {
            _ = try RecipeLoader.parse(c.yaml, file: "r.yaml")
            Issue.record("expected an error for \(c.fragment)")
        } catch let e as RecipeError {
            #expect(e.description.contains(c.fragment), "\(e)")
            if let line = c.line { #expect(e.line == line, "\(e)") }
            #expect(!e.description.contains("\n"))
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    @Test func digitsChannelsRecipePrunesMeasuresAndExports() throws {
        let dir = try RunTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = RunTests.repo.path
        let yaml = """
            name: digits-prune
            model: \(repo)/Tests/Fixtures/keras/digits_cnn.keras
            data: {calibration: \(repo)/datasets/digits/train.h5, evaluation: \(repo)/datasets/digits/test.h5}
            stages:
              - evaluate: {batch_sizes: [1], timing: false}
              - prune: {structure: channels, criterion: activation, sparsity: 0.25, sensitivity: {sparsities: [0.5]}}
              - evaluate: {batch_sizes: [1], timing: false}
              - export: {zstd: false}
            """
        let path = dir.appendingPathComponent("r.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let (record, _) = try PipelineRunner().run(try RecipeLoader.load(path), recipePath: path, outputDirectory: dir.appendingPathComponent("run").path)
        let prune = try #require(record.stages[1].pruning)
        #expect(prune.parametersAfter < prune.parametersBefore)
        #expect(prune.groups?.map(\.root) == ["conv1", "conv2"] && prune.groups?.map(\.kept) == [12, 24])
        #expect(prune.sensitivity?.count == 2)
        let after = try #require(record.stages[2].metrics)
        #expect(after.accuracy! > 0.5)  // a quarter of the channels gone, no fine-tuning: degraded, not broken
        #expect(after.fidelity != nil)
        #expect(record.stages[3].roundtripMaxAbsDiff == 0)
    }
}
