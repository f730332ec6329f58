import Compression
import Console
import Evaluation
import Formats
import Foundation
import Runtime
import Tensors

/// One step of a recipe: its YAML key, its settings (the conforming type itself, decoded from the stage's
/// mapping) and what it does to the run. Allowed keys come from its `CodingKeys` (``ConfigSection``).
///
/// Adding a stage is one new type, listed once in ``RecipeStages/all``:
/// ```swift
/// public struct PruneStage: RecipeStage {
///     public static let name = "prune"          // `- prune: {sparsity: 0.5}`
///     public static let changesModel = true
///     public var sparsity: Double
///     enum CodingKeys: String, CodingKey, CaseIterable { case sparsity }
///     public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
///     public func run(_ context: inout StageContext) throws -> StageRecord { … }
/// }
/// ```
public protocol RecipeStage: Codable, Sendable, ConfigSection {
    /// The YAML key (`- evaluate: {...}`) and the stage's name in reports and provenance.
    static var name: String { get }
    /// Settings for a stage written without a mapping (`- export:`); nil when some key is required.
    static var defaultConfig: Self? { get }
    /// Whether the stage changes the model (quantize, prune, distill): later evaluate reports name these.
    static var changesModel: Bool { get }
    /// Checks beyond decoding, against the whole recipe (e.g. required data); throws ``StageProblem``.
    func validate(in recipe: Recipe, at index: Int) throws
    /// Runs the stage; may replace `context.model` (and keep `context.original`). `seconds` is filled in by the runner.
    func run(_ context: inout StageContext) throws -> StageRecord
}

extension RecipeStage {
    public static var defaultConfig: Self? { nil }
    public static var changesModel: Bool { false }
    public func validate(in recipe: Recipe, at index: Int) throws {}
    /// ``RecipeStage/name`` of this stage's type.
    public var name: String { Self.name }
}

/// A recipe problem found by a stage's `validate`; the loader adds the file and line.
public struct StageProblem: Error, CustomStringConvertible {
    public var message: String
    /// Keys from the recipe's top level to the place to point at (`["data"]`); nil for the stage itself.
    public var recipeKey: [String]?

    public init(_ message: String, at recipeKey: [String]? = nil) {
        self.message = message
        self.recipeKey = recipeKey
    }

    public var description: String { message }
}

/// Everything a stage may read or change while a recipe runs.
public struct StageContext {
    public let recipe: Recipe
    public let recipePath: String
    /// Position of the running stage in `recipe.stages`.
    public internal(set) var index: Int
    /// The model being optimized; a stage that changes it sets ``original`` first.
    public var model: LoadedModel
    /// The untouched source model, for fidelity once a stage has changed ``model`` (nil until then).
    public var original: LoadedModel?
    public let calibration: ModelInputs?
    public let evaluation: [EvalData]
    public let sourceSha256: String
    /// The run directory being built (renamed into place when every stage succeeded).
    public let directory: URL
    /// Records of the stages before this one.
    public internal(set) var records: [StageRecord]
    /// The command's overrides of evaluate settings.
    public let threadsOverride: Int?
    public let timeBudgetOverride: Double?
    /// The run's executor (`--threads`, or all cores); an evaluate stage with its own `threads` makes its own.
    public let executor: Executor
    /// Whether artifact models are checked against their sha256 when (re)loaded (`--no-verify` turns it off).
    public let verify: Bool
    public let progress: ProgressReporter
    /// Where train and distill stages keep their checkpoints (nil: none).
    public var checkpointDirectory: URL? = nil
    /// Whether train and distill stages continue from existing checkpoints.
    public var resume = false
    /// Outputs of the unchanged source model on the evaluation data, shared by every stage that measures it or
    /// measures against it (``original`` and ``model`` while ``modelIsSource``), so the source runs once per run.
    public let sourceOutputs = OutputCache()

    /// Whether ``model`` is still the source model: no stage before this one changes models.
    public var modelIsSource: Bool { !recipe.stages.prefix(index).contains { type(of: $0).changesModel } }

    /// An empty record for the running stage.
    public func record(_ stage: any RecipeStage) -> StageRecord { StageRecord(index: index, stage: stage.name, seconds: 0) }

    /// Loads the source model again as ``original`` unless a stage already did.
    public mutating func keepOriginal() throws {
        if original == nil { original = try ModelLoader.load(recipe.model, verify: verify) }
    }
}

/// The stages recipes may use: the one list decoding, encoding, names and allowed keys come from.
public enum RecipeStages {
    public static let all: [any RecipeStage.Type] = [
        EvaluateStage.self, QuantizeStage.self, PruneStage.self, ExportStage.self, DistillStage.self, TrainStage.self,
    ]

    /// Stage names, sorted, for messages.
    public static func names(_ stages: [any RecipeStage.Type]) -> String { stages.map { $0.name }.sorted().joined(separator: ", ") }

    /// `JSONDecoder`/`YAMLDecoder` user info key holding another list (tests register extra stages with it).
    public static let userInfoKey = CodingUserInfoKey(rawValue: "compress.recipeStages")!

    static func registered(_ userInfo: [CodingUserInfoKey: Any]) -> [any RecipeStage.Type] {
        userInfo[userInfoKey] as? [any RecipeStage.Type] ?? all
    }
}

/// The YAML form of one stage: a mapping with exactly one key, the stage's name.
struct StageEntry: Codable {
    let stage: any RecipeStage

    init(_ stage: any RecipeStage) { self.stage = stage }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let stages = RecipeStages.registered(decoder.userInfo)
        let c = try decoder.container(keyedBy: Key.self)
        guard c.allKeys.count == 1, let key = c.allKeys.first else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "a stage is a mapping with exactly one key (\(RecipeStages.names(stages)))"))
        }
        guard let type = stages.first(where: { $0.name == key.stringValue }) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath + [key],
                    debugDescription: "unknown stage '\(key.stringValue)' (supported: \(RecipeStages.names(stages)))"))
        }
        stage = try type.decodeStage(from: c, forKey: key)
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(stage, forKey: Key(stringValue: stage.name))
    }
}

extension RecipeStage {
    /// This stage's settings under `key`, or ``defaultConfig`` when the value is empty.
    static func decodeStage(from c: KeyedDecodingContainer<StageEntry.Key>, forKey key: StageEntry.Key) throws -> any RecipeStage {
        if let fallback = defaultConfig, try c.decodeNil(forKey: key) { return fallback }
        return try c.decode(Self.self, forKey: key)
    }
}
