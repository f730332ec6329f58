/// A count and total nanoseconds (`{"count": N, "ns": T}`), the unit of Triton's statistics extension.
public struct StatDuration: Sendable, Equatable, Codable {
    public var count: UInt64 = 0
    public var ns: UInt64 = 0

    public init(count: UInt64 = 0, ns: UInt64 = 0) {
        self.count = count
        self.ns = ns
    }

    mutating func add(_ nanoseconds: UInt64, count n: UInt64 = 1) {
        count += n
        ns += nanoseconds
    }
}

/// Per-request durations summed over a model's requests. Every request of a batch is charged the whole batch's
/// compute durations, as Triton does, so `compute_infer.ns / count` is the latency a request saw.
public struct InferenceStatistics: Sendable, Equatable, Codable {
    /// Requests answered with outputs; `ns` is the time from arrival at the core to the answer.
    public var success = StatDuration()
    /// Requests that failed after arriving (invalid, queue full, timed out, engine errors).
    public var fail = StatDuration()
    /// Time spent waiting in the batcher's queue.
    public var queue = StatDuration()
    /// Gathering a batch's inputs into one (token packing, row concatenation).
    public var computeInput = StatDuration()
    /// The forward pass.
    public var computeInfer = StatDuration()
    /// Splitting the batch's outputs back per request.
    public var computeOutput = StatDuration()
    /// No response cache: always zero, present because clients read it.
    public var cacheHit = StatDuration()
    public var cacheMiss = StatDuration()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case success, fail, queue
        case computeInput = "compute_input", computeInfer = "compute_infer", computeOutput = "compute_output"
        case cacheHit = "cache_hit", cacheMiss = "cache_miss"
    }
}

/// Executions of one batch size (each counted once, not per request).
public struct BatchStatistics: Sendable, Equatable, Codable {
    public var batchSize: Int
    public var computeInput = StatDuration()
    public var computeInfer = StatDuration()
    public var computeOutput = StatDuration()

    public init(batchSize: Int) { self.batchSize = batchSize }

    enum CodingKeys: String, CodingKey {
        case batchSize = "batch_size", computeInput = "compute_input", computeInfer = "compute_infer", computeOutput = "compute_output"
    }
}

/// One model version's statistics, in the JSON shape Triton's `GET /v2/models/{m}/stats` returns (perf_analyzer
/// reads it).
public struct ModelStatistics: Sendable, Equatable, Codable {
    public var name: String
    public var version: String
    /// Milliseconds since the epoch of the last answered request (0 before the first).
    public var lastInference: UInt64 = 0
    /// Items inferred (a request with a batch of 4 counts 4).
    public var inferenceCount: UInt64 = 0
    /// Forward passes run: fewer than `inferenceCount` when the batcher combined requests.
    public var executionCount: UInt64 = 0
    public var inferenceStats = InferenceStatistics()
    public var batchStats: [BatchStatistics] = []

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case name, version
        case lastInference = "last_inference", inferenceCount = "inference_count", executionCount = "execution_count"
        case inferenceStats = "inference_stats", batchStats = "batch_stats"
    }
}

/// `{"model_stats": [...]}`.
public struct StatisticsResponse: Sendable, Equatable, Codable {
    public var modelStats: [ModelStatistics]

    public init(modelStats: [ModelStatistics]) { self.modelStats = modelStats }

    enum CodingKeys: String, CodingKey { case modelStats = "model_stats" }
}
