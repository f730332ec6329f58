import Foundation

/// A tensor's elements, typed by its datatype, flat in row-major order.
///
/// FP16 elements are kept as their bit patterns (JSON cannot carry them; the binary forms can).
public enum TensorData: Sendable, Equatable {
    case bool([Bool])
    case uint8([UInt8]), uint16([UInt16]), uint32([UInt32]), uint64([UInt64])
    case int8([Int8]), int16([Int16]), int32([Int32]), int64([Int64])
    case fp16([UInt16]), fp32([Float]), fp64([Double])
    case bytes([[UInt8]])

    public var datatype: TensorDataType {
        switch self {
        case .bool: return .bool
        case .uint8: return .uint8
        case .uint16: return .uint16
        case .uint32: return .uint32
        case .uint64: return .uint64
        case .int8: return .int8
        case .int16: return .int16
        case .int32: return .int32
        case .int64: return .int64
        case .fp16: return .fp16
        case .fp32: return .fp32
        case .fp64: return .fp64
        case .bytes: return .bytes
        }
    }

    /// Number of elements.
    public var count: Int {
        switch self {
        case let .bool(v): return v.count
        case let .uint8(v): return v.count
        case let .uint16(v): return v.count
        case let .uint32(v): return v.count
        case let .uint64(v): return v.count
        case let .int8(v): return v.count
        case let .int16(v): return v.count
        case let .int32(v): return v.count
        case let .int64(v): return v.count
        case let .fp16(v): return v.count
        case let .fp32(v): return v.count
        case let .fp64(v): return v.count
        case let .bytes(v): return v.count
        }
    }

    /// Decodes the binary form (little-endian, BYTES length-prefixed) of exactly `count` elements filling `raw`.
    /// `tensor` names the input in errors.
    public init(binary raw: UnsafeRawBufferPointer, datatype: TensorDataType, count: Int, tensor: String) throws(InferenceError) {
        if let size = datatype.elementSize {
            guard raw.count == count * size else {
                throw InferenceError.invalidArgument(
                    "input '\(tensor)': binary data has \(raw.count) bytes, but \(count) \(datatype.rawValue) elements need \(count * size)"
                )
            }
        }
        func fixed<T: FixedWidthInteger>(_: T.Type) -> [T] {
            (0..<count).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
        switch datatype {
        case .bool:
            var out = [Bool]()
            out.reserveCapacity(count)
            for b in raw {
                guard b <= 1 else { throw InferenceError.invalidArgument("input '\(tensor)': BOOL bytes must be 0 or 1, got \(b)") }
                out.append(b == 1)
            }
            self = .bool(out)
        case .uint8: self = .uint8(Array(raw))
        case .uint16: self = .uint16(fixed(UInt16.self))
        case .uint32: self = .uint32(fixed(UInt32.self))
        case .uint64: self = .uint64(fixed(UInt64.self))
        case .int8: self = .int8(raw.map { Int8(bitPattern: $0) })
        case .int16: self = .int16(fixed(Int16.self))
        case .int32: self = .int32(fixed(Int32.self))
        case .int64: self = .int64(fixed(Int64.self))
        case .fp16: self = .fp16(fixed(UInt16.self))
        case .fp32: self = .fp32(fixed(UInt32.self).map(Float.init(bitPattern:)))
        case .fp64: self = .fp64(fixed(UInt64.self).map(Double.init(bitPattern:)))
        case .bytes:
            var out = [[UInt8]]()
            var offset = 0
            while offset < raw.count {
                guard raw.count - offset >= 4 else {
                    throw InferenceError.invalidArgument("input '\(tensor)': BYTES data ends inside an element's 4-byte length")
                }
                let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                offset += 4
                guard length <= raw.count - offset else {
                    throw InferenceError.invalidArgument("input '\(tensor)': BYTES element of \(length) bytes runs past the tensor's data")
                }
                out.append(Array(raw[offset..<offset + length]))
                offset += length
            }
            guard out.count == count else {
                throw InferenceError.invalidArgument("input '\(tensor)': BYTES data holds \(out.count) elements, shape needs \(count)")
            }
            self = .bytes(out)
        }
    }

    /// Appends the binary form to `out`.
    public func appendBinary(to out: inout [UInt8]) {
        func fixed<T: FixedWidthInteger>(_ v: [T]) {
            for x in v { withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) } }
        }
        switch self {
        case let .bool(v): out.append(contentsOf: v.map { $0 ? 1 : 0 })
        case let .uint8(v): out.append(contentsOf: v)
        case let .uint16(v): fixed(v)
        case let .uint32(v): fixed(v)
        case let .uint64(v): fixed(v)
        case let .int8(v): out.append(contentsOf: v.map { UInt8(bitPattern: $0) })
        case let .int16(v): fixed(v)
        case let .int32(v): fixed(v)
        case let .int64(v): fixed(v)
        case let .fp16(v): fixed(v)
        case let .fp32(v):
            #if _endian(little)
            v.withUnsafeBytes { out.append(contentsOf: $0) }
            #else
            fixed(v.map(\.bitPattern))
            #endif
        case let .fp64(v): fixed(v.map(\.bitPattern))
        case let .bytes(v):
            for e in v {
                withUnsafeBytes(of: UInt32(e.count).littleEndian) { out.append(contentsOf: $0) }
                out.append(contentsOf: e)
            }
        }
    }

    /// Size of the binary form in bytes.
    public var binarySize: Int {
        if case let .bytes(v) = self { return v.reduce(0) { $0 + 4 + $1.count } }
        return count * (datatype.elementSize ?? 0)
    }

    /// Elements as Float (for FP32 models), or nil for BOOL/BYTES.
    public func floats() -> [Float]? {
        switch self {
        case let .fp32(v): return v
        case let .fp64(v): return v.map { Float($0) }
        case let .fp16(v): return v.map { Float(Float16(bitPattern: $0)) }
        default: return nil
        }
    }

    /// Integer elements as Int64, or nil for non-integer datatypes (and UINT64 values above Int64.max).
    public func integers() -> [Int64]? {
        switch self {
        case let .int64(v): return v
        case let .int32(v): return v.map(Int64.init)
        case let .int16(v): return v.map(Int64.init)
        case let .int8(v): return v.map(Int64.init)
        case let .uint8(v): return v.map(Int64.init)
        case let .uint16(v): return v.map(Int64.init)
        case let .uint32(v): return v.map(Int64.init)
        case let .uint64(v): return v.allSatisfy { $0 <= UInt64(Int64.max) } ? v.map { Int64($0) } : nil
        default: return nil
        }
    }
}
