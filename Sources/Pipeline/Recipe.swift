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

public struct Recipe: Codable, Sendable {
    public var name: String
    public var model: String
    public var data: DataSection?
    public var stages: [Stage]
    public var constraints: Constraints?
    /// Output directory (default `artifacts/<name>`).
    public var output: String?

    public struct DataSection: Codable, Sendable {
        public var calibration: String?
        /// One spec or a list (see `EvalData`).
        public var evaluation: [String]?

        enum CodingKeys: String, CodingKey { case calibration, evaluation }

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

    public struct Constraints: Codable, Sendable {
        /// Lowest acceptable mean cosine to the original model's outputs.
        public var minCosine: Double?
        /// Largest acceptable top-1 accuracy drop (absolute, 0.01 = one point).
        public var maxAccuracyDrop: Double?
        enum CodingKeys: String, CodingKey { case minCosine = "min_cosine", maxAccuracyDrop = "max_accuracy_drop" }

        public init(minCosine: Double? = nil, maxAccuracyDrop: Double? = nil) {
            self.minCosine = minCosine
            self.maxAccuracyDrop = maxAccuracyDrop
        }
    }

    /// One step; written in YAML as a single-key mapping (`- evaluate: {...}`).
    public enum Stage: Codable, Sendable {
        case evaluate(EvaluateStage)
        case export(ExportStage)
        case quantize(QuantizeConfig)

        /// Stage names the runner knows.
        public static let names = ["evaluate", "export", "quantize"]

        public var name: String {
            switch self {
            case .evaluate: return "evaluate"
            case .export: return "export"
            case .quantize: return "quantize"
            }
        }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            guard c.allKeys.count == 1, let key = c.allKeys.first else {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: decoder.codingPath,
                        debugDescription: "a stage is a mapping with exactly one key (\(Stage.names.joined(separator: ", ")))"))
            }
            switch key.stringValue {
            case "evaluate": self = .evaluate(try c.decodeIfPresent(EvaluateStage.self, forKey: key) ?? EvaluateStage())
            case "export": self = .export(try c.decodeIfPresent(ExportStage.self, forKey: key) ?? ExportStage())
            case "quantize": self = .quantize(try c.decode(QuantizeConfig.self, forKey: key))
            default:
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: decoder.codingPath + [key],
                        debugDescription: "unknown stage '\(key.stringValue)' (supported: \(Stage.names.joined(separator: ", ")))"))
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            switch self {
            case let .evaluate(s): try c.encode(s, forKey: Key(stringValue: "evaluate"))
            case let .export(s): try c.encode(s, forKey: Key(stringValue: "export"))
            case let .quantize(s): try c.encode(s, forKey: Key(stringValue: "quantize"))
            }
        }
    }

    public struct EvaluateStage: Codable, Sendable {
        public var batchSizes: [Int]?
        public var threads: Int?
        /// Seconds of timed passes per batch size at most.
        public var timeBudget: Double?
        /// Set false to skip latency/throughput.
        public var timing: Bool?
        public init() {}
        enum CodingKeys: String, CodingKey { case batchSizes = "batch_sizes", threads, timeBudget = "time_budget", timing }
    }

    public struct ExportStage: Codable, Sendable {
        /// Store weights as `model.safetensors.zst`.
        public var zstd: Bool?
        public init() {}
    }

    /// Keys allowed at each place of a recipe, for unknown-key errors.
    static let allowedKeys: [String: Set<String>] = {
        var keys: [String: Set<String>] = [
            "": ["name", "model", "data", "stages", "constraints", "output"],
            "data": ["calibration", "evaluation"],
            "constraints": ["min_cosine", "max_accuracy_drop"],
            "stages.evaluate": ["batch_sizes", "threads", "time_budget", "timing"],
            "stages.export": ["zstd"],
        ]
        for (path, allowed) in QuantizeConfig.keySchema.keys {
            keys[path.isEmpty ? "stages.quantize" : "stages.quantize.\(path)"] = allowed
        }
        return keys
    }()
}
