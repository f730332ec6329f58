/// A model's configuration in the JSON form of Triton's model configuration extension
/// (`GET /v2/models/{m}/config`), which perf_analyzer reads for `max_batch_size` and the inputs' dims.
///
/// `dims` exclude the batch axis, as in Triton (metadata shapes include it as -1).
public struct TritonModelConfiguration: Sendable, Equatable, Encodable {
    public struct Tensor: Sendable, Equatable, Encodable {
        public var name: String
        public var dataType: String
        public var dims: [Int]
        /// Inputs a request may leave out (`attention_mask`; each of a `both` text encoder's inputs).
        public var optional: Bool

        enum CodingKeys: String, CodingKey { case name, dataType = "data_type", dims, optional }
    }

    public struct Batching: Sendable, Equatable, Encodable {
        public var preferredBatchSize: [Int]
        public var maxQueueDelayMicroseconds: Int

        enum CodingKeys: String, CodingKey {
            case preferredBatchSize = "preferred_batch_size", maxQueueDelayMicroseconds = "max_queue_delay_microseconds"
        }
    }

    public struct Instances: Sendable, Equatable, Encodable {
        public var count: Int
        public var kind = "KIND_CPU"
    }

    public var name: String
    public var platform: String
    public var backend = "compress"
    public var maxBatchSize: Int
    public var input: [Tensor]
    public var output: [Tensor]
    public var dynamicBatching: Batching?
    public var instanceGroup: [Instances]

    enum CodingKeys: String, CodingKey {
        case name, platform, backend, maxBatchSize = "max_batch_size", input, output, dynamicBatching = "dynamic_batching"
        case instanceGroup = "instance_group"
    }

    public init(_ model: ServedModel) {
        name = model.name
        platform = model.platform
        maxBatchSize = model.config.maxBatchSize
        input = model.inputs.map {
            Tensor(name: $0.name, dataType: $0.datatype.configName, dims: Array($0.shape.dropFirst()), optional: model.optionalInputs.contains($0.name))
        }
        output = model.outputs.map {
            Tensor(name: $0.name, dataType: $0.datatype.configName, dims: Array($0.shape.dropFirst()), optional: false)
        }
        dynamicBatching = model.config.dynamicBatching.map {
            Batching(preferredBatchSize: $0.preferredBatchSize, maxQueueDelayMicroseconds: $0.maxQueueDelayMicroseconds)
        }
        instanceGroup = [Instances(count: model.config.instanceCount)]
    }
}
