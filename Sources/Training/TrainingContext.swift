import CKernels
import Tensors

/// What a training forward needs beyond its input: where to run, and whether the model is in training mode.
///
/// In ``Mode/train`` BatchNorm normalizes with batch statistics (and updates its running averages) and Dropout
/// drops; in ``Mode/eval`` both behave as at inference, which is also what fine-tuning a BatchNorm-folded or
/// frozen-statistics model wants. Dropout draws from `seed`, advanced once per call, so a run is reproducible.
public final class TrainingContext: @unchecked Sendable {
    public enum Mode: Sendable { case train, eval }
    /// Threads and scratch for the kernels; GEMMs go through OpenBLAS (set its threads with
    /// ``Executor/setBLASThreads(_:)``).
    public let executor: Executor
    public var mode: Mode
    /// Keras semantics: running = momentum · running + (1 − momentum) · batch (Keras default 0.99).
    public var batchNormMomentum: Float
    /// Whether Dropout layers drop in train mode (off for gradient checks and goldens).
    public var dropout: Bool
    /// The fraction of the run's optimizer steps taken before the current one (0 at the first step): set by
    /// ``Trainer`` from the step count (so a resumed run sees the same values), read by objectives whose loss follows
    /// a schedule (``Distillation/scheduled(progress:)``).
    public var runProgress: Double = 0
    private var state: UInt64

    public init(executor: Executor, mode: Mode = .train, batchNormMomentum: Float = 0.99, dropout: Bool = true, seed: UInt64 = 0) {
        self.executor = executor
        self.mode = mode
        self.batchNormMomentum = batchNormMomentum
        self.dropout = dropout
        state = seed
        _ = Self.keepFreedActivations
    }

    /// A training step allocates the same large activations every step (a Fashion-CNN step: 29 MB of im2col rows,
    /// 13 MB activations). glibc served the largest with fresh mmaps and trimmed the heap top back to the OS, so each
    /// step paid page faults and kernel page zeroing (~5 % of the step, perf). Fixing the mmap threshold at its
    /// 64-bit maximum (32 MB) and raising the trim threshold once keeps freed activations in the heap for the next
    /// step to reuse. Process wide and one-way (freed memory stays with the process), which suits a training process.
    private static let keepFreedActivations: Void = { _ = ck_keep_freed_memory() }()

    /// The random generator's state, saved in checkpoints so a resumed run draws the same dropout masks.
    public var randomState: UInt64 {
        get { state }
        set { state = newValue }
    }

    /// The next 64 random bits (SplitMix64); `@unchecked Sendable` because one training step owns its context.
    public func nextRandom() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Errors of the training engine; messages name the module or tensor.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case unsupported(String)
    case badInput(String)
    /// A loss or gradient norm became NaN or infinite; the message names the step.
    case nonFinite(String)
    /// A checkpoint that cannot be resumed (another configuration, a damaged file); the message names the file.
    case checkpoint(String)

    public var description: String {
        switch self {
        case let .unsupported(m): return "cannot train: \(m)"
        case let .badInput(m): return "bad training input: \(m)"
        case let .nonFinite(m): return "training diverged: \(m)"
        case let .checkpoint(m): return "checkpoint: \(m)"
        }
    }
}
