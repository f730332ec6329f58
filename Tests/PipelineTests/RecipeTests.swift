import Foundation
import Pipeline
import Testing

/// Recipe parsing: good recipes decode; bad ones give one-line errors with the line number.
struct RecipeTests {
    static let good = """
        name: digits
        model: Tests/Fixtures/keras/digits_cnn.keras
        data:
          evaluation: datasets/digits/test.h5
        stages:
          - evaluate: {batch_sizes: [1, 8], threads: 1}
          - export: {zstd: true}
        constraints: {max_accuracy_drop: 0.01}
        """

    @Test func goodRecipeDecodes() throws {
        let r = try RecipeLoader.parse(Self.good, file: "good.yaml")
        #expect(r.name == "digits")
        #expect(r.data?.evaluation == ["datasets/digits/test.h5"])
        #expect(r.stages.map { $0.name } == ["evaluate", "export"])
        let e = try #require(r.stages[0] as? EvaluateStage)
        #expect(e.batchSizes == [1, 8] && e.threads == 1)
        #expect(r.constraints?.maxAccuracyDrop == 0.01)
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        let yaml: String
        let line: Int?
        let fragment: String
        var testDescription: String { fragment }
    }

    static let bad: [Bad] = [
        Bad(yaml: good.replacingOccurrences(of: "constraints:", with: "constrains:"), line: 8, fragment: "unknown key 'constrains'"),
        Bad(yaml: good.replacingOccurrences(of: "{zstd: true}", with: "{zstd: true, level: 3}"), line: 7, fragment: "unknown key 'level'"),
        Bad(yaml: good.replacingOccurrences(of: "- export:", with: "- quantise:"), line: 7, fragment: "unknown stage 'quantise'"),
        Bad(yaml: good.replacingOccurrences(of: "[1, 8]", with: "[1, eight]"), line: 6, fragment: "batch_sizes"),
        Bad(yaml: good.replacingOccurrences(of: "threads: 1", with: "threads: many"), line: 6, fragment: "threads"),
        Bad(yaml: good.replacingOccurrences(of: "name: digits\n", with: ""), line: nil, fragment: "missing key 'name'"),
        Bad(yaml: good + "\n  - [unclosed", line: 9, fragment: "invalid YAML"),
        Bad(yaml: good.replacingOccurrences(of: "name: digits", with: "name: a/b"), line: 1, fragment: "name 'a/b'"),
        Bad(yaml: "- just\n- a list\n", line: 1, fragment: "mapping"),
        Bad(
            yaml: quantize.replacingOccurrences(of: "method: rtn", with: "method: gtpq"), line: 7,
            fragment: "'stages.0.quantize.weights.method': unknown value 'gtpq' (allowed: rtn, gptq, awq)"),
        Bad(
            yaml: quantize.replacingOccurrences(of: "mode: static", with: "mode: dynamic-ish"), line: 8,
            fragment: "'stages.0.quantize.activations.mode': unknown value 'dynamic-ish' (allowed: none, dynamic, static)"),
        Bad(
            yaml: quantize.replacingOccurrences(of: "per-channel", with: "per-row"), line: 7,
            fragment: "unknown value 'per-row' (allowed: per-tensor, per-channel, group)"),
        Bad(
            yaml: quantize.replacingOccurrences(of: "calibration: mse", with: "calibration: kl"), line: 8,
            fragment: "unknown value 'kl' (allowed: minmax, percentile, entropy, mse)"),
        Bad(
            yaml: quantize.replacingOccurrences(of: "bits: 8,", with: "bits: 8, grain: 2,"), line: 7,
            fragment: "unknown key 'grain' at 'stages.quantize.weights' (allowed: act_order, awq_scales, bits"),
        Bad(
            yaml: quantize.replacingOccurrences(of: "calibration: c.txt", with: "evaluation: e.txt"), line: 4,
            fragment: "needs data.calibration"),
    ]

    static let quantize = """
        name: q
        model: m
        data:
          calibration: c.txt
        stages:
          - quantize:
              weights: {bits: 8, granularity: per-channel, method: rtn}
              activations: {mode: static, calibration: mse}
        """

    @Test func quantizeRecipeDecodesToEnums() throws {
        let q = try #require(try RecipeLoader.parse(Self.quantize, file: "q.yaml").first(QuantizeStage.self)?.config)
        #expect(q.granularity == .perChannel && q.method == .rtn && q.activationMode == .static && q.activations?.calibration == .mse)
    }

    @Test(arguments: bad)
    func badRecipeNamesLineAndProblem(_ c: Bad) {
        do {
            _ = try RecipeLoader.parse(c.yaml, file: "r.yaml")
            Issue.record("expected an error for \(c.fragment)")
        } catch let e as RecipeError {
            #expect(e.description.contains(c.fragment), "\(e)")
            if let line = c.line { #expect(e.line == line, "\(e)") }
            #expect(e.description.hasPrefix("r.yaml"))
            #expect(!e.description.contains("\n"))
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    @Test func shippedRecipesParse() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = repo.appendingPathComponent("recipes")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        #expect(!names.isEmpty)
        for n in names { _ = try RecipeLoader.load(dir.appendingPathComponent(n).path) }
    }
}
