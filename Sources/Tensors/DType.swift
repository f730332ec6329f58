/// Element types a tensor can hold; raw values are the safetensors dtype names.
public enum DType: String, Codable, Sendable, CaseIterable {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int64 = "I64"
    case int32 = "I32"
    case int8 = "I8"
    case uint8 = "U8"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16, .bfloat16: return 2
        case .int64: return 8
        case .int8, .uint8: return 1
        }
    }

    /// Whether values are floating point (convertible to Float without rounding to integers).
    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16: return true
        default: return false
        }
    }
}
