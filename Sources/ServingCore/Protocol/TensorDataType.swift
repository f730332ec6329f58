/// The Open Inference Protocol's tensor datatypes, spelled as on the wire (`"FP32"`).
///
/// Binary forms (Triton's binary tensor data extension and gRPC raw contents) are little-endian, row major, without
/// padding; a BOOL is one byte (0 or 1) and a BYTES element is a 4-byte little-endian length followed by its bytes.
public enum TensorDataType: String, Codable, Sendable, CaseIterable {
    case bool = "BOOL"
    case uint8 = "UINT8", uint16 = "UINT16", uint32 = "UINT32", uint64 = "UINT64"
    case int8 = "INT8", int16 = "INT16", int32 = "INT32", int64 = "INT64"
    case fp16 = "FP16", fp32 = "FP32", fp64 = "FP64"
    case bytes = "BYTES"

    /// Bytes per element in binary form; nil for BYTES (variable length).
    public var elementSize: Int? {
        switch self {
        case .bool, .uint8, .int8: return 1
        case .uint16, .int16, .fp16: return 2
        case .uint32, .int32, .fp32: return 4
        case .uint64, .int64, .fp64: return 8
        case .bytes: return nil
        }
    }

    /// The name Triton's model configuration uses (`TYPE_FP32`; BYTES is `TYPE_STRING` there).
    public var configName: String { self == .bytes ? "TYPE_STRING" : "TYPE_\(rawValue)" }
}
