import Formats
import Foundation

/// One model the server is to serve: its name, version, config and where its weights come from.
public struct ModelEntry: Sendable {
    /// Where the model comes from: a path `ModelLoader` accepts, or a model already in memory (tests, embedding).
    public enum Source: Sendable {
        case path(String)
        case loaded(LoadedModel)
        /// Nothing to load: an ensemble, a traffic split, or a pooling / combiner step.
        case builtin
    }

    public var name: String
    public var version: String
    public var config: ModelConfig
    public var source: Source

    public init(name: String, version: String = "1", config: ModelConfig = ModelConfig(), source: Source) {
        self.name = name
        self.version = version
        self.config = config
        self.source = source
    }
}

/// The models a server serves, in Triton's repository shape or from plain model paths.
///
/// Repository: `REPO/<model>/config.yaml`, plus either numbered version folders (`REPO/<model>/1/`, each a
/// `compress` artifact or any model folder `ModelLoader` accepts; the highest number is served) or a `model:` key
/// naming the model (relative to the model's folder). Quick start: `compress serve artifacts/minilm-int8
/// digits.keras` serves each path under its base name with ``ModelConfig`` defaults.
public struct ModelRepository: Sendable {
    /// The repository folder; nil for a quick-start list of paths.
    public var root: URL?
    public var entries: [ModelEntry]

    public init(root: URL? = nil, entries: [ModelEntry]) {
        self.root = root
        self.entries = entries
    }

    /// Whether `path` is a repository: a folder with at least one subfolder holding `config.yaml`.
    public static func isRepository(_ path: String) -> Bool {
        let url = URL(fileURLWithPath: path)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { return false }
        return names.contains {
            FileManager.default.fileExists(atPath: url.appendingPathComponent($0).appendingPathComponent("config.yaml").path)
        }
    }

    /// Reads every `<model>/config.yaml` under `path` (folders without one are skipped, as Triton skips them).
    public static func open(_ path: String) throws -> ModelRepository {
        let root = URL(fileURLWithPath: path)
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() } catch {
            throw RepositoryError(file: path, message: "cannot list the model repository: \(error.localizedDescription)")
        }
        var entries: [ModelEntry] = []
        for name in names where !name.hasPrefix(".") {
            if let entry = try entry(named: name, in: root) { entries.append(entry) }
        }
        if entries.isEmpty { throw RepositoryError(file: path, message: "no model folder with a config.yaml") }
        return ModelRepository(root: root, entries: entries)
    }

    /// The entry for folder `name` of the repository at `root`, or nil when it has no `config.yaml`.
    public static func entry(named name: String, in root: URL) throws -> ModelEntry? {
        let folder = root.appendingPathComponent(name)
        let configURL = folder.appendingPathComponent("config.yaml")
        guard FileManager.default.fileExists(atPath: configURL.path) else { return nil }
        let config = try ModelConfigLoader.load(configURL)
        if let n = config.name, n != name {
            throw RepositoryError(file: configURL.path, message: "name '\(n)' differs from its folder '\(name)'")
        }
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).compactMap(Int.init).sorted()
        if !config.needsWeights { return ModelEntry(name: name, version: "1", config: config, source: .builtin) }
        if let model = config.model {
            let path = model.hasPrefix("/") ? model : folder.appendingPathComponent(model).path
            return ModelEntry(name: name, version: "1", config: config, source: .path(path))
        }
        guard let latest = versions.last else {
            throw RepositoryError(
                file: configURL.path, message: "no model: add a version folder (\(name)/1/ holding an artifact) or a `model:` key")
        }
        return ModelEntry(
            name: name, version: String(latest), config: config, source: .path(folder.appendingPathComponent(String(latest)).path))
    }

    /// One entry per path, named after its last component without extension (`artifacts/minilm-int8` → `minilm-int8`).
    public static func quickStart(_ paths: [String], config: ModelConfig = ModelConfig()) throws -> ModelRepository {
        var entries: [ModelEntry] = []
        for path in paths {
            let url = URL(fileURLWithPath: path).standardizedFileURL
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw RepositoryError(file: path, message: "no such model")
            }
            let name = isDirectory.boolValue ? url.lastPathComponent : url.deletingPathExtension().lastPathComponent
            if entries.contains(where: { $0.name == name }) {
                throw RepositoryError(file: path, message: "two models are named '\(name)'; use a repository folder to name them")
            }
            entries.append(ModelEntry(name: name, config: config, source: .path(path)))
        }
        return ModelRepository(entries: entries)
    }
}
