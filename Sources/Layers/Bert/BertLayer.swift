import Tensors

/// `encoder.layer.N`: self-attention with its own head count, then the FFN with its own width.
/// Children keep Hugging Face's names: `attention.self.{query,key,value}`, `attention.output.{dense,LayerNorm}`,
/// `intermediate.dense`, `output.{dense,LayerNorm}`.
public final class BertLayer: Module {
    public let shape: BertLayerShape
    private var selfAttention: BertSelfAttention
    private var attentionOutput: BertResidualOutput
    private var intermediate: BertIntermediate
    private var output: BertResidualOutput

    public init(config: BertConfig, shape: BertLayerShape, activation: Activation) {
        let h = config.hiddenSize, eps = config.layerNormEps
        self.shape = shape
        selfAttention = BertSelfAttention(hiddenSize: h, shape: shape)
        attentionOutput = BertResidualOutput(inFeatures: shape.attentionWidth, hiddenSize: h, eps: eps)
        intermediate = BertIntermediate(hiddenSize: h, intermediateSize: shape.intermediateSize, activation: activation)
        output = BertResidualOutput(inFeatures: shape.intermediateSize, hiddenSize: h, eps: eps)
        super.init()
        addChild("attention", Container([("self", selfAttention), ("output", attentionOutput)]))
        addChild("intermediate", intermediate)
        addChild("output", output)
    }

    public override func prepare() {
        let attention: Module = typedChild("attention")
        selfAttention = attention.typedChild("self")
        attentionOutput = attention.typedChild("output")
        intermediate = typedChild("intermediate")
        output = typedChild("output")
    }

    /// Floats of scratch one call needs for `rows` tokens: qkv (T, 3A) | ctx (T, A) | attention out (T, H) | mid (T, F).
    public func scratchFloats(rows: Int, hiddenSize h: Int) -> Int {
        rows * (4 * shape.attentionWidth + h + shape.intermediateSize)
    }

    /// x(T, H) → layer(x), in place, for packed sequences; `scratch` holds ``scratchFloats(rows:hiddenSize:)`` floats.
    public func forward(
        _ x: UnsafeMutablePointer<Float>, hiddenSize h: Int, lengths: [Int], starts: [Int], scratch: UnsafeMutablePointer<Float>,
        on executor: Executor
    ) {
        let t = starts.last.map { $0 + lengths.last! } ?? 0, a = shape.attentionWidth
        let qkv = scratch  // (T, 3A)
        let ctx = qkv + t * 3 * a  // (T, A)
        let attn = ctx + t * a  // (T, H)
        let mid = attn + t * h  // (T, F)
        selfAttention.project(x, rows: t, into: qkv, on: executor)
        selfAttention.attend(qkv, lengths: lengths, starts: starts, into: ctx, on: executor)
        attentionOutput.apply(ctx, residual: x, rows: t, into: attn, on: executor)
        intermediate.apply(attn, rows: t, into: mid, on: executor)
        output.apply(mid, residual: attn, rows: t, into: x, on: executor)
    }
}
