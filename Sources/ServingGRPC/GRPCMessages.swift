import InferenceGRPCProtocol
import ServingCore

/// The core's metadata, statistics, configuration and repository types as gRPC messages (Triton's field numbers;
/// see Protos/inference/grpc_service.proto).
enum GRPCMessages {
    static func serverMetadata(_ m: ServerMetadata) -> Inference_ServerMetadataResponse {
        var r = Inference_ServerMetadataResponse()
        r.name = m.name
        r.version = m.version
        r.extensions = m.extensions
        return r
    }

    static func modelMetadata(_ m: ModelMetadata) -> Inference_ModelMetadataResponse {
        func tensor(_ t: TensorMetadata) -> Inference_ModelMetadataResponse.TensorMetadata {
            var out = Inference_ModelMetadataResponse.TensorMetadata()
            out.name = t.name
            out.datatype = t.datatype.rawValue
            out.shape = t.shape.map(Int64.init)
            return out
        }
        var r = Inference_ModelMetadataResponse()
        r.name = m.name
        r.versions = m.versions
        r.platform = m.platform
        r.inputs = m.inputs.map(tensor)
        r.outputs = m.outputs.map(tensor)
        return r
    }

    static func statistics(_ s: StatisticsResponse) -> Inference_ModelStatisticsResponse {
        func duration(_ d: StatDuration) -> Inference_StatisticDuration {
            var out = Inference_StatisticDuration()
            out.count = d.count
            out.ns = d.ns
            return out
        }
        var r = Inference_ModelStatisticsResponse()
        r.modelStats = s.modelStats.map { m in
            var out = Inference_ModelStatistics()
            out.name = m.name
            out.version = m.version
            out.lastInference = m.lastInference
            out.inferenceCount = m.inferenceCount
            out.executionCount = m.executionCount
            let i = m.inferenceStats
            out.inferenceStats.success = duration(i.success)
            out.inferenceStats.fail = duration(i.fail)
            out.inferenceStats.queue = duration(i.queue)
            out.inferenceStats.computeInput = duration(i.computeInput)
            out.inferenceStats.computeInfer = duration(i.computeInfer)
            out.inferenceStats.computeOutput = duration(i.computeOutput)
            out.inferenceStats.cacheHit = duration(i.cacheHit)
            out.inferenceStats.cacheMiss = duration(i.cacheMiss)
            out.batchStats = m.batchStats.map { b in
                var o = Inference_InferBatchStatistics()
                o.batchSize = UInt64(b.batchSize)
                o.computeInput = duration(b.computeInput)
                o.computeInfer = duration(b.computeInfer)
                o.computeOutput = duration(b.computeOutput)
                return o
            }
            return out
        }
        return r
    }

    static func repositoryIndex(_ entries: [RepositoryIndexEntry]) -> Inference_RepositoryIndexResponse {
        var r = Inference_RepositoryIndexResponse()
        r.models = entries.map { e in
            var m = Inference_RepositoryIndexResponse.ModelIndex()
            m.name = e.name
            m.version = e.version ?? ""
            m.state = e.state
            m.reason = e.reason
            return m
        }
        return r
    }

    /// The model configuration as Triton's ModelConfig (the fields compress fills), from the same
    /// ``TritonModelConfiguration`` the REST `/config` endpoint returns.
    static func modelConfig(_ c: TritonModelConfiguration) -> Inference_ModelConfigResponse {
        var config = Inference_ModelConfig()
        config.name = c.name
        config.platform = c.platform
        config.backend = c.backend
        config.maxBatchSize = Int32(clamping: c.maxBatchSize)
        config.input = c.input.map { t in
            var i = Inference_ModelInput()
            i.name = t.name
            i.dataType = dataType(t.dataType)
            i.dims = t.dims.map(Int64.init)
            i.optional = t.optional
            return i
        }
        config.output = c.output.map { t in
            var o = Inference_ModelOutput()
            o.name = t.name
            o.dataType = dataType(t.dataType)
            o.dims = t.dims.map(Int64.init)
            return o
        }
        config.instanceGroup = c.instanceGroup.map { g in
            var i = Inference_ModelInstanceGroup()
            i.count = Int32(clamping: g.count)
            i.kind = .cpu
            return i
        }
        if let b = c.dynamicBatching {
            var d = Inference_ModelDynamicBatching()
            d.preferredBatchSize = b.preferredBatchSize.map { Int32(clamping: $0) }
            d.maxQueueDelayMicroseconds = UInt64(max(0, b.maxQueueDelayMicroseconds))
            config.dynamicBatching = d
        }
        var r = Inference_ModelConfigResponse()
        r.config = config
        return r
    }

    /// `TYPE_FP32` → `.typeFp32` (the enum's value names are the config names).
    static func dataType(_ configName: String) -> Inference_DataType {
        switch configName {
        case "TYPE_BOOL": return .typeBool
        case "TYPE_UINT8": return .typeUint8
        case "TYPE_UINT16": return .typeUint16
        case "TYPE_UINT32": return .typeUint32
        case "TYPE_UINT64": return .typeUint64
        case "TYPE_INT8": return .typeInt8
        case "TYPE_INT16": return .typeInt16
        case "TYPE_INT32": return .typeInt32
        case "TYPE_INT64": return .typeInt64
        case "TYPE_FP16": return .typeFp16
        case "TYPE_FP32": return .typeFp32
        case "TYPE_FP64": return .typeFp64
        case "TYPE_STRING": return .typeString
        case "TYPE_BF16": return .typeBf16
        default: return .typeInvalid
        }
    }
}
