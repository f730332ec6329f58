import Layers
import Tensors

/// Conv2D keeps its im2col patch rows (the GEMM's input, for dW) and its activation's tape.
struct Conv2DTape: LayerTape {
    let inputShape: [Int]  // (N, H, W, C)
    let cols: Tensor  // (N·OH·OW, kh·kw·C)
    let activation: ActivationTape
}

extension Conv2D: TrainableLayer {
    /// y(N, OH, OW, F) = act(im2col(x) · Wᵀ + b), W viewed as (F, kh·kw·C).
    public func trainingForward(_ x: Tensor, context: TrainingContext) throws -> (y: Tensor, tape: any LayerTape) {
        let (cols, n, oh, ow) = try im2col(x)
        let patch = geometry.patch, rows = n * oh * ow
        var y = Tensor(uninitialized: [n, oh, ow, filters])  // (rows, F)
        let weight = parameter("weight")
        y.withUnsafeMutableFloats { yp in
            cols.withUnsafeFloats { cp in
                weight.withUnsafeFloats { wp in
                    withOptionalFloats(useBias ? parameter("bias") : nil) { bp in
                        LinearKernel.forward(
                            yp.baseAddress!, cp.baseAddress!, weight: wp.baseAddress!, bias: bp, rows: rows, inFeatures: patch,
                            outFeatures: filters)
                    }
                }
            }
        }
        let act = activation.trainingForward(&y, on: context.executor)
        return (y, Conv2DTape(inputShape: x.shape, cols: cols, activation: act))
    }

    /// dW += dpreᵀ·cols, db += Σ dpre, dcols = dpre·W, then col2im scatters dcols back onto dx.
    public func backward(
        _ dy: Tensor, tape: any LayerTape, gradients: Gradients, path: String, needInputGradient: Bool, context: TrainingContext
    ) throws -> Tensor? {
        let tape = tape as! Conv2DTape
        var dpre = dy
        activation.backward(&dpre, tape: tape.activation, on: context.executor)
        let patch = geometry.patch, rows = tape.cols.shape[0]
        let weight = parameter("weight")
        var dcols = needInputGradient ? Tensor(uninitialized: [rows, patch]) : nil  // (N·OH·OW, patch)
        let dweight = gradients.buffer(path, "weight"), dbias = useBias ? gradients.buffer(path, "bias") : nil
        let (k, n) = (patch, filters)
        dpre.withUnsafeFloats { dp in
            tape.cols.withUnsafeFloats { cp in
                weight.withUnsafeFloats { wp in
                    let run = { (dinp: UnsafeMutablePointer<Float>?) in
                        LinearKernel.backward(
                            dinp: dinp, dweight: dweight, dbias: dbias,
                            dout: dp.baseAddress!, inp: cp.baseAddress!, weight: wp.baseAddress!, rows: rows, inFeatures: k, outFeatures: n)
                    }
                    if dcols != nil { dcols!.withUnsafeMutableFloats { run($0.baseAddress!) } } else { run(nil) }
                }
            }
        }
        guard let dcols else { return nil }
        return col2im(dcols, inputShape: tape.inputShape, outputShape: dy.shape)
    }

    /// The adjoint of ``ConvGeometry/im2col(_:)``: dx(N, H, W, C) = Σ over windows of their patch-row gradients.
    func col2im(_ dcols: Tensor, inputShape: [Int], outputShape: [Int]) -> Tensor {
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow) = (outputShape[1], outputShape[2])
        let kh = kernelSize.h, kw = kernelSize.w, sh = strides.h, sw = strides.w, patch = geometry.patch
        let padTop = spatialOutput(input: h, kernel: kh, stride: sh, same: samePadding).padBefore
        let padLeft = spatialOutput(input: w, kernel: kw, stride: sw, same: samePadding).padBefore
        var dx = Tensor(zeros: inputShape)  // (N, H, W, C)
        dx.withUnsafeMutableFloats { xp in
            dcols.withUnsafeFloats { cp in
                for b in 0..<n {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let row = cp.baseAddress! + ((b * oh + oy) * ow + ox) * patch
                            for ky in 0..<kh {
                                let iy = oy * sh + ky - padTop
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<kw {
                                    let ix = ox * sw + kx - padLeft
                                    if ix < 0 || ix >= w { continue }
                                    let dst = xp.baseAddress! + ((b * h + iy) * w + ix) * c
                                    let src = row + (ky * kw + kx) * c
                                    for ch in 0..<c { dst[ch] += src[ch] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}

/// Calls `body` with the tensor's float pointer, or nil.
func withOptionalFloats<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.withUnsafeFloats { body($0.baseAddress!) }
}
