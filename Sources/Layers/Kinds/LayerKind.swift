/// The layer types a ``SequentialModel`` can hold, spelled as in `model.json` (`"type": "conv2d"`).
///
/// Adding a kind: a `Layer` subclass conforming to ``SpecBuildable`` (its `spec` and `make` side by side), a case
/// here, and its line in ``builder`` (the switch is exhaustive, so the compiler asks for it).
public enum LayerKind: String, ConfigEnum {
    case dense
    case conv2d
    case maxPool2d = "max_pool2d"
    case avgPool2d = "avg_pool2d"
    case globalAvgPool2d = "global_avg_pool2d"
    case batchNorm = "batch_norm"
    case flatten
    case dropout
    case activation

    /// The layer type that builds this kind from a spec: the one registry of layer kinds.
    public var builder: any SpecBuildable.Type {
        switch self {
        case .dense: Linear.self
        case .conv2d: Conv2D.self
        case .maxPool2d, .avgPool2d: Pool2D.self
        case .globalAvgPool2d: GlobalAvgPool2D.self
        case .batchNorm: BatchNorm.self
        case .flatten: Flatten.self
        case .dropout: Dropout.self
        case .activation: ActivationLayer.self
        }
    }
}

/// A layer that can be rebuilt, empty, from its ``LayerSpec`` (the inverse of ``Layer/spec``).
public protocol SpecBuildable: Layer {
    /// Makes the layer `spec` describes, with zero parameters; `inputShape` (no batch) fills in sizes the spec omits.
    static func make(_ spec: LayerSpec, inputShape: [Int]) throws -> Layer
}

/// Spatial padding of convolutions and pools, TensorFlow semantics (see `spatialOutput`).
public enum Padding: String, ConfigEnum {
    case valid
    case same

    /// `.same` when `same` is true.
    public init(same: Bool) { self = same ? .same : .valid }
}
