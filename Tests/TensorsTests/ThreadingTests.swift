import Dispatch
import Tensors
import Testing

/// The worker pool behind Threading.parallelChunks: every index exactly once, with concurrent callers and thread
/// counts changing underneath (as when tests run in parallel).
struct ThreadingTests {
    @Test func everyIndexRunsExactlyOnceUnderConcurrentCallers() {
        let callers = 4, rounds = 400
        var failures = [Int](repeating: 0, count: callers)
        failures.withUnsafeMutableBufferPointer { fail in
            let failures = fail
            DispatchQueue.concurrentPerform(iterations: callers) { caller in
                for round in 0..<rounds {
                    if caller == 0 && round % 50 == 0 { Threading.setThreads(round % 100 == 0 ? 1 : 2) }
                    let count = 1 + (round * 37 + caller * 11) % 97
                    let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
                    hits.initialize(repeating: 0, count: count)
                    Threading.parallelChunks(count) { range in for i in range { hits[i] += 1 } }
                    for i in 0..<count where hits[i] != 1 { failures[caller] += 1 }
                    hits.deallocate()
                }
            }
        }
        Threading.setThreads(Threading.availableCores)
        #expect(failures == [Int](repeating: 0, count: callers))
    }
}
