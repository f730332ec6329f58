import Tensors

/// A fully connected layer, PyTorch layout: `y = act(x · weightᵀ + bias)`.
/// weight: (outFeatures, inFeatures); bias: (outFeatures).
public final class Linear: Layer, ActivatedLinear, SpecBuildable {
    public let inFeatures: Int
    public let outFeatures: Int
    public let useBias: Bool
    public let activation: Activation
    /// The weight packed for the GEMM kernel; rebuilt by ``prepare()`` whenever the weight changes.
    public private(set) var packed: PackedMatrix
    /// The weight in CSR when pruning left it sparse enough for the sparse kernel to win at some batch size
    /// (``SparseMatrix/isFaster(rows:)`` picks per call); nil for dense weights.
    public private(set) var sparse: SparseMatrix?

    public init(name: String = "", inFeatures: Int, outFeatures: Int, useBias: Bool = true, activation: Activation = .linear) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.useBias = useBias
        self.activation = activation
        packed = PackedMatrix(Tensor(zeros: [outFeatures, inFeatures]))
        super.init(name: name)
        declareParameter("weight", shape: [outFeatures, inFeatures])
        if useBias { declareParameter("bias", shape: [outFeatures]) }
    }

    public override func prepare() {
        packed = PackedMatrix(parameter("weight"))
        sparse = SparseMatrix(parameter("weight"))
    }

    public override var summary: String { "\(inFeatures) → \(outFeatures)\(activation == .linear ? "" : ", \(activation.rawValue)")" }

    public override var spec: LayerSpec {
        LayerSpec(type: .dense, name: name, inFeatures: inFeatures, outFeatures: outFeatures, activation: activation, useBias: useBias)
    }

    public static func make(_ s: LayerSpec, inputShape: [Int]) throws -> Layer {
        Linear(
            name: s.name, inFeatures: s.inFeatures ?? inputShape.last ?? 0, outFeatures: try s.required(s.outFeatures, "outFeatures"),
            useBias: s.useBias ?? true, activation: s.activation ?? .linear)
    }

    /// x: (..., inFeatures) → (..., outFeatures).
    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor { try linearForward(self, x, on: executor) }

    public var biasTensor: Tensor? { useBias ? parameter("bias") : nil }

    public func matmul(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, on executor: Executor) {
        if let sparse, sparse.isFaster(rows: rows) {
            sparse.multiply(x, rows: rows, into: y, on: executor)
        } else {
            packed.multiply(x, rows: rows, into: y, on: executor)
        }
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        try linearOutputShape(name: name, inFeatures: inFeatures, outFeatures: outFeatures, input: input)
    }
}
