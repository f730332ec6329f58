import Runtime
import Compression
import Formats
import Foundation
import Layers
import Tensors
import Testing

/// MiniLM W8A8 with int8 embedding tables: fidelity to fp32, artifact size and round trip.
@Suite(.serialized)
struct MiniLMQuantizationTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func sentences() throws -> [String] {
        let url = repo.deletingLastPathComponent().appendingPathComponent("shared/fixtures/minilm/sentences.txt")
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    @Test func w8a8WithInt8EmbeddingsStaysCloseAndSmall() throws {
        let dir = Self.repo.appendingPathComponent("models/all-MiniLM-L6-v2")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path) else {
            Issue.record("MiniLM missing at \(dir.path): run `make models`")
            return
        }
        let texts = try Self.sentences()
        let fp32 = try ModelLoader.load(dir.path)
        let reference = try fp32.predict(.texts(texts), on: testExecutor)
        let model = try ModelLoader.load(dir.path)
        var config = QuantizeConfig(weights: .init(bits: 8), activations: .init(mode: .dynamic), ignore: ["re:pooler\\..*"])
        config.embeddings = true
        let reports = try Quantizer(config: config, executor: testExecutor).apply(to: model, calibration: nil)
        #expect(reports.contains { $0.path == "embeddings.word_embeddings" })
        #expect(model.root.module(at: "embeddings.word_embeddings") is Int8Embedding)
        let out = try model.predict(.texts(texts), on: testExecutor)
        let a = out.floats, b = reference.floats, d = out.shape[1]
        var minCos = 1.0
        for i in 0..<out.shape[0] {
            var dot = 0.0, na = 0.0, nb = 0.0
            for j in 0..<d {
                dot += Double(a[i * d + j] * b[i * d + j]); na += Double(a[i * d + j] * a[i * d + j]);
                nb += Double(b[i * d + j] * b[i * d + j])
            }
            minCos = min(minCos, dot / (na * nb).squareRoot())
        }
        #expect(minCos > 0.99, "min cosine \(minCos)")
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("w8a8-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        try Artifact.write(
            model, to: tmp,
            provenance: .init(
                source: dir.path, sourceSha256: "-", recipe: nil, toolVersion: compressToolVersion, createdAt: "-", stages: ["quantize"]))
        let bytes = try FileManager.default.attributesOfItem(atPath: tmp.appendingPathComponent("model.safetensors").path)[.size] as! Int
        #expect(bytes < 25_000_000, "artifact weights \(bytes) bytes")
        let again = try ModelLoader.load(tmp.path)
        #expect(try again.predict(.texts(texts), on: testExecutor).bitwiseEqual(out))
    }
}
