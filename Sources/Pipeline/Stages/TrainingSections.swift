import Compression
import Foundation
import Training

/// `optimizer: {name: adamw, lr: 1e-4, weight_decay: 0.01, warmup: 0.1, schedule: cosine, clip: 1.0}` of a train or
/// distill stage. Weight decay never touches biases and norms.
public struct OptimizerSection: Codable, Sendable, ConfigSection {
    /// `sgd` (with momentum) or `adamw` (default).
    public var name: String?
    public var lr: Double?
    public var weightDecay: Double?
    public var momentum: Double?
    /// Linear warmup: a fraction of all steps when < 1, else a number of steps.
    public var warmup: Double?
    /// `cosine` (default), `linear` or `constant` decay after the warmup.
    public var schedule: String?
    /// Final rate as a fraction of the peak (default 0).
    public var minLrRatio: Double?
    /// Global gradient-norm clip (default 1.0; 0 turns it off).
    public var clip: Double?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, lr, weightDecay = "weight_decay", momentum, warmup, schedule, minLrRatio = "min_lr_ratio", clip
    }
    public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }

    /// Problems with a field, named as `optimizer.<field>`.
    func check() throws {
        if let n = name, OptimizerSettings.Kind(rawValue: n) == nil {
            throw StageProblem("optimizer.name '\(n)' is not supported (sgd, adamw)")
        }
        if let lr, !(lr.isFinite && lr > 0) { throw StageProblem("optimizer.lr must be a positive number, got \(lr)") }
        if let w = weightDecay, !(w.isFinite && w >= 0) { throw StageProblem("optimizer.weight_decay must be ≥ 0, got \(w)") }
        if let m = momentum, !(m >= 0 && m < 1) { throw StageProblem("optimizer.momentum must be in [0, 1), got \(m)") }
        if let w = warmup, !(w.isFinite && w >= 0) { throw StageProblem("optimizer.warmup must be ≥ 0, got \(w)") }
        if let s = schedule, LearningRateSchedule.Decay(rawValue: s) == nil {
            throw StageProblem("optimizer.schedule '\(s)' is not supported (cosine, linear, constant)")
        }
        if let r = minLrRatio, !(r >= 0 && r <= 1) { throw StageProblem("optimizer.min_lr_ratio must be in [0, 1], got \(r)") }
        if let c = clip, !(c.isFinite && c >= 0) { throw StageProblem("optimizer.clip must be ≥ 0, got \(c)") }
    }

    /// The trainer's settings, with `defaultLR` when `lr` is absent.
    func settings(defaultLR: Double) -> OptimizerSettings {
        var o = OptimizerSettings(
            kind: name.flatMap(OptimizerSettings.Kind.init(rawValue:)) ?? .adamw, learningRate: Float(lr ?? defaultLR),
            weightDecay: Float(weightDecay ?? 0.01), momentum: Float(momentum ?? 0.9), warmup: warmup ?? 0,
            schedule: schedule.flatMap(LearningRateSchedule.Decay.init(rawValue:)) ?? .cosine, minimumRatio: Float(minLrRatio ?? 0))
        o.clipNorm = clip == 0 ? nil : Float(clip ?? 1)
        return o
    }
}

/// `data: {train: FILE, validation: FILE, max_train: N, max_validation: N}`: the training split and the held-out
/// split used for validation and keep-best (never the recipe's evaluation data). Files as in `data.evaluation`:
/// `.txt` sentences, `.h5`/`.safetensors` arrays with labels (`FILE#x_name,y_name`). Without `validation`, the last
/// `validation_fraction` (default 0.1) of the training file is held out for validation and not trained on.
public struct TrainDataSection: Codable, Sendable, ConfigSection {
    public var train: String
    public var validation: String?
    public var validationFraction: Double?
    /// Use only the first N training / validation items (to fit a time budget).
    public var maxTrain: Int?
    public var maxValidation: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case train, validation, validationFraction = "validation_fraction", maxTrain = "max_train", maxValidation = "max_validation"
    }
    public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }

    func check(in recipe: Recipe) throws {
        for (name, v) in [("max_train", maxTrain), ("max_validation", maxValidation)] {
            if let v, v < 1 { throw StageProblem("data.\(name) must be ≥ 1, got \(v)") }
        }
        if let f = validationFraction {
            guard validation == nil else { throw StageProblem("data: give validation or validation_fraction, not both") }
            guard f > 0, f < 1 else { throw StageProblem("data.validation_fraction must be in (0, 1), got \(f)") }
        }
        let held = Set((recipe.data?.evaluation ?? []) + [recipe.data?.calibration].compactMap { $0 })
        for (name, spec) in [("train", train), ("validation", validation)] {
            guard let spec, held.contains(spec) else { continue }
            throw StageProblem(
                "data.\(name) '\(spec)' is also the recipe's evaluation or calibration data; training and validation need their own split")
        }
        if train == validation { throw StageProblem("data.validation must differ from data.train (a held-out split)") }
    }
}

/// The student of a distill stage: a model path (`student: path/to/model`), the teacher with some encoder layers
/// (`{init: teacher, keep_layers: [0, 2, 4]}`), or the teacher's architecture narrowed and trained from scratch
/// (`{architecture: {width: 0.25}}`: a quarter of the channels of every convolution and hidden dense layer).
public struct StudentSection: Codable, Sendable, ConfigSection {
    public var path: String?
    /// `teacher` (the only value): start from the teacher's weights.
    public var initFrom: String?
    public var keepLayers: [Int]?
    public var architecture: ArchitectureSection?

    public struct ArchitectureSection: Codable, Sendable, ConfigSection {
        /// Fraction of channels/units kept in every convolution and hidden dense layer (the output layer keeps its size).
        public var width: Double
        /// Rate of every Dropout layer of the student (default: the teacher's; 0 removes them). A narrow student has
        /// little capacity to spare, so the teacher's dropout may only slow it down.
        public var dropout: Double?
        enum CodingKeys: String, CodingKey, CaseIterable { case width, dropout }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case path, initFrom = "init", keepLayers = "keep_layers", architecture }
    public static var keySchema: KeySchema { KeySchema(CodingKeys.self, nested: [.architecture: ArchitectureSection.self]) }

    public init(path: String? = nil, initFrom: String? = nil, keepLayers: [Int]? = nil, architecture: ArchitectureSection? = nil) {
        self.path = path; self.initFrom = initFrom; self.keepLayers = keepLayers; self.architecture = architecture
    }

    /// A plain string is a model path.
    public init(from decoder: Decoder) throws {
        if let path = try? decoder.singleValueContainer().decode(String.self) {
            self.init(path: path)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            path: try c.decodeIfPresent(String.self, forKey: .path), initFrom: try c.decodeIfPresent(String.self, forKey: .initFrom),
            keepLayers: try c.decodeIfPresent([Int].self, forKey: .keepLayers),
            architecture: try c.decodeIfPresent(ArchitectureSection.self, forKey: .architecture))
    }

    func check() throws {
        let kinds = [path != nil, initFrom != nil || keepLayers != nil, architecture != nil].filter { $0 }.count
        guard kinds == 1 else {
            throw StageProblem("student: give exactly one of a model path, {init: teacher, keep_layers: [...]} or {architecture: {width: ...}}")
        }
        if let i = initFrom, i != "teacher" { throw StageProblem("student.init must be 'teacher', got '\(i)'") }
        if let k = keepLayers {
            guard !k.isEmpty else { throw StageProblem("student.keep_layers must list at least one layer") }
            if let bad = k.first(where: { $0 < 0 }) { throw StageProblem("student.keep_layers: layer \(bad) is negative") }
            guard Set(k).count == k.count, k == k.sorted() else {
                throw StageProblem("student.keep_layers must be distinct and increasing, got \(k)")
            }
        }
        if let w = architecture?.width, !(w > 0 && w <= 1) {
            throw StageProblem("student.architecture.width must be in (0, 1], got \(w)")
        }
        if let d = architecture?.dropout, !(d >= 0 && d < 1) {
            throw StageProblem("student.architecture.dropout must be in [0, 1), got \(d)")
        }
    }
}

/// `loss:` of a distill stage. Classifiers: `kd: {alpha: 0.9, temperature: 4, alpha_end: 0}` (Hinton; `alpha_end`
/// optional). Sentence encoders:
/// `embedding: {mse: 1, cosine: 1}` and `hidden: {layer_map: {0: 1, 1: 3, 2: 5}, weight: 0.5}` (student layer →
/// teacher layer, 0-based, compared after each layer; the widths must be equal).
public struct DistillLossSection: Codable, Sendable, ConfigSection {
    public struct KD: Codable, Sendable, ConfigSection {
        public var alpha: Double?
        public var temperature: Double?
        /// α at the end of the run, reached linearly from `alpha` (default: `alpha` throughout); 0 fades the
        /// teacher out so the run ends on the labels alone.
        public var alphaEnd: Double?
        enum CodingKeys: String, CodingKey, CaseIterable { case alpha, temperature, alphaEnd = "alpha_end" }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
    }
    public struct Embedding: Codable, Sendable, ConfigSection {
        public var mse: Double?
        public var cosine: Double?
        enum CodingKeys: String, CodingKey, CaseIterable { case mse, cosine }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
    }
    /// `hidden:` (hidden-state MSE) and `attention:` (attention-distribution KL): a student → teacher layer map and a
    /// weight.
    public struct Hidden: Codable, Sendable, ConfigSection {
        public var layerMap: [String: Int]
        public var weight: Double?
        enum CodingKeys: String, CodingKey, CaseIterable { case layerMap = "layer_map", weight }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }

        /// (student, teacher) pairs sorted by student layer; `field` names the section in errors.
        func pairs(field: String = "hidden") throws -> [(student: Int, teacher: Int)] {
            try layerMap.map { key, value -> (student: Int, teacher: Int) in
                guard let s = Int(key), s >= 0 else { throw StageProblem("loss.\(field).layer_map: key '\(key)' is not a layer index") }
                guard value >= 0 else { throw StageProblem("loss.\(field).layer_map: teacher layer \(value) is negative") }
                return (student: s, teacher: value)
            }.sorted { $0.student < $1.student }
        }
    }
    public var kd: KD?
    public var embedding: Embedding?
    public var hidden: Hidden?
    /// Attention-distribution KL (MiniLM): `{layer_map: {2: 5}, weight: 1.0}` (sentence encoders only).
    public var attention: Hidden?
    public var labelSmoothing: Double?

    enum CodingKeys: String, CodingKey, CaseIterable { case kd, embedding, hidden, attention, labelSmoothing = "label_smoothing" }
    public static var keySchema: KeySchema {
        KeySchema(CodingKeys.self, nested: [.kd: KD.self, .embedding: Embedding.self, .hidden: Hidden.self, .attention: Hidden.self])
    }

    func check() throws {
        if let a = kd?.alpha, !(a >= 0 && a <= 1) { throw StageProblem("loss.kd.alpha must be in [0, 1], got \(a)") }
        if let a = kd?.alphaEnd, !(a >= 0 && a <= 1) { throw StageProblem("loss.kd.alpha_end must be in [0, 1], got \(a)") }
        if let t = kd?.temperature, !(t.isFinite && t > 0) { throw StageProblem("loss.kd.temperature must be > 0, got \(t)") }
        for (name, v) in [
            ("embedding.mse", embedding?.mse), ("embedding.cosine", embedding?.cosine), ("hidden.weight", hidden?.weight),
            ("attention.weight", attention?.weight),
        ] {
            if let v, !(v.isFinite && v >= 0) { throw StageProblem("loss.\(name) must be ≥ 0, got \(v)") }
        }
        if let s = labelSmoothing, !(s >= 0 && s < 1) { throw StageProblem("loss.label_smoothing must be in [0, 1), got \(s)") }
        _ = try hidden?.pairs()
        _ = try attention?.pairs(field: "attention")
    }
}
