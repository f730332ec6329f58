import Foundation

/// A value guarded by a lock. `@unchecked Sendable`: `value` is only read or written inside `withLock`, under
/// `lock`. NSLock rather than Synchronization.Mutex for the same reason as `Executor`'s scratch pool: the thread
/// sanitizer understands pthread locks.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// Monotonic nanoseconds, for queue and compute durations.
@inline(__always) func monotonicNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
