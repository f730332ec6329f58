import CKernels
import Tensors

/// A Linear with int8 weights, symmetric per output channel: `W ≈ weight · weight_scale[out]`.
///
/// Parameters: weight I8 (out, in); weight_scale (out); bias (out) if any; input_scale (in) when smoothed
/// (activations are divided by it; the weights were multiplied by it before quantizing); act_scale (1) and
/// act_zero_point I32 (1) for static activation quantization.
///
/// Modes: `none` computes in fp32 with the dequantized weight (weight-only: smaller artifact, same speed);
/// `dynamic` quantizes each activation row to u8 at run time and uses the u8×s8 GEMM (AVX-512 VNNI / AVX2);
/// `static` uses one calibrated activation scale and zero point.
public final class Int8Linear: Layer, ActivatedLinear, QuantizedModule {
    /// How activations are quantized (recipes' `activations.mode`, artifacts' `activationMode`).
    public enum ActivationMode: String, ConfigEnum { case none, dynamic, `static` }

    public let inFeatures: Int
    public let outFeatures: Int
    public let useBias: Bool
    public let activation: Activation
    public let mode: ActivationMode
    public let hasInputScale: Bool
    public let method: QuantizationMethod
    /// What the weight became for the kernels, rebuilt by ``prepare()`` on every weight change.
    private var prepared: PreparedWeight

    /// Weight-only layers compute in fp32 with the dequantized weight; the others run the u8×s8 kernel. A pruned
    /// weight also keeps its sparse form (fp32 CSR, or int8 blocks bit-exact with the dense int8 kernel), used per
    /// call when the measured crossover for that many rows says it is faster.
    private enum PreparedWeight {
        case dequantized(PackedMatrix, SparseMatrix?)
        case packedInt8(PackedInt8, SparseInt8Matrix?)
    }

    public init(
        name: String, inFeatures: Int, outFeatures: Int, useBias: Bool, activation: Activation, mode: ActivationMode,
        inputScale: Bool, method: QuantizationMethod = .rtn
    ) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.useBias = useBias
        self.activation = activation
        self.mode = mode
        self.hasInputScale = inputScale
        self.method = method
        prepared = .dequantized(PackedMatrix(Tensor(zeros: [outFeatures, inFeatures])), nil)
        super.init(name: name)
        declareParameter("weight", shape: [outFeatures, inFeatures], dtype: .int8)
        declareParameter("weight_scale", shape: [outFeatures])
        if useBias { declareParameter("bias", shape: [outFeatures]) }
        if inputScale { declareParameter("input_scale", shape: [inFeatures]) }
        if mode == .static {
            declareParameter("act_scale", shape: [1])
            declareParameter("act_zero_point", shape: [1], dtype: .int32)
        }
    }

    public override var typeName: String { "Int8Linear" }
    public override var summary: String {
        "\(inFeatures) → \(outFeatures), int8 per-channel, activations \(mode.rawValue)\(hasInputScale ? ", smoothed" : ""), \(method.rawValue)"
            + (activation == .linear ? "" : ", \(activation.rawValue)")
    }

    /// Rebuilds the chain as fp32 `dense`; the artifact's module map swaps this module back in.
    public override var spec: LayerSpec {
        LayerSpec(type: .dense, name: name, inFeatures: inFeatures, outFeatures: outFeatures, activation: activation, useBias: useBias)
    }

    public var quantSpec: QuantizedModuleSpec {
        QuantizedModuleSpec(
            kind: .int8Linear, name: name, inFeatures: inFeatures, outFeatures: outFeatures, useBias: useBias,
            activation: activation, activationMode: mode, inputScale: hasInputScale, method: method)
    }

    public static func make(_ s: QuantizedModuleSpec) throws -> any QuantizedModule {
        Int8Linear(
            name: s.name, inFeatures: s.inFeatures, outFeatures: s.outFeatures, useBias: s.useBias, activation: s.activation,
            mode: s.activationMode ?? .none, inputScale: s.inputScale, method: s.method ?? .rtn)
    }

    public var bitsPerWeight: Double { 8 + 32 / Double(inFeatures) }

    public var parameterEncodings: [String: String] {
        var e = ["weight": "int8-per-channel", "weight_scale": "f32"]
        if useBias { e["bias"] = "f32" }
        if hasInputScale { e["input_scale"] = "f32" }
        if mode == .static { e["act_scale"] = "f32"; e["act_zero_point"] = "i32" }
        return e
    }

    public var biasTensor: Tensor? { useBias ? parameter("bias") : nil }

    /// Packs or dequantizes the weight (after every change of weight or scale).
    public override func prepare() {
        let w = parameter("weight"), scale = parameter("weight_scale")
        if mode == .none {
            var d = Tensor(uninitialized: [outFeatures, inFeatures])
            d.withUnsafeMutableFloats { dp in
                w.withUnsafeElements(as: Int8.self) { wp in
                    scale.withUnsafeFloats { sp in
                        ck_dequantize_rows_s8(wp.baseAddress!, sp.baseAddress!, outFeatures, inFeatures, dp.baseAddress!)
                    }
                }
            }
            prepared = .dequantized(PackedMatrix(d), SparseMatrix(d))
        } else {
            prepared = .packedInt8(PackedInt8(w, n: outFeatures, k: inFeatures), SparseInt8Matrix(w))
        }
    }

    /// The sparse form of the weight the kernels may use (nil when it is too dense to win), for `inspect` and tests.
    public var sparseKernel: (kind: String, density: Double)? {
        switch prepared {
        case let .dequantized(_, sparse?): return ("fp32-csr", sparse.density)
        case let .packedInt8(_, sparse?): return ("int8-b4", sparse.density)
        default: return nil
        }
    }

    /// y(rows, out) = x(rows, in) · Ŵᵀ (bias not added).
    public func matmul(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, on executor: Executor) {
        withSmoothedInput(
            x, rows: rows, k: inFeatures, inputScale: hasInputScale ? parameter("input_scale") : nil, on: executor
        ) { source in
            switch prepared {
            case let .dequantized(_, sparse?) where sparse.isFaster(rows: rows):
                sparse.multiply(source, rows: rows, into: y, on: executor)
            case let .dequantized(matrix, _): matrix.multiply(source, rows: rows, into: y, on: executor)
            case let .packedInt8(packed, sparse):
                multiplyInt8(source, rows: rows, packed: packed, sparse: sparse?.isFaster(rows: rows) == true ? sparse : nil, into: y, on: executor)
            }
        }
    }

    private func multiplyInt8(
        _ source: UnsafePointer<Float>, rows: Int, packed: PackedInt8, sparse: SparseInt8Matrix?, into y: UnsafeMutablePointer<Float>,
        on executor: Executor
    ) {
        // One scratch block: u8 codes (rows·in bytes, rounded up to floats), then per-row scale and zero point.
        let codeFloats = (rows * inFeatures + 3) / 4
        executor.withScratch(floats: codeFloats + 2 * rows) { scratch in
            let q = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: UInt8.self)
            let aScale = scratch + codeFloats
            let aZero = UnsafeMutableRawPointer(scratch + codeFloats + rows).assumingMemoryBound(to: Int32.self)
            quantizeActivations(source, rows: rows, q: q, scale: aScale, zeroPoint: aZero)
            parameter("weight_scale").withUnsafeFloats { ws in
                if let sparse {
                    sparse.multiply(
                        q, aScale: aScale, aZeroPoint: aZero, weightScale: ws.baseAddress!, bias: nil, rows: rows, into: y, on: executor)
                    return
                }
                QuantOps.gemmU8S8(
                    q, aScale: aScale, aZeroPoint: aZero, packed: packed.pointer, weightScale: ws.baseAddress!, bias: nil,
                    into: y, m: rows, n: outFeatures, k: inFeatures, on: executor)
            }
        }
    }

    private func quantizeActivations(
        _ source: UnsafePointer<Float>, rows: Int, q: UnsafeMutablePointer<UInt8>, scale aScale: UnsafeMutablePointer<Float>,
        zeroPoint aZero: UnsafeMutablePointer<Int32>
    ) {
        if mode == .dynamic {
            QuantOps.quantizeRowsU8(source, rows: rows, k: inFeatures, into: q, scale: aScale, zeroPoint: aZero)
        } else {
            let s = parameter("act_scale").floats[0], z = parameter("act_zero_point").withUnsafeElements(as: Int32.self) { $0[0] }
            ck_quantize_u8_fixed(source, rows * inFeatures, s, z, q)
            for r in 0..<rows { aScale[r] = s; aZero[r] = z }
        }
    }

    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor { try linearForward(self, x, on: executor) }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        try linearOutputShape(name: name, inFeatures: inFeatures, outFeatures: outFeatures, input: input)
    }
}

/// A Linear-like layer with a fused activation: fp32 ``Linear``, ``Int8Linear``, ``Int4Linear``.
public protocol ActivatedLinear: LinearOperator, Layer {
    var activation: Activation { get }
}

/// forward() of a Linear-like layer: x (..., in) → act(x · Wᵀ + bias) (..., out).
func linearForward(_ op: some ActivatedLinear, _ x: Tensor, on executor: Executor) throws -> Tensor {
    guard x.shape.last == op.inFeatures else {
        throw ModelError.badInput("layer '\(op.name)' expects last dimension \(op.inFeatures), got shape \(x.shape)")
    }
    let rows = x.count / op.inFeatures
    var y = Tensor(uninitialized: Array(x.shape.dropLast()) + [op.outFeatures])
    let x32 = x.toFloat32()
    executor.timed(.gemm) {
        y.withUnsafeMutableFloats { yp in x32.withUnsafeFloats { xp in op.matmul(xp.baseAddress!, rows: rows, into: yp.baseAddress!, on: executor) } }
    }
    op.activation.apply(to: &y, bias: op.biasTensor, on: executor)
    return y
}

/// Output shape of a Linear-like layer: (..., in) → (..., out).
func linearOutputShape(name: String, inFeatures: Int, outFeatures: Int, input: [Int]) throws -> [Int] {
    guard input.last == inFeatures else {
        throw ModelError.invalidConfig("layer '\(name)' expects \(inFeatures) input features, got \(input)")
    }
    return Array(input.dropLast()) + [outFeatures]
}

/// An int8 weight (n, k) packed for the u8×s8 kernel (`ck_pack_b_s8`), freed with its owner.
final class PackedInt8: @unchecked Sendable {
    // @unchecked: the block is written once in init and only read afterwards.
    let pointer: UnsafeMutableRawPointer

    init(_ weight: Tensor, n: Int, k: Int) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(ck_packed_b_size(n, k), 1), alignment: 64)
        weight.withUnsafeElements(as: Int8.self) { ck_pack_b_s8($0.baseAddress!, n, k, pointer) }
    }

    deinit { pointer.deallocate() }
}
