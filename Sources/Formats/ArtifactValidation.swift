import Foundation
import Layers

/// Checks on an artifact's `model.json` beyond decoding: no unknown keys (a typo or a field from a newer tool
/// must not be silently ignored), and file names that stay inside the artifact directory.
enum ArtifactValidation {
    /// Allowed keys per object, by position in the manifest (`*` matches any map key or array index). Kept next to
    /// the types' CodingKeys by a test that writes every kind of artifact and reloads it.
    static let allowedKeys: [String: Set<String>] = [
        "": [
            "format", "version", "task", "architecture", "tensors", "provenance", "weightsFile", "weightsSha256", "tokenizerFiles",
            "modules",
        ],
        "architecture": ["kind", "inputShape", "layers", "config", "pooling", "maxSequenceLength", "hasPooler"],
        "architecture.layers.*": [
            "type", "name", "inFeatures", "outFeatures", "kernelSize", "strides", "padding", "activation", "useBias", "epsilon", "rate",
        ],
        "architecture.config": [
            "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
            "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "position_embedding_type", "layer_shapes",
        ],
        "architecture.config.layer_shapes.*": ["heads", "head_size", "intermediate_size"],
        "architecture.pooling": ["mode", "normalize"],
        "tensors.*": ["dtype", "shape", "encoding"],
        "provenance": ["source", "sourceSha256", "recipe", "toolVersion", "createdAt", "stages"],
        "modules.*": [
            "kind", "name", "inFeatures", "outFeatures", "useBias", "activation", "activationMode", "groupSize", "inputScale", "method",
            "conv",
        ],
        "modules.*.conv": ["inChannels", "kernelSize", "strides", "padding"],
    ]

    /// Throws on the first key not in ``allowedKeys`` for its position, naming its dotted path.
    static func rejectUnknownKeys(_ json: JSONValue, file: String) throws {
        func walk(_ v: JSONValue, path: [String], pattern: [String]) throws {
            switch v {
            case let .object(o):
                let key = pattern.joined(separator: ".")
                let allowed = allowedKeys[key]
                for (k, child) in o.sorted(by: { $0.key < $1.key }) {
                    if let allowed {
                        guard allowed.contains(k) else {
                            let at = (path + [k]).joined(separator: ".")
                            throw FormatError.invalid(
                                file: file, message: "unknown key '\(at)' (expected one of \(allowed.sorted().joined(separator: ", ")))")
                        }
                        try walk(child, path: path + [k], pattern: pattern + [k])
                    } else if allowedKeys.keys.contains(where: { $0.hasPrefix(key.isEmpty ? "" : key + ".*") }) {
                        // A map whose keys are names (tensors, modules): its values have a schema.
                        try walk(child, path: path + [k], pattern: pattern + ["*"])
                    }
                }
            case let .array(a):
                for (i, child) in a.enumerated() { try walk(child, path: path + [String(i)], pattern: pattern + ["*"]) }
            default:
                return
            }
        }
        try walk(json, path: [], pattern: [])
    }

    /// `name` (from `model.json` field `field`) resolved inside `dir`: relative, no `..`, and, once symlinks are
    /// resolved, still under `dir`, so a crafted manifest cannot make us read `/etc/passwd` or a neighbour's files.
    static func containedURL(_ name: String, in dir: URL, field: String, manifest: String) throws -> URL {
        func fail(_ why: String) -> FormatError { FormatError.invalid(file: manifest, message: "\(field) '\(name)' \(why)") }
        guard !name.isEmpty else { throw fail("is empty") }
        guard !name.hasPrefix("/"), !name.hasPrefix("~") else { throw fail("is an absolute path (must be a file inside the artifact)") }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !parts.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
            throw fail("leaves the artifact directory (no '..', '.' or empty path components)")
        }
        guard !name.contains("\0") else { throw fail("contains a NUL byte") }
        let url = dir.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: url.path) {
            let root = dir.resolvingSymlinksInPath().standardizedFileURL.path
            let target = url.resolvingSymlinksInPath().standardizedFileURL.path
            guard target.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
                throw fail("is a symbolic link to '\(target)', outside the artifact directory")
            }
        }
        return url
    }
}
