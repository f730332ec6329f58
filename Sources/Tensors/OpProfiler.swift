import Foundation

/// The kinds of work a forward pass is split into by `compress profile`.
public enum OpKind: String, Sendable, CaseIterable, Codable {
    /// Text to token ids (runs before the network).
    case tokenizer
    /// Embedding lookups (word + position + type rows).
    case embedding
    /// Softmax(q·kᵀ)·v per head.
    case attention
    /// Dense matrix products (Linear, the fused QKV projection, quantized linears).
    case gemm
    /// Convolutions.
    case convolution
    /// LayerNorm and BatchNorm.
    case normalization
    /// GELU, ReLU and other elementwise activations with their bias.
    case activation
    /// Sentence pooling, max/average pooling.
    case pooling
    /// Everything inside the measured region not claimed by a kind above (copies, reshapes, glue).
    case other
}

/// Per-kind timers for one thread's forward passes, switched on by giving an ``Executor`` a profiler
/// (`Executor(threads: 1, profiler: OpProfiler())`). Nested regions are charged exclusively: a GEMM inside an
/// attention block counts as GEMM, and the attention block keeps only its own time, so the kinds add up to the
/// outermost region's wall time. Without a profiler, ``Executor/timed(_:_:)`` is one nil check.
public final class OpProfiler: @unchecked Sendable {
    // @unchecked: all state is under `lock`. Regions are expected from one thread at a time (the caller of a
    // forward pass); worker threads of the pool never open regions.
    private let lock = NSLock()
    private var totals: [OpKind: UInt64] = [:]
    private var calls: [OpKind: Int] = [:]
    /// Time spent in child regions of each open region.
    private var childTime: [UInt64] = []

    public init() {}

    /// Runs `body` as a region of `kind`.
    public func measure<R>(_ kind: OpKind, _ body: () throws -> R) rethrows -> R {
        lock.withLock { childTime.append(0) }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            lock.withLock {
                let children = childTime.removeLast()
                totals[kind, default: 0] += elapsed >= children ? elapsed - children : 0
                calls[kind, default: 0] += 1
                if !childTime.isEmpty { childTime[childTime.count - 1] += elapsed }
            }
        }
        return try body()
    }

    /// Exclusive nanoseconds per kind so far.
    public var nanoseconds: [OpKind: UInt64] { lock.withLock { totals } }
    /// Regions entered per kind so far.
    public var regionCounts: [OpKind: Int] { lock.withLock { calls } }

    /// Clears the totals (after warm-up).
    public func reset() {
        lock.withLock {
            totals = [:]
            calls = [:]
        }
    }
}

extension Executor {
    /// Runs `body` as a profiled region of `kind` when this executor has a profiler; otherwise just runs it.
    @inlinable
    public func timed<R>(_ kind: OpKind, _ body: () throws -> R) rethrows -> R {
        guard let profiler else { return try body() }
        return try profiler.measure(kind, body)
    }
}
