import Foundation

/// Refuses allocations that cannot succeed, before they are attempted: a shape read from a file (a Keras
/// `batch_shape` of [null, 100000, 100000, 1], an HDF5 dataset header) can ask for terabytes, and Swift's
/// allocator traps instead of failing. Shapes are multiplied with overflow checks and the byte count is compared
/// with the memory the kernel says is available (`MemAvailable` in /proc/meminfo).
///
/// ```swift
/// try MemoryBudget.check(shape: [30522, 384], dtype: .float32, what: "model.safetensors: tensor 'word_embeddings'")
/// ```
public enum MemoryBudget {
    /// Bytes the process may still allocate: `COMPRESS_MEMORY_LIMIT` (bytes) when set (tests use it), else
    /// `MemAvailable` from /proc/meminfo, else (no procfs) unlimited.
    public static var availableBytes: Int {
        if let s = ProcessInfo.processInfo.environment["COMPRESS_MEMORY_LIMIT"], let v = Int(s), v > 0 { return v }
        return memAvailable() ?? Int.max
    }

    /// The number of elements of `shape`, or nil when a dimension is negative or the product overflows `Int`.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    /// The bytes of a `shape`×`dtype` tensor, or nil on a negative dimension or overflow.
    public static func byteCount(_ shape: [Int], dtype: DType) -> Int? {
        guard let n = elementCount(shape) else { return nil }
        let (b, overflow) = n.multipliedReportingOverflow(by: dtype.byteSize)
        return overflow ? nil : b
    }

    /// Throws unless a `shape`×`dtype` tensor is valid (no negative dimension), its size fits in `Int`, and
    /// `copies` of it fit in the available memory. `what` names the file and tensor for the message.
    @discardableResult
    public static func check(shape: [Int], dtype: DType = .float32, copies: Int = 1, what: String) throws -> Int {
        if let d = shape.first(where: { $0 < 0 }) {
            throw TensorError.invalidShape("\(what): shape \(shape) has a negative dimension \(d)")
        }
        guard let bytes = byteCount(shape, dtype: dtype) else {
            throw TensorError.tooLarge("\(what): shape \(shape) overflows (more than \(Int.max) bytes)")
        }
        let (total, overflow) = bytes.multipliedReportingOverflow(by: max(copies, 1))
        try check(bytes: overflow ? Int.max : total, what: "\(what): shape \(shape) \(dtype.rawValue)")
        return bytes
    }

    /// Throws when `bytes` exceed the available memory.
    public static func check(bytes: Int, what: String) throws {
        let available = availableBytes
        guard bytes <= available else {
            throw TensorError.tooLarge("\(what) needs \(formatBytes(bytes)), more than the \(formatBytes(available)) of memory available")
        }
    }

    /// `MemAvailable` in bytes, nil without /proc/meminfo.
    static func memAvailable() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kb = Int(fields[1]) { return kb * 1024 }
        }
        return nil
    }

    static func formatBytes(_ b: Int) -> String {
        if b == Int.max { return "more than 9.2 EB" }
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"]
        var v = Double(b), i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return i == 0 ? "\(b) bytes" : String(format: "%.1f %@", v, units[i])
    }
}

/// Errors from tensor operations given inputs they cannot work on (reachable from user files, so thrown, not trapped).
public enum TensorError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A shape that cannot exist (a negative dimension) or does not fit the operation.
    case invalidShape(String)
    /// An allocation larger than the address space or the available memory.
    case tooLarge(String)
    /// Nothing to operate on (concatenating zero tensors).
    case empty(String)

    public var description: String {
        switch self {
        case let .invalidShape(m), let .tooLarge(m), let .empty(m): return m
        }
    }
}
