import Tensors

/// A linear chain of layers (Keras Sequential and linear functional models, and MLPs from safetensors).
/// Each layer is a child module named after its source layer (`conv2d`, `dense_1`, …).
public final class SequentialModel: Module {
    /// Input shape without the batch dimension, e.g. (8, 8, 1).
    public let inputShape: [Int]
    /// The layers, in order (kept in sync with ``Module/children``).
    public private(set) var layers: [Layer]
    /// Shape of each layer's output (batch excluded), checked when the chain is built or edited.
    public private(set) var outputShapes: [[Int]] = []

    /// Builds the chain, checking that every layer accepts its predecessor's output shape.
    public init(inputShape: [Int], layers: [Layer]) throws {
        self.inputShape = inputShape
        self.layers = layers
        super.init()
        guard inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError.invalidConfig("input shape \(inputShape) must hold positive sizes")
        }
        try Self.checkActivationBudget(inputShape, what: "input")
        var shape = inputShape
        for layer in layers {
            guard !children.contains(where: { $0.name == layer.name }) else {
                throw ModelError.invalidConfig("two layers are named '\(layer.name)'")
            }
            shape = try layer.outputShape(for: shape)
            try Self.checkActivationBudget(shape, what: "layer '\(layer.name)' output")
            outputShapes.append(shape)
            addChild(layer.name, layer)
        }
    }

    /// One item's activations must fit in memory (a corrupt input shape can ask for terabytes per item).
    private static func checkActivationBudget(_ shape: [Int], what: String) throws {
        do { try MemoryBudget.check(shape: shape, what: "\(what) per item") } catch let e as TensorError {
            throw ModelError.invalidConfig(e.description)
        }
    }

    /// Builds a chain from layer specs (as stored in `model.json`); parameters start at zero.
    public convenience init(inputShape: [Int], specs: [LayerSpec]) throws {
        var shape = inputShape
        var layers: [Layer] = []
        for spec in specs {
            let layer = try SequentialModel.makeLayer(spec, inputShape: shape)
            shape = try layer.outputShape(for: shape)
            layers.append(layer)
        }
        try self.init(inputShape: inputShape, layers: layers)
    }

    /// Output shape without the batch dimension.
    public var outputShape: [Int] { outputShapes.last ?? inputShape }

    /// Architecture of every layer.
    public var specs: [LayerSpec] { layers.map(\.spec) }

    public override func prepare() {
        layers = children.map { child in
            guard let layer = child.module as? Layer else {
                preconditionFailure("child \(child.name) of a SequentialModel must be a Layer")
            }
            return layer
        }
        var shape = inputShape
        outputShapes = layers.map { layer in
            shape = (try? layer.outputShape(for: shape)) ?? shape
            return shape
        }
    }

    /// Runs the chain. x: (N, inputShape...) → (N, outputShape...).
    public func forward(_ x: Tensor, on executor: Executor) throws -> Tensor {
        guard Array(x.shape.dropFirst()) == inputShape else {
            throw ModelError.badInput(
                "model expects input shape (N, \(inputShape.map(String.init).joined(separator: ", "))), got \(x.shape)")
        }
        var h = x.toFloat32()
        for layer in layers { h = try executor.timed(Self.profileKind(of: layer)) { try layer.forward(h, on: executor) } }
        return h
    }

    /// The kind a layer's own time is charged to by a profiling executor (GEMMs and activations inside it are
    /// charged to their own kinds).
    static func profileKind(of layer: Layer) -> OpKind {
        switch layer {
        // Linear-likes time their own matmul as GEMM (linearForward); the rest of them (input conversion, output
        // allocation) is glue.
        case is Linear, is Int8Linear, is Int4Linear: return .other
        case is Conv2D, is Int8Conv2D: return .convolution
        case is Pool2D, is GlobalAvgPool2D: return .pooling
        case is BatchNorm: return .normalization
        case is ActivationLayer: return .activation
        default: return .other
        }
    }

    /// Folds every BatchNorm that directly follows a Dense or Conv2D without activation into that layer's
    /// weight and bias (exact up to float rounding), and drops the BatchNorm. Returns the folded names.
    @discardableResult
    public func foldBatchNorms() throws -> [String] {
        var folded: [String] = []
        var kept: [Layer] = []
        for layer in layers {
            if let bn = layer as? BatchNorm, let prev = kept.last, let target = try Self.foldable(prev, bn) {
                kept[kept.count - 1] = target
                folded.append(bn.name)
            } else {
                kept.append(layer)
            }
        }
        if folded.isEmpty { return [] }
        layers = kept
        for child in children.map(\.name) where !kept.contains(where: { $0.name == child }) { try removeChild(child) }
        for layer in kept { try replaceModule(at: layer.name, with: layer) }
        return folded
    }

    /// A copy of `prev` with `bn` folded in, or nil when `prev` is not a linear Dense/Conv2D.
    private static func foldable(_ prev: Layer, _ bn: BatchNorm) throws -> Layer? {
        let (scale, shift) = bn.affine()
        func foldedWeights(_ weight: Tensor, _ bias: Tensor?, outputs: Int) -> (Tensor, Tensor) {
            var w = weight
            let per = w.count / outputs
            w.withUnsafeMutableFloats { wp in
                for o in 0..<outputs { for i in 0..<per { wp[o * per + i] *= scale[o] } }
            }
            let b0 = bias?.floats ?? [Float](repeating: 0, count: outputs)
            let b = (0..<outputs).map { b0[$0] * scale[$0] + shift[$0] }
            return (w, Tensor(shape: [outputs], floats: b))
        }
        if let dense = prev as? Linear, dense.activation == .linear, dense.outFeatures == bn.features {
            let out = Linear(name: dense.name, inFeatures: dense.inFeatures, outFeatures: dense.outFeatures, useBias: true)
            let (w, b) = foldedWeights(dense.parameter("weight"), dense.useBias ? dense.parameter("bias") : nil, outputs: dense.outFeatures)
            try out.setParameter("weight", w)
            try out.setParameter("bias", b)
            return out
        }
        if let conv = prev as? Conv2D, conv.activation == .linear, conv.filters == bn.features {
            let out = Conv2D(
                name: conv.name, inChannels: conv.inChannels, filters: conv.filters,
                kernelSize: (conv.kernelSize.h, conv.kernelSize.w), strides: (conv.strides.h, conv.strides.w),
                samePadding: conv.samePadding, useBias: true)
            let (w, b) = foldedWeights(conv.parameter("weight"), conv.useBias ? conv.parameter("bias") : nil, outputs: conv.filters)
            try out.setParameter("weight", w)
            try out.setParameter("bias", b)
            return out
        }
        return nil
    }

    /// Makes an empty layer from its spec (each layer type builds its own kind: see ``LayerKind/builder``).
    public static func makeLayer(_ s: LayerSpec, inputShape: [Int]) throws -> Layer {
        try checkSizes(s, inputShape: inputShape)
        return try s.type.builder.make(s, inputShape: inputShape)
    }

    /// Sizes a spec read from a file must have before its layer allocates anything: positive feature counts,
    /// weights that fit in memory, a positive finite epsilon and a dropout rate in [0, 1).
    static func checkSizes(_ s: LayerSpec, inputShape: [Int]) throws {
        func positive(_ v: Int?, _ field: String) throws -> Int {
            let x = try s.required(v, field)
            guard x > 0 else { throw ModelError.invalidConfig("layer '\(s.name)': '\(field)' must be positive, got \(x)") }
            return x
        }
        /// The parameter tensor must fit in memory before the layer allocates it (zero-filled, then loaded).
        func budget(_ shape: [Int]) throws {
            do { try MemoryBudget.check(shape: shape, what: "layer '\(s.name)' weight") } catch let e as TensorError {
                throw ModelError.invalidConfig(e.description)
            }
        }
        if let e = s.epsilon, !(e.isFinite && e > 0) {
            throw ModelError.invalidConfig("layer '\(s.name)': epsilon must be a positive finite number, got \(e)")
        }
        if let r = s.rate, !(r.isFinite && r >= 0 && r < 1) {
            throw ModelError.invalidConfig("layer '\(s.name)': rate must be in [0, 1), got \(r)")
        }
        switch s.type {
        case .dense:
            try budget([try positive(s.outFeatures, "outFeatures"), try positive(s.inFeatures ?? inputShape.last, "inFeatures")])
        case .conv2d:
            let (i, o) = (try positive(s.inFeatures ?? inputShape.last, "inFeatures"), try positive(s.outFeatures, "outFeatures"))
            let k = try s.pair(s.kernelSize, "kernelSize")
            try budget([o, k.0, k.1, i])
        case .batchNorm:
            try budget([try positive(s.outFeatures ?? inputShape.last, "outFeatures")])
        default:
            break
        }
    }
}
