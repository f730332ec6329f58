import NIOCore
import NIOPosix

/// Runs Swift concurrency's global jobs on NIO's singleton event loops (the ones Hummingbird, grpc-swift's
/// transport and async-http-client already use) instead of the separate cooperative pool.
///
/// Why: every request otherwise crosses threads twice more than it must — the event loop reads it, a pool thread
/// runs its handler, the event loop writes the answer — and on a 2-core host each wake-up costs tens of
/// microseconds, more than the digits CNN's whole forward pass. With the loops as the global executor a handler
/// resumes on the loop that read its request. The price: a task that blocks now blocks I/O, so CPU-heavy work
/// (forward passes, model loading) must stay on its own threads, as `ModelInstance` and `onDedicatedThread` keep it.
enum EventLoopConcurrency {
    /// Installs the hook once per process; false when it could not be installed (another hook, unsupported
    /// platform or compiler), in which case the cooperative pool keeps running tasks as before.
    static func install() -> Bool { installed }

    private static let installed: Bool = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}
