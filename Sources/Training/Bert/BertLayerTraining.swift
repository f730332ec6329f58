import CKernels
import Layers
import Tensors

/// A residual output block keeps z = x·Wᵀ + b + residual (LayerNorm's input) with its mean and rstd.
public struct ResidualOutputTape: Sendable {
    let norm: LayerNormTape
}

extension BertResidualOutput {
    /// y(T, H) = LN(x(T, in)·Wᵀ + b + residual(T, H)).
    public func trainingForward(
        _ x: Tensor, residual: Tensor, into y: UnsafeMutablePointer<Float>, on executor: Executor
    ) throws
        -> ResidualOutputTape
    {
        let dense = try trainingChild("dense", as: Linear.self), norm = try trainingChild("LayerNorm", as: LayerNorm.self)
        let rows = x.shape[0], h = dense.outFeatures
        var z = Tensor(uninitialized: [rows, h])  // (T, H)
        z.withUnsafeMutableFloats { zp in
            x.withUnsafeFloats { dense.matmul($0.baseAddress!, rows: rows, into: zp.baseAddress!, on: executor) }
            residual.withUnsafeFloats { rp in
                withOptionalFloats(dense.biasTensor) { b in
                    for r in 0..<rows {
                        let row = zp.baseAddress! + r * h, res = rp.baseAddress! + r * h
                        if let b { for j in 0..<h { row[j] += b[j] + res[j] } } else { for j in 0..<h { row[j] += res[j] } }
                    }
                }
            }
        }
        return ResidualOutputTape(norm: norm.trainingForward(z, into: y, on: executor))
    }

    /// dz = LN'ᵀ·dy; dresidual += dz; dense: dW += dzᵀ·x, db += Σdz, dx = dz·W (overwritten).
    public func backward(
        _ dy: UnsafePointer<Float>, tape: ResidualOutputTape, x: Tensor, dx: UnsafeMutablePointer<Float>,
        dresidual: UnsafeMutablePointer<Float>, gradients: Gradients, path: String, on executor: Executor
    ) throws {
        let dense = try trainingChild("dense", as: Linear.self), norm = try trainingChild("LayerNorm", as: LayerNorm.self)
        let rows = x.shape[0], h = dense.outFeatures
        let p = joinPath(path, "dense")
        executor.withScratch(floats: rows * h) { dz in  // (T, H), reused across steps
            dz.update(repeating: 0, count: rows * h)  // the LayerNorm backward accumulates
            norm.backward(dy, tape: tape.norm, dx: dz, gradients: gradients, path: joinPath(path, "LayerNorm"), on: executor)
            for i in 0..<(rows * h) { dresidual[i] += dz[i] }
            x.withUnsafeFloats { xp in
                dense.parameter("weight").withUnsafeFloats { wp in
                    LinearKernel.backward(
                        dinp: dx, dweight: gradients.buffer(p, "weight"), dbias: gradients.buffer(p, "bias"), dout: dz,
                        inp: xp.baseAddress!, weight: wp.baseAddress!, rows: rows, inFeatures: dense.inFeatures, outFeatures: h, on: executor)
                }
            }
        }
    }
}

/// The FFN's first half keeps its pre-activation (GELU's input).
public struct IntermediateTape: Sendable {
    let pre: Tensor  // (T, F)
}

extension BertIntermediate {
    /// mid(T, F) = act(x·Wᵀ + b).
    public func trainingForward(_ x: Tensor, into mid: UnsafeMutablePointer<Float>, on executor: Executor) throws -> IntermediateTape {
        let dense = try trainingChild("dense", as: Linear.self)
        let rows = x.shape[0], f = dense.outFeatures
        var pre = Tensor(uninitialized: [rows, f])  // (T, F)
        pre.withUnsafeMutableFloats { pp in
            x.withUnsafeFloats { dense.matmul($0.baseAddress!, rows: rows, into: pp.baseAddress!, on: executor) }
            withOptionalFloats(dense.biasTensor) { b in if let b { Ops.biasAdd(pp.baseAddress!, bias: b, rows: rows, cols: f) } }
            mid.update(from: pp.baseAddress!, count: rows * f)
        }
        activation.apply(mid, rows: rows, cols: f, on: executor)
        return IntermediateTape(pre: pre)
    }

    /// dmid ← act'(pre)·dmid in place; dW += dpreᵀ·x, db += Σdpre, dx += dpre·W.
    public func backward(
        _ dmid: UnsafeMutablePointer<Float>, tape: IntermediateTape, x: Tensor, mid: Tensor, dx: UnsafeMutablePointer<Float>,
        gradients: Gradients, path: String, on executor: Executor
    ) throws {
        let dense = try trainingChild("dense", as: Linear.self)
        let rows = x.shape[0], f = dense.outFeatures
        // GELU's backward reads its input; the others read their output.
        let saved = activation == .gelu ? tape.pre : mid
        saved.withUnsafeFloats { sp in
            Activation.backward(activation, dy: dmid, saved: sp.baseAddress!, count: rows * f, cols: f, on: executor)
        }
        let p = joinPath(path, "dense")
        x.withUnsafeFloats { xp in
            dense.parameter("weight").withUnsafeFloats { wp in
                LinearKernel.backward(
                    dinp: dx, dweight: gradients.buffer(p, "weight"), dbias: gradients.buffer(p, "bias"), dout: dmid, inp: xp.baseAddress!,
                    weight: wp.baseAddress!, rows: rows, inFeatures: dense.inFeatures, outFeatures: f, accumulateInput: true, on: executor)
            }
        }
    }
}

/// Everything one encoder layer's backward reads.
public struct BertLayerTape: Sendable {
    let x: Tensor  // (T, H) layer input
    let attention: AttentionTape
    let ctx: Tensor  // (T, A)
    let attentionOutput: ResidualOutputTape
    let a1: Tensor  // (T, H) after the attention block's LayerNorm
    let intermediate: IntermediateTape
    let mid: Tensor  // (T, F)
    let output: ResidualOutputTape
}

extension BertLayer {
    /// y(T, H) = layer(x) for packed sequences, keeping every activation the backward reads.
    public func trainingForward(
        _ x: Tensor, lengths: [Int], starts: [Int], on executor: Executor
    ) throws -> (y: Tensor, tape: BertLayerTape) {
        let attention: Module = try trainingChild("attention")
        let selfAttention = try attention.trainingChild("self", as: BertSelfAttention.self)
        let attentionOutput = try attention.trainingChild("output", as: BertResidualOutput.self)
        let intermediate = try trainingChild("intermediate", as: BertIntermediate.self)
        let output = try trainingChild("output", as: BertResidualOutput.self)
        let t = x.shape[0], h = x.shape[1], a = shape.attentionWidth, f = shape.intermediateSize
        var ctx = Tensor(uninitialized: [t, a])  // (T, A)
        var a1 = Tensor(uninitialized: [t, h])  // (T, H)
        var mid = Tensor(uninitialized: [t, f])  // (T, F)
        var y = Tensor(uninitialized: [t, h])  // (T, H)
        let attTape = try ctx.withUnsafeMutableFloats {
            try selfAttention.trainingForward(x, lengths: lengths, starts: starts, into: $0.baseAddress!, on: executor)
        }
        let outTape1 = try a1.withUnsafeMutableFloats {
            try attentionOutput.trainingForward(ctx, residual: x, into: $0.baseAddress!, on: executor)
        }
        let interTape = try mid.withUnsafeMutableFloats { try intermediate.trainingForward(a1, into: $0.baseAddress!, on: executor) }
        let outTape2 = try y.withUnsafeMutableFloats { try output.trainingForward(mid, residual: a1, into: $0.baseAddress!, on: executor) }
        return (
            y,
            BertLayerTape(
                x: x, attention: attTape, ctx: ctx, attentionOutput: outTape1, a1: a1, intermediate: interTape, mid: mid, output: outTape2)
        )
    }

    /// dx(T, H) from dy(T, H); parameter gradients go under `path` (e.g. `encoder.layer.0`). `dScores`: an extra
    /// gradient on the attention's softmax inputs, laid out as the attention tape's probabilities (``AttentionKL``).
    public func backward(
        _ dy: Tensor, tape: BertLayerTape, lengths: [Int], starts: [Int], dScores: Tensor? = nil, gradients: Gradients, path: String,
        on executor: Executor
    ) throws -> Tensor {
        let attention: Module = try trainingChild("attention")
        let selfAttention = try attention.trainingChild("self", as: BertSelfAttention.self)
        let attentionOutput = try attention.trainingChild("output", as: BertResidualOutput.self)
        let intermediate = try trainingChild("intermediate", as: BertIntermediate.self)
        let output = try trainingChild("output", as: BertResidualOutput.self)
        let t = dy.shape[0], h = dy.shape[1], a = shape.attentionWidth, f = shape.intermediateSize
        var dx = Tensor(zeros: [t, h])  // (T, H)
        // The block-internal gradients live in executor scratch, reused every step (no page faults from fresh
        // allocations): da1 (T, H) | dmid (T, F) | dctx (T, A).
        try executor.withScratch(floats: t * (h + f + a)) { buf in
            let (da1, dmid, dctx) = (buf, buf + t * h, buf + t * (h + f))
            da1.update(repeating: 0, count: t * h)  // accumulated by both FFN backwards
            try dy.withUnsafeFloats { dyp in
                try output.backward(
                    dyp.baseAddress!, tape: tape.output, x: tape.mid, dx: dmid, dresidual: da1, gradients: gradients,
                    path: joinPath(path, "output"), on: executor)
                try intermediate.backward(
                    dmid, tape: tape.intermediate, x: tape.a1, mid: tape.mid, dx: da1, gradients: gradients,
                    path: joinPath(path, "intermediate"), on: executor)
            }
            try dx.withUnsafeMutableFloats { dxp in
                try attentionOutput.backward(
                    da1, tape: tape.attentionOutput, x: tape.ctx, dx: dctx, dresidual: dxp.baseAddress!, gradients: gradients,
                    path: joinPath(path, "attention.output"), on: executor)
                try selfAttention.backward(
                    dctx, tape: tape.attention, x: tape.x, lengths: lengths, starts: starts, dx: dxp.baseAddress!, dScores: dScores,
                    gradients: gradients, path: joinPath(path, "attention.self"), on: executor)
            }
        }
        return dx
    }
}
