import Foundation
import Tensors
import ZIPFoundation

/// What a Keras model file holds, in a neutral form: the model config JSON and each layer's weight tensors in
/// Keras's order. ``KerasModelLoader`` maps it to layers.
public struct KerasFileContents: Sendable {
    /// The two on-disk formats.
    public enum Format: String, Sendable {
        /// `model.save("x.h5")`: one HDF5 file, config in root attributes, weights under `model_weights`.
        case legacyH5 = "keras-h5"
        /// Keras 3 `.keras`: a zip of `config.json`, `metadata.json` and `model.weights.h5`.
        case kerasV3 = "keras-v3"
    }

    /// The file that was read.
    public let fileURL: URL
    /// Which format it was.
    public let format: Format
    /// `{"class_name": "Sequential"|"Functional", "config": {"name", "layers": [...]}, ...}`.
    public let modelConfig: JSONValue
    /// The Keras version that saved the file, when recorded.
    public let kerasVersion: String?
    /// Tensors per layer, keyed by the layer name in `modelConfig` (`config.layers[].config.name`), in Keras's
    /// order: Dense/Conv2D kernel, bias; BatchNormalization gamma, beta, moving_mean, moving_variance. Layers
    /// without weights map to `[]`; an InputLayer without a weight group has no entry.
    public let layerWeights: [String: [Tensor]]
    /// Where each tensor came from, parallel to `layerWeights` (e.g. `model_weights/fc1/digits_cnn/fc1/kernel`
    /// or `layers/dense/vars/0`), for error messages.
    public let weightPaths: [String: [String]]

    public init(
        fileURL: URL, format: Format, modelConfig: JSONValue, kerasVersion: String?,
        layerWeights: [String: [Tensor]], weightPaths: [String: [String]]
    ) {
        self.fileURL = fileURL
        self.format = format
        self.modelConfig = modelConfig
        self.kerasVersion = kerasVersion
        self.layerWeights = layerWeights
        self.weightPaths = weightPaths
    }

    /// The model's layer configs (`config.layers`, or a bare list in very old Sequential configs).
    public var layerConfigs: [JSONValue] { Self.layerConfigs(of: modelConfig) }

    /// `config.layers` of a model config (or the bare list of very old Sequential configs).
    public static func layerConfigs(of modelConfig: JSONValue) -> [JSONValue] {
        modelConfig["config"]?["layers"]?.array ?? modelConfig["config"]?.array ?? []
    }
}

/// Reads Keras model files (legacy `.h5` and Keras 3 `.keras`), choosing the format from the file's magic bytes.
///
/// ```swift
/// let contents = try KerasFile.read(URL(fileURLWithPath: "digits_mlp.keras"))
/// let kernel = contents.layerWeights["dense_1"]![0]   // (64, 128), Keras (in, out) layout
/// ```
public enum KerasFile {
    /// Reads `url`; errors name the file and the layer, group or field at fault.
    public static func read(_ url: URL) throws -> KerasFileContents {
        let label = fileLabel(url)
        guard FileManager.default.fileExists(atPath: url.path) else { throw FormatError.missingFile(label) }
        let head: Data
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            head = try handle.read(upToCount: 8) ?? Data()
        } catch {
            throw FormatError.io(file: label, message: "cannot read: \(error.localizedDescription)")
        }
        if head.isEmpty { throw FormatError.invalid(file: label, message: "file is empty") }
        if head.starts(with: [0x50, 0x4B]) { return try readKerasV3(url) }
        if head.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return try readLegacy(url) }
        switch url.pathExtension.lowercased() {
        case "keras", "zip": return try readKerasV3(url)
        case "h5", "hdf5": return try readLegacy(url)
        default: throw FormatError.invalid(file: label, message: "not a Keras model: neither an HDF5 file nor a .keras zip")
        }
    }

    // MARK: Legacy .h5

    static func readLegacy(_ url: URL) throws -> KerasFileContents {
        let label = fileLabel(url)
        let file = try HDF5File(readingFrom: url)
        guard let configText = try file.attributeString("model_config", of: "/") else {
            throw FormatError.invalid(file: label, message: "no 'model_config' attribute: a weights-only file, not a saved model")
        }
        let config = try JSONValue.parse(Data(configText.utf8), file: label, what: "attribute 'model_config'")
        guard config["class_name"]?.string != nil else {
            throw FormatError.invalid(file: label, message: "attribute 'model_config' has no 'class_name'")
        }
        let version =
            try file.attributeString("keras_version", of: "/")
            ?? (file.exists("/model_weights") ? file.attributeString("keras_version", of: "/model_weights") : nil)

        // Full-model saves keep weights under model_weights; weights-only saves at the root.
        let root = file.isGroup("/model_weights") ? "/model_weights" : "/"
        let layerNames = try file.attributeStrings("layer_names", of: root)
        var weights: [String: [Tensor]] = [:]
        var paths: [String: [String]] = [:]
        for layer in layerNames {
            let group = root == "/" ? "/\(layer)" : "\(root)/\(layer)"
            guard file.isGroup(group) else {
                throw FormatError.invalid(file: label, message: "layer '\(layer)' is listed in layer_names but has no group '\(group)'")
            }
            let names = try file.attributeStrings("weight_names", of: group)
            // weight_names are relative to the layer group: "digits_cnn/fc1/kernel" (Sequential) or
            // "conv2d/kernel" (Functional) in Keras 3; "dense_1/kernel:0" in Keras 2.
            let tensorPaths = names.map { "\(group)/\($0)" }
            weights[layer] = try tensorPaths.map { path in
                guard file.exists(path) else {
                    throw FormatError.invalid(file: label, message: "layer '\(layer)': weight '\(path)' listed in weight_names is missing")
                }
                return try file.dataset(path)
            }
            paths[layer] = tensorPaths.map { String($0.dropFirst()) }
        }
        let contents = KerasFileContents(
            fileURL: url, format: .legacyH5, modelConfig: config, kerasVersion: version,
            layerWeights: weights, weightPaths: paths)
        for layer in contents.layerConfigs {
            let name = layer["config"]?["name"]?.string ?? layer["name"]?.string ?? "?"
            let cls = layer["class_name"]?.string ?? "?"
            if cls != "InputLayer" && weights[name] == nil {
                throw FormatError.invalid(
                    file: label,
                    message: "layer '\(name)' (\(cls)) has no weight group '\(root == "/" ? "" : root)/\(name)' (not in layer_names)")
            }
        }
        return contents
    }

    // MARK: Keras 3 .keras

    static func readKerasV3(_ url: URL) throws -> KerasFileContents {
        let label = fileLabel(url)
        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .read) } catch {
            throw FormatError.invalid(file: label, message: "not a valid .keras zip archive (truncated or corrupt)")
        }
        func member(_ name: String) throws -> Data? {
            guard let entry = archive[name] else { return nil }
            var data = Data()
            do {
                _ = try archive.extract(entry, skipCRC32: false) { data.append($0) }
            } catch {
                throw FormatError.invalid(file: label, message: "zip member '\(name)' is corrupt (\(error))")
            }
            return data
        }
        guard let configData = try member("config.json") else {
            throw FormatError.invalid(file: label, message: "zip has no 'config.json'")
        }
        let config = try JSONValue.parse(configData, file: label, what: "config.json")
        guard config["class_name"]?.string != nil else {
            throw FormatError.invalid(file: label, message: "config.json has no 'class_name'")
        }
        var version: String?
        if let metadata = try member("metadata.json") {
            version = try JSONValue.parse(metadata, file: label, what: "metadata.json")["keras_version"]?.string
        }
        guard let weightsData = try member("model.weights.h5") else {
            throw FormatError.invalid(file: label, message: "zip has no 'model.weights.h5'")
        }
        let file = try HDF5File(image: weightsData, name: "\(label):model.weights.h5")

        // Groups are layers/<auto name>/vars, where the auto name is the snake_case class name numbered per
        // class in model.layers order, not the user's layer name; Keras 3.x records the user name as the
        // `name` attribute of `vars`. Map by that attribute, falling back to re-deriving the auto names.
        var groupByUserName: [String: String] = [:]
        var namedGroups: Set<String> = []
        if file.isGroup("/layers") {
            for group in try file.children(of: "/layers") where file.isGroup("/layers/\(group)/vars") {
                if let user = try file.attributeString("name", of: "/layers/\(group)/vars") {
                    groupByUserName[user] = group
                    namedGroups.insert(group)
                }
            }
        }
        let isSequential = config["class_name"]?.string == "Sequential"
        var used: [String: Int] = [:]
        var weights: [String: [Tensor]] = [:]
        var paths: [String: [String]] = [:]
        for layer in KerasFileContents.layerConfigs(of: config) {
            let cls = layer["class_name"]?.string ?? "?"
            let name = layer["config"]?["name"]?.string ?? layer["name"]?.string ?? "?"
            // Sequential.layers leaves out the InputLayer, so it takes no auto name there.
            var autoName: String?
            if !(isSequential && cls == "InputLayer") {
                let base = snakeCase(cls)
                if let n = used[base] { used[base] = n + 1; autoName = "\(base)_\(n + 1)" } else { used[base] = 0; autoName = base }
            }
            var group = groupByUserName[name]
            if group == nil, let autoName, !namedGroups.contains(autoName), file.isGroup("/layers/\(autoName)/vars") {
                group = autoName
            }
            guard let group else {
                if cls == "InputLayer" { continue }
                let expected = autoName.map { "'layers/\($0)'" } ?? "under 'layers/'"
                throw FormatError.invalid(
                    file: "\(label):model.weights.h5",
                    message: "layer '\(name)' (\(cls)) has no weight group (expected \(expected) or a 'vars' group named '\(name)')")
            }
            let vars = "/layers/\(group)/vars"
            var indexed: [(Int, String)] = []
            for child in try file.children(of: vars) {
                // Datasets are named "0", "1", ..., "10": byte order would put "10" before "2".
                guard let index = Int(child), index >= 0 else {
                    throw FormatError.invalid(
                        file: "\(label):model.weights.h5",
                        message: "layer '\(name)': unexpected member '\(vars)/\(child)' (expected numbered variables)")
                }
                indexed.append((index, "\(vars)/\(child)"))
            }
            indexed.sort { $0.0 < $1.0 }
            weights[name] = try indexed.map { try file.dataset($0.1) }
            paths[name] = indexed.map { String($0.1.dropFirst()) }
        }
        return KerasFileContents(
            fileURL: url, format: .kerasV3, modelConfig: config, kerasVersion: version,
            layerWeights: weights, weightPaths: paths)
    }

    /// Keras's `naming.to_snake_case`: `MaxPooling2D` → `max_pooling2d`, `BatchNormalization` → `batch_normalization`.
    static func snakeCase(_ name: String) -> String {
        let chars = Array(name.filter { $0.isLetter || $0.isNumber || $0 == "_" })
        // Step 1: "_" before an uppercase letter followed by lowercase ones (re "(.)([A-Z][a-z]+)").
        var step1: [Character] = []
        for (i, c) in chars.enumerated() {
            if i > 0, c.isUppercase, i + 1 < chars.count, chars[i + 1].isLowercase {
                step1.append("_")
            }
            step1.append(c)
        }
        // Step 2: "_" between a lowercase letter and an uppercase one (re "([a-z])([A-Z])").
        var step2: [Character] = []
        for (i, c) in step1.enumerated() {
            if i > 0, c.isUppercase, step1[i - 1].isLowercase { step2.append("_") }
            step2.append(c)
        }
        return String(step2).lowercased()
    }
}
