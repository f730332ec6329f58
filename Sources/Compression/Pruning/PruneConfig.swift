import Layers

/// The `prune` stage of a recipe (keys after SparseML / llm-compressor pruning modifiers).
///
/// ```yaml
/// - prune:
///     structure: unstructured        # unstructured | 1x8 (blocks) | 2:4 (n:m) | neurons | channels | heads | layers
///     criterion: magnitude           # magnitude | l1 | l2 | taylor | activation
///     sparsity: 0.9                  # or per-target ratios: {"re:encoder\\.layer\\.[0-2]\\..*": 0.3, "*": 0.5}
///     scope: per-layer               # or global
///     schedule: {kind: gradual-cubic, start: 0.0, end: 0.9, steps: 10}
///     fine_tune: {epochs: 2, distill_from: teacher}
///     targets: ["re:encoder\\..*"]
///     ignore: ["re:.*pooler.*"]
///     sensitivity: {sparsities: [0.3, 0.5, 0.7, 0.9, 0.95]}
/// ```
public struct PruneConfig: Codable, Sendable, ConfigSection {
    public var structure: Structure
    public var criterion: PruningCriterion?
    public var sparsity: Sparsity?
    public var scope: PruningScope?
    public var schedule: Schedule?
    public var fineTune: FineTune?
    public var targets: [String]?
    public var ignore: [String]?
    public var sensitivity: SensitivitySweep?
    /// Calibration items used for activation/Taylor importance and the sensitivity ranking (default 256).
    public var calibrationSamples: Int?

    public init(structure: Structure, criterion: PruningCriterion? = nil, sparsity: Sparsity? = nil, scope: PruningScope? = nil) {
        self.structure = structure; self.criterion = criterion; self.sparsity = sparsity; self.scope = scope
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case structure, criterion, sparsity, scope, schedule, fineTune = "fine_tune", targets, ignore, sensitivity
        case calibrationSamples = "calibration_samples"
    }

    public static var keySchema: KeySchema {
        KeySchema(CodingKeys.self, nested: [.schedule: Schedule.self, .fineTune: FineTune.self, .sensitivity: SensitivitySweep.self])
    }

    /// What is removed: whole units through the dependency graph, or single weights / blocks / n:m runs under a mask.
    public enum Structure: Codable, Sendable, Equatable, CustomStringConvertible {
        case structured(PruningUnitKind)
        case sparse(SparsityPattern)

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            if let kind = PruningUnitKind(rawValue: s) {
                self = .structured(kind)
            } else if let pattern = SparsityPattern(spelling: s) {
                self = .sparse(pattern)
            } else {
                throw DecodingError.dataCorruptedError(
                    in: c,
                    debugDescription: "unknown structure '\(s)' (allowed: unstructured, 1xK blocks such as 1x8, N:M such as 2:4, \(PruningUnitKind.spellings))")
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(description)
        }

        public var description: String {
            switch self {
            case let .structured(k): return k.rawValue
            case let .sparse(p): return p.description
            }
        }
    }

    /// One ratio, or ratios by module pattern (first match wins; `*` for the rest).
    public enum Sparsity: Codable, Sendable, Equatable {
        case uniform(Double)
        case perTarget([(pattern: String, ratio: Double)])

        public static func == (a: Sparsity, b: Sparsity) -> Bool {
            switch (a, b) {
            case let (.uniform(x), .uniform(y)): return x == y
            case let (.perTarget(x), .perTarget(y)): return x.map(\.pattern) == y.map(\.pattern) && x.map(\.ratio) == y.map(\.ratio)
            default: return false
            }
        }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        public init(from decoder: Decoder) throws {
            if let one = try? decoder.singleValueContainer().decode(Double.self) {
                self = .uniform(one)
                return
            }
            let c = try decoder.container(keyedBy: Key.self)
            // Keys in file order would need the YAML node; sort so the result is deterministic and say so in the docs.
            let list = try c.allKeys.map { (pattern: $0.stringValue, ratio: try c.decode(Double.self, forKey: $0)) }
            self = .perTarget(list.sorted { $0.pattern < $1.pattern })
        }

        public func encode(to encoder: Encoder) throws {
            switch self {
            case let .uniform(r):
                var c = encoder.singleValueContainer()
                try c.encode(r)
            case let .perTarget(list):
                var c = encoder.container(keyedBy: Key.self)
                for (p, r) in list { try c.encode(r, forKey: Key(stringValue: p)) }
            }
        }

        var all: [Double] {
            switch self {
            case let .uniform(r): return [r]
            case let .perTarget(l): return l.map(\.ratio)
            }
        }
    }

    /// `{kind: gradual-cubic, start, end, steps}`: Zhu & Gupta's schedule over `steps` pruning steps.
    public struct Schedule: Codable, Sendable, Equatable, ConfigSection {
        public enum Kind: String, ConfigEnum {
            case gradualCubic = "gradual-cubic"
            case oneShot = "one-shot"
        }
        public var kind: Kind
        public var start: Double?
        public var end: Double?
        public var steps: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case kind, start, end, steps }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
    }

    /// `{epochs, distill_from: teacher, data: {train, validation}, learning_rate, batch_size, ...}`: recovery training
    /// after pruning, by the training engine; masks are re-applied after every optimizer step, so pruned weights stay
    /// exactly zero. With a gradual schedule on masks, the pruning steps happen inside this training (Zhu & Gupta):
    /// evenly over the first `prune_window` of its optimizer steps, and the kept epoch is one after the last step.
    public struct FineTune: Codable, Sendable, Equatable, ConfigSection {
        public var epochs: Int
        /// `teacher` (the model entering this stage) or a model path; absent: labels only (classifiers).
        public var distillFrom: String?
        /// The training split and its validation split (keep-best), never the recipe's evaluation data.
        public var data: FineTuneData?
        public var learningRate: Double?
        public var batchSize: Int?
        public var weightDecay: Double?
        /// Linear warmup: a fraction of all steps when < 1, else a number of steps.
        public var warmup: Double?
        public var seed: Int?
        /// Hinton distillation of classifiers: weight of the soft loss and its temperature (default 0.9 and 4).
        public var alpha: Double?
        public var temperature: Double?
        /// Sentence encoders: weight of the per-layer hidden-state MSE to the teacher (same layer count; default 0).
        public var hiddenWeight: Double?
        /// Fraction of the fine-tuning steps over which a gradual schedule's pruning steps are spread (default 0.7).
        public var pruneWindow: Double?

        public init(epochs: Int, distillFrom: String? = nil, data: FineTuneData? = nil) {
            self.epochs = epochs; self.distillFrom = distillFrom; self.data = data
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case epochs, distillFrom = "distill_from", data, learningRate = "learning_rate", batchSize = "batch_size"
            case weightDecay = "weight_decay", warmup, seed, alpha, temperature, hiddenWeight = "hidden_weight"
            case pruneWindow = "prune_window"
        }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self, nested: [.data: FineTuneData.self]) }

        /// Checks values; errors name the key under `fine_tune`.
        func validate() throws {
            func bad(_ key: String, _ message: String) -> CompressionError { .pruning(key: "fine_tune.\(key)", message: message) }
            guard (1...10_000).contains(epochs) else { throw bad("epochs", "must be in 1...10000, got \(epochs)") }
            guard let data else { throw bad("data", "missing ({train: FILE, validation: FILE}: the split to fine-tune on)") }
            if let v = data.validation, v == data.train { throw bad("data.validation", "must differ from data.train (a held-out split)") }
            if let f = data.validationFraction, !(f > 0 && f < 1) { throw bad("data.validation_fraction", "must be in (0, 1), got \(f)") }
            for (k, v) in [("data.max_train", data.maxTrain), ("data.max_validation", data.maxValidation), ("batch_size", batchSize)] {
                if let v, v < 1 { throw bad(k, "must be ≥ 1, got \(v)") }
            }
            if let r = learningRate, !(r.isFinite && r > 0) { throw bad("learning_rate", "must be a positive number, got \(r)") }
            if let w = weightDecay, !(w.isFinite && w >= 0) { throw bad("weight_decay", "must be ≥ 0, got \(w)") }
            if let w = warmup, !(w.isFinite && w >= 0) { throw bad("warmup", "must be ≥ 0, got \(w)") }
            if let s = seed, s < 0 { throw bad("seed", "must be ≥ 0, got \(s)") }
            if let a = alpha, !(a >= 0 && a <= 1) { throw bad("alpha", "must be in [0, 1], got \(a)") }
            if let t = temperature, !(t.isFinite && t > 0) { throw bad("temperature", "must be > 0, got \(t)") }
            if let h = hiddenWeight, !(h.isFinite && h >= 0) { throw bad("hidden_weight", "must be ≥ 0, got \(h)") }
            if let w = pruneWindow, !(w > 0 && w <= 1) { throw bad("prune_window", "must be in (0, 1], got \(w)") }
        }
    }

    /// `fine_tune.data`: files as in a distill stage's `data` (`.h5` arrays with labels, `.txt` sentences,
    /// `fashion-mnist:train`); without `validation`, the last `validation_fraction` (default 0.1) of `train`.
    public struct FineTuneData: Codable, Sendable, Equatable, ConfigSection {
        public var train: String
        public var validation: String?
        public var validationFraction: Double?
        public var maxTrain: Int?
        public var maxValidation: Int?
        public init(train: String, validation: String? = nil) { self.train = train; self.validation = validation }
        enum CodingKeys: String, CodingKey, CaseIterable {
            case train, validation, validationFraction = "validation_fraction", maxTrain = "max_train", maxValidation = "max_validation"
        }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
    }

    /// `true`, or `{sparsities: [...]}`: prune each module alone at each sparsity and tabulate the metric drop.
    public struct SensitivitySweep: Codable, Sendable, Equatable, ConfigSection {
        public var sparsities: [Double]
        public static let defaultSparsities = [0.3, 0.5, 0.7, 0.9, 0.95]
        enum CodingKeys: String, CodingKey, CaseIterable { case sparsities }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
        public init(sparsities: [Double] = defaultSparsities) { self.sparsities = sparsities }
        public init(from decoder: Decoder) throws {
            if let on = try? decoder.singleValueContainer().decode(Bool.self) {
                guard on else {
                    throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "omit sensitivity to turn it off"))
                }
                sparsities = Self.defaultSparsities
                return
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            sparsities = try c.decodeIfPresent([Double].self, forKey: .sparsities) ?? Self.defaultSparsities
        }
    }

    /// The final sparsity asked for (the schedule's end when there is one).
    public var targetSparsity: Double? {
        if let end = schedule?.end { return end }
        if case let .uniform(r) = sparsity { return r }
        return nil
    }

    /// Checks values; errors name the key.
    public func validate() throws {
        func ratio(_ r: Double, _ key: String) throws {
            guard r.isFinite, r >= 0, r < 1 else { throw CompressionError.pruning(key: key, message: "\(r) is outside [0, 1)") }
        }
        for r in sparsity?.all ?? [] { try ratio(r, "sparsity") }
        for (key, patterns) in [("sparsity", sparsity.map { s -> [String] in
            if case let .perTarget(list) = s { return list.map(\.pattern) }
            return []
        } ?? []), ("targets", targets ?? []), ("ignore", ignore ?? [])] {
            for p in patterns where (try? PathPattern(p)) == nil {
                throw CompressionError.pruning(key: key, message: "pattern '\(p)' is not a valid regular expression")
            }
        }
        if let s = schedule {
            if s.kind == .gradualCubic {
                guard let steps = s.steps, steps >= 1 else { throw CompressionError.pruning(key: "schedule.steps", message: "gradual-cubic needs steps ≥ 1") }
                _ = steps
                guard s.end != nil else { throw CompressionError.pruning(key: "schedule.end", message: "gradual-cubic needs end") }
            }
            try ratio(s.start ?? 0, "schedule.start")
            if let e = s.end { try ratio(e, "schedule.end") }
            if let e = s.end, case let .uniform(r) = sparsity, r != e {
                throw CompressionError.pruning(key: "sparsity", message: "\(r) differs from schedule.end \(e); give one of them")
            }
            if case .perTarget = sparsity {
                throw CompressionError.pruning(key: "schedule", message: "a schedule needs one sparsity (its end), not per-target ratios")
            }
        }
        switch structure {
        case .sparse(.nOfM):
            if sparsity != nil || schedule != nil {
                throw CompressionError.pruning(key: "sparsity", message: "n:m fixes the sparsity (1 − n/m); remove sparsity and schedule")
            }
            if let c = criterion, c != .magnitude, c != .l1 {
                throw CompressionError.pruning(key: "criterion", message: "n:m keeps the largest |w| of each run (magnitude or l1), not \(c.rawValue)")
            }
        case .sparse:
            guard sparsity != nil || schedule?.end != nil else { throw CompressionError.pruning(key: "sparsity", message: "missing (a ratio in [0, 1))") }
            if let c = criterion, ![.magnitude, .l1, .l2].contains(c) {
                throw CompressionError.pruning(key: "criterion", message: "\(structure) pruning ranks weights by magnitude, l1 or l2, not \(c.rawValue)")
            }
        case let .structured(kind):
            guard sparsity != nil || schedule?.end != nil else { throw CompressionError.pruning(key: "sparsity", message: "missing (a ratio in [0, 1))") }
            if kind == .layers, let c = criterion, c != .activation {
                throw CompressionError.pruning(key: "criterion", message: "whole layers are ranked by calibration (activation), not \(c.rawValue)")
            }
        }
        try fineTune?.validate()
        if let s = sensitivity {
            guard !s.sparsities.isEmpty else { throw CompressionError.pruning(key: "sensitivity.sparsities", message: "empty") }
            for r in s.sparsities { try ratio(r, "sensitivity.sparsities") }
        }
        if let n = calibrationSamples, n < 1 { throw CompressionError.pruning(key: "calibration_samples", message: "must be ≥ 1") }
    }

    /// The criterion used when none is given: magnitude, or block influence for whole layers.
    public var effectiveCriterion: PruningCriterion {
        criterion ?? (structure == .structured(.layers) ? .activation : .magnitude)
    }

    /// Whether the stage reads `data.calibration`.
    public var needsCalibration: Bool {
        effectiveCriterion == .activation || effectiveCriterion == .taylor || sensitivity != nil
    }
}
