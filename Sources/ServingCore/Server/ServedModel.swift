import Formats
import Foundation
import Layers
import Runtime
import Tensors

/// A loaded, frozen model with its protocol signature: which tensors it takes and returns, and how a request's
/// tensors become the engine's ``PreparedInputs`` and back.
///
/// Text encoders take `text` (BYTES, one string per item, shape [N] or [N, 1], tokenized here) or `input_ids`
/// (INT64 or INT32 [N, L]) with an optional `attention_mask` [N, L] of leading ones (each row's length); they return
/// `embeddings` FP32 [N, hidden]. Tensor models take `x` FP32 [N, ...input shape] and return `probabilities` (when
/// the last layer is a softmax) or `output`.
public final class ServedModel: Sendable {
    public let name: String
    public let version: String
    public let config: ModelConfig
    public let model: LoadedModel
    public let inputs: [TensorMetadata]
    public let outputs: [TensorMetadata]
    /// `compress_bert` or `compress_sequential` (the metadata's `platform`).
    public let platform: String

    /// Largest element count one input tensor may declare (a 1 GiB FP32 tensor): larger shapes are refused before
    /// anything is allocated.
    public static let maxElements = 1 << 28

    public init(name: String, version: String, config: ModelConfig, model: LoadedModel) {
        self.name = name
        self.version = version
        self.config = config
        self.model = model
        switch model.kind {
        case let .sentenceEncoder(bert, _, _):
            platform = "compress_bert"
            inputs = [
                TensorMetadata(name: "text", datatype: .bytes, shape: [-1, 1]),
                TensorMetadata(name: "input_ids", datatype: .int64, shape: [-1, -1]),
                TensorMetadata(name: "attention_mask", datatype: .int64, shape: [-1, -1]),
            ]
            outputs = [TensorMetadata(name: "embeddings", datatype: .fp32, shape: [-1, bert.config.hiddenSize])]
        case let .sequential(seq):
            platform = "compress_sequential"
            inputs = [TensorMetadata(name: "x", datatype: .fp32, shape: [-1] + seq.inputShape)]
            let softmax = seq.specs.last?.activation == .softmax
            outputs = [TensorMetadata(name: softmax ? "probabilities" : "output", datatype: .fp32, shape: [-1] + seq.outputShape)]
        }
    }

    /// Protocol metadata.
    public var metadata: ModelMetadata {
        ModelMetadata(name: name, versions: [version], platform: platform, inputs: inputs, outputs: outputs)
    }

    /// Checks a request against the signature and converts its tensors; errors name the tensor.
    public func prepare(_ request: InferRequest) throws(InferenceError) -> PreparedInputs {
        for input in request.inputs {
            guard inputs.contains(where: { $0.name == input.name }) else {
                throw .invalidArgument(
                    "unexpected input '\(input.name)' (model '\(name)' takes \(inputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
            }
            try Self.checkElementCount(input)
        }
        if let outputsRequested = request.outputs {
            for o in outputsRequested where !outputs.contains(where: { $0.name == o.name }) {
                throw .invalidArgument(
                    "unknown output '\(o.name)' (model '\(name)' returns \(outputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
            }
        }
        let prepared: PreparedInputs
        switch model.kind {
        case let .sentenceEncoder(bert, _, _):
            prepared = try prepareText(request, vocabulary: bert.config.vocabSize, maxLength: bert.config.maxPositionEmbeddings)
        case let .sequential(seq):
            prepared = try prepareTensor(request, itemShape: seq.inputShape)
        }
        if prepared.count < 1 { throw .invalidArgument("the request holds no items (the first dimension is 0)") }
        if prepared.count > config.maxBatchSize {
            throw .invalidArgument(
                "the request holds \(prepared.count) items; model '\(name)' takes at most max_batch_size = \(config.maxBatchSize)")
        }
        return prepared
    }

    /// The response tensors for one request's rows of a batch result (`result` is (N, ...) for this request only).
    public func makeOutputs(_ result: Tensor, for request: InferRequest) -> [InferOutput] {
        let out = outputs[0]
        let tensor = InferOutput(name: out.name, datatype: .fp32, shape: result.shape, data: .fp32(result.toFloat32().floats))
        guard let asked = request.outputs else { return [tensor] }
        return asked.compactMap { $0.name == out.name ? tensor : nil }
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

    private func prepareText(
        _ request: InferRequest, vocabulary: Int, maxLength: Int
    ) throws(InferenceError)
        -> PreparedInputs
    {
        let byName = Dictionary(request.inputs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        if byName.count != request.inputs.count { throw .invalidArgument("an input is given twice") }
        if let text = byName["text"] {
            guard byName["input_ids"] == nil, byName["attention_mask"] == nil else {
                throw .invalidArgument("give either 'text' or 'input_ids' (+ 'attention_mask'), not both")
            }
            guard case let .bytes(elements) = text.data else {
                throw .invalidArgument("input 'text': datatype must be BYTES, got \(text.datatype.rawValue)")
            }
            guard text.shape.count == 1 || (text.shape.count == 2 && text.shape[1] == 1) else {
                throw .invalidArgument("input 'text': shape must be [N] or [N, 1], got \(text.shape)")
            }
            var strings: [String] = []
            strings.reserveCapacity(elements.count)
            for (i, e) in elements.enumerated() {
                guard let s = String(validating: e, as: UTF8.self) else {
                    throw .invalidArgument("input 'text': element \(i) is not valid UTF-8")
                }
                strings.append(s)
            }
            do { return try model.prepare(.texts(strings)) } catch { throw .invalidArgument("input 'text': \(error)") }
        }
        guard let idsInput = byName["input_ids"] else {
            throw .invalidArgument("model '\(name)' needs input 'text' (BYTES) or 'input_ids' (INT64 [N, L])")
        }
        guard idsInput.shape.count == 2 else { throw .invalidArgument("input 'input_ids': shape must be [N, L], got \(idsInput.shape)") }
        guard [.int64, .int32].contains(idsInput.datatype), let ids = idsInput.data.integers() else {
            throw .invalidArgument("input 'input_ids': datatype must be INT64 (or INT32), got \(idsInput.datatype.rawValue)")
        }
        let (n, l) = (idsInput.shape[0], idsInput.shape[1])
        var mask: [Int64]? = nil
        if let m = byName["attention_mask"] {
            guard m.shape == idsInput.shape else {
                throw .invalidArgument("input 'attention_mask': shape \(m.shape) differs from input_ids' \(idsInput.shape)")
            }
            guard [.int64, .int32].contains(m.datatype), let values = m.data.integers() else {
                throw .invalidArgument("input 'attention_mask': datatype must be INT64 (or INT32), got \(m.datatype.rawValue)")
            }
            mask = values
        }
        // Packed without padding: each row keeps only its first `length` tokens, the ones the mask marks.
        var packed: [Int32] = []
        packed.reserveCapacity(ids.count)
        var lengths: [Int] = []
        lengths.reserveCapacity(n)
        for row in 0..<n {
            var length = l
            if let mask {
                let r = mask[row * l..<(row + 1) * l]
                length = r.prefix(while: { $0 == 1 }).count
                guard r.dropFirst(length).allSatisfy({ $0 == 0 }) else {
                    throw .invalidArgument("input 'attention_mask': row \(row) must be ones then zeros (right padding), with only 0 and 1")
                }
            }
            guard length >= 1 else { throw .invalidArgument("input 'input_ids': row \(row) has no tokens") }
            guard length <= maxLength else {
                throw .invalidArgument("input 'input_ids': row \(row) has \(length) tokens; the model takes at most \(maxLength)")
            }
            for id in ids[row * l..<row * l + length] {
                guard id >= 0, id < vocabulary else {
                    throw .invalidArgument("input 'input_ids': token id \(id) in row \(row) is outside the vocabulary (0..<\(vocabulary))")
                }
                packed.append(Int32(id))
            }
            lengths.append(length)
        }
        return .tokens(ids: packed, lengths: lengths)
    }

    private func prepareTensor(_ request: InferRequest, itemShape: [Int]) throws(InferenceError) -> PreparedInputs {
        let inputName = inputs[0].name
        guard request.inputs.count == 1, let x = request.inputs.first, x.name == inputName else {
            throw .invalidArgument("model '\(name)' takes exactly one input, '\(inputName)'")
        }
        guard case let .fp32(values) = x.data else {
            throw .invalidArgument("input '\(inputName)': datatype must be FP32, got \(x.datatype.rawValue)")
        }
        guard x.shape.count == itemShape.count + 1, Array(x.shape.dropFirst()) == itemShape else {
            throw .invalidArgument(
                "input '\(inputName)': shape must be [N, \(itemShape.map(String.init).joined(separator: ", "))], got \(x.shape)")
        }
        return .tensor(Tensor(shape: x.shape, floats: values))
    }
}
