import Foundation

/// Any JSON value, for configs whose shape depends on the producer (Keras model configs, HF `config.json`,
/// safetensors headers). Numbers keep their integer-ness so offsets and shapes stay exact.
///
/// ```swift
/// let config = try JSONValue.parse(data)
/// let units = config["config"]?["layers"]?[1]?["config"]?["units"]?.int
/// ```
public enum JSONValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses UTF-8 JSON text; throws `DecodingError` on malformed input (see ``parse(_:file:)`` for a one-line error).
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Parses UTF-8 JSON text, throwing ``FormatError/invalid(file:message:)`` naming `file` and `what`.
    public static func parse(_ data: Data, file: String, what: String = "JSON") throws -> JSONValue {
        do { return try parse(data) } catch {
            throw FormatError.invalid(file: file, message: "\(what) is not valid JSON (\(jsonErrorSummary(error)))")
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else if let o = try? c.decode([String: JSONValue].self) {
            self = .object(o)
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .int(i): try c.encode(i)
        case let .double(d): try c.encode(d)
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    /// Member `key` of an object (nil for other values or a missing key).
    public subscript(key: String) -> JSONValue? {
        if case let .object(o) = self { return o[key] }
        return nil
    }

    /// Element `index` of an array (nil for other values or out of range).
    public subscript(index: Int) -> JSONValue? {
        if case let .array(a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }

    /// The string, if this is one.
    public var string: String? { if case let .string(s) = self { return s }; return nil }
    /// The number as an Int when it is integral and in range (`3` and `3.0`, not `3.5`).
    public var int: Int? {
        switch self {
        case let .int(i): return i
        case let .double(d): return d.rounded() == d && abs(d) < 9.0e18 ? Int(d) : nil
        default: return nil
        }
    }
    /// The number as a Double.
    public var double: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }
    /// The boolean, if this is one.
    public var bool: Bool? { if case let .bool(b) = self { return b }; return nil }
    /// The elements, if this is an array.
    public var array: [JSONValue]? { if case let .array(a) = self { return a }; return nil }
    /// The members, if this is an object.
    public var object: [String: JSONValue]? { if case let .object(o) = self { return o }; return nil }
    /// Whether this is JSON `null`.
    public var isNull: Bool { self == .null }

    /// Compact JSON text with sorted keys (deterministic bytes).
    public func serialized() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a tree of plain values cannot fail.
        return (try? encoder.encode(self)) ?? Data("null".utf8)
    }

    /// Compact JSON text with sorted keys.
    public var description: String { String(decoding: serialized(), as: UTF8.self) }
}

/// A short, single-line reason from a JSON parser error (Foundation's are multi-line and nested).
func jsonErrorSummary(_ error: Error) -> String {
    if case let DecodingError.dataCorrupted(context) = error {
        if let underlying = context.underlyingError as NSError?,
            let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String
        {
            return detail
        }
        return context.debugDescription
    }
    return "\(error)"
}
