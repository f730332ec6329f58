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
    /// into place, so a failure leaves no partial artifact. An existing `dir` is replaced only if it is an artifact
    /// (or empty, with `force`); anything else is refused (``DirectoryOwnership/artifact``).
    /// - zstd: store `model.safetensors.zst` instead of the raw file.
    public static func write(
        _ model: LoadedModel, to dir: URL, provenance: ArtifactManifest.Provenance,
        metrics: Data? = nil, zstd: Bool = false, force: Bool = false
    ) throws {
        let parameters = model.root.namedParameters()
        let encodings = parameterEncodings(model.root)
        var tensors: [String: Tensor] = [:]
        var entries: [String: ArtifactManifest.TensorEntry] = [:]
        for (name, t) in parameters {
            var encoding = encodings[name] ?? "f32"
            // Pruned fp32 and int8 matrices are stored in whichever sparse encoding is smallest (SparseEncoding).
            if encoding == "f32" { encoding = SparseEncoding.choose(t).encoding }
            if encoding == SparseEncoding.int8Dense { encoding = SparseEncoding.chooseInt8(t).encoding }
            for (part, value) in SparseEncoding.encode(t, name: name, encoding: encoding) { tensors[part] = value }
            entries[name] = .init(dtype: t.dtype.rawValue, shape: t.shape, encoding: encoding)
        }
        var quantized: [String: QuantizedModuleSpec] = [:]
        for (path, module) in model.root.namedModules() {
            // A quantized module rebuilds its own children (Int8Conv2D's gemm): list only the outermost.
            if let q = module as? any QuantizedModule, !quantized.keys.contains(where: { path.hasPrefix($0 + ".") }) {
                quantized[path] = q.quantSpec
            }
        }
        let architecture: ArtifactManifest.Architecture
        let task: String
        var tokenizerSources: [URL] = []
        switch model.kind {
        case let .sequential(m):
            architecture = .sequential(inputShape: m.inputShape, layers: m.specs)
            task = "classification"
        case let .sentenceEncoder(bert, pooling, tokenizer):
            architecture = .bert(
                config: bert.config.withExplicitLayerShapes, pooling: pooling, maxSequenceLength: tokenizer.maxLength,
                hasPooler: bert.hasPooler)
            task = "sentence-embedding"
            let from = model.source.hasDirectoryPath || isDirectory(model.source) ? model.source : model.source.deletingLastPathComponent()
            tokenizerSources = tokenizerFileNames.map { from.appendingPathComponent($0) }
                .filter { FileManager.default.fileExists(atPath: $0.path) }
            guard !tokenizerSources.isEmpty else {
                throw FormatError.missingFile(from.appendingPathComponent("tokenizer.json").path)
            }
        }
        let weightsFile = zstd ? "model.safetensors.zst" : "model.safetensors"
        let encoded = try SafeTensors.encode(tensors, metadata: ["format": "compress-artifact-v1"])
        var hasher = SHA256()
        hasher.update(encoded)
        let manifest = ArtifactManifest(
            task: task, architecture: architecture, tensors: entries, provenance: provenance,
            weightsFile: weightsFile, weightsSha256: hasher.finalize(),
            tokenizerFiles: tokenizerSources.isEmpty ? nil : tokenizerSources.map(\.lastPathComponent),
            modules: quantized.isEmpty ? nil : quantized)
        try withTemporaryDirectoryReplacing(dir, ownership: .artifact, force: force) { tmp in
            let raw = tmp.appendingPathComponent("model.safetensors")
            try writeAtomically(encoded, to: raw)
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

    /// Reads `model.json`: valid JSON, no unknown keys, a supported format and version, file names inside `dir`.
    public static func readManifest(_ dir: URL) throws -> ArtifactManifest {
        let url = dir.appendingPathComponent("model.json")
        let label = url.path
        let data = try readFile(url)
        let manifest: ArtifactManifest
        do {
            try ArtifactValidation.rejectUnknownKeys(try JSONValue.parse(data, file: label, what: "model.json"), file: label)
            manifest = try JSONDecoder().decode(ArtifactManifest.self, from: data)
        } catch let e as FormatError {
            throw e
        } catch { throw FormatError.invalid(file: label, message: decodingMessage(error)) }
        guard manifest.format == ArtifactManifest.formatName else {
            throw FormatError.invalid(file: label, message: "format '\(manifest.format)' is not '\(ArtifactManifest.formatName)'")
        }
        guard ArtifactManifest.readableVersions.contains(manifest.version) else {
            throw FormatError.invalid(
                file: label,
                message:
                    "artifact version \(manifest.version) is not supported (\(ArtifactManifest.readableVersions.map(String.init).joined(separator: ", ")))"
            )
        }
        guard manifest.weightsFile == "model.safetensors" || manifest.weightsFile == "model.safetensors.zst" else {
            _ = try ArtifactValidation.containedURL(manifest.weightsFile, in: dir, field: "weightsFile", manifest: label)
            throw FormatError.invalid(
                file: label, message: "weightsFile '\(manifest.weightsFile)' is not model.safetensors or model.safetensors.zst")
        }
        for name in manifest.tokenizerFiles ?? [] {
            _ = try ArtifactValidation.containedURL(name, in: dir, field: "tokenizerFiles", manifest: label)
        }
        if let sha = manifest.weightsSha256, !(sha.count == 64 && sha.allSatisfy(\.isHexDigit)) {
            throw FormatError.invalid(file: label, message: "weightsSha256 '\(sha)' is not 64 hex digits")
        }
        return manifest
    }

    /// Loads an artifact directory; a zstd-compressed weights file is read transparently.
    ///
    /// Checks, each an error naming the file and tensor: the weights' sha256 against `model.json` (skipped when
    /// `verify` is false; version 1 artifacts have no checksum and are not verified), the same tensor names in
    /// `model.json`, the weights file and the model, each tensor's dtype, shape and encoding, finite weights and
    /// valid quantization parameters.
    public static func load(_ dir: URL, verify: Bool = true) throws -> LoadedModel {
        let manifest = try readManifest(dir)
        let manifestLabel = dir.appendingPathComponent("model.json").path
        var weightsURL = try ArtifactValidation.containedURL(manifest.weightsFile, in: dir, field: "weightsFile", manifest: manifestLabel)
        if !FileManager.default.fileExists(atPath: weightsURL.path) {
            // Either form is accepted: users may compress or decompress the weights by hand.
            let other = manifest.weightsFile.hasSuffix(".zst") ? String(manifest.weightsFile.dropLast(4)) : manifest.weightsFile + ".zst"
            weightsURL = try ArtifactValidation.containedURL(other, in: dir, field: "weightsFile", manifest: manifestLabel)
        }
        for name in Artifact.tokenizerFileNames {
            // The tokenizer reads these by fixed name: they too must not point outside the artifact.
            _ = try ArtifactValidation.containedURL(name, in: dir, field: "tokenizer file", manifest: manifestLabel)
        }
        let weightsLabel = weightsURL.path
        var tensors: [String: Tensor]
        var sha: String?
        if weightsURL.pathExtension == "zst" {
            let raw = try Zstd.decompress(try readFile(weightsURL), name: weightsLabel)
            if verify {
                var h = SHA256()
                h.update(raw)
                sha = h.finalize()
            }
            tensors = try SafeTensors.read(data: raw, name: weightsLabel).tensors
        } else {
            tensors = try SafeTensors.read(weightsURL).tensors
            if verify { sha = try SHA256.hex(ofFile: weightsURL) }
        }
        if let sha {
            switch manifest.weightsSha256 {
            case let expected? where expected.lowercased() != sha:
                throw FormatError.invalid(
                    file: weightsLabel,
                    message:
                        "sha256 \(sha) does not match model.json's weightsSha256 \(expected): the weights are corrupted or were replaced")
            case nil where manifest.version >= 2:
                throw FormatError.invalid(
                    file: manifestLabel,
                    message: "missing field 'weightsSha256' (required from artifact version 2; --no-verify skips the check)")
            default:
                break  // Version 1 artifacts carry no checksum: accepted unverified.
            }
        }
        // Sparse-encoded weights become dense tensors again before any other check sees them.
        for (name, entry) in manifest.tensors.sorted(by: { $0.key < $1.key })
        where SparseEncoding.isSparse(entry.encoding) {
            let dtype = SparseEncoding.valueType(entry.encoding).rawValue
            guard entry.dtype == dtype, tensors[name] == nil else {
                throw FormatError.invalid(file: weightsLabel, message: "tensor '\(name)' (\(entry.encoding)) must be \(dtype) and stored only in parts")
            }
            tensors[name] = try SparseEncoding.decode(
                name: name, shape: entry.shape, encoding: entry.encoding, from: &tensors, file: weightsLabel)
        }
        let listed = Set(manifest.tensors.keys), stored = Set(tensors.keys)
        if let extra = stored.subtracting(listed).sorted().first {
            throw FormatError.invalid(file: weightsLabel, message: "tensor '\(extra)' is not listed in model.json")
        }
        for (name, entry) in manifest.tensors.sorted(by: { $0.key < $1.key }) {
            guard let t = tensors[name] else {
                throw FormatError.invalid(file: weightsLabel, message: "missing tensor '\(name)' listed in model.json")
            }
            guard t.shape == entry.shape, t.dtype.rawValue == entry.dtype else {
                throw FormatError.invalid(
                    file: weightsLabel,
                    message: "tensor '\(name)' is \(t.dtype.rawValue) \(t.shape) but model.json says \(entry.dtype) \(entry.shape)")
            }
        }
        let kind: LoadedModel.Kind
        do {
            switch manifest.architecture {
            case let .sequential(inputShape, layers):
                let model = try SequentialModel(inputShape: inputShape, specs: layers)
                try replaceQuantized(model, manifest.modules)
                try model.update(parameters: tensors)
                kind = .sequential(model)
            case let .bert(config, pooling, maxLength, hasPooler):
                let bert = try BertModel(config: config, withPooler: hasPooler)
                try replaceQuantized(bert, manifest.modules)
                try bert.update(parameters: tensors)
                kind = .sentenceEncoder(bert, pooling, try WordPieceTokenizer(modelDirectory: dir, maxLength: maxLength))
            }
        } catch let e as ModelError {
            throw FormatError.invalid(file: manifestLabel, message: e.description)
        } catch let e as TensorError {
            throw FormatError.invalid(file: manifestLabel, message: e.description)
        }
        let root: Module
        switch kind {
        case let .sequential(m): root = m
        case let .sentenceEncoder(m, _, _): root = m
        }
        let expected = parameterEncodings(root)
        for (name, entry) in manifest.tensors.sorted(by: { $0.key < $1.key })
        where expected[name] != entry.encoding
            && !(SparseEncoding.isSparse(entry.encoding) && expected[name] == SparseEncoding.denseEncoding(of: entry.encoding))
        {
            throw FormatError.invalid(
                file: manifestLabel,
                message: "tensor '\(name)' has encoding '\(entry.encoding)', but its module stores '\(expected[name] ?? "nothing")'")
        }
        try WeightChecks.checkFinite(root, file: weightsLabel)
        try WeightChecks.checkQuantization(root, file: weightsLabel)
        let p = manifest.provenance
        var provenance = [
            "source": p.source, "sourceSha256": p.sourceSha256, "toolVersion": p.toolVersion, "createdAt": p.createdAt,
            "stages": p.stages.joined(separator: ","),
        ]
        if let r = p.recipe { provenance["recipe"] = r }
        return LoadedModel(kind: kind, source: dir, format: "artifact", provenance: provenance)
    }
}

/// Swaps in the quantized modules an artifact lists, before its tensors are applied.
func replaceQuantized(_ root: Module, _ modules: [String: QuantizedModuleSpec]?) throws {
    for (path, spec) in (modules ?? [:]).sorted(by: { $0.key < $1.key }) {
        try root.replaceModule(at: path, with: try spec.makeModule())
    }
}

/// Number of weights the model represents: quantized modules count in × out (+ bias), not their packed bytes.
public func logicalParameterCount(_ root: Module) -> Int {
    var total = 0
    var quantized: [String] = []
    for (path, module) in root.namedModules() {
        // Children of a quantized module (Int8Conv2D's gemm) are already counted by their parent.
        if quantized.contains(where: { path.hasPrefix($0 + ".") }) { continue }
        if let q = module as? any QuantizedModule {
            quantized.append(path)
            let s = q.quantSpec
            total += s.inFeatures * s.outFeatures + (s.useBias ? s.outFeatures : 0)
        } else {
            total += module.parameterNames.reduce(0) { $0 + module.parameter($1).count }
        }
    }
    return total
}

/// Storage encoding of every parameter: quantized modules say theirs, everything else is `f32`.
public func parameterEncodings(_ root: Module) -> [String: String] {
    var out: [String: String] = [:]
    for (path, module) in root.namedModules() {
        let prefix = path.isEmpty ? "" : path + "."
        let own = (module as? any QuantizedModule)?.parameterEncodings ?? [:]
        for name in module.parameterNames { out[prefix + name] = own[name] ?? "f32" }
    }
    return out
}

func isDirectory(_ url: URL) -> Bool {
    var isDir: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
}
