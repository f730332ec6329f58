import Evaluation
import Formats
import Foundation
import Pipeline
import Testing

/// `compress run` end to end on the digits CNN, in process.
@Suite(.serialized)
struct RunTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("compress-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func digitsRecipeWritesArtifactReportAndMetrics() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
            name: digits-test
            model: \(Self.repo.path)/Tests/Fixtures/keras/digits_cnn.keras
            data: {evaluation: \(Self.repo.path)/datasets/digits/test.h5}
            stages:
              - evaluate: {batch_sizes: [1, 32], time_budget: 0.5}
              - export: {zstd: true}
              - evaluate: {batch_sizes: [1], timing: false}
            constraints: {max_accuracy_drop: 0.0}
            """
        let recipePath = dir.appendingPathComponent("r.yaml").path
        try yaml.write(toFile: recipePath, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("run")
        let (record, written) = try PipelineRunner().run(
            try RecipeLoader.load(recipePath), recipePath: recipePath, outputDirectory: out.path)
        #expect(written.path == out.path)
        for f in ["metrics.json", "report.md", "recipe.yaml", "model/model.json", "model/model.safetensors.zst"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), "\(f)")
        }
        let first = try #require(record.stages[0].metrics)
        #expect(first.accuracy! > 0.97)
        #expect(first.latency != nil && first.throughput.count == 1)
        #expect(first.latency!.latencyMs.p50 > 0 && first.latency!.latencyMs.p99 >= first.latency!.latencyMs.p50)
        #expect(record.stages[1].roundtripMaxAbsDiff == 0)
        #expect(record.constraintsMet)
        // The run directory is a model (its model/ artifact) and a measurement `compare` can read.
        let loaded = try ModelLoader.load(out.path)
        #expect(loaded.format == "artifact" && loaded.source.lastPathComponent == "model")
        let m = try #require(try Comparison.loadMeasurement(out.path))
        #expect(m.accuracy == record.stages[2].metrics?.accuracy)
        let report = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(report.contains("| 1 | evaluate |") && report.contains("round-trip"))
    }

    @Test func rerunReplacesItsOwnOutputButNotAForeignOne() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
            name: twice
            model: \(Self.repo.path)/Tests/Fixtures/keras/digits_cnn.keras
            data: {evaluation: \(Self.repo.path)/datasets/digits/test.h5}
            stages:
              - evaluate: {timing: false}
            """
        let recipePath = dir.appendingPathComponent("r.yaml").path
        try yaml.write(toFile: recipePath, atomically: true, encoding: .utf8)
        let recipe = try RecipeLoader.load(recipePath)
        let out = dir.appendingPathComponent("run")
        try PipelineRunner().run(recipe, recipePath: recipePath, outputDirectory: out.path)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(".compress-run").path))
        try PipelineRunner().run(recipe, recipePath: recipePath, outputDirectory: out.path)
        // A directory holding something else: refused, before any stage runs.
        let foreign = dir.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: foreign.appendingPathComponent("x"))
        var forced = PipelineRunner()
        forced.force = true
        #expect(throws: FormatError.self) { try forced.run(recipe, recipePath: recipePath, outputDirectory: foreign.path) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: foreign.path) == ["x"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["foreign", "r.yaml", "run"])
    }

    @Test func failingRunLeavesNoPartialOutput() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
            name: broken
            model: \(Self.repo.path)/Tests/Fixtures/keras/digits_cnn.keras
            data: {evaluation: \(Self.repo.path)/datasets/text/eval.txt}
            stages:
              - export: {}
              - evaluate: {}
            """
        let recipePath = dir.appendingPathComponent("r.yaml").path
        try yaml.write(toFile: recipePath, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("run")
        // The export stage writes first, then evaluate fails (text into an image model): nothing may remain.
        #expect(throws: (any Error).self) {
            try PipelineRunner().run(try RecipeLoader.load(recipePath), recipePath: recipePath, outputDirectory: out.path)
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["r.yaml"])
    }

    @Test func compareRendersAllFormats() throws {
        let report = { (acc: Double, rate: Double) in
            EvalReport(
                model: "m", format: "artifact", data: ["d"], items: 10, parameters: 100, accuracy: acc, fidelity: nil, paraphrase: nil,
                latency: Timing.Result(
                    batchSize: 1, threads: 1, throughputPerS: rate, latencyMs: .init(p50: 1000 / rate, p90: 1, p99: 2000 / rate, mean: 1),
                    calls: 10, passes: 3, stable: true),
                throughput: [], size: SizeReport(fileBytes: 1000, weightsBytes: 800, weightsZstdBytes: 700, zstdLevel: 3), peakRssBytes: 1,
                threads: 1)
        }
        let c = Comparison(before: report(0.98, 100), after: report(0.97, 250))
        let rate = try #require(c.rows.first { $0.metric == "throughput_b1_per_s" })
        #expect(abs(rate.ratio! - 2.5) < 1e-12)
        #expect(c.markdown().contains("×2.500"))
        let html = c.html()
        #expect(html.contains("<svg") && html.contains("throughput, batch 1") && html.contains("250/s"))
        // Human units, and before/after told apart by colour, never parameters coloured as good or bad.
        #expect(html.contains("800 B") && !html.contains("#c44") && !html.contains("#3a7"))
        let json = try JSONSerialization.jsonObject(with: try c.json()) as! [String: Any]
        #expect((json["rows"] as! [Any]).count == c.rows.count)
    }
}
