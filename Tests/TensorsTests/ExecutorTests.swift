import Dispatch

import Tensors
import Testing

/// The worker pools behind Executor.parallelChunks: every index exactly once, with concurrent callers sharing one
/// executor and with several executors (each with its own pool) running at once.
struct ExecutorTests {
    /// Runs `rounds` parallel regions from each of `callers` threads, each caller on `executorFor(caller)`;
    /// returns per-caller counts of indices not hit exactly once.
    private func misses(callers: Int, rounds: Int, executorFor: @Sendable (Int) -> Executor) -> [Int] {
        let failures = Locked([Int](repeating: 0, count: callers))
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            let executor = executorFor(caller)
            var missed = 0
            for round in 0..<rounds {
                let count = 1 + (round * 37 + caller * 11) % 97
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
                hits.initialize(repeating: 0, count: count)
                executor.parallelChunks(count) { range in for i in range { hits[i] += 1 } }
                for i in 0..<count where hits[i] != 1 { missed += 1 }
                hits.deallocate()
            }
            failures.withLock { $0[caller] = missed }
        }
        return failures.withLock { $0 }
    }

    @Test func everyIndexRunsExactlyOnceWithOneSharedExecutor() {
        let shared = Executor(threads: 2)
        #expect(misses(callers: 4, rounds: 400) { _ in shared } == [0, 0, 0, 0])
    }

    @Test func everyIndexRunsExactlyOnceWithAnExecutorPerCaller() {
        let executors = (0..<4).map { Executor(threads: $0 % 2 + 1) }
        #expect(misses(callers: 4, rounds: 400) { executors[$0] } == [0, 0, 0, 0])
    }

    @Test func executorsAreCreatedAndDestroyedCleanly() {
        for threads in [1, 2, 3, 8] {
            let e = Executor(threads: threads)
            #expect(e.threads == threads)
            var sum = 0
            let lock = Locked(0)
            e.parallelChunks(1000) { r in lock.withLock { $0 += r.count } }
            sum = lock.withLock { $0 }
            #expect(sum == 1000)
        }
    }

    @Test func scratchBuffersAreReusedAndPrivateToEachBorrower() {
        let e = Executor(threads: 2)
        let first = e.withScratch(floats: 1000) { UInt(bitPattern: $0) }
        let second = e.withScratch(floats: 500) { UInt(bitPattern: $0) }
        #expect(first == second)  // returned to the free list, lent again
        e.withScratch(floats: 100) { outer in
            e.withScratch(floats: 100) { inner in #expect(outer != inner) }
        }
    }
}
