import Compression
import Formats
import Foundation
import Pipeline
import Testing

/// `compress inspect`'s report, in process: rows, totals, JSON keys and the text table.
struct ModelInspectionTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let cnn = repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras").path

    @Test func fp32KerasModel() throws {
        let report = ModelInspection(try ModelLoader.load(Self.cnn), name: "cnn.keras")
        #expect(report.layers.map(\.path) == ["conv1", "conv2", "fc1", "fc2"])
        #expect(report.kind == "sequential" && report.format == "keras-v3")
        #expect(report.parameters == report.weights)
        #expect(report.bytes == 4 * report.parameters)
        #expect(report.layers.allSatisfy { $0.encoding == "f32" && $0.bitsPerWeight == 32 })
        let lines = report.text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "cnn.keras  (keras-v3, sequential)")
        #expect(lines[1] == "input (N, 8, 8, 1) → output (N, 10)")
        #expect(lines[2].hasPrefix("path                      type                values        bytes   bits   dens  enc  config"))
        #expect(lines.count == 3 + 4 + 1)
        #expect(lines.last!.hasPrefix("total: \(report.weights) weights in \(report.parameters) stored values"))
        // The JSON keeps inspect's established keys; the text-only fields stay out.
        let json = try #require(try JSONSerialization.jsonObject(with: try report.json()) as? [String: Any])
        #expect(Set(json.keys) == ["model", "format", "kind", "parameters", "bytes", "layers", "provenance"])
        let row = try #require((json["layers"] as? [[String: Any]])?.first)
        #expect(Set(row.keys) == ["path", "type", "summary", "parameters", "bytes", "encoding", "bitsPerWeight", "density", "tensors"])
        #expect(report.layers.allSatisfy { $0.density == 1 })
    }

    @Test func quantizedModelCountsWeightsAndStoredValuesApart() throws {
        let model = try ModelLoader.load(Self.cnn)
        try Quantizer(config: QuantizeConfig(weights: .init(bits: 8, granularity: .perChannel)), executor: testExecutor).apply(
            to: model, calibration: nil)
        let report = ModelInspection(model, name: "q")
        #expect(report.layers.count == 4)
        #expect(report.layers.allSatisfy { $0.encoding.contains("int8") && $0.bitsPerWeight < 12 })
        #expect(report.bytes < 2 * report.weights, "about a byte per weight")
        #expect(report.parameters != report.weights, "stored values include scales")
        #expect(report.text.contains("Int8Linear"))
    }

    @Test func prunedModelShowsDensityAndSparseBits() throws {
        let model = try ModelLoader.load(Self.cnn)
        try UnstructuredPruner(targets: ["fc1"]).masks(for: model.root, sparsity: 0.9).apply(to: model.root)
        let report = ModelInspection(model, name: "sparse")
        let fc1 = try #require(report.layers.first { $0.path == "fc1" })
        #expect(abs(fc1.density! - 0.1) < 0.001)
        // 10 % of the weights as a bitmask (1 bit each) plus their values: 1 + 3.2 bits per weight.
        #expect(fc1.encoding == "bitmask" && fc1.bitsPerWeight < 4.3)
        #expect(report.layers.first { $0.path == "fc2" }?.bitsPerWeight == 32)
    }
}
