import Foundation
import Layers
import Tensors

/// Opens any model the tools accept, by looking at the path:
/// an artifact directory (`model.json`), a `compress run` output directory (its `model/` artifact),
/// a Hugging Face folder (`config.json` + `model.safetensors`), a Keras `.h5`/`.keras` file, or a PyTorch-named
/// MLP `.safetensors` with its architecture JSON next to it (`NAME.json`, see ``MLPLoader``).
public enum ModelLoader {
    /// Loads the model at `path`. Keras BatchNorms are folded into the preceding layer for inference.
    ///
    /// Every model's floating-point weights are checked to be finite (an error names the tensor); artifacts also
    /// have their quantization parameters validated and, unless `verify` is false (`--no-verify`), the sha256 of
    /// their weights compared with the one `model.json` records.
    ///
    /// ```swift
    /// let m = try ModelLoader.load("artifacts/minilm-int8")  // the run's model/ artifact
    /// ```
    public static func load(_ path: String, verify: Bool = true) throws -> LoadedModel {
        do {
            let model = try loadUnchecked(path, verify: verify)
            if model.format != "artifact" {  // Artifact.load checks its own (with the weights file's name).
                try WeightChecks.checkFinite(model.root, file: path)
            }
            return model
        } catch let e as TensorError {
            throw FormatError.invalid(file: path, message: e.description)
        } catch let e as ModelError {
            throw FormatError.invalid(file: path, message: e.description)
        }
    }

    private static func loadUnchecked(_ path: String, verify: Bool) throws -> LoadedModel {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: url.path) else { throw FormatError.missingFile(path) }
        if isDirectory(url) {
            // Resolved here, once, so every command taking a MODEL (and recipes' `model:`) accepts a run folder.
            if DirectoryOwnership.run.owns(url), !Artifact.isArtifact(url) {
                let model = url.appendingPathComponent("model")
                guard Artifact.isArtifact(model) else {
                    throw FormatError.invalid(
                        file: path,
                        message:
                            "a `compress run` output without model/ (its recipe has no export stage); add an `export` stage to the recipe and run it again"
                    )
                }
                return try Artifact.load(model, verify: verify)
            }
            if Artifact.isArtifact(url) { return try Artifact.load(url, verify: verify) }
            if HuggingFaceLoader.isModelDirectory(url) { return try HuggingFaceLoader.load(url) }
            throw FormatError.invalid(
                file: path, message: "directory has neither model.json (artifact) nor config.json + model.safetensors (Hugging Face)")
        }
        switch url.pathExtension.lowercased() {
        case "h5", "hdf5", "keras":
            let model: SequentialModel
            do {
                model = try KerasModelLoader.load(url)
                try model.foldBatchNorms()
            } catch let e as ModelError { throw FormatError.invalid(file: path, message: e.description) }
            return LoadedModel(
                kind: .sequential(model), source: url, format: url.pathExtension.lowercased() == "keras" ? "keras-v3" : "keras-h5")
        case "safetensors":
            return try MLPLoader.load(url)
        default:
            throw FormatError.invalid(
                file: path, message: "unknown model type (expected an artifact or Hugging Face directory, .h5, .keras or .safetensors)")
        }
    }
}

/// An MLP (or any chain of ``LayerSpec`` layers) from a PyTorch-named safetensors file plus a small
/// architecture JSON `{"input_shape": [64], "layers": [{"type": "dense", "name": "fc1", "outFeatures": 128,
/// "activation": "relu"}, …]}` stored next to it with the same base name (`mlp.safetensors` + `mlp.json`).
/// Tensor names are `<layer name>.weight` (out, in) and `<layer name>.bias`, as `torch.nn.Linear` saves them.
public enum MLPLoader {
    struct Architecture: Codable {
        var inputShape: [Int]
        var layers: [LayerSpec]
        enum CodingKeys: String, CodingKey { case inputShape = "input_shape", layers }
    }

    public static func load(_ url: URL) throws -> LoadedModel {
        let archURL = url.deletingPathExtension().appendingPathExtension("json")
        let arch: Architecture
        do { arch = try JSONDecoder().decode(Architecture.self, from: try readFile(archURL)) } catch let e as FormatError { throw e } catch
        { throw FormatError.invalid(file: archURL.path, message: decodingMessage(error)) }
        let (tensors, _) = try SafeTensors.read(url)
        do {
            let model = try SequentialModel(inputShape: arch.inputShape, specs: arch.layers)
            try model.update(parameters: tensors)
            return LoadedModel(kind: .sequential(model), source: url, format: "safetensors-mlp")
        } catch let e as ModelError {
            throw FormatError.invalid(file: url.path, message: e.description)
        }
    }
}
