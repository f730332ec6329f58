import Runtime
import Formats
import Foundation
import Layers
import Tensors
import Testing

/// Artifact format v1: a round trip gives identical outputs; writes are atomic; lies in model.json are caught.
struct ArtifactTests {
    static func provenance(_ source: String) -> ArtifactManifest.Provenance {
        .init(source: source, sourceSha256: "test", recipe: nil, toolVersion: compressToolVersion, createdAt: "now", stages: [])
    }

    @Test(arguments: [false, true])
    func kerasRoundTripIsBitwiseIdentical(zstd: Bool) throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = TestPaths.fixture("keras/digits_cnn.keras")
        let model = try ModelLoader.load(source.path)
        let out = dir.appendingPathComponent("cnn")
        try Artifact.write(model, to: out, provenance: Self.provenance(source.path), zstd: zstd)
        #expect(
            FileManager.default.fileExists(atPath: out.appendingPathComponent(zstd ? "model.safetensors.zst" : "model.safetensors").path))
        let again = try ModelLoader.load(out.path)
        #expect(again.format == "artifact")
        let x = try SafeTensors.read(TestPaths.fixture("keras/digits_cnn_reference.safetensors")).tensors["x_test"]!
        #expect(try model.predict(.tensor(x), on: testExecutor).bitwiseEqual(try again.predict(.tensor(x), on: testExecutor)))
        let manifest = try Artifact.readManifest(out)
        #expect(manifest.tensors.values.allSatisfy { $0.encoding == "f32" })
    }

    @Test func miniLMRoundTripIsBitwiseIdentical() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelLoader.load(try TestPaths.requireMiniLM().path)
        let out = dir.appendingPathComponent("minilm")
        try Artifact.write(model, to: out, provenance: Self.provenance("minilm"))
        for f in ["model.json", "model.safetensors", "tokenizer.json", "vocab.txt"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), "\(f)")
        }
        let again = try ModelLoader.load(out.path)
        let texts = ["A quiet library is the best place to finish a long report.", "Zürich café — naïve 東京 test", "short"]
        #expect(try model.predict(.texts(texts), on: testExecutor).bitwiseEqual(try again.predict(.texts(texts), on: testExecutor)))
    }

    @Test func failedWriteLeavesNothing() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A text model whose source folder has no tokenizer files cannot be exported: nothing may appear.
        let model = try ModelLoader.load(try TestPaths.requireMiniLM().path)
        let fake = LoadedModel(kind: model.kind, source: dir.appendingPathComponent("nowhere"), format: "huggingface")
        let out = dir.appendingPathComponent("broken")
        #expect(throws: FormatError.self) { try Artifact.write(fake, to: out, provenance: Self.provenance("x")) }
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func manifestThatLiesAboutAShapeIsRejected() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelLoader.load(TestPaths.sharedFixture("keras/digits_mlp.h5").path)
        let out = dir.appendingPathComponent("mlp")
        try Artifact.write(model, to: out, provenance: Self.provenance("mlp"))
        let url = out.appendingPathComponent("model.json")
        var text = try String(contentsOf: url, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "\"shape\" : [\n        128,\n        64\n      ]", with: "\"shape\" : [\n        128,\n        65\n      ]")
        try text.write(to: url, atomically: true, encoding: .utf8)
        do {
            _ = try ModelLoader.load(out.path)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("dense_1.weight") || "\(error)".contains("dense_2.weight"), "\(error)")
        }
    }
}
