/// A closed set of choices spelled as strings in JSON and YAML (`padding: same`, `method: gptq`).
///
/// Decoding an unknown spelling fails with a message that lists the allowed ones, so a recipe or `model.json`
/// error names both the bad value and the fix (the coding path adds the key):
/// ```swift
/// enum Padding: String, ConfigEnum { case valid, same }
/// // decoding "causal" → "unknown value 'causal' (allowed: valid, same)"
/// ```
public protocol ConfigEnum: RawRepresentable, CaseIterable, Codable, Sendable where RawValue == String {}

extension ConfigEnum {
    /// The allowed spellings, comma-separated, in declaration order.
    public static var spellings: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Parses a spelling; nil when it is not one of ``spellings``.
    public init?(spelling: String) { self.init(rawValue: spelling) }

    // More specific than the standard library's RawRepresentable decoding, so it wins: that one only says
    // "Cannot initialize X from invalid String value".
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let spelling = try container.decode(String.self)
        guard let value = Self(rawValue: spelling) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "unknown value '\(spelling)' (allowed: \(Self.spellings))")
        }
        self = value
    }
}
