import ServingCore

/// A JSON `data` value: nested arrays (row-major) or a flat array of numbers, booleans or strings.
indirect enum JSONElements: Decodable, Sendable {
    case array([JSONElements])
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case string(String)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        // Scalars first: they are the many leaves, and each failed attempt costs a thrown error.
        if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONElements].self) {
            self = .array(a)
        } else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "tensor data holds numbers, booleans, strings or arrays of them")
        }
    }

    /// Scalars in row-major order.
    func flattened() -> [JSONElements] {
        var out: [JSONElements] = []
        func walk(_ e: JSONElements) {
            if case let .array(a) = e { a.forEach(walk) } else { out.append(e) }
        }
        walk(self)
        return out
    }

    /// Typed tensor data for `datatype`; errors name `tensor`.
    func tensorData(_ datatype: TensorDataType, tensor: String) throws(InferenceError) -> TensorData {
        let scalars = flattened()
        func bad(_ what: String) -> InferenceError { .invalidArgument("input '\(tensor)': \(datatype.rawValue) data must hold \(what)") }
        func integers<T: FixedWidthInteger>(_: T.Type) throws(InferenceError) -> [T] {
            var out: [T] = []
            out.reserveCapacity(scalars.count)
            for s in scalars {
                guard case let .int(i) = s, let v = T(exactly: i) else { throw bad("integers in \(T.min)...\(T.max)") }
                out.append(v)
            }
            return out
        }
        func reals() throws(InferenceError) -> [Double] {
            var out: [Double] = []
            out.reserveCapacity(scalars.count)
            for s in scalars {
                switch s {
                case let .int(i): out.append(Double(i))
                case let .double(d): out.append(d)
                default: throw bad("numbers")
                }
            }
            return out
        }
        switch datatype {
        case .bool:
            var out: [Bool] = []
            for s in scalars {
                guard case let .bool(b) = s else { throw bad("true or false") }
                out.append(b)
            }
            return .bool(out)
        case .uint8: return .uint8(try integers(UInt8.self))
        case .uint16: return .uint16(try integers(UInt16.self))
        case .uint32: return .uint32(try integers(UInt32.self))
        case .uint64: return .uint64(try integers(UInt64.self))
        case .int8: return .int8(try integers(Int8.self))
        case .int16: return .int16(try integers(Int16.self))
        case .int32: return .int32(try integers(Int32.self))
        case .int64: return .int64(try integers(Int64.self))
        case .fp16: throw .invalidArgument("input '\(tensor)': FP16 has no JSON form; send it with the binary tensor data extension")
        case .fp32: return .fp32(try reals().map { Float($0) })
        case .fp64: return .fp64(try reals())
        case .bytes:
            var out: [[UInt8]] = []
            for s in scalars {
                guard case let .string(str) = s else { throw bad("strings") }
                out.append(Array(str.utf8))
            }
            return .bytes(out)
        }
    }
}

/// Tensor data written as a flat JSON array (BYTES as strings, invalid UTF-8 replaced).
struct JSONTensorData: Encodable {
    var data: TensorData

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch data {
        case let .bool(v): try c.encode(v)
        case let .uint8(v): try c.encode(v)
        case let .uint16(v): try c.encode(v)
        case let .uint32(v): try c.encode(v)
        case let .uint64(v): try c.encode(v)
        case let .int8(v): try c.encode(v)
        case let .int16(v): try c.encode(v)
        case let .int32(v): try c.encode(v)
        case let .int64(v): try c.encode(v)
        case let .fp16(v): try c.encode(v.map { Float(Float16(bitPattern: $0)) })
        case let .fp32(v): try c.encode(v)
        case let .fp64(v): try c.encode(v)
        case let .bytes(v): try c.encode(v.map { String(decoding: $0, as: UTF8.self) })
        }
    }
}
