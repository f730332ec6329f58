import Tensors

/// 2-D convolution over NHWC images, computed as im2col + one GEMM.
/// weight: (filters, kh, kw, inChannels) — so a patch row of im2col times weightᵀ gives NHWC output directly;
/// bias: (filters).
public final class Conv2D: Layer, SpecBuildable {
    public let inChannels: Int
    public let filters: Int
    public let kernelSize: (h: Int, w: Int)
    public let strides: (h: Int, w: Int)
    public let samePadding: Bool
    public let useBias: Bool
    public let activation: Activation
    /// weight as (filters, kh·kw·inChannels), packed for the GEMM; rebuilt by ``prepare()``.
    private var packedWeight: PackedMatrix
    /// The same weight in CSR when pruning made it sparse (see ``Linear/sparse``).
    private var sparseWeight: SparseMatrix?

    public init(
        name: String, inChannels: Int, filters: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
        samePadding: Bool, useBias: Bool = true, activation: Activation = .linear
    ) {
        self.inChannels = inChannels
        self.filters = filters
        self.kernelSize = (kernelSize.0, kernelSize.1)
        self.strides = (strides.0, strides.1)
        self.samePadding = samePadding
        self.useBias = useBias
        self.activation = activation
        packedWeight = PackedMatrix(Tensor(zeros: [filters, kernelSize.0 * kernelSize.1 * inChannels]))
        super.init(name: name)
        declareParameter("weight", shape: [filters, kernelSize.0, kernelSize.1, inChannels])
        if useBias { declareParameter("bias", shape: [filters]) }
    }

    public override func prepare() {
        let w = parameter("weight").reshaped([filters, kernelSize.h * kernelSize.w * inChannels])
        packedWeight = PackedMatrix(w)
        sparseWeight = SparseMatrix(w)
    }

    public override var summary: String {
        "\(inChannels) → \(filters), \(kernelSize.h)×\(kernelSize.w)/\(strides.h), \(Padding(same: samePadding).rawValue)"
            + (activation == .linear ? "" : ", \(activation.rawValue)")
    }

    public override var spec: LayerSpec {
        LayerSpec(
            type: .conv2d, name: name, inFeatures: inChannels, outFeatures: filters, kernelSize: [kernelSize.h, kernelSize.w],
            strides: [strides.h, strides.w], padding: Padding(same: samePadding), activation: activation, useBias: useBias)
    }

    public static func make(_ s: LayerSpec, inputShape: [Int]) throws -> Layer {
        Conv2D(
            name: s.name, inChannels: s.inFeatures ?? inputShape.last ?? 0, filters: try s.required(s.outFeatures, "outFeatures"),
            kernelSize: try s.pair(s.kernelSize, "kernelSize"), strides: try s.pair(s.strides ?? [1, 1], "strides"),
            samePadding: s.samePadding, useBias: s.useBias ?? true, activation: s.activation ?? .linear)
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        try geometry.outputSize(for: input) + [filters]
    }

    /// The window geometry, shared with quantized convolutions.
    public var geometry: ConvGeometry {
        ConvGeometry(name: name, inChannels: inChannels, kernelSize: kernelSize, strides: strides, samePadding: samePadding)
    }

    /// Patch rows for one GEMM (see ``ConvGeometry/im2col(_:)``).
    public func im2col(_ x: Tensor) throws -> (cols: Tensor, n: Int, oh: Int, ow: Int) { try geometry.im2col(x) }

    /// x: (N, H, W, inChannels) → (N, OH, OW, filters).
    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor {
        let g = geometry
        let (n, oh, ow) = try g.outputDimensions(x)
        let rows = n * oh * ow
        var y = Tensor(uninitialized: [n, oh, ow, filters])
        // The patch matrix (rows, patch) lives in the executor's scratch: only the output is allocated.
        executor.withScratch(floats: rows * g.patch) { cols in
            g.im2col(x, into: cols)
            y.withUnsafeMutableFloats { yp in
                if let sparseWeight, sparseWeight.isFaster(rows: rows) {
                    sparseWeight.multiply(cols, rows: rows, into: yp.baseAddress!, on: executor)
                } else {
                    packedWeight.multiply(cols, rows: rows, into: yp.baseAddress!, on: executor)
                }
            }
        }
        activation.apply(to: &y, bias: useBias ? parameter("bias") : nil, on: executor)
        return y
    }
}

/// Where a convolution's windows fall: kernel, strides and TensorFlow padding over NHWC input.
public struct ConvGeometry: Sendable {
    public let name: String
    public let inChannels: Int
    public let kernelSize: (h: Int, w: Int)
    public let strides: (h: Int, w: Int)
    public let samePadding: Bool

    /// Values per patch: kh · kw · inChannels.
    public var patch: Int { kernelSize.h * kernelSize.w * inChannels }

    /// (OH, OW) for an (H, W, C) input.
    public func outputSize(for input: [Int]) throws -> [Int] {
        guard input.count == 3, input[2] == inChannels else {
            throw ModelError.invalidConfig("layer '\(name)' expects (H, W, \(inChannels)) input, previous layer gives \(input)")
        }
        let oh = spatialOutput(input: input[0], kernel: kernelSize.h, stride: strides.h, same: samePadding).size
        let ow = spatialOutput(input: input[1], kernel: kernelSize.w, stride: strides.w, same: samePadding).size
        guard oh > 0, ow > 0 else { throw ModelError.invalidConfig("layer '\(name)': kernel larger than input \(input)") }
        return [oh, ow]
    }

    /// Patch rows of x for one GEMM: x (N, H, W, inChannels) → cols (N·OH·OW, kh·kw·inChannels), zero where the
    /// window hangs over the padding; also returns (N, OH, OW).
    public func im2col(_ x: Tensor) throws -> (cols: Tensor, n: Int, oh: Int, ow: Int) {
        let (n, oh, ow) = try outputDimensions(x)
        var cols = Tensor(uninitialized: [n * oh * ow, patch])
        cols.withUnsafeMutableFloats { im2col(x, into: $0.baseAddress!) }
        return (cols, n, oh, ow)
    }

    /// (N, OH, OW) of an NHWC input; throws when it does not fit the window.
    public func outputDimensions(_ x: Tensor) throws -> (n: Int, oh: Int, ow: Int) {
        guard x.rank == 4 else { throw ModelError.badInput("layer '\(name)' expects NHWC input, got shape \(x.shape)") }
        let out = try outputSize(for: Array(x.shape.dropFirst()))
        return (x.shape[0], out[0], out[1])
    }

    /// Writes the patch rows of x (checked by ``outputDimensions(_:)``) to `cols` (N·OH·OW, patch), padding as zeros:
    /// the raw form lets convolutions take the buffer from their executor's scratch instead of allocating per call.
    public func im2col(_ x: Tensor, into cols: UnsafeMutablePointer<Float>) {
        let x = x.toFloat32()
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let oh = spatialOutput(input: h, kernel: kernelSize.h, stride: strides.h, same: samePadding).size
        let ow = spatialOutput(input: w, kernel: kernelSize.w, stride: strides.w, same: samePadding).size
        let padTop = spatialOutput(input: h, kernel: kernelSize.h, stride: strides.h, same: samePadding).padBefore
        let padLeft = spatialOutput(input: w, kernel: kernelSize.w, stride: strides.w, same: samePadding).padBefore
        let patch = self.patch
        let c = inChannels, kh = kernelSize.h, kw = kernelSize.w, sh = strides.h, sw = strides.w
        cols.update(repeating: 0, count: n * oh * ow * patch)
        x.withUnsafeFloats { xp in
            for b in 0..<n {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let row = cols + ((b * oh + oy) * ow + ox) * patch
                        for ky in 0..<kh {
                            let iy = oy * sh + ky - padTop
                            if iy < 0 || iy >= h { continue }
                            for kx in 0..<kw {
                                let ix = ox * sw + kx - padLeft
                                if ix < 0 || ix >= w { continue }
                                let src = xp.baseAddress! + ((b * h + iy) * w + ix) * c
                                (row + (ky * kw + kx) * c).update(from: src, count: c)
                            }
                        }
                    }
                }
            }
        }
    }
}
