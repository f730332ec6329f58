import CKernels
import Layers
import Tensors

/// BatchNorm keeps the normalized input x̂ and 1/σ per feature; in train mode σ and the mean are the batch's.
struct BatchNormTape: LayerTape {
    let xhat: Tensor  // (rows, F)
    let rstd: [Float]  // (F)
    let batchStatistics: Bool
}

extension BatchNorm: TrainableLayer {
    /// Train mode: y = γ·(x − μ_B)/√(σ²_B + ε) + β over all rows (N·H·W for images), biased σ²_B, and the running
    /// statistics move toward the batch's: m ← momentum·m + (1 − momentum)·μ_B (Keras's update; variance likewise).
    /// Eval mode: the running statistics, as at inference.
    public func trainingForward(_ x: Tensor, context: TrainingContext) throws -> (y: Tensor, tape: any LayerTape) {
        guard x.shape.last == features else { throw TrainingError.badInput("layer '\(name)' expects \(features) features, got \(x.shape)") }
        let f = features, rows = x.count / f
        let gamma = parameter("gamma").floats, beta = parameter("beta").floats
        var mean = [Double](repeating: 0, count: f), variance = [Double](repeating: 0, count: f)
        let train = context.mode == .train
        if train {
            guard rows > 1 else { throw TrainingError.badInput("layer '\(name)': batch statistics need more than one row") }
            // Double sums over rows in order (ck_batchnorm_*: SIMD over features, bit-identical to the twins).
            x.withUnsafeFloats { xp in
                ck_batchnorm_sums_f64(&mean, xp.baseAddress!, rows, f)
                for j in 0..<f { mean[j] /= Double(rows) }
                ck_batchnorm_sqdev_f64(&variance, mean, xp.baseAddress!, rows, f)
                for j in 0..<f { variance[j] /= Double(rows) }
            }
        } else {
            mean = parameter("mean").floats.map(Double.init)
            variance = parameter("variance").floats.map(Double.init)
        }
        let rstd = variance.map { Float(1 / ($0 + Double(epsilon)).squareRoot()) }
        let meanF = mean.map { Float($0) }
        var xhat = Tensor(uninitialized: x.shape)
        var y = Tensor(uninitialized: x.shape)
        xhat.withUnsafeMutableFloats { hp in
            y.withUnsafeMutableFloats { yp in
                x.withUnsafeFloats { xp in
                    let (h0, y0, x0) = (hp.baseAddress!, yp.baseAddress!, xp.baseAddress!)
                    context.executor.parallelChunks(rows, minimumPerChunk: max(1, 16_384 / f)) { r in
                        let o = r.lowerBound * f
                        ck_batchnorm_apply_f32(y0 + o, h0 + o, x0 + o, meanF, rstd, gamma, beta, r.count, f)
                    }
                }
            }
        }
        if train {
            let m = Double(context.batchNormMomentum)
            let runMean = parameter("mean").floats, runVar = parameter("variance").floats
            try setParameter("mean", Tensor(shape: [f], floats: (0..<f).map { Float(m * Double(runMean[$0]) + (1 - m) * mean[$0]) }))
            try setParameter("variance", Tensor(shape: [f], floats: (0..<f).map { Float(m * Double(runVar[$0]) + (1 - m) * variance[$0]) }))
        }
        return (y, BatchNormTape(xhat: xhat, rstd: rstd, batchStatistics: train))
    }

    /// dγ += Σ dy·x̂, dβ += Σ dy; dx = γ·rstd·dy in eval mode, and with batch statistics
    /// dx = γ·rstd/N · (N·dy − Σdy − x̂·Σ(dy·x̂)) (the mean and variance depend on every row).
    public func backward(
        _ dy: Tensor, tape: any LayerTape, gradients: Gradients, path: String, needInputGradient: Bool, context: TrainingContext
    ) throws -> Tensor? {
        let tape = tape as! BatchNormTape
        let f = features, rows = dy.count / f
        let gamma = parameter("gamma").floats
        var sumDy = [Double](repeating: 0, count: f), sumDyX = [Double](repeating: 0, count: f)
        dy.withUnsafeFloats { dp in
            tape.xhat.withUnsafeFloats { hp in ck_batchnorm_backward_sums_f64(&sumDy, &sumDyX, dp.baseAddress!, hp.baseAddress!, rows, f) }
        }
        if let dg = gradients.buffer(path, "gamma") { for j in 0..<f { dg[j] += Float(sumDyX[j]) } }
        if let db = gradients.buffer(path, "beta") { for j in 0..<f { db[j] += Float(sumDy[j]) } }
        guard needInputGradient else { return nil }
        var dx = Tensor(uninitialized: dy.shape)
        let n = Float(rows)
        let meanDy = sumDy.map { Float($0) / n }, meanDyX = sumDyX.map { Float($0) / n }
        let scale = (0..<f).map { gamma[$0] * tape.rstd[$0] }
        dx.withUnsafeMutableFloats { xp in
            dy.withUnsafeFloats { dp in
                tape.xhat.withUnsafeFloats { hp in
                    let (x0, d0, h0) = (xp.baseAddress!, dp.baseAddress!, hp.baseAddress!)
                    meanDy.withUnsafeBufferPointer { mdy in
                        meanDyX.withUnsafeBufferPointer { mdyx in
                            let (m0, mx0) = (tape.batchStatistics ? mdy.baseAddress : nil, mdyx.baseAddress!)
                            context.executor.parallelChunks(rows, minimumPerChunk: max(1, 16_384 / f)) { r in
                                let o = r.lowerBound * f
                                ck_batchnorm_backward_dx_f32(x0 + o, d0 + o, h0 + o, scale, m0, mx0, r.count, f)
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
