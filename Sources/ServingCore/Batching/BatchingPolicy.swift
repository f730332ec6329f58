/// The batcher's rules, resolved from a ``ModelConfig`` once (nanoseconds, 0-based priority levels).
public struct BatchingPolicy: Sendable, Equatable {
    /// Most items one execution runs.
    public var maxBatchSize: Int
    /// A batch forms at once when the queue holds this many items (the largest preferred size, else the maximum).
    public var fillTarget: Int
    /// How long the oldest request may wait for a fuller batch; 0 runs whatever is queued as soon as an instance
    /// is free (requests still combine while every instance is busy).
    public var maxQueueDelayNanoseconds: UInt64
    /// Priority levels (at least 1); level 1 is served first.
    public var priorityLevels: Int
    /// Level of requests that give no `priority`.
    public var defaultPriorityLevel: Int
    /// Requests held per level before new ones are refused with 429.
    public var maxQueueSize: Int
    /// Queue timeout of requests that give none (nil: none).
    public var defaultTimeoutNanoseconds: UInt64?
    public var allowTimeoutOverride: Bool
    /// Whether a request past its timeout is answered with an error (REJECT) or left queued (DELAY).
    public var rejectOnTimeout: Bool

    public init(config: ModelConfig) {
        let d = config.dynamicBatching
        maxBatchSize = config.maxBatchSize
        fillTarget = min(config.maxBatchSize, d?.preferredBatchSize.max() ?? config.maxBatchSize)
        maxQueueDelayNanoseconds = UInt64(max(0, d?.maxQueueDelayMicroseconds ?? 0)) * 1000
        priorityLevels = max(1, d?.priorityLevels ?? 1)
        defaultPriorityLevel = (d?.defaultPriorityLevel ?? 0) > 0 ? d!.defaultPriorityLevel : priorityLevels
        let q = d?.defaultQueuePolicy ?? ModelConfig.QueuePolicy()
        maxQueueSize = q.maxQueueSize > 0 ? q.maxQueueSize : ModelConfig.QueuePolicy.defaultMaxQueueSize
        defaultTimeoutNanoseconds = q.defaultTimeoutMicroseconds > 0 ? UInt64(q.defaultTimeoutMicroseconds) * 1000 : nil
        allowTimeoutOverride = q.allowTimeoutOverride
        rejectOnTimeout = q.timeoutAction == .reject
    }
}
