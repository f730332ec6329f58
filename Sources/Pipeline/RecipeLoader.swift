import Compression
import Foundation
import Yams

/// A recipe problem, with the file and line it is on.
public struct RecipeError: Error, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let message: String
    public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

/// Reads recipes with Yams + Codable, reporting unknown keys and type errors with line numbers.
public enum RecipeLoader {
    /// Parses and checks the recipe at `path`.
    public static func load(_ path: String) throws -> Recipe {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecipeError(file: path, line: nil, message: "cannot read the recipe file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw RecipeError(file: path, line: nil, message: "not UTF-8 text") }
        return try parse(text, file: path)
    }

    /// Parses recipe text; `file` names it in errors. `stages` are the stage types it may use.
    public static func parse(_ text: String, file: String, stages: [any RecipeStage.Type] = RecipeStages.all) throws -> Recipe {
        let node: Node
        do {
            guard let n = try Yams.compose(yaml: text) else { throw RecipeError(file: file, line: nil, message: "empty recipe") }
            node = n
        } catch let e as YamlError {
            throw RecipeError(file: file, line: yamlLine(e), message: "invalid YAML: \(yamlProblem(e))")
        }
        guard node.mapping != nil else {
            throw RecipeError(file: file, line: node.mark?.line, message: "a recipe is a mapping of keys (name, model, stages, …)")
        }
        try checkKeys(node, schemaPath: "", schema: Recipe.keySchema(stages: stages), stages: stages, file: file)
        let recipe: Recipe
        do {
            recipe = try YAMLDecoder().decode(Recipe.self, from: node, userInfo: [RecipeStages.userInfoKey: stages])
        } catch let e as DecodingError {
            let (path, message) = describe(e)
            throw RecipeError(file: file, line: locate(path, in: node)?.mark?.line, message: message)
        }
        try validate(recipe, node: node, file: file)
        return recipe
    }

    /// Rejects keys the schema doesn't know, naming the key and its line.
    static func checkKeys(_ node: Node, schemaPath: String, schema: KeySchema, stages: [any RecipeStage.Type], file: String) throws {
        if let mapping = node.mapping, let allowed = schema[schemaPath] {
            for (key, value) in mapping {
                let k = key.string ?? "?"
                guard allowed.contains(k) else {
                    let where_ = schemaPath.isEmpty ? "top level" : "'\(schemaPath)'"
                    throw RecipeError(
                        file: file, line: key.mark?.line,
                        message: "unknown key '\(k)' at \(where_) (allowed: \(allowed.sorted().joined(separator: ", ")))")
                }
                try checkKeys(value, schemaPath: schemaPath.isEmpty ? k : "\(schemaPath).\(k)", schema: schema, stages: stages, file: file)
            }
        }
        if schemaPath == "stages", let seq = node.sequence {
            for stage in seq {
                guard let m = stage.mapping, m.count == 1, let (key, value) = m.first, let name = key.string else {
                    throw RecipeError(
                        file: file, line: stage.mark?.line,
                        message: "a stage is a mapping with exactly one key (\(RecipeStages.names(stages)))")
                }
                guard stages.contains(where: { $0.name == name }) else {
                    throw RecipeError(
                        file: file, line: key.mark?.line, message: "unknown stage '\(name)' (supported: \(RecipeStages.names(stages)))")
                }
                if value.mapping != nil { try checkKeys(value, schemaPath: "stages.\(name)", schema: schema, stages: stages, file: file) }
            }
        }
    }

    static func validate(_ r: Recipe, node: Node, file: String) throws {
        func fail(_ key: String, _ message: String) -> RecipeError {
            RecipeError(file: file, line: locate(key.split(separator: ".").map(String.init), in: node)?.mark?.line, message: message)
        }
        guard !r.name.isEmpty, r.name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw fail("name", "name '\(r.name)' must be non-empty and use only letters, digits, '-', '_' and '.'")
        }
        guard !r.stages.isEmpty else { throw fail("stages", "stages must list at least one stage") }
        for (i, stage) in r.stages.enumerated() {
            do { try stage.validate(in: r, at: i) } catch let p as StageProblem {
                throw RecipeError(file: file, line: locate(p.recipeKey ?? ["stages", "\(i)"], in: node)?.mark?.line, message: p.message)
            }
        }
    }

    /// The node at a coding path (keys and sequence indices).
    static func locate(_ path: [String], in root: Node) -> Node? {
        var node: Node? = root
        var last: Node? = root
        for key in path {
            guard let current = node else { break }
            if let m = current.mapping {
                node = m[key]
            } else if let s = current.sequence, let i = Int(key), i < s.count {
                node = s[i]
            } else if let m = current.mapping?.first, m.key.string == key {
                node = m.value
            } else {
                node = nil
            }
            if node != nil { last = node }
        }
        return last
    }

    static func describe(_ e: DecodingError) -> ([String], String) {
        func path(_ c: DecodingError.Context) -> [String] { c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue } }
        func dotted(_ p: [String]) -> String { p.joined(separator: ".") }
        switch e {
        case let .keyNotFound(key, c): return (path(c), "missing key '\(dotted(path(c) + [key.stringValue]))'")
        case let .typeMismatch(type, c): return (path(c), "'\(dotted(path(c)))' has the wrong type (expected \(typeName(type)))")
        case let .valueNotFound(type, c): return (path(c), "'\(dotted(path(c)))' is empty (expected \(typeName(type)))")
        case let .dataCorrupted(c): return (path(c), path(c).isEmpty ? c.debugDescription : "'\(dotted(path(c)))': \(c.debugDescription)")
        @unknown default: return ([], "\(e)")
        }
    }

    static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: return "a string"
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        default:
            let s = String(describing: t)
            return s.hasPrefix("Array")
                ? "a list"
                : (s.hasPrefix("Dictionary") || s.contains("Stage") || s.contains("Section") || s.contains("Constraints") ? "a mapping" : s)
        }
    }

    static func yamlLine(_ e: YamlError) -> Int? {
        switch e {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _): return mark.line
        default: return nil
        }
    }

    static func yamlProblem(_ e: YamlError) -> String {
        switch e {
        case let .scanner(_, problem, _, _), let .parser(_, problem, _, _): return problem
        default: return "\(e)".split(separator: "\n").first.map(String.init) ?? "\(e)"
        }
    }
}
