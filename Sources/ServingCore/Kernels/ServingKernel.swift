import Runtime
import Tensors

/// One request's items converted for a kernel; a batch is several of these, run in one execution.
public enum KernelInput: Sendable {
    /// Engine inputs (token ids packed with their lengths, or a float tensor), for whole models and encoders.
    case engine(PreparedInputs)
    /// Packed token ids with the request's padded width `width` (its [N, L] layout comes back in the output), for
    /// an encoder step.
    case encoder(ids: [Int32], lengths: [Int], width: Int)
    /// Text items, for a tokenizer step.
    case texts([String])
    /// Named tensors of `items` items (first axis), for pooling and combiner steps.
    case tensors([String: InferInput], items: Int)

    /// Items (the batch axis).
    public var count: Int {
        switch self {
        case let .engine(p): return p.count
        case let .encoder(_, lengths, _): return lengths.count
        case let .texts(t): return t.count
        case let .tensors(_, n): return n
        }
    }
}

/// Where an execution's time went, for the statistics extension (Triton's compute input / infer / output split).
public struct ExecutionTiming: Sendable {
    public var input: UInt64 = 0
    public var infer: UInt64 = 0
    public var output: UInt64 = 0
    public init() {}
}

/// What a served model computes: its signature, how a request becomes ``KernelInput``, and how a batch of them
/// runs on an executor. The batcher owns queues and instances; a kernel owns only the arithmetic, so whole
/// models, ensemble steps (tokenizer, encoder, pooling) and combiners share the same batcher and statistics.
public protocol ServingKernel: Sendable {
    /// Metadata `platform` (`compress_bert`, `compress_tokenizer`, …).
    var platform: String { get }
    var inputs: [TensorMetadata] { get }
    var outputs: [TensorMetadata] { get }
    /// Inputs a request may leave out (perf_analyzer reads this from the model configuration).
    var optionalInputs: Set<String> { get }
    /// Checks a request's tensors against the signature (names, datatypes, shapes) and converts them; errors
    /// name the tensor.
    func prepare(_ request: InferRequest, model: String) throws(InferenceError) -> KernelInput
    /// Runs one batch; returns every output of each request, in batch order.
    func execute(_ batch: [KernelInput], on executor: Executor, timing: inout ExecutionTiming) throws -> [[InferOutput]]
    /// One small execution so scratch memory and packed paths exist before the server reports ready.
    func warmUp(on executor: Executor) throws
}

extension ServingKernel {
    public var optionalInputs: Set<String> { [] }
}

/// Shared request checks.
enum KernelChecks {
    /// Inputs by name, refusing duplicates and names outside `allowed`.
    static func inputsByName(
        _ request: InferRequest, allowed: [TensorMetadata], model: String
    ) throws(InferenceError) -> [String: InferInput] {
        var out: [String: InferInput] = [:]
        for input in request.inputs {
            guard allowed.contains(where: { $0.name == input.name }) else {
                throw .invalidArgument(
                    "unexpected input '\(input.name)' (model '\(model)' takes \(allowed.map { "'\($0.name)'" }.joined(separator: ", ")))")
            }
            guard out[input.name] == nil else { throw .invalidArgument("input '\(input.name)' is given twice") }
            try ServedModel.checkElementCount(input)
            out[input.name] = input
        }
        return out
    }

    /// `input` as FP32 values with rank `rank`; errors name it.
    static func floats(_ input: InferInput, rank: Int) throws(InferenceError) -> [Float] {
        guard case let .fp32(v) = input.data else {
            throw .invalidArgument("input '\(input.name)': datatype must be FP32, got \(input.datatype.rawValue)")
        }
        guard input.shape.count == rank else {
            throw .invalidArgument("input '\(input.name)': shape must have \(rank) dimensions, got \(input.shape)")
        }
        return v
    }
}
