import CKernels
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
        guard x.rank == 4, x.shape[3] == inChannels else {
            throw TrainingError.badInput("layer '\(name)' expects NHWC input with \(inChannels) channels, got \(x.shape)")
        }
        let (n, oh, ow) = try geometry.outputDimensions(x)
        let patch = geometry.patch, rows = n * oh * ow
        // Patch rows (N·OH·OW, patch): the same rows as ``ConvGeometry/im2col(_:)``, images split across threads.
        var cols = Tensor(uninitialized: [rows, patch])
        var g = window(inputShape: x.shape, outputShape: [n, oh, ow, inChannels])
        let x32 = x.toFloat32()
        cols.withUnsafeMutableFloats { cp in
            x32.withUnsafeFloats { xp in
                let (c0, x0) = (cp.baseAddress!, xp.baseAddress!)
                withUnsafePointer(to: &g) { gp in
                    context.executor.parallelChunks(n, minimumPerChunk: max(1, 16_384 / max(1, oh * ow * patch))) { r in
                        ck_im2col_nhwc_f32(c0, x0, gp, Int64(r.lowerBound), Int64(r.upperBound))
                    }
                }
            }
        }
        var y = Tensor(uninitialized: [n, oh, ow, filters])  // (rows, F)
        let weight = parameter("weight")
        y.withUnsafeMutableFloats { yp in
            cols.withUnsafeFloats { cp in
                weight.withUnsafeFloats { wp in
                    withOptionalFloats(useBias ? parameter("bias") : nil) { bp in
                        LinearKernel.forward(
                            yp.baseAddress!, cp.baseAddress!, weight: wp.baseAddress!, bias: bp, rows: rows, inFeatures: patch,
                            outFeatures: filters, on: context.executor)
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
        let patch = geometry.patch, rows = tape.cols.shape[0]
        let weight = parameter("weight")
        var dcols = needInputGradient ? Tensor(uninitialized: [rows, patch]) : nil  // (N·OH·OW, patch)
        let dweight = gradients.buffer(path, "weight"), dbias = useBias ? gradients.buffer(path, "bias") : nil
        let (k, n) = (patch, filters)
        // dpre (rows, F) = act'(dy), with db += Σ dpre fused into the activation pass.
        tape.activation.withPreActivationGradient(dy, dbias: dbias, on: context.executor) { dp in
            tape.cols.withUnsafeFloats { cp in
                weight.withUnsafeFloats { wp in
                    let run = { (dinp: UnsafeMutablePointer<Float>?) in
                        LinearKernel.backward(
                            dinp: dinp, dweight: dweight, dbias: nil,
                            dout: dp, inp: cp.baseAddress!, weight: wp.baseAddress!, rows: rows, inFeatures: k, outFeatures: n, on: context.executor)
                    }
                    if dcols != nil { dcols!.withUnsafeMutableFloats { run($0.baseAddress!) } } else { run(nil) }
                }
            }
        }
        guard let dcols else { return nil }
        return col2im(dcols, inputShape: tape.inputShape, outputShape: dy.shape, on: context.executor)
    }

    /// The adjoint of ``ConvGeometry/im2col(_:)``: dx(N, H, W, C) = Σ over windows of their patch-row gradients
    /// (``ck_col2im_nhwc_f32``), images split across the executor's threads.
    func col2im(_ dcols: Tensor, inputShape: [Int], outputShape: [Int], on executor: Executor) -> Tensor {
        var g = window(inputShape: inputShape, outputShape: outputShape)
        var dx = Tensor(uninitialized: inputShape)  // (N, H, W, C)
        let perImage = inputShape.dropFirst().reduce(1, *)
        dx.withUnsafeMutableFloats { xp in
            dcols.withUnsafeFloats { cp in
                let (x0, c0) = (xp.baseAddress!, cp.baseAddress!)
                withUnsafePointer(to: &g) { gp in
                    executor.parallelChunks(inputShape[0], minimumPerChunk: max(1, 16_384 / max(1, dcols.count / inputShape[0]))) { r in
                        // Each range zeroes its own images just before accumulating into them (threaded, cache-warm).
                        (x0 + r.lowerBound * perImage).initialize(repeating: 0, count: r.count * perImage)
                        ck_col2im_nhwc_f32(x0, c0, gp, Int64(r.lowerBound), Int64(r.upperBound))
                    }
                }
            }
        }
        return dx
    }

    /// The window geometry of this convolution between NHWC `inputShape` and `outputShape`.
    private func window(inputShape: [Int], outputShape: [Int]) -> ck_window2d {
        let (h, w) = (inputShape[1], inputShape[2])
        let padTop = spatialOutput(input: h, kernel: kernelSize.h, stride: strides.h, same: samePadding).padBefore
        let padLeft = spatialOutput(input: w, kernel: kernelSize.w, stride: strides.w, same: samePadding).padBefore
        return ck_window2d(
            n: Int64(inputShape[0]), h: Int64(h), w: Int64(w), c: Int64(inputShape[3]), oh: Int64(outputShape[1]),
            ow: Int64(outputShape[2]), kh: Int64(kernelSize.h), kw: Int64(kernelSize.w), sh: Int64(strides.h), sw: Int64(strides.w),
            pad_top: Int64(padTop), pad_left: Int64(padLeft))
    }
}

/// Calls `body` with the tensor's float pointer, or nil.
func withOptionalFloats<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.withUnsafeFloats { body($0.baseAddress!) }
}
