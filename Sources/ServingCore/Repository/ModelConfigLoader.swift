import Foundation
import Yams

/// A repository or config problem, naming the file (and line when known), as recipe errors do.
public struct RepositoryError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Reads `config.yaml` strictly: unknown keys and wrong types are errors naming the file, key and line.
public enum ModelConfigLoader {
    public static func load(_ url: URL) throws -> ModelConfig {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw RepositoryError(file: url.path, message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: url.path)
    }

    public static func parse(_ text: String, file: String) throws -> ModelConfig {
        let node: Node
        do {
            guard let n = try Yams.compose(yaml: text) else { return ModelConfig() }
            node = n
        } catch let e as YamlError {
            throw RepositoryError(
                file: file, message: "not valid YAML: \(e)".split(separator: "\n").first.map(String.init) ?? "not valid YAML")
        }
        guard node.mapping != nil else { throw RepositoryError(file: file, line: node.mark?.line, message: "a model config is a mapping") }
        try checkKeys(node, place: "", file: file)
        let config: ModelConfig
        do { config = try YAMLDecoder().decode(ModelConfig.self, from: node) } catch let e as DecodingError {
            throw RepositoryError(file: file, message: describe(e))
        }
        do { try config.validate() } catch {
            throw RepositoryError(file: file, line: locate(error.key, in: node)?.mark?.line, message: error.message)
        }
        return config
    }

    /// Rejects keys the schema doesn't list at their place; sequences (Triton's `instance_group` list) are checked
    /// element by element against their key's schema.
    static func checkKeys(_ node: Node, place: String, file: String) throws {
        if let seq = node.sequence {
            for element in seq { try checkKeys(element, place: place, file: file) }
            return
        }
        guard let mapping = node.mapping, let allowed = ModelConfig.keySchema[place] else { return }
        for (key, value) in mapping {
            let k = key.string ?? "?"
            guard allowed.contains(k) else {
                let where_ = place.isEmpty ? "top level" : "'\(place)'"
                throw RepositoryError(
                    file: file, line: key.mark?.line,
                    message: "unknown key '\(k)' at \(where_) (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            try checkKeys(value, place: place.isEmpty ? k : "\(place).\(k)", file: file)
        }
    }

    static func locate(_ dotted: String, in root: Node) -> Node? {
        var node = root
        for key in dotted.split(separator: ".") {
            guard let next = node.mapping?[String(key)] else { return node }
            node = next
        }
        return node
    }

    static func describe(_ e: DecodingError) -> String {
        func dotted(_ c: DecodingError.Context) -> String {
            c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case let .keyNotFound(key, c): return "missing key '\([dotted(c), key.stringValue].filter { !$0.isEmpty }.joined(separator: "."))'"
        case let .typeMismatch(type, c): return "'\(dotted(c))' has the wrong type (expected \(type))"
        case let .valueNotFound(type, c): return "'\(dotted(c))' is empty (expected \(type))"
        case let .dataCorrupted(c): return "'\(dotted(c))': \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
