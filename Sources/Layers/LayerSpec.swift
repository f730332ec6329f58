/// Architecture of one layer of a ``SequentialModel``, as stored in an artifact's `model.json`.
/// Fields not used by a layer type are nil and omitted from JSON.
public struct LayerSpec: Codable, Sendable, Equatable {
    /// Layer type (`"type": "conv2d"` in JSON).
    public var type: LayerKind
    /// Name; also the module's path component (Keras layer names for Keras models).
    public var name: String
    public var inFeatures: Int?
    public var outFeatures: Int?
    public var kernelSize: [Int]?
    public var strides: [Int]?
    /// TensorFlow semantics; nil means `valid`.
    public var padding: Padding?
    public var activation: Activation?
    public var useBias: Bool?
    public var epsilon: Float?
    public var rate: Float?

    public init(
        type: LayerKind, name: String, inFeatures: Int? = nil, outFeatures: Int? = nil, kernelSize: [Int]? = nil,
        strides: [Int]? = nil, padding: Padding? = nil, activation: Activation? = nil, useBias: Bool? = nil,
        epsilon: Float? = nil, rate: Float? = nil
    ) {
        self.type = type; self.name = name; self.inFeatures = inFeatures; self.outFeatures = outFeatures
        self.kernelSize = kernelSize; self.strides = strides; self.padding = padding; self.activation = activation
        self.useBias = useBias; self.epsilon = epsilon; self.rate = rate
    }

    enum CodingKeys: String, CodingKey {
        case type, name, inFeatures, outFeatures, kernelSize, strides, padding, activation, useBias, epsilon, rate
    }

    /// Decodes like the synthesized version, except that an unknown type or padding is a ``ModelError`` naming the
    /// layer (a plain decoding error would only give the JSON path, e.g. `architecture.layers.3.type`).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        let typeName = try c.decode(String.self, forKey: .type)
        guard let kind = LayerKind(spelling: typeName) else {
            throw ModelError.unsupportedLayer(name: name, type: typeName, supported: LayerKind.allCases.map(\.rawValue))
        }
        type = kind
        if let p = try c.decodeIfPresent(String.self, forKey: .padding) {
            guard let padding = Padding(spelling: p) else {
                throw ModelError.invalidConfig("layer '\(name)': padding '\(p)' is not supported (\(Padding.spellings))")
            }
            self.padding = padding
        }
        inFeatures = try c.decodeIfPresent(Int.self, forKey: .inFeatures)
        outFeatures = try c.decodeIfPresent(Int.self, forKey: .outFeatures)
        kernelSize = try c.decodeIfPresent([Int].self, forKey: .kernelSize)
        strides = try c.decodeIfPresent([Int].self, forKey: .strides)
        activation = try c.decodeIfPresent(Activation.self, forKey: .activation)
        useBias = try c.decodeIfPresent(Bool.self, forKey: .useBias)
        epsilon = try c.decodeIfPresent(Float.self, forKey: .epsilon)
        rate = try c.decodeIfPresent(Float.self, forKey: .rate)
    }
}

/// Field access for ``SpecBuildable/make(_:inputShape:)``: errors name the layer and the field.
extension LayerSpec {
    /// A field the layer type cannot do without.
    public func required<T>(_ value: T?, _ field: String) throws -> T {
        guard let value else { throw ModelError.invalidConfig("layer '\(name)' (\(type.rawValue)) needs '\(field)'") }
        return value
    }

    /// Two positive integers (kernel size, strides).
    public func pair(_ value: [Int]?, _ field: String) throws -> (Int, Int) {
        let a = try required(value, field)
        guard a.count == 2, a[0] > 0, a[1] > 0 else {
            throw ModelError.invalidConfig("layer '\(name)': '\(field)' must be two positive integers, got \(a)")
        }
        return (a[0], a[1])
    }

    /// Whether padding is `same` (absent means `valid`).
    public var samePadding: Bool { padding == .same }
}
