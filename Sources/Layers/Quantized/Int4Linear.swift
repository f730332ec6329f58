import CKernels
import Tensors

/// A Linear with 4-bit weights in groups along the input: blocks of 32 weights share one fp32 scale
/// (`ck_block_q4`, 20 bytes = 5 bits per weight); group sizes 64/128 repeat a scale over 2/4 blocks.
///
/// Parameters: weight U8 (out, blocks·20) raw blocks; bias (out) if any; input_scale (in) when smoothed (AWQ).
/// Small batches (≤ `onTheFlyMaxRows` rows) dequantize on the fly in the kernel; larger ones dequantize once
/// into a cached packed fp32 weight, which is faster when the weight is reused across many rows (the cache
/// costs fp32 memory at run time; the artifact stays 5 bits per weight).
public final class Int4Linear: Layer, ActivatedLinear, QuantizedModule {
    public let inFeatures: Int
    public let outFeatures: Int
    public let useBias: Bool
    public let activation: Activation
    public let groupSize: Int
    public let hasInputScale: Bool
    public let method: QuantizationMethod
    /// Rows up to which the on-the-fly kernel is used.
    public static let onTheFlyMaxRows = 8
    /// The weight dequantized and packed, for batches above `onTheFlyMaxRows`; rebuilt by ``prepare()``.
    private var dequantized: PackedMatrix

    public init(
        name: String, inFeatures: Int, outFeatures: Int, useBias: Bool, activation: Activation, groupSize: Int,
        inputScale: Bool, method: QuantizationMethod = .rtn
    ) throws {
        guard [32, 64, 128].contains(groupSize) else {
            throw ModelError.invalidConfig("module '\(name)': group size \(groupSize) is not supported (32, 64, 128)")
        }
        guard inFeatures % groupSize == 0 else {
            throw ModelError.invalidConfig("module '\(name)': group size \(groupSize) does not divide the input dimension \(inFeatures)")
        }
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.useBias = useBias
        self.activation = activation
        self.groupSize = groupSize
        self.hasInputScale = inputScale
        self.method = method
        dequantized = PackedMatrix(Tensor(zeros: [outFeatures, inFeatures]))
        super.init(name: name)
        declareParameter("weight", shape: [outFeatures, QuantOps.q4RowBytes(inFeatures)], dtype: .uint8)
        if useBias { declareParameter("bias", shape: [outFeatures]) }
        if inputScale { declareParameter("input_scale", shape: [inFeatures]) }
    }

    public override var typeName: String { "Int4Linear" }
    public override var summary: String {
        "\(inFeatures) → \(outFeatures), int4 group \(groupSize)\(hasInputScale ? ", smoothed" : ""), \(method.rawValue)"
            + (activation == .linear ? "" : ", \(activation.rawValue)")
    }

    public override var spec: LayerSpec {
        LayerSpec(type: .dense, name: name, inFeatures: inFeatures, outFeatures: outFeatures, activation: activation, useBias: useBias)
    }

    public var quantSpec: QuantizedModuleSpec {
        QuantizedModuleSpec(
            kind: .int4Linear, name: name, inFeatures: inFeatures, outFeatures: outFeatures, useBias: useBias,
            activation: activation, groupSize: groupSize, inputScale: hasInputScale, method: method)
    }

    public static func make(_ s: QuantizedModuleSpec) throws -> any QuantizedModule {
        try Int4Linear(
            name: s.name, inFeatures: s.inFeatures, outFeatures: s.outFeatures, useBias: s.useBias, activation: s.activation,
            groupSize: s.groupSize ?? 32, inputScale: s.inputScale, method: s.method ?? .rtn)
    }

    public var bitsPerWeight: Double { Double(QuantOps.q4RowBytes(inFeatures) * 8) / Double(inFeatures) }

    public var parameterEncodings: [String: String] {
        var e = ["weight": "q4-g\(groupSize)"]
        if useBias { e["bias"] = "f32" }
        if hasInputScale { e["input_scale"] = "f32" }
        return e
    }

    public var biasTensor: Tensor? { useBias ? parameter("bias") : nil }

    /// The index of the first q4 block whose scale is NaN or infinite (a corrupted artifact), or nil.
    public func firstNonFiniteBlockScale() -> Int? {
        let stride = MemoryLayout<ck_block_q4>.stride
        return parameter("weight").withUnsafeBytes { raw in
            (0..<(raw.count / stride)).first { !raw.loadUnaligned(fromByteOffset: $0 * stride, as: Float.self).isFinite }
        }
    }

    /// The weight as fp32 (out, in).
    public func dequantizedWeight() -> Tensor {
        var d = Tensor(uninitialized: [outFeatures, inFeatures])
        let w = parameter("weight")
        d.withUnsafeMutableFloats { dp in
            w.withUnsafeBytes {
                ck_dequantize_q4($0.baseAddress!.assumingMemoryBound(to: ck_block_q4.self), outFeatures, inFeatures, dp.baseAddress!)
            }
        }
        return d
    }

    public override func prepare() { dequantized = PackedMatrix(dequantizedWeight()) }

    public func matmul(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, on executor: Executor) {
        withSmoothedInput(
            x, rows: rows, k: inFeatures, inputScale: hasInputScale ? parameter("input_scale") : nil, on: executor
        ) { source in
            if rows <= Self.onTheFlyMaxRows {
                parameter("weight").withUnsafeBytes {
                    QuantOps.gemmQ4(
                        source, blocks: $0.baseAddress!, bias: nil, into: y, m: rows, n: outFeatures, k: inFeatures, on: executor)
                }
            } else {
                dequantized.multiply(source, rows: rows, into: y, on: executor)
            }
        }
    }

    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor { try linearForward(self, x, on: executor) }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        try linearOutputShape(name: name, inFeatures: inFeatures, outFeatures: outFeatures, input: input)
    }
}
