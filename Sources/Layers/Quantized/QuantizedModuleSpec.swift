import Tensors

/// How a quantized module is built, as stored in an artifact's `model.json` (`modules` maps a module path to its
/// spec); the fp32 tree is built first, then these modules replace the ones at their paths.
public struct QuantizedModuleSpec: Codable, Sendable, Equatable {
    /// `int8-linear`, `int8-conv2d`, `int8-embedding` or `int4-linear`.
    public var kind: String
    public var name: String
    public var inFeatures: Int
    public var outFeatures: Int
    public var useBias: Bool
    public var activation: Activation
    /// int8: `none` (weight-only), `dynamic` or `static` activation quantization.
    public var activationMode: String?
    /// int4: group size along the input (32, 64 or 128).
    public var groupSize: Int?
    /// Whether activations are divided by a per-input-channel `input_scale` (SmoothQuant / AWQ).
    public var inputScale: Bool
    /// Quantization method that produced the weights (rtn, gptq, awq), for reports.
    public var method: String?
    /// Window geometry of quantized convolutions.
    public var conv: ConvSpec?

    public struct ConvSpec: Codable, Sendable, Equatable {
        public var inChannels: Int
        public var kernelSize: [Int]
        public var strides: [Int]
        public var padding: String
    }

    public init(
        kind: String, name: String, inFeatures: Int, outFeatures: Int, useBias: Bool, activation: Activation,
        activationMode: String? = nil, groupSize: Int? = nil, inputScale: Bool = false, method: String? = nil
    ) {
        self.kind = kind; self.name = name; self.inFeatures = inFeatures; self.outFeatures = outFeatures; self.useBias = useBias
        self.activation = activation; self.activationMode = activationMode; self.groupSize = groupSize; self.inputScale = inputScale
        self.method = method
    }

    /// An empty module for this spec (parameters are loaded afterwards).
    public func makeModule() throws -> Module {
        switch kind {
        case "int8-linear":
            guard let mode = Int8Linear.ActivationMode(rawValue: activationMode ?? "none") else {
                throw ModelError.invalidConfig(
                    "module '\(name)': activation mode '\(activationMode ?? "")' is not one of none, dynamic, static")
            }
            return Int8Linear(
                name: name, inFeatures: inFeatures, outFeatures: outFeatures, useBias: useBias, activation: activation,
                mode: mode, inputScale: inputScale, method: method ?? "rtn")
        case "int8-conv2d":
            guard let c = conv, c.kernelSize.count == 2, c.strides.count == 2,
                let mode = Int8Linear.ActivationMode(rawValue: activationMode ?? "none")
            else {
                throw ModelError.invalidConfig("module '\(name)': int8-conv2d needs conv geometry and an activation mode")
            }
            let g = ConvGeometry(
                name: name, inChannels: c.inChannels, kernelSize: (c.kernelSize[0], c.kernelSize[1]),
                strides: (c.strides[0], c.strides[1]), samePadding: c.padding == "same")
            return Int8Conv2D(
                geometry: g, filters: outFeatures, useBias: useBias, activation: activation, mode: mode, method: method ?? "rtn")
        case "int8-embedding":
            return Int8Embedding(count: outFeatures, dim: inFeatures)
        case "int4-linear":
            return try Int4Linear(
                name: name, inFeatures: inFeatures, outFeatures: outFeatures, useBias: useBias, activation: activation,
                groupSize: groupSize ?? 32, inputScale: inputScale, method: method ?? "rtn")
        default:
            throw ModelError.invalidConfig(
                "module '\(name)': unknown quantized module kind '\(kind)' (int8-linear, int8-conv2d, int8-embedding, int4-linear)")
        }
    }
}

/// A module whose weights are stored in fewer bits.
public protocol QuantizedModule: Module {
    var quantSpec: QuantizedModuleSpec { get }
    /// Storage bits per weight, scales included.
    var bitsPerWeight: Double { get }
    /// Encoding of each parameter for `model.json` (`int8-per-channel`, `q4-g32`, `f32`).
    var parameterEncodings: [String: String] { get }
}

/// Runs `body` with x (rows, k), or, for a smoothed module, with x divided column-wise by `inputScale` (k): the
/// activation side of SmoothQuant/AWQ (the weights were multiplied by the same scale).
func withSmoothedInput(
    _ x: UnsafePointer<Float>, rows: Int, k: Int, inputScale: Tensor?, on executor: Executor, _ body: (UnsafePointer<Float>) -> Void
) {
    guard let inputScale else { return body(x) }
    executor.withScratch(floats: rows * k) { buffer in
        inputScale.withUnsafeFloats { divideColumns(x, by: $0.baseAddress!, rows: rows, k: k, into: buffer) }
        body(buffer)
    }
}

/// Divides each column of x (rows, k) by scale (k) into out. Division, not multiplication by a reciprocal, so the
/// result is exactly what calibration saw.
func divideColumns(_ x: UnsafePointer<Float>, by scale: UnsafePointer<Float>, rows: Int, k: Int, into out: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let src = x + r * k, dst = out + r * k
        for j in 0..<k { dst[j] = src[j] / scale[j] }
    }
}
