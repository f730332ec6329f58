import Tensors

/// An int8 Conv2D: im2col patches, then an ``Int8Linear`` over them (child `gemm`, weight (filters, kh·kw·in)
/// in the same order as Conv2D's (filters, kh, kw, in)).
public final class Int8Conv2D: Layer, QuantizedModule {
    public let geometry: ConvGeometry
    public let filters: Int
    public let gemm: Int8Linear

    public init(
        geometry: ConvGeometry, filters: Int, useBias: Bool, activation: Activation, mode: Int8Linear.ActivationMode,
        method: QuantizationMethod = .rtn
    ) {
        self.geometry = geometry
        self.filters = filters
        gemm = Int8Linear(
            name: "gemm", inFeatures: geometry.patch, outFeatures: filters, useBias: useBias, activation: activation,
            mode: mode, inputScale: false, method: method)
        super.init(name: geometry.name)
        addChild("gemm", gemm)
    }

    public override var typeName: String { "Int8Conv2D" }
    public override var summary: String {
        "\(geometry.inChannels) → \(filters), \(geometry.kernelSize.h)×\(geometry.kernelSize.w)/\(geometry.strides.h), \(Padding(same: geometry.samePadding).rawValue), int8, activations \(gemm.mode.rawValue)"
    }

    public override var spec: LayerSpec {
        LayerSpec(
            type: .conv2d, name: name, inFeatures: geometry.inChannels, outFeatures: filters,
            kernelSize: [geometry.kernelSize.h, geometry.kernelSize.w], strides: [geometry.strides.h, geometry.strides.w],
            padding: Padding(same: geometry.samePadding), activation: gemm.activation, useBias: gemm.useBias)
    }

    public var quantSpec: QuantizedModuleSpec {
        var s = gemm.quantSpec
        s.kind = .int8Conv2d
        s.name = name
        s.conv = .init(
            inChannels: geometry.inChannels, kernelSize: [geometry.kernelSize.h, geometry.kernelSize.w],
            strides: [geometry.strides.h, geometry.strides.w], padding: Padding(same: geometry.samePadding))
        return s
    }

    public static func make(_ s: QuantizedModuleSpec) throws -> any QuantizedModule {
        guard let c = s.conv, c.kernelSize.count == 2, c.strides.count == 2 else {
            throw ModelError.invalidConfig("module '\(s.name)': int8-conv2d needs conv geometry")
        }
        let g = ConvGeometry(
            name: s.name, inChannels: c.inChannels, kernelSize: (c.kernelSize[0], c.kernelSize[1]),
            strides: (c.strides[0], c.strides[1]), samePadding: c.padding == .same)
        return Int8Conv2D(
            geometry: g, filters: s.outFeatures, useBias: s.useBias, activation: s.activation, mode: s.activationMode ?? .none,
            method: s.method ?? .rtn)
    }

    public var bitsPerWeight: Double { gemm.bitsPerWeight }
    public var parameterEncodings: [String: String] { [:] }

    public override func outputShape(for input: [Int]) throws -> [Int] { try geometry.outputSize(for: input) + [filters] }

    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor {
        let (n, oh, ow) = try geometry.outputDimensions(x)
        let rows = n * oh * ow
        var y = Tensor(uninitialized: [n, oh, ow, filters])
        // The patch matrix (rows, patch) lives in the executor's scratch: only the output is allocated.
        executor.withScratch(floats: rows * geometry.patch) { cols in
            geometry.im2col(x, into: cols)
            y.withUnsafeMutableFloats { gemm.matmul(cols, rows: rows, into: $0.baseAddress!, on: executor) }
        }
        gemm.activation.apply(to: &y, bias: gemm.biasTensor, on: executor)
        return y
    }
}
