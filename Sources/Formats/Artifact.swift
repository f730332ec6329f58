import Foundation
import Layers
import Tensors
import Tokenizers

/// Reads and writes artifact directories (format v1, see ``ArtifactManifest``).
///
/// ```swift
/// try Artifact.write(model, to: URL(fileURLWithPath: "artifacts/minilm/model"), provenance: p)
/// let again = try Artifact.load(URL(fileURLWithPath: "artifacts/minilm/model"))
/// ```
public enum Artifact {
    /// Tokenizer files copied into text-model artifacts, when the source has them.
    static let tokenizerFileNames = ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]

    /// Whether `dir` is an artifact (has `model.json`).
    public static func isArtifact(_ dir: URL) -> Bool {
        FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.json").path)
    }

    /// Writes `model` as an artifact directory, atomically: it is built under a temporary name and renamed
    /// into place, so a failure leaves no partial artifact.
    /// - zstd: store `model.safetensors.zst` instead of the raw file.
    public static func write(_ model: LoadedModel, to dir: URL, provenance: ArtifactManifest.Provenance,
                             metrics: Data? = nil, zstd: Bool = false) throws {
        let parameters = model.root.namedParameters()
        var tensors: [String: Tensor] = [:]
        var entries: [String: ArtifactManifest.TensorEntry] = [:]
        for (name, t) in parameters {
            tensors[name] = t
            entries[name] = .init(dtype: t.dtype.rawValue, shape: t.shape, encoding: model.tensorEncodings[name] ?? "f32")
        }
        let architecture: ArtifactManifest.Architecture
        let task: String
        var tokenizerSources: [URL] = []
        switch model.kind {
        case let .sequential(m):
            architecture = .sequential(inputShape: m.inputShape, layers: m.specs)
            task = "classification"
        case let .sentenceEncoder(bert, pooling, tokenizer):
            architecture = .bert(config: bert.config, pooling: pooling, maxSequenceLength: tokenizer.maxLength, hasPooler: bert.hasPooler)
            task = "sentence-embedding"
            let from = model.source.hasDirectoryPath || isDirectory(model.source) ? model.source : model.source.deletingLastPathComponent()
            tokenizerSources = tokenizerFileNames.map { from.appendingPathComponent($0) }
                .filter { FileManager.default.fileExists(atPath: $0.path) }
            guard !tokenizerSources.isEmpty else {
                throw FormatError.missingFile(from.appendingPathComponent("tokenizer.json").path)
            }
        }
        let weightsFile = zstd ? "model.safetensors.zst" : "model.safetensors"
        let manifest = ArtifactManifest(task: task, architecture: architecture, tensors: entries, provenance: provenance,
                                        weightsFile: weightsFile, tokenizerFiles: tokenizerSources.isEmpty ? nil : tokenizerSources.map(\.lastPathComponent))
        try withTemporaryDirectoryReplacing(dir) { tmp in
            let raw = tmp.appendingPathComponent("model.safetensors")
            try SafeTensors.write(tensors, metadata: ["format": "compress-artifact-v1"], to: raw)
            if zstd {
                try Zstd.compressFile(at: raw, to: tmp.appendingPathComponent(weightsFile), level: 19)
                try FileManager.default.removeItem(at: raw)
            }
            for src in tokenizerSources {
                try FileManager.default.copyItem(at: src, to: tmp.appendingPathComponent(src.lastPathComponent))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(manifest).write(to: tmp.appendingPathComponent("model.json"))
            if let metrics { try metrics.write(to: tmp.appendingPathComponent("metrics.json")) }
        }
    }

    /// Reads `model.json`.
    public static func readManifest(_ dir: URL) throws -> ArtifactManifest {
        let url = dir.appendingPathComponent("model.json")
        let manifest: ArtifactManifest
        do { manifest = try JSONDecoder().decode(ArtifactManifest.self, from: try readFile(url)) }
        catch let e as FormatError { throw e }
        catch { throw FormatError.invalid(file: url.path, message: decodingMessage(error)) }
        guard manifest.format == ArtifactManifest.formatName else {
            throw FormatError.invalid(file: url.path, message: "format '\(manifest.format)' is not '\(ArtifactManifest.formatName)'")
        }
        guard manifest.version == ArtifactManifest.currentVersion else {
            throw FormatError.invalid(file: url.path, message: "artifact version \(manifest.version) is not supported (\(ArtifactManifest.currentVersion))")
        }
        return manifest
    }

    /// Loads an artifact directory; a zstd-compressed weights file is read transparently.
    public static func load(_ dir: URL) throws -> LoadedModel {
        let manifest = try readManifest(dir)
        var weightsURL = dir.appendingPathComponent(manifest.weightsFile)
        if !FileManager.default.fileExists(atPath: weightsURL.path) {
            // Either form is accepted: users may compress or decompress the weights by hand.
            let other = manifest.weightsFile.hasSuffix(".zst") ? String(manifest.weightsFile.dropLast(4)) : manifest.weightsFile + ".zst"
            weightsURL = dir.appendingPathComponent(other)
        }
        let tensors: [String: Tensor]
        if weightsURL.pathExtension == "zst" {
            tensors = try SafeTensors.read(data: try Zstd.decompress(try readFile(weightsURL)), name: weightsURL.path).tensors
        } else {
            tensors = try SafeTensors.read(weightsURL).tensors
        }
        for (name, entry) in manifest.tensors.sorted(by: { $0.key < $1.key }) {
            guard let t = tensors[name] else { throw FormatError.invalid(file: weightsURL.path, message: "missing tensor '\(name)' listed in model.json") }
            guard t.shape == entry.shape, t.dtype.rawValue == entry.dtype else {
                throw FormatError.invalid(file: weightsURL.path, message: "tensor '\(name)' is \(t.dtype.rawValue) \(t.shape) but model.json says \(entry.dtype) \(entry.shape)")
            }
        }
        let kind: LoadedModel.Kind
        do {
            switch manifest.architecture {
            case let .sequential(inputShape, layers):
                let model = try SequentialModel(inputShape: inputShape, specs: layers)
                try model.update(parameters: tensors)
                kind = .sequential(model)
            case let .bert(config, pooling, maxLength, _):
                let bert = try HuggingFaceLoader.buildBert(config: config, tensors: tensors, file: weightsURL.path)
                kind = .sentenceEncoder(bert, pooling, try WordPieceTokenizer(modelDirectory: dir, maxLength: maxLength))
            }
        } catch let e as ModelError {
            throw FormatError.invalid(file: dir.appendingPathComponent("model.json").path, message: e.description)
        }
        let p = manifest.provenance
        var provenance = ["source": p.source, "sourceSha256": p.sourceSha256, "toolVersion": p.toolVersion, "createdAt": p.createdAt,
                          "stages": p.stages.joined(separator: ",")]
        if let r = p.recipe { provenance["recipe"] = r }
        return LoadedModel(kind: kind, source: dir, format: "artifact", provenance: provenance,
                           tensorEncodings: manifest.tensors.mapValues(\.encoding))
    }
}

func isDirectory(_ url: URL) -> Bool {
    var isDir: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
}
