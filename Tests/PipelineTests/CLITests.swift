import Foundation
import Testing

/// The `compress` executable itself: exit codes and one-line errors on stderr (built by `swift build --build-tests`).
@Suite(.serialized)
struct CLITests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs the debug binary; returns (status, stdout, stderr).
    static func run(_ arguments: [String]) throws -> (Int32, String, String) {
        let binary = repo.appendingPathComponent(".build/debug/compress")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw CocoaError(.fileNoSuchFile) }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = repo
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func inspectAndEvalSucceedWithJSON() throws {
        let (status, out, _) = try Self.run(["inspect", "Tests/Fixtures/keras/digits_cnn.keras", "--json"])
        #expect(status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        #expect((json?["layers"] as? [Any])?.count == 4)
        let (s2, out2, _) = try Self.run([
            "eval", "Tests/Fixtures/keras/digits_cnn.keras", "--data", "datasets/digits/test.h5", "--no-timing", "--json", "--threads", "1",
        ])
        #expect(s2 == 0)
        let report = try JSONSerialization.jsonObject(with: Data(out2.utf8)) as? [String: Any]
        #expect(abs((report?["accuracy"] as? Double ?? 0) - 0.9833) < 1e-3)
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        let fragment: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let bad: [Bad] = [
        Bad(arguments: ["inspect", "/no/such/model.h5"], fragment: "/no/such/model.h5"),
        Bad(arguments: ["inspect", "datasets/digits/test.h5"], fragment: "test.h5"),
        Bad(arguments: ["eval", "models/all-MiniLM-L6-v2", "--data", "datasets/digits/test.h5", "--no-timing"], fragment: "text model"),
        Bad(arguments: ["run", "README.md"], fragment: "README.md"),
        Bad(
            arguments: [
                "predict", "Tests/Fixtures/keras/digits_cnn.keras", "--input", "/no/input.h5", "--output",
                "/tmp/compress-cli-never.safetensors",
            ], fragment: "/no/input.h5"),
    ]

    @Test(arguments: bad)
    func badInputIsOneLineAndNonZero(_ c: Bad) throws {
        let (status, _, err) = try Self.run(c.arguments)
        #expect(status != 0)
        let lines = err.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(err)")
        #expect(err.hasPrefix("compress: error: ") && err.contains(c.fragment), "stderr: \(err)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/compress-cli-never.safetensors"))
    }
}
