import Foundation

/// Repository paths for tests (the repo root is three levels above this file).
enum TestPaths {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shared = repo.deletingLastPathComponent().appendingPathComponent("shared")
    static let fixtures = repo.appendingPathComponent("Tests/Fixtures")
    /// The MiniLM folder `make models` creates; tests fail (not skip) without it.
    static let minilm = repo.appendingPathComponent("models/all-MiniLM-L6-v2")

    static func sharedFixture(_ path: String) -> URL { shared.appendingPathComponent("fixtures").appendingPathComponent(path) }
    static func fixture(_ path: String) -> URL { fixtures.appendingPathComponent(path) }

    static func requireMiniLM() throws -> URL {
        guard FileManager.default.fileExists(atPath: minilm.appendingPathComponent("model.safetensors").path) else {
            throw TestSetupError("MiniLM model missing at \(minilm.path): run `make models`")
        }
        return minilm
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("compress-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
