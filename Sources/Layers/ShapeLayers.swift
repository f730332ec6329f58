import Tensors

/// Flattens (N, ...) to (N, features). On NHWC data this is Keras's channels-last order, a pure reshape.
public final class Flatten: Layer, SpecBuildable {
    public override var spec: LayerSpec { LayerSpec(type: .flatten, name: name) }
    public static func make(_ s: LayerSpec, inputShape: [Int]) throws -> Layer { Flatten(name: s.name) }
    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard let n = MemoryBudget.elementCount(input) else {
            throw ModelError.invalidConfig("layer '\(name)': flattening \(input) overflows")
        }
        return [n]
    }
    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor { x.reshaped([x.shape[0], -1]) }
}

/// Dropout is the identity at inference; kept so paths match the source model.
public final class Dropout: Layer, SpecBuildable {
    public let rate: Float
    public init(name: String, rate: Float) { self.rate = rate; super.init(name: name) }
    public override var summary: String { "rate \(rate) (identity at inference)" }
    public override var spec: LayerSpec { LayerSpec(type: .dropout, name: name, rate: rate) }
    public static func make(_ s: LayerSpec, inputShape: [Int]) throws -> Layer { Dropout(name: s.name, rate: s.rate ?? 0) }
    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor { x }
}

/// A standalone activation layer.
public final class ActivationLayer: Layer, SpecBuildable {
    public let activation: Activation
    public init(name: String, activation: Activation) { self.activation = activation; super.init(name: name) }
    public override var typeName: String { "Activation" }
    public override var summary: String { activation.rawValue }
    public override var spec: LayerSpec { LayerSpec(type: .activation, name: name, activation: activation) }
    public static func make(_ s: LayerSpec, inputShape: [Int]) throws -> Layer {
        ActivationLayer(name: s.name, activation: try s.required(s.activation, "activation"))
    }
    public override func forward(_ x: Tensor, on executor: Executor) throws -> Tensor {
        var y = x
        let cols = x.shape.last ?? 1
        y.withUnsafeMutableFloats { activation.apply($0.baseAddress!, rows: $0.count / cols, cols: cols, on: executor) }
        return y
    }
}
