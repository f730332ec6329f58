import Formats
import Foundation
import Pipeline
import Testing

/// The `compress` executable itself: exit codes and one-line errors on stderr (built by `swift build --build-tests`).
@Suite(.serialized)
struct CLITests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs the debug binary (in `directory`, default the repository, with `environment` added); returns (status,
    /// stdout, stderr).
    static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let binary = repo.appendingPathComponent(".build/debug/compress")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw CocoaError(.fileNoSuchFile) }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? repo
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
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
        // The command only prints the library's report.
        let (s1, text, _) = try Self.run(["inspect", "Tests/Fixtures/keras/digits_cnn.keras"])
        let inspection = ModelInspection(
            try ModelLoader.load(Self.repo.path + "/Tests/Fixtures/keras/digits_cnn.keras"), name: "Tests/Fixtures/keras/digits_cnn.keras")
        #expect(s1 == 0 && text == inspection.text + "\n")
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

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("compress-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The reliability bug's repro, on a temporary directory: `--output` naming a directory compress did not write.
    @Test func runRefusesToReplaceAForeignDirectory() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let keep = root.appendingPathComponent("keep")
        try FileManager.default.createDirectory(at: keep, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: keep.appendingPathComponent("x"))
        for extra in [[], ["--force"]] {
            let (status, _, err) = try Self.run(["run", "recipes/digits-cnn.yaml", "--output", keep.path, "--quiet"] + extra)
            #expect(status == 1)
            #expect(err.split(separator: "\n").count == 1 && err.contains(keep.path) && err.contains("refusing"), "stderr: \(err)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: keep.path) == ["x"])
        }
    }

    /// `output: .` run from a directory: refused even with --force, and nothing in it is touched.
    @Test func runNeverReplacesTheCurrentDirectory() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let work = root.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: work.appendingPathComponent("notes.txt"))
        let recipe = """
            name: dot
            model: \(Self.repo.path)/Tests/Fixtures/keras/digits_cnn.keras
            data: {evaluation: \(Self.repo.path)/datasets/digits/test.h5}
            stages:
              - evaluate: {timing: false}
            output: .
            """
        try Data(recipe.utf8).write(to: work.appendingPathComponent("dot.yaml"))
        for extra in [[], ["--force"], ["--output", ".."], ["--output", "..", "--force"]] {
            let (status, _, err) = try Self.run(["run", "dot.yaml", "--quiet"] + extra, in: work)
            #expect(status == 1)
            #expect(err.contains("refusing") && err.contains("current directory"), "stderr: \(err)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path).sorted() == ["dot.yaml", "notes.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["work"])
    }

    /// A `compress run` output folder works wherever a MODEL goes; without model/ the error says how to fix it.
    @Test func runFolderIsAModel() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func runRecipe(_ name: String, export: Bool) throws -> URL {
            let yaml = """
                name: \(name)
                model: \(Self.repo.path)/Tests/Fixtures/keras/digits_cnn.keras
                data: {evaluation: \(Self.repo.path)/datasets/digits/test.h5}
                stages:
                  - evaluate: {timing: false}
                \(export ? "  - export: {}" : "")
                """
            let path = root.appendingPathComponent("\(name).yaml").path
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            let out = root.appendingPathComponent(name)
            try PipelineRunner().run(try RecipeLoader.load(path), recipePath: path, outputDirectory: out.path)
            return out
        }
        let run = try runRecipe("with-model", export: true)
        let (s1, out1, _) = try Self.run(["inspect", run.path, "--json"])
        #expect(s1 == 0)
        let inspected = try JSONSerialization.jsonObject(with: Data(out1.utf8)) as? [String: Any]
        #expect(inspected?["format"] as? String == "artifact" && (inspected?["layers"] as? [Any])?.count == 4)
        let (s2, out2, _) = try Self.run([
            "eval", run.path, "--reference", run.path, "--data", "datasets/digits/test.h5", "--no-timing", "--json", "--quiet",
        ])
        #expect(s2 == 0)
        let report = try JSONSerialization.jsonObject(with: Data(out2.utf8)) as? [String: Any]
        #expect((report?["fidelity"] as? [String: Any])?["max_abs_diff"] as? Double == 0)
        let bare = try runRecipe("without-model", export: false)
        let (s3, _, err3) = try Self.run(["inspect", bare.path])
        #expect(s3 == 1)
        #expect(err3.split(separator: "\n").count == 1 && err3.contains(bare.path) && err3.contains("add an `export` stage"), "\(err3)")
    }

    /// Progress goes to stderr only: stdout (text or --json) is the same with and without it; --quiet silences it;
    /// a pipe gets plain lines, never the terminal's redraws.
    @Test func progressNeverTouchesStdout() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let eval = ["eval", "Tests/Fixtures/keras/digits_cnn.keras", "--data", "datasets/digits/test.h5", "--no-timing", "--threads", "1"]
        func stable(_ json: String) throws -> NSDictionary {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            return object.filter { $0.key != "peak_rss_bytes" } as NSDictionary  // the only figure that varies
        }
        let (s1, loud, _) = try Self.run(eval + ["--json"])
        let (s2, quiet, quietErr) = try Self.run(eval + ["--json", "--quiet"])
        #expect(s1 == 0 && s2 == 0)
        #expect(try stable(loud) == stable(quiet))
        #expect(quietErr.isEmpty)
        let (_, text, _) = try Self.run(eval)
        let (_, quietText, _) = try Self.run(eval + ["--quiet"])
        #expect(text.split(separator: "\n").dropLast() == quietText.split(separator: "\n").dropLast(), "all but the peak RSS line")
        // A run reports its stages as lines on a pipe; --quiet leaves stderr empty.
        let out = root.appendingPathComponent("run")
        let (s3, _, runErr) = try Self.run(["run", "recipes/digits-cnn.yaml", "--output", out.path, "--time-budget", "0.1"])
        #expect(s3 == 0)
        #expect(runErr.contains("stage 1/2: evaluate") && runErr.contains("stage 2/2: export") && !runErr.contains("\r"), "\(runErr)")
        let (s4, _, runQuietErr) = try Self.run(["run", "recipes/digits-cnn.yaml", "--output", out.path, "--time-budget", "0.1", "--quiet"])
        #expect(s4 == 0 && runQuietErr.isEmpty)
    }

    /// Found by `fuzz/run.sh keras`: a corrupted global heap behind a variable-length string attribute makes libhdf5
    /// 1.10 loop forever in H5Aread. The watchdog turns the hang into a one-line error naming the file.
    @Test func hdf5FileThatHangsLibhdf5EndsWithAnError() throws {
        let start = Date()
        let fixture = "Tests/Fixtures/fuzz/keras-h5-global-heap-hang.h5"
        let (status, _, err) = try Self.run(["inspect", fixture], environment: ["COMPRESS_HDF5_TIMEOUT": "2"])
        #expect(status == 1)
        #expect(err.split(separator: "\n").count == 1)
        #expect(err.contains(fixture) && err.contains("HDF5 library made no progress"), "\(err)")
        #expect(Date().timeIntervalSince(start) < 30)
    }
}
