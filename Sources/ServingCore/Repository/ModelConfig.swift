/// A model's `config.yaml` in the repository, with Triton's key names (`max_batch_size`, `dynamic_batching`,
/// `instance_group`), plus `model:` (where the model is, when it has no version folder) and `threads` (per instance).
///
/// ```yaml
/// max_batch_size: 32
/// dynamic_batching:
///   preferred_batch_size: [16, 32]
///   max_queue_delay_microseconds: 500
///   default_queue_policy: {max_queue_size: 256, default_timeout_microseconds: 100000, allow_timeout_override: true}
/// instance_group: [{count: 2}]   # or {count: 2}: two executors, each running batches on its own
/// threads: 1
/// ```
public struct ModelConfig: Sendable, Equatable, Codable {
    /// Must equal the folder name when given (as Triton requires).
    public var name: String?
    /// An artifact, `compress run` folder, Hugging Face folder or Keras file, relative to the config's folder.
    public var model: String?
    /// Largest batch (items) one execution runs; a request may not carry more items than this.
    public var maxBatchSize: Int
    /// Absent: requests still share executions when they queue behind a busy instance, with no waiting for more.
    public var dynamicBatching: DynamicBatching?
    public var instanceGroup: [InstanceGroup]
    /// Threads of each instance's executor (default: the server's `--threads`, else all cores ÷ instances).
    public var threads: Int?
    /// What the model is: absent for a model file; `ensemble`, or a built-in step (``Platform``).
    public var platform: Platform?
    /// A text encoder's signature: `text`, `tokens` or `both` (default; perf_analyzer needs `text` or `tokens`).
    public var textInputs: TextInputs
    /// `compress_pooling`: how token states become a sentence vector.
    public var pooling: PoolingConfig?
    /// `compress_combiner`: how many inputs to combine, and how.
    public var combine: CombineConfig?
    /// `platform: ensemble`: the steps, as Triton's `ensemble_scheduling`.
    public var ensembleScheduling: EnsembleScheduling?
    /// Ensemble inputs and outputs (Triton's `input` / `output`); inferred from the steps when absent.
    public var input: [TensorConfig]?
    public var output: [TensorConfig]?
    /// Mirrors a sample of live requests to another model, off the response path, and records agreement.
    public var shadow: ShadowConfig?
    /// A canary split: each request goes to one of these models, by weight (this entry serves no model itself).
    public var trafficSplit: [String: Int]?

    public init(
        name: String? = nil, model: String? = nil, maxBatchSize: Int = 32, dynamicBatching: DynamicBatching? = DynamicBatching(),
        instanceGroup: [InstanceGroup] = [InstanceGroup()], threads: Int? = nil
    ) {
        self.name = name
        self.model = model
        self.maxBatchSize = maxBatchSize
        self.dynamicBatching = dynamicBatching
        self.instanceGroup = instanceGroup
        self.threads = threads
        self.textInputs = .both
    }

    /// Executors (instances) in all groups.
    public var instanceCount: Int { max(1, instanceGroup.reduce(0) { $0 + $1.count }) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, model, threads, platform, pooling, combine, input, output, shadow
        case maxBatchSize = "max_batch_size", dynamicBatching = "dynamic_batching", instanceGroup = "instance_group"
        case textInputs = "text_inputs", ensembleScheduling = "ensemble_scheduling", trafficSplit = "traffic_split"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        maxBatchSize = try c.decodeIfPresent(Int.self, forKey: .maxBatchSize) ?? 32
        dynamicBatching = try c.decodeIfPresent(DynamicBatching.self, forKey: .dynamicBatching)
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
        platform = try c.decodeIfPresent(Platform.self, forKey: .platform)
        textInputs = try c.decodeIfPresent(TextInputs.self, forKey: .textInputs) ?? .both
        pooling = try c.decodeIfPresent(PoolingConfig.self, forKey: .pooling)
        combine = try c.decodeIfPresent(CombineConfig.self, forKey: .combine)
        ensembleScheduling = try c.decodeIfPresent(EnsembleScheduling.self, forKey: .ensembleScheduling)
        input = try c.decodeIfPresent([TensorConfig].self, forKey: .input)
        output = try c.decodeIfPresent([TensorConfig].self, forKey: .output)
        shadow = try c.decodeIfPresent(ShadowConfig.self, forKey: .shadow)
        trafficSplit = try c.decodeIfPresent([String: Int].self, forKey: .trafficSplit)
        // Triton writes a list of groups; a single mapping reads more naturally when there is one.
        if let list = try? c.decodeIfPresent([InstanceGroup].self, forKey: .instanceGroup) {
            instanceGroup = list
        } else if let one = try c.decodeIfPresent(InstanceGroup.self, forKey: .instanceGroup) {
            instanceGroup = [one]
        } else {
            instanceGroup = [InstanceGroup()]
        }
    }

    /// Dynamic batcher settings (Triton's `dynamic_batching`).
    public struct DynamicBatching: Sendable, Equatable, Codable {
        /// Batch sizes to aim for: a batch forms at once when the queue holds the largest of them.
        public var preferredBatchSize: [Int]
        /// How long the oldest queued request may wait for others to join its batch.
        public var maxQueueDelayMicroseconds: Int
        public var defaultQueuePolicy: QueuePolicy
        /// Number of priority levels (1 is the highest); 0 means one level.
        public var priorityLevels: Int
        /// The level of requests that give no `priority` (default: the lowest).
        public var defaultPriorityLevel: Int

        public init(
            preferredBatchSize: [Int] = [], maxQueueDelayMicroseconds: Int = 0, defaultQueuePolicy: QueuePolicy = QueuePolicy(),
            priorityLevels: Int = 0, defaultPriorityLevel: Int = 0
        ) {
            self.preferredBatchSize = preferredBatchSize
            self.maxQueueDelayMicroseconds = maxQueueDelayMicroseconds
            self.defaultQueuePolicy = defaultQueuePolicy
            self.priorityLevels = priorityLevels
            self.defaultPriorityLevel = defaultPriorityLevel
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case preferredBatchSize = "preferred_batch_size", maxQueueDelayMicroseconds = "max_queue_delay_microseconds"
            case defaultQueuePolicy = "default_queue_policy", priorityLevels = "priority_levels"
            case defaultPriorityLevel = "default_priority_level"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            preferredBatchSize = try c.decodeIfPresent([Int].self, forKey: .preferredBatchSize) ?? []
            maxQueueDelayMicroseconds = try c.decodeIfPresent(Int.self, forKey: .maxQueueDelayMicroseconds) ?? 0
            defaultQueuePolicy = try c.decodeIfPresent(QueuePolicy.self, forKey: .defaultQueuePolicy) ?? QueuePolicy()
            priorityLevels = try c.decodeIfPresent(Int.self, forKey: .priorityLevels) ?? 0
            defaultPriorityLevel = try c.decodeIfPresent(Int.self, forKey: .defaultPriorityLevel) ?? 0
        }
    }

    /// Triton's `ModelQueuePolicy`.
    public struct QueuePolicy: Sendable, Equatable, Codable {
        /// `REJECT`: a request past its timeout is answered with an error; `DELAY`: it stays queued.
        public var timeoutAction: TimeoutAction
        /// Queue timeout of requests that set none; 0 means none.
        public var defaultTimeoutMicroseconds: Int
        /// Whether a request's `timeout` parameter replaces the default.
        public var allowTimeoutOverride: Bool
        /// Requests the queue holds before answering 429; 0 means the server default (``defaultMaxQueueSize``), never
        /// unbounded: a server that accepts everything runs out of memory under overload instead of shedding it.
        public var maxQueueSize: Int

        /// Queue bound when the config gives none.
        public static let defaultMaxQueueSize = 1024

        public enum TimeoutAction: String, Sendable, Equatable, Codable { case reject = "REJECT", delay = "DELAY" }

        public init(
            timeoutAction: TimeoutAction = .reject, defaultTimeoutMicroseconds: Int = 0, allowTimeoutOverride: Bool = true,
            maxQueueSize: Int = 0
        ) {
            self.timeoutAction = timeoutAction
            self.defaultTimeoutMicroseconds = defaultTimeoutMicroseconds
            self.allowTimeoutOverride = allowTimeoutOverride
            self.maxQueueSize = maxQueueSize
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case timeoutAction = "timeout_action", defaultTimeoutMicroseconds = "default_timeout_microseconds"
            case allowTimeoutOverride = "allow_timeout_override", maxQueueSize = "max_queue_size"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            timeoutAction = try c.decodeIfPresent(TimeoutAction.self, forKey: .timeoutAction) ?? .reject
            defaultTimeoutMicroseconds = try c.decodeIfPresent(Int.self, forKey: .defaultTimeoutMicroseconds) ?? 0
            allowTimeoutOverride = try c.decodeIfPresent(Bool.self, forKey: .allowTimeoutOverride) ?? true
            maxQueueSize = try c.decodeIfPresent(Int.self, forKey: .maxQueueSize) ?? 0
        }
    }

    /// Triton's `instance_group` entry; only CPU instances exist here.
    public struct InstanceGroup: Sendable, Equatable, Codable {
        public var count: Int
        /// `KIND_CPU` (the only kind; accepted so Triton configs read unchanged).
        public var kind: String?

        public init(count: Int = 1, kind: String? = nil) {
            self.count = count
            self.kind = kind
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case count, kind }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            count = try c.decodeIfPresent(Int.self, forKey: .count) ?? 1
            kind = try c.decodeIfPresent(String.self, forKey: .kind)
        }
    }

    /// Allowed keys by place (`""` top level, `"dynamic_batching.default_queue_policy"` nested), from the CodingKeys
    /// so the list cannot drift from the decoder.
    static let keySchema: [String: Set<String>] = [
        "": Set(CodingKeys.allCases.map(\.stringValue)),
        "dynamic_batching": Set(DynamicBatching.CodingKeys.allCases.map(\.stringValue)),
        "dynamic_batching.default_queue_policy": Set(QueuePolicy.CodingKeys.allCases.map(\.stringValue)),
        "instance_group": Set(InstanceGroup.CodingKeys.allCases.map(\.stringValue)),
        "pooling": ["mode", "normalize"],
        "combine": ["op", "inputs"],
        "ensemble_scheduling": ["step"],
        "ensemble_scheduling.step": ["model_name", "model_version", "input_map", "output_map"],
        "input": ["name", "data_type", "dims"],
        "output": ["name", "data_type", "dims"],
        "shadow": ["model", "sample"],
    ]

    /// Whether the entry needs weights (a version folder or `model:`); ensembles, splits and pooling/combiner steps don't.
    public var needsWeights: Bool {
        switch platform {
        case nil, .tokenizer?, .bertEncoder?: return trafficSplit == nil
        case .ensemble?, .pooling?, .combiner?: return false
        }
    }

    /// Checks values the types allow but the server cannot honour; messages name the key.
    func validate() throws(ConfigProblem) {
        switch platform {
        case .ensemble?:
            guard let steps = ensembleScheduling?.step, !steps.isEmpty else {
                throw ConfigProblem(key: "ensemble_scheduling", message: "platform: ensemble needs ensemble_scheduling.step (at least one step)")
            }
        case .pooling?:
            if pooling == nil { throw ConfigProblem(key: "pooling", message: "platform: compress_pooling needs pooling: {mode: mean, normalize: true}") }
        case .combiner?:
            guard let c = combine, c.inputs >= 2 else {
                throw ConfigProblem(key: "combine", message: "platform: compress_combiner needs combine: {op: average, inputs: 2 or more}")
            }
        default: break
        }
        if ensembleScheduling != nil && platform != .ensemble {
            throw ConfigProblem(key: "ensemble_scheduling", message: "ensemble_scheduling needs platform: ensemble")
        }
        if let s = shadow, !(s.sample > 0 && s.sample <= 1) {
            throw ConfigProblem(key: "shadow", message: "shadow.sample must be within (0, 1], got \(s.sample)")
        }
        if let split = trafficSplit {
            if split.count < 2 || split.values.contains(where: { $0 < 0 }) || split.values.reduce(0, +) <= 0 {
                throw ConfigProblem(key: "traffic_split", message: "traffic_split maps two or more models to non-negative weights (not all 0)")
            }
            if platform != nil || model != nil {
                throw ConfigProblem(key: "traffic_split", message: "a traffic_split entry only routes: give no platform or model")
            }
        }
        if maxBatchSize < 1 { throw ConfigProblem(key: "max_batch_size", message: "max_batch_size must be at least 1") }
        if let t = threads, t < 1 { throw ConfigProblem(key: "threads", message: "threads must be at least 1") }
        for g in instanceGroup {
            if g.count < 1 { throw ConfigProblem(key: "instance_group", message: "instance_group count must be at least 1") }
            if let k = g.kind, k != "KIND_CPU" && k != "KIND_AUTO" {
                throw ConfigProblem(key: "instance_group", message: "instance_group kind '\(k)' is not supported (only KIND_CPU)")
            }
        }
        guard let d = dynamicBatching else { return }
        if let bad = d.preferredBatchSize.first(where: { $0 < 1 || $0 > maxBatchSize }) {
            throw ConfigProblem(
                key: "dynamic_batching.preferred_batch_size",
                message: "preferred_batch_size \(bad) is outside 1...max_batch_size (\(maxBatchSize))")
        }
        if d.maxQueueDelayMicroseconds < 0 {
            throw ConfigProblem(key: "dynamic_batching.max_queue_delay_microseconds", message: "max_queue_delay_microseconds must be >= 0")
        }
        if d.priorityLevels < 0 || d.defaultPriorityLevel < 0 || d.defaultPriorityLevel > max(d.priorityLevels, 1) {
            throw ConfigProblem(
                key: "dynamic_batching.default_priority_level",
                message: "default_priority_level \(d.defaultPriorityLevel) must be within 1...priority_levels (\(d.priorityLevels))")
        }
        let q = d.defaultQueuePolicy
        if q.maxQueueSize < 0 || q.defaultTimeoutMicroseconds < 0 {
            throw ConfigProblem(
                key: "dynamic_batching.default_queue_policy", message: "max_queue_size and default_timeout_microseconds must be >= 0")
        }
    }
}

extension ModelConfig {
    /// Built-in kinds besides model files (Triton's `platform`).
    public enum Platform: String, Sendable, Equatable, Codable {
        case ensemble
        case tokenizer = "compress_tokenizer"
        case bertEncoder = "compress_bert_encoder"
        case pooling = "compress_pooling"
        case combiner = "compress_combiner"
    }

    /// A text encoder's inputs.
    public enum TextInputs: String, Sendable, Equatable, Codable { case text, tokens, both }

    public struct PoolingConfig: Sendable, Equatable, Codable {
        public var mode: String
        public var normalize: Bool
        public init(mode: String = "mean", normalize: Bool = true) {
            self.mode = mode
            self.normalize = normalize
        }
    }

    public struct CombineConfig: Sendable, Equatable, Codable {
        /// `average` (the only operation so far).
        public var op: String
        public var inputs: Int
        public init(op: String = "average", inputs: Int = 2) {
            self.op = op
            self.inputs = inputs
        }
    }

    /// Triton's `ensemble_scheduling`.
    public struct EnsembleScheduling: Sendable, Equatable, Codable {
        public var step: [Step]
        public init(step: [Step]) { self.step = step }

        /// One step: `input_map` maps the step model's input names to ensemble tensors, `output_map` its outputs to
        /// ensemble tensors (Triton's direction for both).
        public struct Step: Sendable, Equatable, Codable {
            public var modelName: String
            public var modelVersion: Int?
            public var inputMap: [String: String]
            public var outputMap: [String: String]

            public init(modelName: String, inputMap: [String: String], outputMap: [String: String]) {
                self.modelName = modelName
                self.inputMap = inputMap
                self.outputMap = outputMap
            }

            enum CodingKeys: String, CodingKey {
                case modelName = "model_name", modelVersion = "model_version", inputMap = "input_map", outputMap = "output_map"
            }
        }
    }

    /// A declared tensor (Triton's `input`/`output` entries: `data_type: TYPE_FP32`, `dims` without the batch axis).
    public struct TensorConfig: Sendable, Equatable, Codable {
        public var name: String
        public var dataType: String
        public var dims: [Int]

        enum CodingKeys: String, CodingKey { case name, dataType = "data_type", dims }
    }

    /// `shadow: {model: minilm, sample: 0.1}`.
    public struct ShadowConfig: Sendable, Equatable, Codable {
        public var model: String
        public var sample: Double
        public init(model: String, sample: Double) {
            self.model = model
            self.sample = sample
        }
    }
}

/// A config value problem, by dotted key.
struct ConfigProblem: Error {
    var key: String
    var message: String
}
