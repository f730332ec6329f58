/// The quantized module types an artifact's `model.json` can list (`"kind": "int4-linear"`).
///
/// Adding a kind: a module conforming to ``QuantizedModule`` (its `quantSpec` and `make` side by side), a case
/// here, and its line in ``moduleType`` (exhaustive, so the compiler asks for it).
public enum QuantizedModuleKind: String, ConfigEnum {
    case int8Linear = "int8-linear"
    case int8Conv2d = "int8-conv2d"
    case int8Embedding = "int8-embedding"
    case int4Linear = "int4-linear"

    /// The module type that builds this kind from a spec: the one registry of quantized module kinds.
    public var moduleType: any QuantizedModule.Type {
        switch self {
        case .int8Linear: Int8Linear.self
        case .int8Conv2d: Int8Conv2D.self
        case .int8Embedding: Int8Embedding.self
        case .int4Linear: Int4Linear.self
        }
    }

    /// Bits of each weight code (scales not counted).
    public var bits: Int {
        switch self {
        case .int8Linear, .int8Conv2d, .int8Embedding: 8
        case .int4Linear: 4
        }
    }
}

/// How quantized weights were computed (recipes' `weights.method`; recorded in artifacts for reports).
public enum QuantizationMethod: String, ConfigEnum {
    /// Round to nearest.
    case rtn
    /// GPTQ: column-by-column rounding with error feedback through the inverse Hessian of calibration inputs.
    case gptq
    /// AWQ: per-input-channel scales searched on calibration inputs, then round to nearest.
    case awq
}
