import Tensors

/// How a quantized module is built, as stored in an artifact's `model.json` (`modules` maps a module path to its
/// spec); the fp32 tree is built first, then these modules replace the ones at their paths.
public struct QuantizedModuleSpec: Codable, Sendable, Equatable {
    public var kind: QuantizedModuleKind
    public var name: String
    public var inFeatures: Int
    public var outFeatures: Int
    public var useBias: Bool
    public var activation: Activation
    /// int8: weight-only (`none`, also when absent), `dynamic` or `static` activation quantization.
    public var activationMode: Int8Linear.ActivationMode?
    /// int4: group size along the input (32, 64 or 128).
    public var groupSize: Int?
    /// Whether activations are divided by a per-input-channel `input_scale` (SmoothQuant / AWQ).
    public var inputScale: Bool
    /// Quantization method that produced the weights, for reports (absent means rtn).
    public var method: QuantizationMethod?
    /// Window geometry of quantized convolutions.
    public var conv: ConvSpec?

    public struct ConvSpec: Codable, Sendable, Equatable {
        public var inChannels: Int
        public var kernelSize: [Int]
        public var strides: [Int]
        public var padding: Padding

        public init(inChannels: Int, kernelSize: [Int], strides: [Int], padding: Padding) {
            self.inChannels = inChannels; self.kernelSize = kernelSize; self.strides = strides; self.padding = padding
        }
    }

    public init(
        kind: QuantizedModuleKind, name: String, inFeatures: Int, outFeatures: Int, useBias: Bool, activation: Activation,
        activationMode: Int8Linear.ActivationMode? = nil, groupSize: Int? = nil, inputScale: Bool = false,
        method: QuantizationMethod? = nil
    ) {
        self.kind = kind; self.name = name; self.inFeatures = inFeatures; self.outFeatures = outFeatures; self.useBias = useBias
        self.activation = activation; self.activationMode = activationMode; self.groupSize = groupSize; self.inputScale = inputScale
        self.method = method
    }

    /// An empty module for this spec (parameters are loaded afterwards).
    public func makeModule() throws -> Module {
        // Sizes come from model.json: check them before a module allocates its (out, in) weight and fp32 cache.
        guard inFeatures > 0, outFeatures > 0 else {
            throw ModelError.invalidConfig("module '\(name)': inFeatures \(inFeatures) and outFeatures \(outFeatures) must be positive")
        }
        do { try MemoryBudget.check(shape: [outFeatures, inFeatures], copies: 2, what: "module '\(name)' weight") } catch let e as TensorError {
            throw ModelError.invalidConfig(e.description)
        }
        return try kind.moduleType.make(self)
    }
}

/// A module whose weights are stored in fewer bits.
public protocol QuantizedModule: Module {
    var quantSpec: QuantizedModuleSpec { get }
    /// An empty module for `spec` (the inverse of ``quantSpec``; parameters are loaded afterwards).
    static func make(_ spec: QuantizedModuleSpec) throws -> any QuantizedModule
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
