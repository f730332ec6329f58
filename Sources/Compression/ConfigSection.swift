/// A mapping in a recipe whose allowed YAML keys are its `CodingKeys`, so unknown-key errors can list them
/// without a hand-written table that drifts from the decoder.
///
/// ```swift
/// struct SmoothQuantConfig: Codable, ConfigSection {
///     var alpha: Float
///     enum CodingKeys: String, CodingKey, CaseIterable { case alpha }
///     static var keySchema: KeySchema { KeySchema(CodingKeys.self) }
/// }
/// ```
public protocol ConfigSection {
    /// Allowed keys of this mapping and of the sections nested in it.
    static var keySchema: KeySchema { get }
}

/// Allowed keys by place: `""` is the section itself, `"weights"` a nested section, `"a.b"` deeper ones.
public struct KeySchema: Sendable, Equatable {
    public private(set) var keys: [String: Set<String>]

    /// The keys of `codingKeys`, plus each nested section's schema under its key.
    public init<Key: CodingKey & CaseIterable & Hashable>(_ codingKeys: Key.Type, nested: [Key: any ConfigSection.Type] = [:]) {
        keys = ["": Set(Key.allCases.map(\.stringValue))]
        for (key, section) in nested { merge(section.keySchema, under: key.stringValue) }
    }

    /// Adds `other`'s places under `prefix` (`""` merges at the same level).
    public mutating func merge(_ other: KeySchema, under prefix: String) {
        for (path, allowed) in other.keys {
            let place = [prefix, path].filter { !$0.isEmpty }.joined(separator: ".")
            keys[place, default: []].formUnion(allowed)
        }
    }

    /// The allowed keys at `path`, or nil when the schema doesn't describe that place (free-form or not a mapping).
    public subscript(path: String) -> Set<String>? { keys[path] }
}
