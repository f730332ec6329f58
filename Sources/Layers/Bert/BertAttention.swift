import CKernels
import Tensors

/// `attention.self`: query, key and value projections (heads × headSize rows each; the layer's own head count).
public final class BertSelfAttention: Module {
    public let shape: BertLayerShape
    private var query: any LinearOperator
    private var key: any LinearOperator
    private var value: any LinearOperator
    /// [Wq; Wk; Wv] (3A, H) packed, with [bq; bk; bv], when all three are fp32 Linears: one larger GEMM keeps the
    /// cores busier than three small ones at batch 1. Rebuilt by ``prepare()``.
    private var fused: (weight: PackedMatrix, bias: Tensor)?

    public init(hiddenSize h: Int, shape: BertLayerShape) {
        self.shape = shape
        let a = shape.attentionWidth
        query = Linear(name: "query", inFeatures: h, outFeatures: a)
        key = Linear(name: "key", inFeatures: h, outFeatures: a)
        value = Linear(name: "value", inFeatures: h, outFeatures: a)
        super.init()
        addChild("query", query)
        addChild("key", key)
        addChild("value", value)
        prepare()
    }

    public override func prepare() {
        query = typedChild("query")
        key = typedChild("key")
        value = typedChild("value")
        // The three projections share the input width, so concatenation cannot fail; if it ever did, the unfused
        // path below is still correct.
        if let q = query as? Linear, let k = key as? Linear, let v = value as? Linear,
            let weights = try? Tensor.concatenateRows([q, k, v].map { $0.parameter("weight") }),
            let bias = try? Tensor.concatenateRows([q, k, v].map { $0.biasTensor ?? Tensor(zeros: [$0.outFeatures]) })
        {
            fused = (PackedMatrix(weights), bias)
        } else {
            fused = nil
        }
    }

    /// qkv(T, 3A) = x(T, H) · [Wq; Wk; Wv]ᵀ + [bq; bk; bv]: query | key | value side by side in each row.
    public func project(_ x: UnsafePointer<Float>, rows: Int, into qkv: UnsafeMutablePointer<Float>, on executor: Executor) {
        executor.timed(.gemm) { projectUntimed(x, rows: rows, into: qkv, on: executor) }
    }

    private func projectUntimed(_ x: UnsafePointer<Float>, rows: Int, into qkv: UnsafeMutablePointer<Float>, on executor: Executor) {
        if let fused {
            fused.bias.withUnsafeFloats { b in fused.weight.multiply(x, rows: rows, bias: b.baseAddress!, into: qkv, on: executor) }
            return
        }
        // Mixed operators (e.g. quantized): run each and interleave into the (T, 3A) rows.
        let a = shape.attentionWidth
        executor.withScratch(floats: rows * a) { tmp in
            for (j, o) in [query, key, value].enumerated() {
                o.matmul(x, rows: rows, into: tmp, on: executor)
                withOptionalFloats(o.biasTensor) { b in if let b { Ops.biasAdd(tmp, bias: b, rows: rows, cols: a) } }
                for r in 0..<rows { (qkv + r * 3 * a + j * a).update(from: tmp + r * a, count: a) }
            }
        }
    }

    /// ctx(T, A) = softmax(q·kᵀ/√d)·v per sequence and head, over packed sequences (no padding, so no mask).
    public func attend(
        _ qkv: UnsafePointer<Float>, lengths: [Int], starts: [Int], into ctx: UnsafeMutablePointer<Float>, on executor: Executor
    ) {
        let heads = shape.heads, dh = shape.headSize, a = shape.attentionWidth
        let maxLen = lengths.max() ?? 0
        let scale = 1 / Float(dh).squareRoot()
        let jobs = lengths.count * heads
        executor.timed(.attention) {
            executor.parallelChunks(jobs, minimumPerChunk: max(1, 8192 / max(1, maxLen * maxLen * dh / 8))) { range in
                executor.withScratch(floats: ck_attention_scratch_size(maxLen, dh)) { scratch in
                    for job in range {
                        let s = job / heads, head = job % heads, l = lengths[s], base = starts[s]
                        let qh = qkv + base * 3 * a + head * dh
                        ck_attention_head_f32(qh, qh + a, qh + 2 * a, 3 * a, l, dh, scale, ctx + base * a + head * dh, a, scratch)
                    }
                }
            }
        }
    }
}

/// `attention.output` and `output`: y = LN(x · Wᵀ + b + residual), the dense + residual + LayerNorm that ends both
/// halves of a BERT layer.
public final class BertResidualOutput: Module {
    private var dense: any LinearOperator
    private var norm: LayerNorm

    public init(inFeatures: Int, hiddenSize h: Int, eps: Float) {
        dense = Linear(name: "dense", inFeatures: inFeatures, outFeatures: h)
        norm = LayerNorm(dim: h, eps: eps)
        super.init()
        addChild("dense", dense)
        addChild("LayerNorm", norm)
    }

    public override func prepare() {
        dense = typedChild("dense")
        norm = typedChild("LayerNorm")
    }

    /// y(T, H) = LN(x(T, in) · Wᵀ + b + residual(T, H)).
    public func apply(
        _ x: UnsafePointer<Float>, residual: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, on executor: Executor
    ) {
        executor.timed(.gemm) { dense.matmul(x, rows: rows, into: y, on: executor) }
        withOptionalFloats(dense.biasTensor) { b in norm.apply(y, residual: residual, bias: b, rows: rows, on: executor) }
    }
}

/// `intermediate`: mid(T, F) = act(x · Wᵀ + b), the FFN's first half with the layer's own neuron count F.
public final class BertIntermediate: Module {
    public let activation: Activation
    private var dense: any LinearOperator

    public init(hiddenSize h: Int, intermediateSize f: Int, activation: Activation) {
        self.activation = activation
        dense = Linear(name: "dense", inFeatures: h, outFeatures: f)
        super.init()
        addChild("dense", dense)
    }

    public override func prepare() { dense = typedChild("dense") }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into mid: UnsafeMutablePointer<Float>, on executor: Executor) {
        executor.timed(.gemm) { dense.matmul(x, rows: rows, into: mid, on: executor) }
        withOptionalFloats(dense.biasTensor) { b in
            activation.applyWithBias(mid, bias: b, rows: rows, cols: dense.outFeatures, on: executor)
        }
    }
}

/// Calls `body` with the tensor's float pointer, or nil.
@inlinable
func withOptionalFloats<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.withUnsafeFloats { body($0.baseAddress!) }
}
