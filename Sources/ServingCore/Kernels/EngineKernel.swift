import Formats
import Layers
import Runtime
import Tensors

/// A whole model: a text encoder (text or token ids → `embeddings`) or a tensor model (`x` → `probabilities` or
/// `output`).
///
/// Text encoders expose one signature, chosen by the config's `text_inputs` (Triton models have one): `text`
/// (BYTES [N, 1], tokenized here), `tokens` (INT64 `input_ids` + `attention_mask` [N, L], what perf_analyzer and
/// the Triton peer send) or `both` (each group optional; a request gives one of them).
struct EngineKernel: ServingKernel {
    let model: LoadedModel
    let platform: String
    let inputs: [TensorMetadata]
    let outputs: [TensorMetadata]
    let optionalInputs: Set<String>

    init(model: LoadedModel, textInputs: ModelConfig.TextInputs) {
        self.model = model
        switch model.kind {
        case let .sentenceEncoder(bert, _, _):
            platform = "compress_bert"
            let text = TensorMetadata(name: "text", datatype: .bytes, shape: [-1, 1])
            let tokens = [
                TensorMetadata(name: "input_ids", datatype: .int64, shape: [-1, -1]),
                TensorMetadata(name: "attention_mask", datatype: .int64, shape: [-1, -1]),
            ]
            switch textInputs {
            case .text: (inputs, optionalInputs) = ([text], [])
            // The mask is optional: without it every id counts.
            case .tokens: (inputs, optionalInputs) = (tokens, ["attention_mask"])
            case .both: (inputs, optionalInputs) = ([text] + tokens, ["text", "input_ids", "attention_mask"])
            }
            outputs = [TensorMetadata(name: "embeddings", datatype: .fp32, shape: [-1, bert.config.hiddenSize])]
        case let .sequential(seq):
            platform = "compress_sequential"
            inputs = [TensorMetadata(name: "x", datatype: .fp32, shape: [-1] + seq.inputShape)]
            optionalInputs = []
            let softmax = seq.specs.last?.activation == .softmax
            outputs = [TensorMetadata(name: softmax ? "probabilities" : "output", datatype: .fp32, shape: [-1] + seq.outputShape)]
        }
    }

    func prepare(_ request: InferRequest, model name: String) throws(InferenceError) -> KernelInput {
        let byName = try KernelChecks.inputsByName(request, allowed: inputs, model: name)
        switch model.kind {
        case let .sentenceEncoder(bert, _, _):
            if let text = byName["text"] {
                guard byName["input_ids"] == nil, byName["attention_mask"] == nil else {
                    throw .invalidArgument("give either 'text' or 'input_ids' (+ 'attention_mask'), not both")
                }
                return .engine(try prepareText(text))
            }
            return .engine(
                try TokenInputs.pack(
                    byName, model: name, vocabulary: bert.config.vocabSize, maxLength: bert.config.maxPositionEmbeddings,
                    expected: inputs.contains { $0.name == "text" } ? "'text' (BYTES) or 'input_ids' (INT64 [N, L])" : "'input_ids' (INT64 [N, L])"
                ).prepared)
        case let .sequential(seq):
            let inputName = inputs[0].name
            guard let x = byName[inputName] else { throw .invalidArgument("model '\(name)' takes exactly one input, '\(inputName)'") }
            guard case let .fp32(values) = x.data else {
                throw .invalidArgument("input '\(inputName)': datatype must be FP32, got \(x.datatype.rawValue)")
            }
            guard x.shape.count == seq.inputShape.count + 1, Array(x.shape.dropFirst()) == seq.inputShape else {
                throw .invalidArgument(
                    "input '\(inputName)': shape must be [N, \(seq.inputShape.map(String.init).joined(separator: ", "))], got \(x.shape)")
            }
            return .engine(.tensor(Tensor(shape: x.shape, floats: values)))
        }
    }

    private func prepareText(_ text: InferInput) throws(InferenceError) -> PreparedInputs {
        let strings = try TokenInputs.strings(text)
        do { return try model.prepare(.texts(strings)) } catch { throw .invalidArgument("input 'text': \(error)") }
    }

    func execute(_ batch: [KernelInput], on executor: Executor, timing: inout ExecutionTiming) throws -> [[InferOutput]] {
        let start = monotonicNanoseconds()
        let parts = batch.compactMap { k -> PreparedInputs? in if case let .engine(p) = k { return p } else { return nil } }
        guard parts.count == batch.count else { throw InferenceError.internal("engine kernel got non-engine inputs") }
        let combined = try BatchInputs.combine(parts)
        let gathered = monotonicNanoseconds()
        let result = try runSkippingEmptyRows(combined, on: executor)
        let ran = monotonicNanoseconds()
        let rows = BatchInputs.split(result, counts: parts.map(\.count))
        let out = outputs[0]
        let answers = rows.map { [InferOutput(name: out.name, datatype: .fp32, shape: $0.shape, data: .fp32($0.toFloat32().floats))] }
        timing.input = gathered - start
        timing.infer = ran - gathered
        timing.output = monotonicNanoseconds() - ran
        return answers
    }

    /// Rows without tokens (an all-zero attention mask, as perf_analyzer's `--input-data zero` sends) embed to zeros,
    /// as sentence-transformers' mean pooling gives them (its denominator is clamped, the sum is 0); the engine only
    /// sees the other rows.
    private func runSkippingEmptyRows(_ prepared: PreparedInputs, on executor: Executor) throws -> Tensor {
        guard case let .tokens(ids, lengths) = prepared, lengths.contains(0),
            case let .sentenceEncoder(bert, _, _) = model.kind
        else { return try model.run(prepared, on: executor) }
        let h = bert.config.hiddenSize
        let kept = lengths.filter { $0 > 0 }
        var out = Tensor(zeros: [lengths.count, h])
        if kept.isEmpty { return out }
        let dense = try model.run(.tokens(ids: ids, lengths: kept), on: executor).toFloat32()
        out.withUnsafeMutableFloats { o in
            dense.withUnsafeFloats { d in
                var k = 0
                for (row, n) in lengths.enumerated() where n > 0 {
                    (o.baseAddress! + row * h).update(from: d.baseAddress! + k * h, count: h)
                    k += 1
                }
            }
        }
        return out
    }

    func warmUp(on executor: Executor) throws {
        switch model.kind {
        case .sentenceEncoder:
            _ = try model.predict(.texts(["warm up the executor"]), on: executor)
        case let .sequential(seq):
            _ = try model.run(.tensor(Tensor(zeros: [1] + seq.inputShape)), on: executor)
        }
    }
}

/// Token-id inputs as requests send them (`input_ids` and an optional `attention_mask`, INT64 or INT32 [N, L],
/// right-padded), packed without padding.
enum TokenInputs {
    /// `ids`/`lengths` packed; a row whose mask is all zeros has length 0 (callers decide what it means).
    static func pack(
        _ byName: [String: InferInput], model: String, vocabulary: Int, maxLength: Int, expected: String
    ) throws(InferenceError) -> (prepared: PreparedInputs, width: Int) {
        guard let idsInput = byName["input_ids"] else { throw .invalidArgument("model '\(model)' needs input \(expected)") }
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
            } else if l == 0 {
                throw .invalidArgument("input 'input_ids': row \(row) has no tokens")
            }
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
        return (.tokens(ids: packed, lengths: lengths), l)
    }

    /// A BYTES `text` input [N] or [N, 1] as strings; errors name it.
    static func strings(_ text: InferInput) throws(InferenceError) -> [String] {
        guard case let .bytes(elements) = text.data else {
            throw .invalidArgument("input 'text': datatype must be BYTES, got \(text.datatype.rawValue)")
        }
        guard text.shape.count == 1 || (text.shape.count == 2 && text.shape[1] == 1) else {
            throw .invalidArgument("input 'text': shape must be [N] or [N, 1], got \(text.shape)")
        }
        var strings: [String] = []
        strings.reserveCapacity(elements.count)
        for (i, e) in elements.enumerated() {
            guard let s = String(validating: e, as: UTF8.self) else { throw .invalidArgument("input 'text': element \(i) is not valid UTF-8") }
            strings.append(s)
        }
        return strings
    }
}
