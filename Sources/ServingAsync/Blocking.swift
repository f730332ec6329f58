import Dispatch

/// Queue calls block (a Redis round trip, a SQLite write that may wait for the writer lock); they run on GCD's
/// threads, not the cooperative pool, which on a 2-core host has two threads the HTTP server also needs.
private let blockingQueue = DispatchQueue(label: "compress.async.queue-io", attributes: .concurrent)

func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        blockingQueue.async {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
    }
}
