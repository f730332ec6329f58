import Compression
import Formats
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
        .init(
            yaml: recipe.replacingOccurrences(of: "scope: per-layer", with: "fine_tune: {epochs: 2}"), line: 7,
            fragment: "prune.fine_tune.data: missing"),
        .init(
            yaml: recipe.replacingOccurrences(of: "scope: per-layer", with: "fine_tune: {epochs: 0, data: {train: t.h5}}"), line: 7,
            fragment: "prune.fine_tune.epochs: must be in 1...10000, got 0"),
        .init(
            yaml: recipe.replacingOccurrences(of: "scope: per-layer", with: "fine_tune: {epochs: 1, data: {train: t.h5, validation: t.h5}}"),
            line: 7, fragment: "prune.fine_tune.data.validation: must differ from data.train"),
        .init(
            yaml: recipe.replacingOccurrences(of: "scope: per-layer", with: "fine_tune: {epochs: 1, data: {train: e.h5}}"),
            line: 7, fragment: "prune.fine_tune.data is also the recipe's evaluation data"),
        .init(
            yaml: recipe.replacingOccurrences(of: "scope: per-layer", with: "fine_tune: {epochs: 1, data: {train: t.h5}, alpha: 2}"),
            line: 7, fragment: "prune.fine_tune.alpha: must be in [0, 1], got 2.0"),
        .init(
            yaml: recipe.replacingOccurrences(of: "scope: per-layer", with: "fine_tune: {epochs: 1, data: {tran: t.h5}}"),
            line: 11, fragment: "unknown key 'tran'"),
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

    /// Runs a digits recipe with one prune stage (`prune`, YAML flow mapping) between two evaluate stages and an export.
    static func runDigits(_ prune: String, in dir: URL, name: String) throws -> (RunRecord, URL) {
        let repo = RunTests.repo.path
        let yaml = """
            name: \(name)
            model: \(repo)/Tests/Fixtures/keras/digits_cnn.keras
            data: {evaluation: \(repo)/datasets/digits/test.h5}
            stages:
              - evaluate: {batch_sizes: [1], timing: false}
              - prune: \(prune)
              - evaluate: {batch_sizes: [1], timing: false}
              - export: {zstd: false}
            """
        let path = dir.appendingPathComponent("\(name).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent(name)
        let (record, _) = try PipelineRunner().run(try RecipeLoader.load(path), recipePath: path, outputDirectory: out.path)
        return (record, out)
    }

    /// Zero positions of every Linear/Conv2D weight of an exported model.
    static func zeros(_ dir: URL) throws -> [String: [Bool]] {
        let model = try ModelLoader.load(dir.appendingPathComponent("model").path)
        var out: [String: [Bool]] = [:]
        for (path, t) in model.root.namedParameters() where path.hasSuffix(".weight") && t.shape.count >= 2 { out[path] = t.floats.map { $0 == 0 } }
        return out
    }

    /// `fine_tune` after 90 % one-shot magnitude pruning of the digits CNN: the weights pruned before training are still
    /// exactly zero afterwards (the same positions, the same density), and the held-out accuracy (digits test split,
    /// never trained on) is above the one-shot model's. Training data: the digits training split.
    @Test func fineTuneKeepsMasksAndRecoversAccuracy() throws {
        let dir = try RunTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = RunTests.repo.path
        let prune = "{structure: unstructured, sparsity: 0.9}"
        let (oneShot, oneShotDir) = try Self.runDigits(prune, in: dir, name: "oneshot")
        let tuned = "{structure: unstructured, sparsity: 0.9, fine_tune: {epochs: 3, distill_from: teacher, learning_rate: 0.003, "
            + "batch_size: 32, data: {train: \(repo)/datasets/digits/train.h5, validation_fraction: 0.2}}}"
        let (fine, fineDir) = try Self.runDigits(tuned, in: dir, name: "tuned")
        let before = try Self.zeros(oneShotDir), after = try Self.zeros(fineDir)
        #expect(!before.isEmpty && before.keys.sorted() == after.keys.sorted())
        for (path, z) in before {
            let kept = try #require(after[path])
            // Every weight pruned one-shot is still zero after fine-tuning (the fine-tuned run prunes the same start).
            #expect(zip(z, kept).allSatisfy { !$0 || $1 }, "\(path): a pruned weight came back")
        }
        let s0 = try #require(oneShot.stages[1].pruning?.weightSparsity), s1 = try #require(fine.stages[1].pruning?.weightSparsity)
        #expect(s0 >= 0.89 && abs(s1 - s0) < 1e-9, "density changed: \(s0) → \(s1)")
        let run = try #require(fine.stages[1].training?.runs.first)
        #expect(run.curve.count == 3 && run.objective.hasPrefix("Hinton KD"))
        let a0 = try #require(oneShot.stages[2].metrics?.accuracy), a1 = try #require(fine.stages[2].metrics?.accuracy)
        #expect(a1 > a0 + 0.02, "one-shot \(a0), fine-tuned \(a1)")
    }

    /// Gradual cubic pruning inside the fine-tune: the schedule's end density is reached and its zeros are kept.
    @Test func gradualScheduleRunsInsideTheFineTune() throws {
        let dir = try RunTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = RunTests.repo.path
        let prune = "{structure: unstructured, schedule: {kind: gradual-cubic, start: 0.3, end: 0.8, steps: 4}, fine_tune: {epochs: 2, "
            + "learning_rate: 0.003, data: {train: \(repo)/datasets/digits/train.h5, validation_fraction: 0.2}}}"
        let (record, out) = try Self.runDigits(prune, in: dir, name: "gradual")
        let sparsity = try #require(record.stages[1].pruning?.weightSparsity)
        #expect(abs(sparsity - 0.8) < 0.01, "\(sparsity)")
        let zeros = try Self.zeros(out).values.reduce(0) { $0 + $1.filter { $0 }.count }
        let total = try Self.zeros(out).values.reduce(0) { $0 + $1.count }
        #expect(Double(zeros) / Double(total) >= 0.79)
        #expect(record.stages[1].training?.runs.first?.objective == "cross-entropy on labels")
    }

    /// Structures a model cannot take and ratios that would empty a layer fail the run with one line naming the
    /// field, and no run directory is left behind.
    @Test(arguments: [
        ("{structure: heads, sparsity: 0.25}", "prune.structure: the model has no prunable heads"),
        ("{structure: channels, sparsity: 0.99}", "prune.sparsity: 0.99 would remove every one of the"),
        ("{structure: \"3:7\"}", "prune.structure: 3:7 needs rows divisible by 7"),
    ])
    func impossiblePruningFailsWithoutWriting(_ prune: String, _ fragment: String) throws {
        let dir = try RunTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try Self.runDigits(prune, in: dir, name: "bad")
            Issue.record("expected an error for \(prune)")
        } catch {
            let text = "\(error)"
            #expect(text.contains(fragment) && !text.contains("\n"), "\(text)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad").path))
    }
}
