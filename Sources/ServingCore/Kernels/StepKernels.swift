import Foundation
import Layers
import Runtime
import Tensors
import Tokenizers

/// `platform: compress_tokenizer`: BYTES `text` [N, 1] → INT64 `input_ids` and `attention_mask` [N, L], right-padded
/// to the request's longest sequence (L), as a Hugging Face tokenizer with `padding=True` returns them. The first
/// step of the `minilm-text` ensemble.
struct TokenizerKernel: ServingKernel {
    let tokenizer: WordPieceTokenizer
    let platform = "compress_tokenizer"
    let inputs = [TensorMetadata(name: "text", datatype: .bytes, shape: [-1, 1])]
    let outputs = [
        TensorMetadata(name: "input_ids", datatype: .int64, shape: [-1, -1]),
        TensorMetadata(name: "attention_mask", datatype: .int64, shape: [-1, -1]),
    ]

    func prepare(_ request: InferRequest, model: String) throws(InferenceError) -> KernelInput {
        let byName = try KernelChecks.inputsByName(request, allowed: inputs, model: model)
        guard let text = byName["text"] else { throw .invalidArgument("model '\(model)' needs input 'text' (BYTES [N, 1])") }
        return .texts(try TokenInputs.strings(text))
    }

    func execute(_ batch: [KernelInput], on executor: Executor, timing: inout ExecutionTiming) throws -> [[InferOutput]] {
        let start = monotonicNanoseconds()
        defer { timing.infer = monotonicNanoseconds() - start }
        return batch.map { k in
            guard case let .texts(texts) = k else { return [] }
            let rows = texts.map { tokenizer.encode($0) }
            let width = rows.map(\.count).max() ?? 0
            var ids = [Int64](repeating: Int64(tokenizer.padID), count: rows.count * width)
            var mask = [Int64](repeating: 0, count: rows.count * width)
            for (r, row) in rows.enumerated() {
                for (j, id) in row.enumerated() {
                    ids[r * width + j] = Int64(id)
                    mask[r * width + j] = 1
                }
            }
            return [
                InferOutput(name: "input_ids", datatype: .int64, shape: [rows.count, width], data: .int64(ids)),
                InferOutput(name: "attention_mask", datatype: .int64, shape: [rows.count, width], data: .int64(mask)),
            ]
        }
    }

    func warmUp(on executor: Executor) throws { _ = tokenizer.encode("warm up") }
}

/// `platform: compress_bert_encoder`: INT64 `input_ids` + `attention_mask` [N, L] → FP32 `last_hidden_state`
/// [N, L, H] (zeros at padded positions). Batches pack every request's tokens end to end: padding is never computed.
struct BertEncoderKernel: ServingKernel {
    let bert: BertModel
    let platform = "compress_bert_encoder"
    let inputs = [
        TensorMetadata(name: "input_ids", datatype: .int64, shape: [-1, -1]),
        TensorMetadata(name: "attention_mask", datatype: .int64, shape: [-1, -1]),
    ]
    let outputs: [TensorMetadata]
    let optionalInputs: Set<String> = ["attention_mask"]

    init(bert: BertModel) {
        self.bert = bert
        outputs = [TensorMetadata(name: "last_hidden_state", datatype: .fp32, shape: [-1, -1, bert.config.hiddenSize])]
    }

    func prepare(_ request: InferRequest, model: String) throws(InferenceError) -> KernelInput {
        let byName = try KernelChecks.inputsByName(request, allowed: inputs, model: model)
        let (prepared, width) = try TokenInputs.pack(
            byName, model: model, vocabulary: bert.config.vocabSize, maxLength: bert.config.maxPositionEmbeddings,
            expected: "'input_ids' (INT64 [N, L])")
        guard case let .tokens(ids, lengths) = prepared else { throw .internal("token inputs did not pack") }
        return .encoder(ids: ids, lengths: lengths, width: width)
    }

    func execute(_ batch: [KernelInput], on executor: Executor, timing: inout ExecutionTiming) throws -> [[InferOutput]] {
        let start = monotonicNanoseconds()
        var ids: [Int32] = []
        var lengths: [Int] = []
        var widths: [Int] = []
        var counts: [Int] = []
        for k in batch {
            guard case let .encoder(i, l, w) = k else { throw InferenceError.internal("encoder kernel got other inputs") }
            ids += i
            lengths += l
            widths.append(w)
            counts.append(l.count)
        }
        let gathered = monotonicNanoseconds()
        let kept = lengths.filter { $0 > 0 }
        let hidden = kept.isEmpty ? Tensor(zeros: [0, bert.config.hiddenSize]) : try bert.forward(ids: ids, lengths: kept, on: executor).hidden
        let ran = monotonicNanoseconds()
        let h = bert.config.hiddenSize
        var answers: [[InferOutput]] = []
        hidden.withUnsafeFloats { hp in
            var token = 0
            var seq = 0
            for (count, width) in zip(counts, widths) {
                var out = [Float](repeating: 0, count: count * width * h)
                for r in 0..<count {
                    let len = lengths[seq + r]
                    for t in 0..<len {
                        for j in 0..<h { out[(r * width + t) * h + j] = hp[(token + t) * h + j] }
                    }
                    token += len
                }
                seq += count
                answers.append([InferOutput(name: "last_hidden_state", datatype: .fp32, shape: [count, width, h], data: .fp32(out))])
            }
        }
        timing.input = gathered - start
        timing.infer = ran - gathered
        timing.output = monotonicNanoseconds() - ran
        return answers
    }

    func warmUp(on executor: Executor) throws { _ = try bert.forward(ids: [101, 102], lengths: [2], on: executor) }
}

/// `platform: compress_pooling` with `pooling: {mode: mean|cls|max, normalize: true}`: FP32 `last_hidden_state`
/// [N, L, H] + INT64 `attention_mask` [N, L] → FP32 `embeddings` [N, H], as sentence-transformers' Pooling and
/// Normalize modules compute them (sums in double, as the engine's own pooling).
struct PoolingKernel: ServingKernel {
    let pooling: SentencePooling
    let platform = "compress_pooling"
    let inputs = [
        TensorMetadata(name: "last_hidden_state", datatype: .fp32, shape: [-1, -1, -1]),
        TensorMetadata(name: "attention_mask", datatype: .int64, shape: [-1, -1]),
    ]
    let outputs = [TensorMetadata(name: "embeddings", datatype: .fp32, shape: [-1, -1])]

    func prepare(_ request: InferRequest, model: String) throws(InferenceError) -> KernelInput {
        let byName = try KernelChecks.inputsByName(request, allowed: inputs, model: model)
        guard let hidden = byName["last_hidden_state"], let mask = byName["attention_mask"] else {
            throw .invalidArgument("model '\(model)' needs inputs 'last_hidden_state' (FP32 [N, L, H]) and 'attention_mask' (INT64 [N, L])")
        }
        _ = try KernelChecks.floats(hidden, rank: 3)
        guard mask.shape == Array(hidden.shape.prefix(2)), mask.data.integers() != nil else {
            throw .invalidArgument(
                "input 'attention_mask': must be integers of shape \(Array(hidden.shape.prefix(2))) (last_hidden_state's [N, L]), got \(mask.datatype.rawValue) \(mask.shape)")
        }
        return .tensors(byName, items: hidden.shape[0])
    }

    func execute(_ batch: [KernelInput], on executor: Executor, timing: inout ExecutionTiming) throws -> [[InferOutput]] {
        let start = monotonicNanoseconds()
        defer { timing.infer = monotonicNanoseconds() - start }
        return batch.map { k in
            guard case let .tensors(t, _) = k, let hidden = t["last_hidden_state"], let maskInput = t["attention_mask"],
                case let .fp32(x) = hidden.data, let mask = maskInput.data.integers()
            else { return [] }
            let (n, l, h) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
            var out = [Float](repeating: 0, count: n * h)
            for r in 0..<n {
                let positions = (0..<l).filter { mask[r * l + $0] != 0 }
                if positions.isEmpty { continue }
                var acc = [Double](repeating: pooling.mode == .max ? -.infinity : 0, count: h)
                switch pooling.mode {
                case .cls: for j in 0..<h { acc[j] = Double(x[(r * l + positions[0]) * h + j]) }
                case .mean:
                    for p in positions { for j in 0..<h { acc[j] += Double(x[(r * l + p) * h + j]) } }
                    for j in 0..<h { acc[j] = Double(Float(acc[j] / Double(positions.count))) }
                case .max: for p in positions { for j in 0..<h { acc[j] = max(acc[j], Double(x[(r * l + p) * h + j])) } }
                }
                var row = acc.map { Float($0) }
                if pooling.normalize {
                    let ss = row.reduce(0.0) { $0 + Double($1) * Double($1) }
                    let inv = Float(1 / max(ss.squareRoot(), 1e-12))
                    for j in 0..<h { row[j] *= inv }
                }
                for j in 0..<h { out[r * h + j] = row[j] }
            }
            return [InferOutput(name: "embeddings", datatype: .fp32, shape: [n, h], data: .fp32(out))]
        }
    }

    func warmUp(on executor: Executor) throws {}
}

/// `platform: compress_combiner` with `combine: {op: average, inputs: K}`: FP32 `input0` … `input{K-1}` of one shape
/// → FP32 `output` of that shape, their element-wise mean (the digits CNN + MLP ensemble averages probabilities).
struct CombinerKernel: ServingKernel {
    let platform = "compress_combiner"
    let inputs: [TensorMetadata]
    let outputs = [TensorMetadata(name: "output", datatype: .fp32, shape: [-1, -1])]

    init(count: Int) { inputs = (0..<count).map { TensorMetadata(name: "input\($0)", datatype: .fp32, shape: [-1, -1]) } }

    func prepare(_ request: InferRequest, model: String) throws(InferenceError) -> KernelInput {
        let byName = try KernelChecks.inputsByName(request, allowed: inputs, model: model)
        var shape: [Int]? = nil
        for m in inputs {
            guard let t = byName[m.name] else { throw .invalidArgument("model '\(model)' needs input '\(m.name)' (FP32)") }
            guard case .fp32 = t.data else { throw .invalidArgument("input '\(m.name)': datatype must be FP32, got \(t.datatype.rawValue)") }
            guard t.shape.count >= 1 else { throw .invalidArgument("input '\(m.name)': needs a batch dimension, got shape \(t.shape)") }
            if let s = shape, s != t.shape { throw .invalidArgument("input '\(m.name)': shape \(t.shape) differs from input0's \(s)") }
            shape = t.shape
        }
        return .tensors(byName, items: shape?.first ?? 0)
    }

    func execute(_ batch: [KernelInput], on executor: Executor, timing: inout ExecutionTiming) throws -> [[InferOutput]] {
        let start = monotonicNanoseconds()
        defer { timing.infer = monotonicNanoseconds() - start }
        return batch.map { k in
            guard case let .tensors(t, _) = k, let first = t["input0"] else { return [] }
            var sum = [Float](repeating: 0, count: first.data.count)
            for m in inputs { if case let .fp32(v)? = t[m.name]?.data { for i in sum.indices { sum[i] += v[i] } } }
            let scale = 1 / Float(inputs.count)
            return [InferOutput(name: "output", datatype: .fp32, shape: first.shape, data: .fp32(sum.map { $0 * scale }))]
        }
    }

    func warmUp(on executor: Executor) throws {}
}
