import CKernels
import COpenBLAS
import Foundation
import Synchronization

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
    private let pool: PoolHandle
    private let scratch = Mutex<[ScratchBuffer]>([])

    /// An executor with `threads` threads (at least 1); its `threads − 1` workers start now.
    public init(threads: Int) {
        let pool = PoolHandle(threads: max(1, threads))
        self.pool = pool
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
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        var buffer = scratch.withLock { free -> ScratchBuffer? in
            guard let i = free.firstIndex(where: { $0.byteCount >= bytes }) else { return nil }
            return free.remove(at: i)
        }
        if buffer == nil {
            // Too small or none free: take the largest free one out (it is replaced, not leaked) and allocate.
            scratch.withLock { free in if let i = free.indices.max(by: { free[$0].byteCount < free[$1].byteCount }) { free.remove(at: i).release() } }
            buffer = ScratchBuffer(byteCount: bytes)
        }
        let lent = buffer!
        defer { scratch.withLock { $0.append(lent) } }
        return try body(lent.pointer.assumingMemoryBound(to: Float.self))
    }

    deinit {
        scratch.withLock { free in for b in free { b.release() } }
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

/// A raw aligned block on an executor's free list. Sendable because a block is only ever used by one borrower at a
/// time: it is removed from the free list (under the mutex) before use and appended back after.
private struct ScratchBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        self.byteCount = byteCount
    }

    func release() { pointer.deallocate() }
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
