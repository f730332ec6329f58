import CKernels
import COpenBLAS
import Foundation

/// Where compute runs: a thread budget, the worker pool that serves it, and scratch memory reused across calls.
///
/// Every forward pass takes one (`model.forward(x, on: executor)`); nothing about threads is process-wide. Two
/// executors own two pools and run truly in parallel (a server runs one per model instance, fed by its batcher):
///
/// ```swift
/// let a = Executor(threads: 1), b = Executor(threads: 1)
/// async let ya = model.predict(batch1, on: a)
/// async let yb = model.predict(batch2, on: b)
/// ```
///
/// One executor may also be shared: its pool runs one parallel region at a time, and a second concurrent caller
/// runs its region on its own thread (correct, just not parallel), so executors are `Sendable`.
public final class Executor: Sendable {
    /// Threads a parallel region may use, the caller included.
    public let threads: Int
    /// Per-kind timers (`compress profile`), nil by default: then ``timed(_:_:)`` costs one nil check.
    public let profiler: OpProfiler?
    private let pool: PoolHandle
    private let scratch = ScratchPool()

    /// An executor with `threads` threads (at least 1); its `threads − 1` workers start now. With a `profiler`,
    /// forward passes on it charge their time to layer kinds.
    public init(threads: Int, profiler: OpProfiler? = nil) {
        let pool = PoolHandle(threads: max(1, threads))
        self.pool = pool
        self.profiler = profiler
        self.threads = Int(ck_pool_threads(pool.pointer))
    }

    /// Cores the OS reports: the default thread budget of commands.
    public static var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Runs `body(range)` over `0..<count` split into at most `threads` contiguous chunks, on this executor's
    /// spinning pool (`ck_pool_run`): a MiniLM sentence has ~50 parallel regions, and waking threads through
    /// Dispatch for each cost more than the regions themselves at batch 1.
    /// Work below `minimumPerChunk` items per chunk stays on the calling thread.
    public func parallelChunks(_ count: Int, minimumPerChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(threads, max(1, count / max(1, minimumPerChunk)))
        if chunks <= 1 || count <= 1 {
            body(0..<count)
            return
        }
        let per = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { escapable in
            let box = ChunkJob(count: count, per: per, body: escapable)
            withExtendedLifetime(box) {
                ck_pool_run(
                    pool.pointer, chunks,
                    { context, index in
                        Unmanaged<ChunkJob>.fromOpaque(context!).takeUnretainedValue().run(Int(index))
                    }, Unmanaged.passUnretained(box).toOpaque())
            }
        }
    }

    /// Splits columns [0, n) into per-thread ranges whose starts are multiples of 16 (the packed panel width).
    @inlinable
    public func columnChunks(_ n: Int, _ body: (Int, Int) -> Void) {
        if threads <= 1 || n < 64 { body(0, n); return }
        let per = ((n + threads - 1) / threads + 15) / 16 * 16
        let chunks = (n + per - 1) / per
        parallelChunks(chunks) { r in
            for c in r { body(c * per, min(n, (c + 1) * per)) }
        }
    }

    /// Lends a scratch buffer of at least `count` floats (contents undefined, 64-byte aligned) for the duration of
    /// `body`. Buffers return to this executor and are reused by later calls, so hot paths (attention, smoothed
    /// inputs, activation quantization) allocate only while the executor warms up. Thread-safe: concurrent
    /// borrowers each get their own buffer.
    public func withScratch<R>(floats count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let buffer = scratch.take(bytes: max(count, 1) * MemoryLayout<Float>.stride)
        defer { scratch.give(buffer) }
        return try body(buffer.pointer.assumingMemoryBound(to: Float.self))
    }

    /// Threads OpenBLAS uses for the offline compression algorithms (GPTQ, AWQ) that call `MatMul`. OpenBLAS keeps
    /// this setting per process, which is why no forward pass uses OpenBLAS; commands set it once from `--threads`.
    public static func setBLASThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
}

/// Owns a `ck_pool`. Sendable because the C pool synchronizes its own state (a lock plus atomics) and accepts
/// concurrent callers; the pointer itself never changes and is freed only in deinit, when no caller is left.
private final class PoolHandle: @unchecked Sendable {
    let pointer: OpaquePointer

    init(threads: Int) {
        guard let p = ck_pool_create(Int32(threads)) else { fatalError("out of memory creating a worker pool") }
        pointer = p
    }

    deinit { ck_pool_destroy(pointer) }
}

/// A raw aligned block lent by a ``ScratchPool``.
private struct ScratchBuffer {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int
}

/// An executor's free list of scratch blocks. `@unchecked Sendable`: the list is only touched under `lock`, and a
/// block is used by one borrower at a time (taken off the list before use, put back after). NSLock rather than
/// Synchronization.Mutex because the thread sanitizer understands pthread locks (Mutex's futex path is invisible to
/// it and made every borrow look like a race).
private final class ScratchPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [ScratchBuffer] = []

    /// A free block of at least `bytes`, or a new one (replacing the largest free block, so the list stays short).
    func take(bytes: Int) -> ScratchBuffer {
        lock.lock()
        defer { lock.unlock() }
        if let i = free.firstIndex(where: { $0.byteCount >= bytes }) { return free.remove(at: i) }
        if let i = free.indices.max(by: { free[$0].byteCount < free[$1].byteCount }) { free.remove(at: i).pointer.deallocate() }
        return ScratchBuffer(pointer: UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64), byteCount: bytes)
    }

    func give(_ buffer: ScratchBuffer) {
        lock.lock()
        free.append(buffer)
        lock.unlock()
    }

    deinit { for b in free { b.pointer.deallocate() } }
}

/// One parallelChunks call, handed to the C pool as its context.
private final class ChunkJob {
    let count: Int
    let per: Int
    let body: (Range<Int>) -> Void

    init(count: Int, per: Int, body: @escaping (Range<Int>) -> Void) {
        self.count = count
        self.per = per
        self.body = body
    }

    func run(_ chunk: Int) {
        let lo = chunk * per, hi = min(count, lo + per)
        if lo < hi { body(lo..<hi) }
    }
}
