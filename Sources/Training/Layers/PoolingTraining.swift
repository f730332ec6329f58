import CKernels
import Layers
import Tensors

/// Max pooling keeps, per output cell, the flat input index of its maximum; average pooling needs only shapes.
struct Pool2DTape: LayerTape {
    let inputShape: [Int]  // (N, H, W, C)
    let argmax: [Int32]  // (N, OH, OW, C); empty for average pooling
}

extension Pool2D: TrainableLayer {
    public func trainingForward(_ x: Tensor, context: TrainingContext) throws -> (y: Tensor, tape: any LayerTape) {
        guard kind == .max else { return (try forward(x, on: context.executor), Pool2DTape(inputShape: x.shape, argmax: [])) }
        guard x.rank == 4 else { throw TrainingError.badInput("layer '\(name)' expects NHWC input, got shape \(x.shape)") }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let out = try outputShape(for: [h, w, c])
        let (oh, ow) = (out[0], out[1])
        let padTop = spatialOutput(input: h, kernel: poolSize.h, stride: strides.h, same: samePadding).padBefore
        let padLeft = spatialOutput(input: w, kernel: poolSize.w, stride: strides.w, same: samePadding).padBefore
        var y = Tensor(uninitialized: [n, oh, ow, c])  // (N, OH, OW, C)
        var argmax = [Int32](repeating: 0, count: y.count)  // flat input index of each output's maximum
        var g = ck_window2d(
            n: Int64(n), h: Int64(h), w: Int64(w), c: Int64(c), oh: Int64(oh), ow: Int64(ow), kh: Int64(poolSize.h),
            kw: Int64(poolSize.w), sh: Int64(strides.h), sw: Int64(strides.w), pad_top: Int64(padTop), pad_left: Int64(padLeft))
        // Same scan order and comparison as the inference forward: the first maximum of a window wins. Images are
        // independent, so they are split across the executor's threads.
        y.withUnsafeMutableFloats { yp in
            x.withUnsafeFloats { xp in
                argmax.withUnsafeMutableBufferPointer { ap in
                    let (y0, x0, a0) = (yp.baseAddress!, xp.baseAddress!, ap.baseAddress!)
                    withUnsafePointer(to: &g) { gp in
                        context.executor.parallelChunks(n, minimumPerChunk: max(1, 32_768 / max(1, h * w * c))) { r in
                            ck_maxpool_forward_nhwc_f32(y0, a0, x0, gp, Int64(r.lowerBound), Int64(r.upperBound))
                        }
                    }
                }
            }
        }
        return (y, Pool2DTape(inputShape: x.shape, argmax: argmax))
    }

    /// Max: dy goes to each window's argmax. Average: dy / cells to every in-bounds cell.
    public func backward(
        _ dy: Tensor, tape: any LayerTape, gradients: Gradients, path: String, needInputGradient: Bool, context: TrainingContext
    ) throws -> Tensor? {
        guard needInputGradient else { return nil }
        let tape = tape as! Pool2DTape
        var dx = kind == .max ? Tensor(uninitialized: tape.inputShape) : Tensor(zeros: tape.inputShape)
        dx.withUnsafeMutableFloats { xp in
            dy.withUnsafeFloats { dp in
                if kind == .max {
                    // Each image's outputs scatter only into that image's inputs: image ranges run in parallel, and
                    // each zeroes its own images just before scattering (threaded and cache-warm, where a zero-filled
                    // tensor was one serial memset of the whole batch).
                    let perImage = dp.count / max(1, tape.inputShape[0]), perInput = xp.count / max(1, tape.inputShape[0])
                    let (x0, d0) = (xp.baseAddress!, dp.baseAddress!)
                    tape.argmax.withUnsafeBufferPointer { ap in
                        let a0 = ap.baseAddress!
                        context.executor.parallelChunks(tape.inputShape[0], minimumPerChunk: max(1, 32_768 / max(1, perImage))) { r in
                            (x0 + r.lowerBound * perInput).initialize(repeating: 0, count: r.count * perInput)
                            ck_maxpool_backward_f32(x0, d0, a0, Int64(r.lowerBound * perImage), Int64(r.upperBound * perImage))
                        }
                    }
                } else {
                    forEachWindow(inputShape: tape.inputShape, outputShape: dy.shape) { out, inputs in
                        let g = dp[out] / Float(inputs.count)
                        for i in inputs { xp[i] += g }
                    }
                }
            }
        }
        return dx
    }

    /// Calls `body(outputIndex, inputIndices)` for every output element (flat NHWC indices), TensorFlow padding.
    private func forEachWindow(inputShape: [Int], outputShape: [Int], _ body: (Int, [Int]) -> Void) {
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow) = (outputShape[1], outputShape[2])
        let padTop = spatialOutput(input: h, kernel: poolSize.h, stride: strides.h, same: samePadding).padBefore
        let padLeft = spatialOutput(input: w, kernel: poolSize.w, stride: strides.w, same: samePadding).padBefore
        var inputs: [Int] = []
        inputs.reserveCapacity(poolSize.h * poolSize.w)
        for b in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ch in 0..<c {
                        inputs.removeAll(keepingCapacity: true)
                        for ky in 0..<poolSize.h {
                            let iy = oy * strides.h + ky - padTop
                            if iy < 0 || iy >= h { continue }
                            for kx in 0..<poolSize.w {
                                let ix = ox * strides.w + kx - padLeft
                                if ix < 0 || ix >= w { continue }
                                inputs.append(((b * h + iy) * w + ix) * c + ch)
                            }
                        }
                        body(((b * oh + oy) * ow + ox) * c + ch, inputs)
                    }
                }
            }
        }
    }
}

/// Global average pooling needs only the input shape.
struct ShapeTape: LayerTape {
    let inputShape: [Int]
}

extension GlobalAvgPool2D: TrainableLayer {
    public func trainingForward(_ x: Tensor, context: TrainingContext) throws -> (y: Tensor, tape: any LayerTape) {
        (try forward(x, on: context.executor), ShapeTape(inputShape: x.shape))
    }

    /// dx[b, p, c] = dy[b, c] / (H·W).
    public func backward(
        _ dy: Tensor, tape: any LayerTape, gradients: Gradients, path: String, needInputGradient: Bool, context: TrainingContext
    ) throws -> Tensor? {
        guard needInputGradient else { return nil }
        let shape = (tape as! ShapeTape).inputShape
        let (n, hw, c) = (shape[0], shape[1] * shape[2], shape[3])
        var dx = Tensor(uninitialized: shape)
        dx.withUnsafeMutableFloats { xp in
            dy.withUnsafeFloats { dp in
                let inv = 1 / Float(hw)
                for b in 0..<n { for p in 0..<hw { for ch in 0..<c { xp[(b * hw + p) * c + ch] = dp[b * c + ch] * inv } } }
            }
        }
        return dx
    }
}
