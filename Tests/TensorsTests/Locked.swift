import Foundation

/// A value behind an NSLock, for tests that run under the thread sanitizer: TSan understands pthread locks, but not
/// Synchronization.Mutex's futex path (it reports every access through one as a race).
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched inside `withLock`, under `lock`.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
