import Foundation

/// A module-path pattern from a recipe's `targets`/`ignore`: `re:REGEX` (must match the whole path, as in
/// llm-compressor), a glob with `*` (any characters, dots included), or an exact path.
public struct PathPattern: Sendable {
    public let source: String
    private let regex: NSRegularExpression

    public init(_ source: String) throws {
        self.source = source
        let pattern: String
        if source.hasPrefix("re:") {
            pattern = String(source.dropFirst(3))
        } else {
            pattern = NSRegularExpression.escapedPattern(for: source).replacingOccurrences(of: "\\*", with: ".*")
        }
        do { regex = try NSRegularExpression(pattern: "^(?:" + pattern + ")$") } catch {
            throw CompressionError.invalidConfig(key: "targets", message: "pattern '\(source)' is not a valid regular expression")
        }
    }

    public func matches(_ path: String) -> Bool {
        regex.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil
    }

    /// Paths selected by `targets` (all when nil) minus `ignore`.
    public static func select(_ paths: [String], targets: [String]?, ignore: [String]?) throws -> [String] {
        let t = try (targets ?? []).map(PathPattern.init), i = try (ignore ?? []).map(PathPattern.init)
        return paths.filter { p in (t.isEmpty || t.contains { $0.matches(p) }) && !i.contains { $0.matches(p) } }
    }
}
