import Formats
import Foundation
import Layers
import Runtime
import Tensors

/// A served model's protocol face: its name, version, config and signature, and for models that compute (not
/// ensembles or traffic splits) the kernel that turns requests into batches.
///
/// Text encoders take `text` (BYTES [N, 1]), `input_ids` + `attention_mask` (INT64 [N, L]) or either, by the
/// config's `text_inputs`, and return `embeddings` FP32 [N, hidden]. Tensor models take `x` FP32 [N, ...input shape]
/// and return `probabilities` (when the last layer is a softmax) or `output`. Steps and ensembles: see
/// ``ModelConfig/Platform``.
public final class ServedModel: Sendable {
    public let name: String
    public let version: String
    public let config: ModelConfig
    /// The engine model, for whole models and encoder steps.
    public let model: LoadedModel?
    /// What runs a batch; nil for ensembles and traffic splits (they call other models).
    public let kernel: (any ServingKernel)?
    public let inputs: [TensorMetadata]
    public let outputs: [TensorMetadata]
    /// Inputs a request may leave out (marked `optional` in the model configuration, which perf_analyzer reads).
    public let optionalInputs: Set<String>
    /// `compress_bert`, `compress_sequential`, `ensemble`, `compress_tokenizer`, … (the metadata's `platform`).
    public let platform: String

    /// Largest element count one input tensor may declare (a 1 GiB FP32 tensor): larger shapes are refused before
    /// anything is allocated.
    public static let maxElements = 1 << 28

    /// A model that computes, through `kernel`.
    public init(name: String, version: String, config: ModelConfig, kernel: any ServingKernel, model: LoadedModel? = nil) {
        self.name = name
        self.version = version
        self.config = config
        self.model = model
        self.kernel = kernel
        inputs = kernel.inputs
        outputs = kernel.outputs
        optionalInputs = kernel.optionalInputs
        platform = kernel.platform
    }

    /// A whole engine model (`text_inputs` from `config`).
    public convenience init(name: String, version: String, config: ModelConfig, model: LoadedModel) {
        self.init(name: name, version: version, config: config, kernel: EngineKernel(model: model, textInputs: config.textInputs), model: model)
    }

    /// A model that routes to others (ensemble, traffic split), with the signature they give it.
    public init(
        name: String, version: String, config: ModelConfig, platform: String, inputs: [TensorMetadata], outputs: [TensorMetadata],
        optionalInputs: Set<String> = []
    ) {
        self.name = name
        self.version = version
        self.config = config
        self.model = nil
        self.kernel = nil
        self.inputs = inputs
        self.outputs = outputs
        self.optionalInputs = optionalInputs
        self.platform = platform
    }

    /// Protocol metadata.
    public var metadata: ModelMetadata {
        ModelMetadata(name: name, versions: [version], platform: platform, inputs: inputs, outputs: outputs)
    }

    /// Checks a request against the signature and converts its tensors; errors name the tensor.
    public func prepare(_ request: InferRequest) throws(InferenceError) -> KernelInput {
        try checkRequestedOutputs(request)
        guard let kernel else { throw .internal("model '\(name)' routes to other models and runs no batches itself") }
        let prepared = try kernel.prepare(request, model: name)
        if prepared.count < 1 { throw .invalidArgument("the request holds no items (the first dimension is 0)") }
        if prepared.count > config.maxBatchSize {
            throw .invalidArgument(
                "the request holds \(prepared.count) items; model '\(name)' takes at most max_batch_size = \(config.maxBatchSize)")
        }
        return prepared
    }

    /// Refuses requested outputs the model does not have.
    public func checkRequestedOutputs(_ request: InferRequest) throws(InferenceError) {
        if let outputsRequested = request.outputs {
            for o in outputsRequested where !outputs.contains(where: { $0.name == o.name }) {
                throw .invalidArgument(
                    "unknown output '\(o.name)' (model '\(name)' returns \(outputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
            }
        }
    }

    /// The outputs the request asked for (all when it names none), in the order asked.
    public func makeOutputs(_ all: [InferOutput], for request: InferRequest) -> [InferOutput] {
        guard let asked = request.outputs else { return all }
        return asked.compactMap { a in all.first { $0.name == a.name } }
    }

    /// Element count = product of `shape`, refusing negative dimensions and products past ``maxElements`` (checked
    /// before anything is allocated for the tensor). `tensor` names the input in errors.
    public static func elementCount(of shape: [Int], tensor: String) throws(InferenceError) -> Int {
        var product = 1
        for d in shape {
            guard d >= 0 else { throw .invalidArgument("input '\(tensor)': shape \(shape) has a negative dimension") }
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxElements else {
                throw .invalidArgument("input '\(tensor)': shape \(shape) exceeds \(maxElements) elements")
            }
            product = p
        }
        return product
    }

    static func checkElementCount(_ input: InferInput) throws(InferenceError) {
        let product = try elementCount(of: input.shape, tensor: input.name)
        guard input.data.datatype == input.datatype else {
            throw .invalidArgument(
                "input '\(input.name)': data is \(input.data.datatype.rawValue) but datatype says \(input.datatype.rawValue)")
        }
        guard product == input.data.count else {
            throw .invalidArgument("input '\(input.name)': shape \(input.shape) needs \(product) elements, got \(input.data.count)")
        }
    }
}
