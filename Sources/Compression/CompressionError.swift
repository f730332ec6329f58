/// Problems with a compression stage's settings or inputs; one line, naming the key, module or data.
public enum CompressionError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(key: String, message: String)
    case calibration(String)
    case nonFinite(String)
    case noTargets(String)
    /// A prune stage's key or value is wrong, or the model cannot take the requested structure.
    case pruning(key: String, message: String)

    public var description: String {
        switch self {
        case let .invalidConfig(key, message): return "quantize.\(key): \(message)"
        case let .calibration(message): return "calibration: \(message)"
        case let .nonFinite(message): return message
        case let .noTargets(message): return message
        case let .pruning(key, message): return "prune.\(key): \(message)"
        }
    }
}
