import COpenBLAS
import Dispatch
import Foundation

/// Process-wide thread budget for compute: OpenBLAS and our own row-parallel kernels both follow it.
///
/// `--threads N` on every command calls ``Threading/setThreads(_:)`` once before any work.
public enum Threading {
    nonisolated(unsafe) private static var current = ProcessInfo.processInfo.activeProcessorCount

    /// Threads compute may use (default: every core).
    public static var threads: Int { current }

    /// Cores the OS reports.
    public static var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Sets the thread budget for OpenBLAS and our kernels.
    public static func setThreads(_ n: Int) {
        current = max(1, n)
        openblas_set_num_threads(Int32(current))
    }

    /// Runs `body(chunkIndex, range)` over `0..<count` split into at most `threads` contiguous chunks.
    /// Work below `minimumPerChunk` items per chunk stays on the calling thread: waking a worker costs
    /// more than a few microseconds of arithmetic.
    public static func parallelChunks(_ count: Int, minimumPerChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(threads, max(1, count / max(1, minimumPerChunk)))
        if chunks <= 1 || count <= 1 {
            body(0..<count)
            return
        }
        let per = (count + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = c * per, hi = min(count, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }
}
