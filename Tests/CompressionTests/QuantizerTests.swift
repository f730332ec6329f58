import Runtime
import Compression
import Formats
import Foundation
import Layers
import Tensors
import Testing

/// The quantize pass on real models: accuracy of the digits models, artifact round trips, and bad settings.
@Suite(.serialized)
struct QuantizerTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ p: String) -> String { repo.appendingPathComponent(p).path }
    static let sharedMLP = repo.deletingLastPathComponent().appendingPathComponent("shared/fixtures/keras/digits_mlp.h5").path

    /// (x_test, y_test) of the digits split and training images for calibration.
    static func digits() throws -> (test: Tensor, labels: [Int], train: Tensor) {
        let test = try HDF5File(readingFrom: URL(fileURLWithPath: path("datasets/digits/test.h5")))
        let train = try HDF5File(readingFrom: URL(fileURLWithPath: path("datasets/digits/train.h5")))
        return (try test.dataset("/x"), try test.dataset("/y").int64s.map { Int($0) }, try train.dataset("/x"))
    }

    static func accuracy(_ model: LoadedModel, _ x: Tensor, _ y: [Int]) throws -> Double {
        let out = try model.predict(.tensor(x), on: testExecutor), k = out.shape[1], v = out.floats
        return Double((0..<y.count).filter { i in (0..<k).max { v[i * k + $0] < v[i * k + $1] }! == y[i] }.count) / Double(y.count)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let model: String
        let bits: Int
        let activations: Int8Linear.ActivationMode
        let method: QuantizationMethod
        let maxDrop: Double
        var awq = false
        var testDescription: String {
            "\(URL(fileURLWithPath: model).lastPathComponent) int\(bits) \(method)\(awq ? "+awq" : "") act \(activations)"
        }
    }

    static let cases: [Case] = [
        Case(model: sharedMLP, bits: 8, activations: .static, method: .rtn, maxDrop: 0.003),
        Case(model: sharedMLP, bits: 8, activations: .dynamic, method: .rtn, maxDrop: 0.003),
        Case(model: sharedMLP, bits: 4, activations: .none, method: .gptq, maxDrop: 0.01),
        Case(model: sharedMLP, bits: 4, activations: .none, method: .gptq, maxDrop: 0.01, awq: true),
        Case(model: sharedMLP, bits: 4, activations: .none, method: .awq, maxDrop: 0.01),
        Case(model: path("Tests/Fixtures/keras/digits_cnn.keras"), bits: 8, activations: .static, method: .rtn, maxDrop: 0.003),
        Case(model: path("Tests/Fixtures/keras/digits_cnn.keras"), bits: 4, activations: .none, method: .gptq, maxDrop: 0.01),
    ]

    @Test(arguments: cases)
    func digitsAccuracyHolds(_ c: Case) throws {
        let (x, y, train) = try Self.digits()
        let model = try ModelLoader.load(c.model)
        let before = try Self.accuracy(model, x, y)
        var w = QuantizeConfig.WeightConfig(bits: c.bits, method: c.method)
        if c.bits == 4 { w.groupSize = 32 }
        w.awqScales = c.awq ? true : nil
        let config = QuantizeConfig(weights: w, activations: .init(mode: c.activations, calibration: .percentile, percentile: 99.99))
        let reports = try Quantizer(config: config, executor: testExecutor).apply(to: model, calibration: .tensor(train))
        #expect(!reports.isEmpty)
        #expect(reports.allSatisfy { $0.bits == c.bits })
        let after = try Self.accuracy(model, x, y)
        #expect(before - after <= c.maxDrop, "accuracy \(before) → \(after)")
        // Artifact round trip: same outputs, int tensors stored as such.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("q-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Artifact.write(
            model, to: dir,
            provenance: .init(
                source: c.model, sourceSha256: "-", recipe: nil, toolVersion: compressToolVersion, createdAt: "-", stages: ["quantize"]))
        let manifest = try Artifact.readManifest(dir)
        #expect(manifest.modules?.isEmpty == false)
        #expect(manifest.tensors.values.contains { $0.dtype == (c.bits == 8 ? "I8" : "U8") })
        let again = try ModelLoader.load(dir.path)
        #expect(try again.predict(.tensor(x), on: testExecutor).bitwiseEqual(try model.predict(.tensor(x), on: testExecutor)))
    }

    @Test func int8GEMMPathMatchesDequantizedWeights() throws {
        // W8A8 dynamic vs weight-only on the same codes: the integer GEMM only adds activation rounding.
        let (x, _, _) = try Self.digits()
        let a = try ModelLoader.load(Self.sharedMLP), b = try ModelLoader.load(Self.sharedMLP)
        try Quantizer(config: QuantizeConfig(weights: .init(bits: 8), activations: .init(mode: .none)), executor: testExecutor).apply(to: a, calibration: nil)
        try Quantizer(config: QuantizeConfig(weights: .init(bits: 8), activations: .init(mode: .dynamic)), executor: testExecutor).apply(to: b, calibration: nil)
        let oa = try a.predict(.tensor(x), on: testExecutor).floats, ob = try b.predict(.tensor(x), on: testExecutor).floats
        let diff = zip(oa, ob).map { abs($0 - $1) }.max()!
        #expect(diff > 0 && diff < 0.02, "max diff \(diff)")
    }

    @Test func targetsAndIgnoreSelectByPath() throws {
        let model = try ModelLoader.load(Self.sharedMLP)
        var config = QuantizeConfig(weights: .init(bits: 8), ignore: ["dense_3"])
        #expect(try Quantizer(config: config, executor: testExecutor).targetPaths(model) == ["dense_1", "dense_2"])
        config.targets = ["re:dense_[23]"]
        #expect(try Quantizer(config: config, executor: testExecutor).targetPaths(model) == ["dense_2"])
        config.targets = ["nothing*"]
        #expect(throws: CompressionError.self) { try Quantizer(config: config, executor: testExecutor).targetPaths(model) }
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        let config: QuantizeConfig
        let fragment: String
        var testDescription: String { fragment }
    }

    static let bad: [Bad] = [
        Bad(config: QuantizeConfig(weights: .init(bits: 3)), fragment: "unsupported bits 3"),
        Bad(config: QuantizeConfig(weights: .init(bits: 4, granularity: .group, groupSize: 48)), fragment: "group size 48"),
        Bad(config: QuantizeConfig(weights: .init(bits: 4, granularity: .group, groupSize: 128)), fragment: "does not divide"),
        Bad(config: QuantizeConfig(weights: .init(bits: 8), activations: .init(mode: .static)), fragment: "data.calibration is required"),
        Bad(config: QuantizeConfig(weights: .init(bits: 8, method: .gptq)), fragment: "data.calibration is required"),
        Bad(
            config: QuantizeConfig(weights: .init(bits: 4, granularity: .group), activations: .init(mode: .dynamic)),
            fragment: "weight-only"),
    ]

    /// Choices are enums: an unknown spelling fails at decoding, naming the key path and the allowed spellings.
    @Test func unknownMethodIsRejectedWhenDecoded() throws {
        let json = #"{"weights": {"bits": 8, "method": "magic"}}"#
        do {
            _ = try JSONDecoder().decode(QuantizeConfig.self, from: Data(json.utf8))
            Issue.record("expected an error")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.codingPath.map(\.stringValue) == ["weights", "method"])
            #expect(context.debugDescription == "unknown value 'magic' (allowed: rtn, gptq, awq)")
        }
    }

    @Test(arguments: bad)
    func badSettingsAreRejectedAndTheModelIsUntouched(_ c: Bad) throws {
        // The MLP's first layer has 64 inputs: group 128 cannot divide it.
        let model = try ModelLoader.load(Self.sharedMLP)
        let before = model.root.namedParameters().map(\.1)
        do {
            try Quantizer(config: c.config, executor: testExecutor).apply(to: model, calibration: nil)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains(c.fragment), "\(error)")
        }
        let after = model.root.namedParameters().map(\.1)
        #expect(before.count == after.count && zip(before, after).allSatisfy { $0.bitwiseEqual($1) })
    }

    @Test func tooFewCalibrationSamplesAndNaNAreRejected() throws {
        let (_, _, train) = try Self.digits()
        let model = try ModelLoader.load(Self.sharedMLP)
        let config = QuantizeConfig(weights: .init(bits: 8), activations: .init(mode: .static))
        #expect(throws: CompressionError.self) { try Quantizer(config: config, executor: testExecutor).apply(to: model, calibration: .tensor(train.rows(0..<3))) }
        var poisoned = train.rows(0..<32)
        poisoned.withUnsafeMutableFloats { $0[5] = .nan }
        do {
            try Quantizer(config: config, executor: testExecutor).apply(to: model, calibration: .tensor(poisoned))
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("NaN"), "\(error)") }
        let broken = try ModelLoader.load(Self.sharedMLP)
        var w = broken.root.module(at: "dense_2")!.parameter("weight")
        w.withUnsafeMutableFloats { $0[0] = .infinity }
        try broken.root.module(at: "dense_2")!.setParameter("weight", w)
        do {
            try Quantizer(config: QuantizeConfig(weights: .init(bits: 8)), executor: testExecutor).apply(to: broken, calibration: nil)
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("dense_2.weight"), "\(error)") }
    }
}
