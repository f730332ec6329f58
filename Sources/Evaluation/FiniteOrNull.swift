import Foundation
import Tensors

/// A measurement that may be NaN or infinite (a model with non-finite outputs has a NaN cosine): JSON has no
/// NaN, and `JSONEncoder` throws on one, so it is written as `null` and read back as NaN. Reports carry a
/// `non_finite` flag beside it, so a null is never mistaken for a missing measurement.
@propertyWrapper
public struct FiniteOrNull: Codable, Sendable, Equatable {
    public var wrappedValue: Double
    public init(wrappedValue: Double) { self.wrappedValue = wrappedValue }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        wrappedValue = c.decodeNil() ? .nan : try c.decode(Double.self)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if wrappedValue.isFinite { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}

/// Counting non-finite values in outputs, for the warnings of `eval` and `predict`.
public enum NonFinite {
    /// How many elements of a float tensor are NaN or infinite (0 for integer tensors).
    public static func count(_ t: Tensor) -> Int {
        guard t.dtype == .float32 else { return t.dtype.isFloatingPoint ? t.floats.filter { !$0.isFinite }.count : 0 }
        return t.withUnsafeFloats { p in p.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } }
    }
}
