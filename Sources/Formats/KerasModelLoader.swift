import Foundation
import Layers
import Tensors

/// Turns a Keras file (legacy `.h5` or Keras 3 `.keras`) into a ``SequentialModel``: the config becomes layer
/// specs, then the weights are converted to our layouts and applied strictly.
///
/// Layouts: Dense kernel (in, out) → weight (out, in); Conv2D kernel (kh, kw, in, out) → (out, kh, kw, in).
/// BatchNormalization keeps gamma/beta/moving_mean/moving_variance as gamma/beta/mean/variance.
public enum KerasModelLoader {
    /// Keras layer classes we read.
    public static let supportedClasses = [
        "InputLayer", "Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D",
        "GlobalAveragePooling2D", "BatchNormalization", "Flatten", "Dropout", "Activation",
    ]

    /// Loads `url` (.h5 or .keras) into a model; BatchNorms stay unfolded (call `foldBatchNorms()` for inference).
    public static func load(_ url: URL) throws -> SequentialModel {
        let contents = try KerasFile.read(url)
        return try build(contents)
    }

    /// Builds the model from already-read file contents.
    public static func build(_ contents: KerasFileContents) throws -> SequentialModel {
        let file = contents.fileURL.lastPathComponent
        func fail(_ message: String) -> FormatError { FormatError.invalid(file: file, message: message) }
        let config = contents.modelConfig
        let className = config["class_name"]?.string ?? ""
        guard className == "Sequential" || className == "Functional" || className == "Model" else {
            throw fail("model class '\(className)' is not supported (Sequential or a linear Functional model)")
        }
        guard let layerConfigs = config["config"]?["layers"]?.array else { throw fail("model_config has no 'config.layers'") }
        if className != "Sequential" { try checkLinearChain(layerConfigs, file: file) }

        var inputShape: [Int]?
        var specs: [LayerSpec] = []
        var weights: [String: Tensor] = [:]
        var shape: [Int] = []
        for (index, layer) in layerConfigs.enumerated() {
            let cls = layer["class_name"]?.string ?? "?"
            let cfg = layer["config"] ?? .null
            let name = cfg["name"]?.string ?? "layer_\(index)"
            if inputShape == nil {
                let batchShape: [JSONValue]? =
                    cfg["batch_shape"]?.array ?? cfg["batch_input_shape"]?.array
                    ?? layer["build_config"]?["input_shape"]?.array
                if let batchShape {
                    let dims: [Int] = batchShape.dropFirst().compactMap { (v: JSONValue) -> Int? in v.int }
                    guard dims.count == batchShape.count - 1, dims.allSatisfy({ $0 > 0 }) else {
                        let shown = batchShape.map { (v: JSONValue) -> String in v.int.map(String.init) ?? "None" }
                        throw fail("layer '\(name)': input shape \(shown) must be fixed")
                    }
                    inputShape = dims
                    shape = dims
                }
            }
            if cls == "InputLayer" { continue }
            guard inputShape != nil else { throw fail("cannot find the model's input shape before layer '\(name)'") }
            guard var spec = try spec(for: cls, name: name, cfg, inputShape: shape, file: file) else {
                throw ModelError.unsupportedLayer(name: name, type: cls, supported: supportedClasses)
            }
            let tensors = contents.layerWeights[name] ?? []
            for (key, value) in try convertWeights(cls: cls, name: name, cfg: cfg, tensors: tensors, spec: &spec, file: file) {
                weights["\(name).\(key)"] = value
            }
            let layer = try SequentialModel.makeLayer(spec, inputShape: shape)
            shape = try layer.outputShape(for: shape)
            specs.append(spec)
        }
        guard !specs.isEmpty else { throw fail("the model has no layers") }
        let model = try SequentialModel(inputShape: inputShape ?? [], specs: specs)
        do { try model.update(parameters: weights) } catch let e as ModelError { throw fail(e.description) }
        return model
    }

    /// A Functional model is accepted when each layer takes exactly the previous layer's output.
    private static func checkLinearChain(_ layers: [JSONValue], file: String) throws {
        var previous: String?
        for layer in layers {
            let name = layer["config"]?["name"]?.string ?? layer["name"]?.string ?? "?"
            let inbound = inboundNames(layer["inbound_nodes"])
            if let previous, inbound != [previous] {
                throw FormatError.invalid(
                    file: file,
                    message:
                        "layer '\(name)' takes \(inbound) instead of the previous layer '\(previous)': only linear chains are supported")
            }
            previous = name
        }
    }

    /// Names of the layers feeding a node, in both Keras 2 (`[[["name", 0, 0, {}]]]`) and Keras 3
    /// (`[{"args": [{"config": {"keras_history": ["name", 0, 0]}}]}]`) formats.
    private static func inboundNames(_ nodes: JSONValue?) -> [String] {
        var names: [String] = []
        func walk(_ v: JSONValue) {
            if let history = v["keras_history"]?.array, let first = history.first?.string { names.append(first); return }
            if let arr = v.array {
                if arr.count >= 3, let first = arr[0].string, arr[1].int != nil { names.append(first); return }
                arr.forEach(walk)
            } else if let obj = v.object {
                obj.keys.sorted().forEach { walk(obj[$0]!) }
            }
        }
        if let nodes { walk(nodes) }
        return names
    }

    /// Keras `padding` (`valid` when absent); Keras spells it as we do, lowercase.
    private static func padding(_ cfg: JSONValue, layer: String, file: String) throws -> Padding {
        let spelling = cfg["padding"]?.string ?? "valid"
        guard let padding = Padding(spelling: spelling) else {
            throw FormatError.invalid(
                file: file, message: "layer '\(layer)': padding '\(spelling)' is not supported (\(Padding.spellings))")
        }
        return padding
    }

    private static func activation(_ cfg: JSONValue, layer: String, file: String) throws -> Activation {
        let value = cfg["activation"]
        let name = value?.string ?? value?["class_name"]?.string ?? value?["config"]?["name"]?.string ?? "linear"
        switch name {
        case "linear", "None": return .linear
        case "relu", "sigmoid", "tanh", "softmax", "gelu":
            if name == "gelu", value?["config"]?["approximate"]?.bool == true {
                throw FormatError.invalid(file: file, message: "layer '\(layer)': approximate (tanh) GELU is not supported")
            }
            return Activation(rawValue: name)!
        default:
            throw FormatError.invalid(
                file: file, message: "layer '\(layer)': activation '\(name)' is not supported (linear, relu, sigmoid, tanh, softmax, gelu)")
        }
    }

    private static func pair(_ v: JSONValue?, default d: [Int]? = nil) -> [Int]? {
        if let i = v?.int { return [i, i] }
        if let a = v?.array?.compactMap(\.int), a.count == 2 { return a }
        return d
    }

    private static func spec(for cls: String, name: String, _ cfg: JSONValue, inputShape: [Int], file: String) throws -> LayerSpec? {
        func channelsLast() throws {
            if let f = cfg["data_format"]?.string, f != "channels_last" {
                throw FormatError.invalid(file: file, message: "layer '\(name)': data_format '\(f)' is not supported (channels_last)")
            }
        }
        switch cls {
        case "Dense":
            guard let units = cfg["units"]?.int else { throw FormatError.invalid(file: file, message: "layer '\(name)': missing 'units'") }
            return LayerSpec(
                type: .dense, name: name, inFeatures: inputShape.last, outFeatures: units,
                activation: try activation(cfg, layer: name, file: file), useBias: cfg["use_bias"]?.bool ?? true)
        case "Conv2D":
            try channelsLast()
            if let d = pair(cfg["dilation_rate"]), d != [1, 1] {
                throw FormatError.invalid(file: file, message: "layer '\(name)': dilation \(d) is not supported")
            }
            if let g = cfg["groups"]?.int, g != 1 {
                throw FormatError.invalid(file: file, message: "layer '\(name)': groups \(g) is not supported")
            }
            guard let filters = cfg["filters"]?.int, let kernel = pair(cfg["kernel_size"]) else {
                throw FormatError.invalid(file: file, message: "layer '\(name)': missing 'filters' or 'kernel_size'")
            }
            return LayerSpec(
                type: .conv2d, name: name, inFeatures: inputShape.last, outFeatures: filters, kernelSize: kernel,
                strides: pair(cfg["strides"], default: [1, 1]), padding: try padding(cfg, layer: name, file: file),
                activation: try activation(cfg, layer: name, file: file), useBias: cfg["use_bias"]?.bool ?? true)
        case "MaxPooling2D", "AveragePooling2D":
            try channelsLast()
            let pool = pair(cfg["pool_size"], default: [2, 2])
            return LayerSpec(
                type: cls == "MaxPooling2D" ? .maxPool2d : .avgPool2d, name: name, kernelSize: pool,
                strides: pair(cfg["strides"], default: pool), padding: try padding(cfg, layer: name, file: file))
        case "GlobalAveragePooling2D":
            try channelsLast()
            if cfg["keepdims"]?.bool == true {
                throw FormatError.invalid(file: file, message: "layer '\(name)': keepdims is not supported")
            }
            return LayerSpec(type: .globalAvgPool2d, name: name)
        case "BatchNormalization":
            let axis = cfg["axis"]?.int ?? cfg["axis"]?.array?.first?.int ?? -1
            if axis != -1 && axis != inputShape.count {
                throw FormatError.invalid(
                    file: file, message: "layer '\(name)': BatchNormalization over axis \(axis) is not supported (last axis)")
            }
            return LayerSpec(type: .batchNorm, name: name, outFeatures: inputShape.last, epsilon: Float(cfg["epsilon"]?.double ?? 1e-3))
        case "Flatten":
            try channelsLast()
            return LayerSpec(type: .flatten, name: name)
        case "Dropout":
            return LayerSpec(type: .dropout, name: name, rate: Float(cfg["rate"]?.double ?? 0))
        case "Activation":
            return LayerSpec(type: .activation, name: name, activation: try activation(cfg, layer: name, file: file))
        default:
            return nil
        }
    }

    /// Keras tensors of one layer → our parameter names and layouts.
    private static func convertWeights(
        cls: String, name: String, cfg: JSONValue, tensors: [Tensor], spec: inout LayerSpec,
        file: String
    ) throws -> [String: Tensor] {
        func expect(_ n: Int) throws {
            guard tensors.count == n else {
                throw FormatError.invalid(
                    file: file, message: "layer '\(name)' (\(cls)) has \(tensors.count) weight tensors, expected \(n)")
            }
        }
        switch cls {
        case "Dense":
            let useBias = spec.useBias ?? true
            try expect(useBias ? 2 : 1)
            let kernel = tensors[0].toFloat32()
            guard kernel.rank == 2 else {
                throw FormatError.invalid(file: file, message: "tensor '\(name).kernel' has shape \(kernel.shape), expected 2-D")
            }
            var out = ["weight": kernel.transposed2D()]
            if useBias { out["bias"] = tensors[1].toFloat32() }
            return out
        case "Conv2D":
            let useBias = spec.useBias ?? true
            try expect(useBias ? 2 : 1)
            let kernel = tensors[0].toFloat32()
            guard kernel.rank == 4 else {
                throw FormatError.invalid(file: file, message: "tensor '\(name).kernel' has shape \(kernel.shape), expected 4-D")
            }
            var out = ["weight": kernel.permuted([3, 0, 1, 2])]
            if useBias { out["bias"] = tensors[1].toFloat32() }
            return out
        case "BatchNormalization":
            let center = cfg["center"]?.bool ?? true, scale = cfg["scale"]?.bool ?? true
            try expect(2 + (center ? 1 : 0) + (scale ? 1 : 0))
            var i = 0
            let features = tensors.last!.count
            let gamma = scale ? tensors[i] : Tensor(shape: [features], floats: .init(repeating: 1, count: features))
            if scale { i += 1 }
            let beta = center ? tensors[i] : Tensor(zeros: [features])
            if center { i += 1 }
            return [
                "gamma": gamma.toFloat32(), "beta": beta.toFloat32(), "mean": tensors[i].toFloat32(),
                "variance": tensors[i + 1].toFloat32(),
            ]
        default:
            try expect(0)
            return [:]
        }
    }
}
