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
    }

    /// Executors (instances) in all groups.
    public var instanceCount: Int { max(1, instanceGroup.reduce(0) { $0 + $1.count }) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, model, threads
        case maxBatchSize = "max_batch_size", dynamicBatching = "dynamic_batching", instanceGroup = "instance_group"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        maxBatchSize = try c.decodeIfPresent(Int.self, forKey: .maxBatchSize) ?? 32
        dynamicBatching = try c.decodeIfPresent(DynamicBatching.self, forKey: .dynamicBatching)
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
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
    ]

    /// Checks values the types allow but the server cannot honour; messages name the key.
    func validate() throws(ConfigProblem) {
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

/// A config value problem, by dotted key.
struct ConfigProblem: Error {
    var key: String
    var message: String
}
