/// Architecture of one layer of a ``SequentialModel``, as stored in an artifact's `model.json`.
/// Fields not used by a layer type are nil and omitted from JSON.
public struct LayerSpec: Codable, Sendable, Equatable {
    /// Layer type: `dense`, `conv2d`, `max_pool2d`, `avg_pool2d`, `global_avg_pool2d`, `batch_norm`,
    /// `flatten`, `dropout`, `activation`.
    public var type: String
    /// Name; also the module's path component (Keras layer names for Keras models).
    public var name: String
    public var inFeatures: Int?
    public var outFeatures: Int?
    public var kernelSize: [Int]?
    public var strides: [Int]?
    /// `valid` or `same` (TensorFlow semantics).
    public var padding: String?
    public var activation: Activation?
    public var useBias: Bool?
    public var epsilon: Float?
    public var rate: Float?

    public init(
        type: String, name: String, inFeatures: Int? = nil, outFeatures: Int? = nil, kernelSize: [Int]? = nil,
        strides: [Int]? = nil, padding: String? = nil, activation: Activation? = nil, useBias: Bool? = nil,
        epsilon: Float? = nil, rate: Float? = nil
    ) {
        self.type = type; self.name = name; self.inFeatures = inFeatures; self.outFeatures = outFeatures
        self.kernelSize = kernelSize; self.strides = strides; self.padding = padding; self.activation = activation
        self.useBias = useBias; self.epsilon = epsilon; self.rate = rate
    }

    /// Layer types ``SequentialModel`` can build.
    public static let supportedTypes = [
        "dense", "conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d",
        "batch_norm", "flatten", "dropout", "activation",
    ]
}
