import Foundation
import Runtime
import Tensors

/// A request waiting for an execution: its prepared inputs and the continuation its caller awaits.
struct PendingRequest: Sendable {
    var id: UInt64
    var inputs: KernelInput
    var items: Int
    /// 0-based priority level (0 is served first).
    var level: Int
    var enqueuedAt: UInt64
    /// Monotonic deadline past which the request is answered with a timeout (nil: none).
    var deadline: UInt64?
    var continuation: CheckedContinuation<[InferOutput], any Error>
}

/// The bounded, prioritised queue the instances of one model pull batches from.
///
/// `@unchecked Sendable`: every stored property except the constants is read and written only while `condition`
/// is locked. Instance threads block in ``nextBatch()`` on that condition (plain threads, not the cooperative
/// pool, so a forward pass never holds a Swift concurrency thread); `enqueue` and `expire` are quick and never
/// block beyond the lock.
final class BatchQueue: @unchecked Sendable {
    let policy: BatchingPolicy
    private let condition = NSCondition()
    private var levels: [[PendingRequest]]
    private var queuedItems = 0
    private var queuedRequests = 0
    private var accepting = true
    /// Set when draining: instances empty the queue without waiting for fuller batches, then exit.
    private var finishing = false
    private var nextID: UInt64 = 0
    private var runningInstances = 0
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []
    /// Per instance: running a batch it took (set when ``nextBatch(instance:)`` hands one out, cleared when the
    /// instance asks for the next).
    private var busy: [Bool]
    /// Per instance: its executor is lent to a caller computing inline (``lendIdleInstance()``); the instance
    /// takes no batch (and does not exit) until it is given back.
    private var lent: [Bool]

    init(policy: BatchingPolicy, instances: Int = 1) {
        self.policy = policy
        levels = Array(repeating: [], count: policy.priorityLevels)
        busy = Array(repeating: false, count: max(1, instances))
        lent = Array(repeating: false, count: max(1, instances))
    }

    /// An instance whose executor the caller may use right now, or nil: only while nothing is queued (so no
    /// queued request is overtaken and batches still form whenever requests meet) and an instance is idle. The
    /// caller must ``giveBack(_:)`` it.
    func lendIdleInstance() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        guard accepting, !finishing, queuedRequests == 0, let i = busy.indices.first(where: { !busy[$0] && !lent[$0] }) else { return nil }
        lent[i] = true
        return i
    }

    /// Ends a loan: the instance serves the queue again (requests that arrived meanwhile wait for it).
    func giveBack(_ instance: Int) {
        condition.lock()
        lent[instance] = false
        condition.broadcast()
        condition.unlock()
    }

    /// Queues a request, or refuses it at once: 429 when its level is full, 503 when the model is stopping.
    /// Returns the request's id (for ``expire(_:)``).
    func enqueue(
        inputs: KernelInput, level: Int, deadline: UInt64?, continuation: CheckedContinuation<[InferOutput], any Error>
    ) throws(InferenceError) -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { throw .unavailable("the model is stopping and takes no new requests") }
        guard levels[level].count < policy.maxQueueSize else {
            throw .queueFull("the queue is full (max_queue_size \(policy.maxQueueSize) requests at priority \(level + 1)); retry later")
        }
        nextID &+= 1
        let p = PendingRequest(
            id: nextID, inputs: inputs, items: inputs.count, level: level, enqueuedAt: monotonicNanoseconds(), deadline: deadline,
            continuation: continuation)
        levels[level].append(p)
        queuedItems += p.items
        queuedRequests += 1
        // Broadcast: an idle instance and one waiting for a fuller batch may both need to look again.
        condition.broadcast()
        return p.id
    }

    /// Removes request `id` if it is still queued (its timeout fired first); the caller answers it.
    func expire(_ id: UInt64) -> PendingRequest? {
        condition.lock()
        defer { condition.unlock() }
        for l in levels.indices {
            if let i = levels[l].firstIndex(where: { $0.id == id }) { return remove(level: l, index: i) }
        }
        return nil
    }

    /// Blocks until a batch is ready for `instance`, then returns it with any requests found past their deadline;
    /// nil once the queue is finishing and empty (the instance exits).
    func nextBatch(instance: Int = 0) -> (batch: [PendingRequest], expired: [PendingRequest])? {
        condition.lock()
        defer { condition.unlock() }
        busy[instance] = false
        while true {
            // Lent to an inline caller: neither take a batch nor exit until it comes back.
            if lent[instance] {
                condition.wait()
                continue
            }
            if queuedRequests == 0 {
                if finishing { return nil }
                condition.wait()
                continue
            }
            let now = monotonicNanoseconds()
            let expired = policy.rejectOnTimeout ? removeExpired(now: now) : []
            if !expired.isEmpty { return ([], expired) }
            if policy.maxQueueDelayNanoseconds > 0, !finishing, queuedItems < policy.fillTarget {
                let oldest = levels.compactMap { $0.first?.enqueuedAt }.min() ?? now
                let due = oldest &+ policy.maxQueueDelayNanoseconds
                if now < due {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: Double(due - now) / 1e9))
                    continue
                }
            }
            busy[instance] = true
            return (takeBatch(), [])
        }
    }

    /// Stops taking requests; queued ones are still served.
    func stopAccepting() {
        condition.lock()
        accepting = false
        condition.unlock()
    }

    /// Lets instances exit once the queue is empty (no waiting for fuller batches meanwhile).
    func finish() {
        condition.lock()
        accepting = false
        finishing = true
        condition.broadcast()
        condition.unlock()
    }

    func instanceStarted() {
        condition.lock()
        runningInstances += 1
        condition.unlock()
    }

    func instanceExited() {
        condition.lock()
        runningInstances -= 1
        let waiters = runningInstances == 0 ? exitWaiters : []
        if runningInstances == 0 { exitWaiters = [] }
        condition.unlock()
        for w in waiters { w.resume() }
    }

    /// Returns once every instance has exited.
    func waitForInstances() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            condition.lock()
            if runningInstances == 0 {
                condition.unlock()
                c.resume()
            } else {
                exitWaiters.append(c)
                condition.unlock()
            }
        }
    }

    /// Requests queued now (for tests and metrics).
    var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return queuedRequests
    }

    // MARK: under the lock

    private func remove(level: Int, index: Int) -> PendingRequest {
        let p = levels[level].remove(at: index)
        queuedItems -= p.items
        queuedRequests -= 1
        return p
    }

    private func removeExpired(now: UInt64) -> [PendingRequest] {
        var out: [PendingRequest] = []
        for l in levels.indices where levels[l].contains(where: { ($0.deadline ?? .max) <= now }) {
            let (late, onTime) = levels[l].reduce(into: ([PendingRequest](), [PendingRequest]())) { acc, p in
                if (p.deadline ?? .max) <= now { acc.0.append(p) } else { acc.1.append(p) }
            }
            levels[l] = onTime
            for p in late {
                queuedItems -= p.items
                queuedRequests -= 1
            }
            out += late
        }
        return out
    }

    /// The highest-priority requests, oldest first, while they fit in `maxBatchSize` items. A request never
    /// exceeds the maximum alone (the server refuses it), so a batch is never empty; order within a level is
    /// kept (no smaller later request jumps a larger earlier one).
    private func takeBatch() -> [PendingRequest] {
        var batch: [PendingRequest] = []
        var items = 0
        for l in levels.indices {
            var taken = 0
            for p in levels[l] {
                guard items + p.items <= policy.maxBatchSize else { break }
                batch.append(p)
                items += p.items
                taken += 1
            }
            levels[l].removeFirst(taken)
            // A higher level's request that did not fit goes first next time; lower levels don't fill in around it.
            if !levels[l].isEmpty { break }
        }
        queuedItems -= items
        queuedRequests -= batch.count
        return batch
    }
}
