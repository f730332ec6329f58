/// A recipe: which model, which data, which stages in order, what must hold, where results go.
///
/// ```yaml
/// name: digits-cnn
/// model: Tests/Fixtures/keras/digits_cnn.keras
/// data: {calibration: datasets/digits/train.h5, evaluation: datasets/digits/test.h5}
/// stages:
///   - evaluate: {batch_sizes: [1, 32], threads: 1}
///   - export: {zstd: true}
/// constraints: {max_accuracy_drop: 0.01}
/// ```
/// Relative paths are resolved against the current directory.
import Compression

public struct Recipe: Codable, Sendable, ConfigSection {
    public var name: String
    public var model: String
    public var data: DataSection?
    /// In order; each is one of ``RecipeStages/all`` (`- evaluate: {...}`).
    public var stages: [any RecipeStage]
    public var constraints: Constraints?
    /// Output directory (default `artifacts/<name>`).
    public var output: String?

    public init(
        name: String, model: String, data: DataSection? = nil, stages: [any RecipeStage], constraints: Constraints? = nil,
        output: String? = nil
    ) {
        self.name = name; self.model = model; self.data = data; self.stages = stages; self.constraints = constraints; self.output = output
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, model, data, stages, constraints, output }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        model = try c.decode(String.self, forKey: .model)
        data = try c.decodeIfPresent(DataSection.self, forKey: .data)
        stages = try c.decode([StageEntry].self, forKey: .stages).map(\.stage)
        constraints = try c.decodeIfPresent(Constraints.self, forKey: .constraints)
        output = try c.decodeIfPresent(String.self, forKey: .output)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(model, forKey: .model)
        try c.encodeIfPresent(data, forKey: .data)
        try c.encode(stages.map(StageEntry.init), forKey: .stages)
        try c.encodeIfPresent(constraints, forKey: .constraints)
        try c.encodeIfPresent(output, forKey: .output)
    }

    /// The first stage of type `T`, typed (`recipe.first(QuantizeStage.self)?.config`).
    public func first<T: RecipeStage>(_ type: T.Type) -> T? { stages.lazy.compactMap { $0 as? T }.first }

    public struct DataSection: Codable, Sendable, ConfigSection {
        public var calibration: String?
        /// One spec or a list (see `EvalData`).
        public var evaluation: [String]?

        public init(calibration: String? = nil, evaluation: [String]? = nil) {
            self.calibration = calibration
            self.evaluation = evaluation
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case calibration, evaluation }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            calibration = try c.decodeIfPresent(String.self, forKey: .calibration)
            if let one = try? c.decodeIfPresent(String.self, forKey: .evaluation) {
                evaluation = [one]
            } else {
                evaluation = try c.decodeIfPresent([String].self, forKey: .evaluation)
            }
        }
    }

    public struct Constraints: Codable, Sendable, ConfigSection {
        /// Lowest acceptable mean cosine to the original model's outputs.
        public var minCosine: Double?
        /// Largest acceptable top-1 accuracy drop (absolute, 0.01 = one point).
        public var maxAccuracyDrop: Double?
        enum CodingKeys: String, CodingKey, CaseIterable { case minCosine = "min_cosine", maxAccuracyDrop = "max_accuracy_drop" }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }

        public init(minCosine: Double? = nil, maxAccuracyDrop: Double? = nil) {
            self.minCosine = minCosine
            self.maxAccuracyDrop = maxAccuracyDrop
        }
    }

    /// Keys allowed at the top level, in `data` and in `constraints` (stages are added by ``keySchema(stages:)``).
    public static var keySchema: KeySchema {
        KeySchema(CodingKeys.self, nested: [.data: DataSection.self, .constraints: Constraints.self])
    }

    /// Keys allowed at each place of a recipe whose stages may be `stages`, for unknown-key errors
    /// (`stages.quantize.weights` holds the keys of a quantize stage's `weights`).
    public static func keySchema(stages: [any RecipeStage.Type]) -> KeySchema {
        var schema = keySchema
        for stage in stages { schema.merge(stage.keySchema, under: "stages.\(stage.name)") }
        return schema
    }
}
