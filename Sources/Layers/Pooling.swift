import Tensors

/// Max or average pooling over NHWC images (TensorFlow padding rules; `same` average pooling divides by
/// the number of in-bounds cells, as Keras does).
public final class Pool2D: Layer, SpecBuildable {
    public enum Kind: String, Sendable { case max, average }
    public let kind: Kind
    public let poolSize: (h: Int, w: Int)
    public let strides: (h: Int, w: Int)
    public let samePadding: Bool

    public init(name: String, kind: Kind, poolSize: (Int, Int), strides: (Int, Int), samePadding: Bool) {
        self.kind = kind
        self.poolSize = (poolSize.0, poolSize.1)
        self.strides = (strides.0, strides.1)
        self.samePadding = samePadding
        super.init(name: name)
    }

    public override var typeName: String { kind == .max ? "MaxPool2D" : "AvgPool2D" }
    public override var summary: String { "\(poolSize.h)×\(poolSize.w)/\(strides.h), \(Padding(same: samePadding).rawValue)" }

    public override var spec: LayerSpec {
        LayerSpec(
            type: kind == .max ? .maxPool2d : .avgPool2d, name: name, kernelSize: [poolSize.h, poolSize.w],
            strides: [strides.h, strides.w], padding: Padding(same: samePadding))
    }

    /// Builds `max_pool2d` and `avg_pool2d`; strides default to the pool size, as in Keras.
    public static func make(_ s: LayerSpec, inputShape: [Int]) throws -> Layer {
        let pool = try s.pair(s.kernelSize, "kernelSize")
        return Pool2D(
            name: s.name, kind: s.type == .maxPool2d ? .max : .average, poolSize: pool,
            strides: try s.pair(s.strides ?? [pool.0, pool.1], "strides"), samePadding: s.samePadding)
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw ModelError.invalidConfig("layer '\(name)' expects (H, W, C) input, got \(input)") }
        let oh = spatialOutput(input: input[0], kernel: poolSize.h, stride: strides.h, same: samePadding).size
        let ow = spatialOutput(input: input[1], kernel: poolSize.w, stride: strides.w, same: samePadding).size
        guard oh > 0, ow > 0 else { throw ModelError.invalidConfig("layer '\(name)': pool larger than input \(input)") }
        return [oh, ow, input[2]]
    }

    /// x: (N, H, W, C) → (N, OH, OW, C).
    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor {
        guard x.rank == 4 else { throw ModelError.badInput("layer '\(name)' expects NHWC input, got shape \(x.shape)") }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let out = try outputShape(for: [h, w, c])
        let (oh, ow) = (out[0], out[1])
        let padTop = spatialOutput(input: h, kernel: poolSize.h, stride: strides.h, same: samePadding).padBefore
        let padLeft = spatialOutput(input: w, kernel: poolSize.w, stride: strides.w, same: samePadding).padBefore
        var y = Tensor(uninitialized: [n, oh, ow, c])
        let isMax = kind == .max
        y.withUnsafeMutableFloats { yp in
            x.withUnsafeFloats { xp in
                for b in 0..<n {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let dst = yp.baseAddress! + ((b * oh + oy) * ow + ox) * c
                            for ch in 0..<c { dst[ch] = isMax ? -.infinity : 0 }
                            var cells = 0
                            for ky in 0..<poolSize.h {
                                let iy = oy * strides.h + ky - padTop
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<poolSize.w {
                                    let ix = ox * strides.w + kx - padLeft
                                    if ix < 0 || ix >= w { continue }
                                    cells += 1
                                    let src = xp.baseAddress! + ((b * h + iy) * w + ix) * c
                                    if isMax {
                                        for ch in 0..<c { dst[ch] = max(dst[ch], src[ch]) }
                                    } else {
                                        for ch in 0..<c { dst[ch] += src[ch] }
                                    }
                                }
                            }
                            if !isMax { let inv = 1 / Float(cells); for ch in 0..<c { dst[ch] *= inv } }
                        }
                    }
                }
            }
        }
        return y
    }
}

/// Mean over H and W of NHWC images: (N, H, W, C) → (N, C).
public final class GlobalAvgPool2D: Layer, SpecBuildable {
    public override var spec: LayerSpec { LayerSpec(type: .globalAvgPool2d, name: name) }
    public static func make(_ s: LayerSpec, inputShape: [Int]) throws -> Layer { GlobalAvgPool2D(name: s.name) }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw ModelError.invalidConfig("layer '\(name)' expects (H, W, C) input, got \(input)") }
        return [input[2]]
    }

    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor {
        guard x.rank == 4 else { throw ModelError.badInput("layer '\(name)' expects NHWC input, got shape \(x.shape)") }
        let (n, hw, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        var y = Tensor(zeros: [n, c])
        y.withUnsafeMutableFloats { yp in
            x.withUnsafeFloats { xp in
                for b in 0..<n {
                    let dst = yp.baseAddress! + b * c
                    for p in 0..<hw {
                        let src = xp.baseAddress! + (b * hw + p) * c
                        for ch in 0..<c { dst[ch] += src[ch] }
                    }
                    let inv = 1 / Float(hw)
                    for ch in 0..<c { dst[ch] *= inv }
                }
            }
        }
        return y
    }
}
