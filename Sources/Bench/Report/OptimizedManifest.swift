import Foundation

/// What `compress report` combines (written by `make bench-optimized`, or by hand): for each variant of a model
/// family, the `compress run` directory that measured it in the engine and the `compress bench --json` files that
/// measured it behind `compress serve`.
///
/// ```json
/// {"title": "MiniLM and Fashion CNN after every optimization",
///  "variants": [{"family": "MiniLM", "name": "fp32", "run": "artifacts/minilm",
///                "bench": ["artifacts/bench-optimized/bench/minilm-rest-binary.json"]}],
///  "commands": ["make bench-optimized"]}
/// ```
public struct OptimizedManifest: Codable, Sendable {
    public struct Variant: Codable, Sendable {
        /// Rows of one table and one set of charts share a family (e.g. `MiniLM`, `Fashion CNN`).
        public var family: String
        /// Short, readable: `fp32`, `int8`, `pruned + distilled + int8`.
        public var name: String
        /// A `compress run` output directory (its metrics.json) or an `eval --json` file.
        public var run: String
        /// `compress bench --json` outputs for this variant (any protocols, any levels).
        public var bench: [String]

        public init(family: String, name: String, run: String, bench: [String]) {
            self.family = family
            self.name = name
            self.run = run
            self.bench = bench
        }
    }

    public var title: String
    public var variants: [Variant]
    /// How the figures were made (printed in the report so they can be reproduced).
    public var commands: [String]
    /// Machine, date, notes.
    public var notes: [String]

    public init(title: String, variants: [Variant], commands: [String] = [], notes: [String] = []) {
        self.title = title
        self.variants = variants
        self.commands = commands
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey { case title, variants, commands, notes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        title = try c.decode(String.self, forKey: .title)
        variants = try c.decode([Variant].self, forKey: .variants)
        commands = try c.decodeIfPresent([String].self, forKey: .commands) ?? []
        notes = try c.decodeIfPresent([String].self, forKey: .notes) ?? []
    }

    /// Reads and checks a manifest; relative paths inside it are resolved against its directory.
    public static func load(_ path: String) throws -> OptimizedManifest {
        let url = URL(fileURLWithPath: path)
        guard let data = FileManager.default.contents(atPath: path) else { throw BenchError("\(path): no such file") }
        var manifest: OptimizedManifest
        do { manifest = try JSONDecoder().decode(OptimizedManifest.self, from: data) } catch let e as DecodingError {
            throw BenchError("\(path): \(describe(e))")
        }
        guard !manifest.variants.isEmpty else { throw BenchError("\(path): variants: empty") }
        let base = url.deletingLastPathComponent()
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base.appendingPathComponent(p).standardizedFileURL.path }
        var seen = Set<String>()
        for i in manifest.variants.indices {
            let v = manifest.variants[i]
            guard seen.insert(v.family + "\u{0}" + v.name).inserted else {
                throw BenchError("\(path): variants[\(i)]: '\(v.name)' appears twice in family '\(v.family)'")
            }
            manifest.variants[i].run = resolve(v.run)
            manifest.variants[i].bench = v.bench.map(resolve)
        }
        return manifest
    }
}

/// A decoding error as `field.path: what` (one line).
func describe(_ e: DecodingError) -> String {
    func path(_ p: [any CodingKey]) -> String {
        p.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
    switch e {
    case let .keyNotFound(key, ctx): return "\(path(ctx.codingPath + [key])): missing"
    case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx): return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
    case let .dataCorrupted(ctx): return ctx.codingPath.isEmpty ? "not valid JSON" : "\(path(ctx.codingPath)): \(ctx.debugDescription)"
    @unknown default: return "\(e)"
    }
}
