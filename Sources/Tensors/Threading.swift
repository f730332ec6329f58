import CKernels
import COpenBLAS
import Foundation

/// Process-wide thread budget for compute: OpenBLAS and our own row-parallel kernels both follow it.
///
/// `--threads N` on every command calls ``Threading/setThreads(_:)`` once before any work.
public enum Threading {
    nonisolated(unsafe) private static var current: Int = {
        let n = ProcessInfo.processInfo.activeProcessorCount
        ck_pool_set_threads(Int32(n))
        return n
    }()

    /// Threads compute may use (default: every core).
    public static var threads: Int { current }

    /// Cores the OS reports.
    public static var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Sets the thread budget for OpenBLAS and our kernels.
    public static func setThreads(_ n: Int) {
        current = max(1, n)
        openblas_set_num_threads(Int32(current))
        ck_pool_set_threads(Int32(current))
    }

    /// Runs `body(range)` over `0..<count` split into at most `threads` contiguous chunks, on the persistent
    /// spinning pool in CKernels (`ck_pool_run`): a MiniLM sentence has ~50 parallel regions, and waking threads
    /// through Dispatch for each cost more than the regions themselves at batch 1.
    /// Work below `minimumPerChunk` items per chunk stays on the calling thread. Not reentrant.
    public static func parallelChunks(_ count: Int, minimumPerChunk: Int = 1, _ body: (Range<Int>) -> Void) {
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
                    chunks,
                    { context, index in
                        Unmanaged<ChunkJob>.fromOpaque(context!).takeUnretainedValue().run(Int(index))
                    }, Unmanaged.passUnretained(box).toOpaque())
            }
        }
    }
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
