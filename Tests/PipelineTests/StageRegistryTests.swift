import Foundation
import Testing

@testable import Compression
@testable import Pipeline

/// Stages are types in one registry; their allowed keys come from their CodingKeys.
struct StageRegistryTests {
    static func keys<K: CodingKey & CaseIterable>(_: K.Type) -> Set<String> { Set(K.allCases.map(\.stringValue)) }

    @Test func eachStagesAllowedKeysAreItsCodingKeys() {
        let codingKeys: [String: Set<String>] = [
            "evaluate": Self.keys(EvaluateStage.CodingKeys.self), "export": Self.keys(ExportStage.CodingKeys.self),
            "quantize": Self.keys(QuantizeConfig.CodingKeys.self), "distill": Self.keys(DistillStage.CodingKeys.self),
            "train": Self.keys(TrainStage.CodingKeys.self),
            "prune": Self.keys(PruneConfig.CodingKeys.self),
        ]
        #expect(Set(RecipeStages.all.map { $0.name }) == Set(codingKeys.keys))
        let schema = Recipe.keySchema(stages: RecipeStages.all)
        for stage in RecipeStages.all {
            #expect(stage.keySchema[""] == codingKeys[stage.name], "\(stage.name)")
            #expect(schema["stages.\(stage.name)"] == codingKeys[stage.name], "\(stage.name)")
        }
        #expect(schema["stages.quantize.weights"] == Self.keys(QuantizeConfig.WeightConfig.CodingKeys.self))
        #expect(schema["stages.quantize.activations"] == Self.keys(QuantizeConfig.ActivationConfig.CodingKeys.self))
        #expect(schema["stages.quantize.smoothquant"] == Self.keys(QuantizeConfig.SmoothQuantConfig.CodingKeys.self))
    }

    /// The derived schema equals the table that used to be written by hand (so no recipe key was lost).
    @Test func derivedSchemaMatchesTheFormerHandWrittenTable() {
        let former: [String: Set<String>] = [
            "": ["name", "model", "data", "stages", "constraints", "output"],
            "data": ["calibration", "evaluation"],
            "constraints": ["min_cosine", "max_accuracy_drop"],
            "stages.evaluate": ["batch_sizes", "threads", "time_budget", "timing"],
            "stages.export": ["zstd"],
            "stages.quantize": [
                "weights", "activations", "smoothquant", "targets", "ignore", "calibration_samples", "max_sequence_length", "tuning",
                "sensitivity", "embeddings",
            ],
            "stages.quantize.weights": [
                "bits", "symmetric", "granularity", "group_size", "method", "dampening", "act_order", "scale_search", "awq_scales",
            ],
            "stages.quantize.activations": ["mode", "calibration", "percentile"],
            "stages.quantize.smoothquant": ["alpha"],
            "stages.prune": [
                "structure", "criterion", "sparsity", "scope", "schedule", "fine_tune", "targets", "ignore", "sensitivity",
                "calibration_samples",
            ],
            "stages.prune.schedule": ["kind", "start", "end", "steps"],
            // fine_tune grew its data and training keys when it was wired to the trainer (issue 8).
            "stages.prune.fine_tune": [
                "epochs", "distill_from", "learning_rate", "batch_size", "data", "weight_decay", "warmup", "seed", "alpha", "temperature",
                "hidden_weight", "prune_window",
            ],
            "stages.prune.fine_tune.data": ["train", "validation", "validation_fraction", "max_train", "max_validation"],
            "stages.prune.sensitivity": ["sparsities"],
        ]
        let schema = Recipe.keySchema(stages: RecipeStages.all).keys
        #expect(former.allSatisfy { schema[$0.key] == $0.value })
        // Everything else belongs to the train and distill stages.
        #expect(schema.keys.filter { former[$0] == nil }.allSatisfy { $0.hasPrefix("stages.distill") || $0.hasPrefix("stages.train") })
        #expect(schema["stages.distill.loss.hidden"] == ["layer_map", "weight"])
        #expect(schema["stages.distill.loss.attention"] == ["layer_map", "weight"])
    }

    @Test func recipeRoundTripsThroughJSON() throws {
        let yaml = """
            name: q
            model: m
            data: {calibration: c.txt, evaluation: e.txt}
            stages:
              - quantize: {weights: {bits: 4, granularity: group, method: gptq, scale_search: mse}}
              - evaluate:
              - export: {zstd: true}
            """
        let recipe = try RecipeLoader.parse(yaml, file: "q.yaml")
        let again = try JSONDecoder().decode(Recipe.self, from: try JSONEncoder().encode(recipe))
        #expect(again.stages.map { $0.name } == ["quantize", "evaluate", "export"])
        let q = try #require(again.first(QuantizeStage.self)?.config.weights)
        #expect(q.granularity == .group && q.method == .gptq && q.scaleSearch == .mse)
        #expect(again.first(ExportStage.self)?.zstd == true)
    }

    /// A test-only stage: one conformance, registered by passing the list; the loader, key checks and runner need
    /// nothing else.
    struct CountStage: RecipeStage {
        static let name = "count"
        var times: Int
        enum CodingKeys: String, CodingKey, CaseIterable { case times }
        static var keySchema: KeySchema { KeySchema(CodingKeys.self) }

        func validate(in recipe: Recipe, at index: Int) throws {
            if times < 1 { throw StageProblem("times must be ≥ 1") }
        }

        func run(_ context: inout StageContext) throws -> StageRecord {
            var record = context.record(self)
            record.tuningSummary = "counted \(times) after \(context.records.count) stage(s)"
            return record
        }
    }

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let stages = RecipeStages.all + [CountStage.self]
    static func recipe(_ count: String) -> String {
        """
        name: counted
        model: \(repo.path)/Tests/Fixtures/keras/digits_cnn.keras
        stages:
          - count: \(count)
        """
    }

    @Test func aNewStageIsOneConformance() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("compress-count-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let recipe = try RecipeLoader.parse(Self.recipe("{times: 3}"), file: "c.yaml", stages: Self.stages)
        #expect((recipe.stages.first as? CountStage)?.times == 3)
        let (record, _) = try PipelineRunner().run(recipe, recipePath: "c.yaml", outputDirectory: dir.path)
        #expect(record.stages.map(\.stage) == ["count"])
        #expect(record.stages.first?.tuningSummary == "counted 3 after 0 stage(s)")
        // Without registering it, the stage is unknown; registered, its keys and checks apply.
        #expect(throws: RecipeError.self) { try RecipeLoader.parse(Self.recipe("{times: 3}"), file: "c.yaml") }
        for (value, fragment) in [
            ("{times: 3, speed: 2}", "unknown key 'speed' at 'stages.count' (allowed: times)"), ("{times: 0}", "times must be ≥ 1"),
        ] {
            do {
                _ = try RecipeLoader.parse(Self.recipe(value), file: "c.yaml", stages: Self.stages)
                Issue.record("expected an error for \(value)")
            } catch let e as RecipeError {
                #expect(e.line == 4 && e.description.contains(fragment), "\(e)")
            }
        }
    }
}
