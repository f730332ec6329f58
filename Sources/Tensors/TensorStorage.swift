import Foundation

/// Owns the bytes behind a ``Tensor``: either a 64-byte aligned heap block, or a window into memory
/// owned by someone else (an mmap'ed file), kept alive by `owner`.
///
/// `@unchecked Sendable`: its fields are immutable; the bytes are written only through a ``Tensor`` that owns the
/// storage uniquely (copy-on-write), and borrowed (mmap'ed) bytes are never written.
public final class TensorStorage: @unchecked Sendable {
    /// Start of the bytes.
    public let pointer: UnsafeMutableRawPointer
    /// Size in bytes.
    public let byteCount: Int
    private let owner: AnyObject?
    private let ownsMemory: Bool

    /// Allocates `byteCount` zeroed bytes, 64-byte aligned (one cache line, and an AVX-512 register).
    public init(zeroedByteCount byteCount: Int) {
        let size = max(byteCount, 1)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        self.byteCount = byteCount
        owner = nil
        ownsMemory = true
    }

    /// Allocates `byteCount` uninitialized bytes; the caller must write all of them before reading.
    public init(uninitializedByteCount byteCount: Int) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        self.byteCount = byteCount
        owner = nil
        ownsMemory = true
    }

    /// Wraps memory owned by `owner` (for example a memory-mapped file); nothing is copied.
    public init(borrowing pointer: UnsafeRawPointer, byteCount: Int, owner: AnyObject) {
        self.pointer = UnsafeMutableRawPointer(mutating: pointer)
        self.byteCount = byteCount
        self.owner = owner
        ownsMemory = false
    }

    deinit {
        if ownsMemory { pointer.deallocate() }
    }

    /// Whether the bytes belong to another object (such memory is never written through a tensor).
    public var isBorrowed: Bool { !ownsMemory }
}
