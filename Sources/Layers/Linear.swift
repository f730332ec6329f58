import Tensors

/// A fully connected layer, PyTorch layout: `y = act(x · weightᵀ + bias)`.
/// weight: (outFeatures, inFeatures); bias: (outFeatures).
public final class Linear: Layer, LinearOperator {
    public let inFeatures: Int
    public let outFeatures: Int
    public let useBias: Bool
    public var activation: Activation
    private var packedRevision = -1
    private var packedWeight: PackedMatrix?

    /// The weight packed for the GEMM kernel, rebuilt when the parameter changes.
    public var packed: PackedMatrix {
        if packedRevision != revision || packedWeight == nil {
            packedWeight = PackedMatrix(parameter("weight"))
            packedRevision = revision
        }
        return packedWeight!
    }

    public init(name: String = "", inFeatures: Int, outFeatures: Int, useBias: Bool = true, activation: Activation = .linear) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.useBias = useBias
        self.activation = activation
        super.init(name: name)
        declareParameter("weight", shape: [outFeatures, inFeatures])
        if useBias { declareParameter("bias", shape: [outFeatures]) }
    }

    public override var summary: String { "\(inFeatures) → \(outFeatures)\(activation == .linear ? "" : ", \(activation.rawValue)")" }

    public override var spec: LayerSpec {
        LayerSpec(type: "dense", name: name, inFeatures: inFeatures, outFeatures: outFeatures, activation: activation, useBias: useBias)
    }

    /// x: (..., inFeatures) → (..., outFeatures).
    public override func forward(_ x: Tensor) throws -> Tensor {
        guard x.shape.last == inFeatures else {
            throw ModelError.badInput("layer '\(name)' expects last dimension \(inFeatures), got shape \(x.shape)")
        }
        var y = packed.multiply(x)
        let rows = y.count / outFeatures
        let bias = useBias ? parameter("bias") : nil
        y.withUnsafeMutableFloats { yp in
            if let bias {
                bias.withUnsafeFloats { activation.applyWithBias(yp.baseAddress!, bias: $0.baseAddress!, rows: rows, cols: outFeatures) }
            } else {
                activation.apply(yp.baseAddress!, rows: rows, cols: outFeatures)
            }
        }
        return y
    }

    public var biasTensor: Tensor? { useBias ? parameter("bias") : nil }

    public func matmul(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        packed.multiply(x, rows: rows, into: y)
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        try linearOutputShape(name: name, inFeatures: inFeatures, outFeatures: outFeatures, input: input)
    }
}
