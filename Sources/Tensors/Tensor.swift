import Foundation

/// An n-dimensional, row-major array with copy-on-write storage.
///
/// Shapes follow the layout of the data: activations are `(batch, ..., features)`, Linear weights are
/// PyTorch's `(out, in)`, Conv2D weights are `(outChannels, kh, kw, inChannels)`, images are NHWC.
///
/// ```swift
/// var x = Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
/// x.withUnsafeMutableFloats { $0[0] = 10 }
/// ```
/// `@unchecked Sendable`: a value type over a shared ``TensorStorage``; every write goes through `makeUnique()`, which
/// copies unless this value is the storage's only owner, so no bytes another value (or thread) can see are written.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Dimensions, outermost first.
    public private(set) var shape: [Int]
    /// Element type.
    public let dtype: DType
    /// Backing bytes; shared until mutated.
    public private(set) var storage: TensorStorage

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Size of the elements in bytes.
    public var byteCount: Int { count * dtype.byteSize }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// A zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType = .float32) {
        self.shape = shape
        self.dtype = dtype
        storage = TensorStorage(zeroedByteCount: shape.reduce(1, *) * dtype.byteSize)
    }

    /// An uninitialized tensor for kernels that write every element.
    public init(uninitialized shape: [Int], dtype: DType = .float32) {
        self.shape = shape
        self.dtype = dtype
        storage = TensorStorage(uninitializedByteCount: shape.reduce(1, *) * dtype.byteSize)
    }

    /// Wraps existing storage; `storage` must hold at least `shape.product * dtype.byteSize` bytes.
    public init(shape: [Int], dtype: DType, storage: TensorStorage) {
        precondition(storage.byteCount >= shape.reduce(1, *) * dtype.byteSize, "storage too small for shape \(shape)")
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
    }

    /// A float32 tensor holding `floats` (count must match the shape).
    public init(shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not hold \(floats.count) values")
        self.init(uninitialized: shape, dtype: .float32)
        floats.withUnsafeBytes { storage.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// A tensor of any fixed-width element type holding `values`.
    public init<T: FixedWidthInteger>(shape: [Int], integers values: [T], dtype: DType) {
        precondition(MemoryLayout<T>.size == dtype.byteSize, "\(T.self) does not match \(dtype)")
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.init(uninitialized: shape, dtype: dtype)
        values.withUnsafeBytes { storage.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// The same bytes seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let inferred = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            dims[inferred] = known == 0 ? 0 : count / known
        }
        precondition(dims.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        var copy = self
        copy.shape = dims
        return copy
    }

    /// Read-only raw bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.pointer, count: byteCount))
    }

    /// Read-only float32 view; the tensor must be float32.
    @inlinable
    public func withUnsafeFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(dtype == .float32, "expected a float32 tensor, got \(dtype)")
        return try body(UnsafeBufferPointer(start: storage.pointer.assumingMemoryBound(to: Float.self), count: count))
    }

    /// Read-only typed view for integer tensors.
    public func withUnsafeElements<T, R>(as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(MemoryLayout<T>.size == dtype.byteSize, "\(T.self) does not match \(dtype)")
        return try body(UnsafeBufferPointer(start: storage.pointer.assumingMemoryBound(to: T.self), count: count))
    }

    /// Mutable float32 view; copies the storage first when it is shared or borrowed.
    @inlinable
    public mutating func withUnsafeMutableFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(dtype == .float32, "expected a float32 tensor, got \(dtype)")
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer.assumingMemoryBound(to: Float.self), count: count))
    }

    /// Mutable typed view; copies the storage first when it is shared or borrowed.
    public mutating func withUnsafeMutableElements<T, R>(as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R
    {
        precondition(MemoryLayout<T>.size == dtype.byteSize, "\(T.self) does not match \(dtype)")
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer.assumingMemoryBound(to: T.self), count: count))
    }

    /// Ensures this value is the only owner of writable storage.
    @usableFromInline
    mutating func makeUnique() {
        if isKnownUniquelyReferenced(&storage) && !storage.isBorrowed { return }
        let fresh = TensorStorage(uninitializedByteCount: byteCount)
        fresh.pointer.copyMemory(from: storage.pointer, byteCount: byteCount)
        storage = fresh
    }

    /// All elements converted to Float (float16/bfloat16 widened; integers converted).
    public var floats: [Float] {
        let n = count
        let p = storage.pointer
        switch dtype {
        case .float32:
            return Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: n))
        case .float16:
            let src = p.assumingMemoryBound(to: UInt16.self)
            return (0..<n).map { Float(Float16(bitPattern: src[$0])) }
        case .bfloat16:
            let src = p.assumingMemoryBound(to: UInt16.self)
            return (0..<n).map { Float(bitPattern: UInt32(src[$0]) << 16) }
        case .int64: return (0..<n).map { Float(p.assumingMemoryBound(to: Int64.self)[$0]) }
        case .int32: return (0..<n).map { Float(p.assumingMemoryBound(to: Int32.self)[$0]) }
        case .int8: return (0..<n).map { Float(p.assumingMemoryBound(to: Int8.self)[$0]) }
        case .uint8: return (0..<n).map { Float(p.assumingMemoryBound(to: UInt8.self)[$0]) }
        }
    }

    /// All elements converted to Int64 (integer tensors only).
    public var int64s: [Int64] {
        let n = count
        let p = storage.pointer
        switch dtype {
        case .int64: return Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Int64.self), count: n))
        case .int32: return (0..<n).map { Int64(p.assumingMemoryBound(to: Int32.self)[$0]) }
        case .int8: return (0..<n).map { Int64(p.assumingMemoryBound(to: Int8.self)[$0]) }
        case .uint8: return (0..<n).map { Int64(p.assumingMemoryBound(to: UInt8.self)[$0]) }
        case .float32, .float16, .bfloat16: return floats.map { Int64($0) }
        }
    }

    /// This tensor as float32 (a no-copy return when it already is).
    public func toFloat32() -> Tensor {
        dtype == .float32 ? self : Tensor(shape: shape, floats: floats)
    }

    /// Shape as `[a, b, c]` plus dtype.
    public var description: String { "Tensor(\(shape), \(dtype.rawValue))" }
}

extension Tensor {
    /// Element-wise exact equality of shape, dtype and bytes.
    public func bitwiseEqual(_ other: Tensor) -> Bool {
        guard shape == other.shape, dtype == other.dtype else { return false }
        return memcmp(storage.pointer, other.storage.pointer, byteCount) == 0
    }

    /// Rows `range` of the outermost dimension, as a copy.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) out of \(shape)")
        let rowBytes = shape.dropFirst().reduce(1, *) * dtype.byteSize
        var out = Tensor(uninitialized: [range.count] + shape.dropFirst(), dtype: dtype)
        out.storage.pointer.copyMemory(from: storage.pointer + range.lowerBound * rowBytes, byteCount: range.count * rowBytes)
        return out
    }

    /// Concatenates tensors along the outermost dimension. Throws (rather than traps) on an empty list or
    /// mismatched shapes, since the parts usually come from user data (an input file with no items).
    public static func concatenateRows(_ parts: [Tensor]) throws -> Tensor {
        guard !parts.isEmpty else { throw TensorError.empty("nothing to concatenate (no items)") }
        guard parts.allSatisfy({ $0.rank >= 1 }) else { throw TensorError.invalidShape("cannot concatenate scalars along rows") }
        let inner = Array(parts[0].shape.dropFirst())
        let dtype = parts[0].dtype
        for p in parts where Array(p.shape.dropFirst()) != inner || p.dtype != dtype {
            throw TensorError.invalidShape("cannot concatenate \(p.dtype.rawValue) \(p.shape) with \(dtype.rawValue) rows of \(inner)")
        }
        let out = Tensor(uninitialized: [parts.map { $0.shape[0] }.reduce(0, +)] + inner, dtype: dtype)
        var offset = 0
        for p in parts {
            out.storage.pointer.advanced(by: offset).copyMemory(from: p.storage.pointer, byteCount: p.byteCount)
            offset += p.byteCount
        }
        return out
    }

    /// Transposes a rank-2 tensor of any element size.
    public func transposed2D() -> Tensor {
        precondition(rank == 2, "transposed2D needs rank 2, got \(shape)")
        let (r, c, s) = (shape[0], shape[1], dtype.byteSize)
        let out = Tensor(uninitialized: [c, r], dtype: dtype)
        let src = storage.pointer, dst = out.storage.pointer
        for i in 0..<r { for j in 0..<c { (dst + (j * r + i) * s).copyMemory(from: src + (i * c + j) * s, byteCount: s) } }
        return out
    }

    /// Permutes the axes of a tensor (a copy), like numpy's `transpose(perm)`.
    public func permuted(_ perm: [Int]) -> Tensor {
        precondition(perm.sorted() == Array(0..<rank), "bad permutation \(perm) for rank \(rank)")
        let newShape = perm.map { shape[$0] }
        var strides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        let srcStrides = perm.map { strides[$0] }
        let s = dtype.byteSize, n = count
        let out = Tensor(uninitialized: newShape, dtype: dtype)
        let src = storage.pointer, dst = out.storage.pointer
        var index = [Int](repeating: 0, count: rank)
        for linear in 0..<n {
            var off = 0
            for d in 0..<rank { off += index[d] * srcStrides[d] }
            (dst + linear * s).copyMemory(from: src + off * s, byteCount: s)
            var d = rank - 1
            while d >= 0 { index[d] += 1; if index[d] < newShape[d] { break }; index[d] = 0; d -= 1 }
        }
        return out
    }
}
