import Layers

/// The `quantize` stage of a recipe (keys modeled on llm-compressor and Intel Neural Compressor).
///
/// ```yaml
/// - quantize:
///     weights: {bits: 8, symmetric: true, granularity: per-channel, method: rtn}
///     activations: {mode: static, calibration: percentile, percentile: 99.99}
///     smoothquant: {alpha: 0.5}
///     targets: ["re:encoder\\..*"]
///     ignore: ["re:.*pooler.*"]
/// ```
public struct QuantizeConfig: Codable, Sendable, ConfigSection {
    public var weights: WeightConfig
    public var activations: ActivationConfig?
    public var smoothquant: SmoothQuantConfig?
    /// Module paths to quantize: exact paths, `prefix.*` globs, or `re:REGEX` (full match). Default: every Linear.
    public var targets: [String]?
    /// Paths never quantized (same pattern forms).
    public var ignore: [String]?
    /// Calibration samples taken from `data.calibration` (default 256).
    public var calibrationSamples: Int?
    /// Tokens per calibration sequence at most (default 128).
    public var maxSequenceLength: Int?
    /// Accuracy-aware tuning: when the recipe's constraints fail, keep the most sensitive modules at higher precision.
    public var tuning: Bool?
    /// Record the per-module sensitivity table in the report.
    public var sensitivity: Bool?
    /// Also store embedding tables as int8 rows (per-row scale); they are most of a small encoder's bytes.
    public var embeddings: Bool?

    public init(
        weights: WeightConfig, activations: ActivationConfig? = nil, smoothquant: SmoothQuantConfig? = nil,
        targets: [String]? = nil, ignore: [String]? = nil
    ) {
        self.weights = weights; self.activations = activations; self.smoothquant = smoothquant; self.targets = targets; self.ignore = ignore
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case weights, activations, smoothquant, targets, ignore
        case calibrationSamples = "calibration_samples", maxSequenceLength = "max_sequence_length", tuning, sensitivity, embeddings
    }

    /// How many weights share one scale.
    public enum Granularity: String, ConfigEnum {
        case perTensor = "per-tensor"
        case perChannel = "per-channel"
        /// Groups of `group_size` along the input (int4).
        case group
    }

    /// How each scale is chosen.
    public enum ScaleSearch: String, ConfigEnum {
        /// From max |w|.
        case max
        /// A shrunk scale minimizing |w − q(w)|^2.4 over a grid.
        case mse
    }

    public struct WeightConfig: Codable, Sendable, ConfigSection {
        /// 8 or 4.
        public var bits: Int
        public var symmetric: Bool?
        /// `per-tensor`, `per-channel` (int8) or `group` (int4).
        public var granularity: Granularity?
        /// 32, 64 or 128 (group granularity).
        public var groupSize: Int?
        /// `rtn`, `gptq` or `awq`.
        public var method: QuantizationMethod?
        /// GPTQ: relative dampening of the Hessian diagonal (default 0.01).
        public var dampening: Double?
        /// GPTQ: quantize columns in order of decreasing Hessian diagonal.
        public var actOrder: Bool?
        /// `max` (default) or `mse`.
        public var scaleSearch: ScaleSearch?
        /// With `method: gptq`: first search AWQ per-input-channel scales, then run GPTQ on the scaled weights.
        public var awqScales: Bool?

        public init(
            bits: Int, symmetric: Bool? = true, granularity: Granularity? = nil, groupSize: Int? = nil, method: QuantizationMethod? = .rtn
        ) {
            self.bits = bits; self.symmetric = symmetric; self.granularity = granularity; self.groupSize = groupSize; self.method = method
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case bits, symmetric, granularity, groupSize = "group_size", method, dampening, actOrder = "act_order", scaleSearch =
                "scale_search", awqScales = "awq_scales"
        }

        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
    }

    public struct ActivationConfig: Codable, Sendable, ConfigSection {
        public var mode: Int8Linear.ActivationMode
        /// How static ranges are chosen (default `minmax`).
        public var calibration: ActivationCalibration.Method?
        public var percentile: Double?
        public init(mode: Int8Linear.ActivationMode, calibration: ActivationCalibration.Method? = nil, percentile: Double? = nil) {
            self.mode = mode; self.calibration = calibration; self.percentile = percentile
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case mode, calibration, percentile }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
    }

    public struct SmoothQuantConfig: Codable, Sendable, ConfigSection {
        public var alpha: Float
        public init(alpha: Float) { self.alpha = alpha }

        enum CodingKeys: String, CodingKey, CaseIterable { case alpha }
        public static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
    }

    /// Keys allowed under each part (for recipe unknown-key errors), from the coding keys.
    public static var keySchema: KeySchema {
        KeySchema(
            CodingKeys.self,
            nested: [.weights: WeightConfig.self, .activations: ActivationConfig.self, .smoothquant: SmoothQuantConfig.self])
    }

    /// Granularity after defaults.
    public var granularity: Granularity { weights.granularity ?? (weights.bits == 4 ? .group : .perChannel) }
    /// Group size after defaults (0 = not grouped).
    public var groupSize: Int { granularity == .group ? (weights.groupSize ?? 32) : 0 }
    public var method: QuantizationMethod { weights.method ?? .rtn }
    public var activationMode: Int8Linear.ActivationMode { activations?.mode ?? .none }

    /// Whether AWQ scales are searched (method awq, or gptq with awq_scales).
    public var usesAWQScales: Bool { method == .awq || (method == .gptq && weights.awqScales == true) }

    /// Whether a pass over calibration data is needed.
    public var needsCalibration: Bool {
        activationMode == .static || smoothquant != nil || method == .gptq || method == .awq
    }

    /// Checks the combination; errors name the key.
    public func validate() throws {
        func bad(_ key: String, _ message: String) -> CompressionError { .invalidConfig(key: key, message: message) }
        guard weights.bits == 8 || weights.bits == 4 else { throw bad("weights.bits", "unsupported bits \(weights.bits) (8 or 4)") }
        guard weights.symmetric ?? true else {
            throw bad("weights.symmetric", "asymmetric weight quantization is not supported (symmetric: true)")
        }
        switch (weights.bits, granularity) {
        case (8, .perChannel), (8, .perTensor), (4, .group): break
        default:
            throw bad(
                "weights.granularity",
                "\(granularity.rawValue) is not supported for \(weights.bits)-bit weights (int8: per-channel, per-tensor; int4: group)")
        }
        if granularity == .group, ![32, 64, 128].contains(groupSize) {
            throw bad("weights.group_size", "group size \(groupSize) is not supported (32, 64, 128)")
        }
        if weights.bits == 4, activationMode != .none { throw bad("activations.mode", "int4 is weight-only: use mode none") }
        if let p = activations?.percentile, !(p > 50 && p <= 100) {
            throw bad("activations.percentile", "percentile \(p) must be in (50, 100]")
        }
        if let a = smoothquant?.alpha, !(a >= 0 && a <= 1) { throw bad("smoothquant.alpha", "alpha \(a) must be in [0, 1]") }
        if weights.awqScales == true, method != .gptq {
            throw bad("weights.awq_scales", "awq_scales goes with method gptq (method awq already searches them)")
        }
        if smoothquant != nil, usesAWQScales { throw bad("smoothquant", "use either smoothquant or method awq, not both") }
        if let n = calibrationSamples, n < 1 { throw bad("calibration_samples", "must be at least 1") }
        for pattern in (targets ?? []) + (ignore ?? []) { _ = try PathPattern(pattern) }
    }
}
