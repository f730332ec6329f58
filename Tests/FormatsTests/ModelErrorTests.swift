import Formats
import Foundation
import Layers
import Tensors
import Testing
import ZIPFoundation

/// Bad models give one-line errors that name the tensor, the layer or the file.
struct ModelErrorTests {
    @Test func missingModelNamesThePath() {
        #expect(throws: FormatError.missingFile("/no/such/model.h5")) { try ModelLoader.load("/no/such/model.h5") }
    }

    @Test func shapeMismatchNamesTheTensor() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var tensors = try SafeTensors.read(TestPaths.fixture("mlp/digits_mlp.safetensors")).tensors
        tensors["fc2.weight"] = Tensor(zeros: [64, 127])
        try SafeTensors.write(tensors, metadata: [:], to: dir.appendingPathComponent("bad.safetensors"))
        try FileManager.default.copyItem(at: TestPaths.fixture("mlp/digits_mlp.json"), to: dir.appendingPathComponent("bad.json"))
        do {
            _ = try ModelLoader.load(dir.appendingPathComponent("bad.safetensors").path)
            Issue.record("expected an error")
        } catch {
            let message = "\(error)"
            #expect(message.contains("fc2.weight") && message.contains("[64, 128]") && message.contains("[64, 127]"), "\(message)")
            #expect(!message.contains("\n"))
        }
    }

    @Test func unknownLayerIsNamedWithTheSupportedList() throws {
        let json = #"[{"type": "flatten", "name": "flatten"}, {"type": "lstm", "name": "my_lstm"}]"#
        do {
            _ = try JSONDecoder().decode([LayerSpec].self, from: Data(json.utf8))
            Issue.record("expected an error")
        } catch let e as ModelError {
            #expect(e.description.contains("my_lstm") && e.description.contains("lstm") && e.description.contains("conv2d"), "\(e)")
        }
    }

    /// The same through a loader: the architecture JSON next to an MLP's safetensors names the file, layer and kind.
    @Test func unknownLayerKindInModelJSONIsNamed() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(
            at: TestPaths.fixture("mlp/digits_mlp.safetensors"), to: dir.appendingPathComponent("m.safetensors"))
        let json = try String(contentsOf: TestPaths.fixture("mlp/digits_mlp.json"), encoding: .utf8)
        #expect(json.contains(#""type": "flatten""#))
        try json.replacingOccurrences(of: #""type": "flatten""#, with: #""type": "reshape""#).write(
            to: dir.appendingPathComponent("m.json"), atomically: true, encoding: .utf8)
        do {
            _ = try ModelLoader.load(dir.appendingPathComponent("m.safetensors").path)
            Issue.record("expected an error")
        } catch {
            let message = "\(error)"
            #expect(message.contains("m.json") && message.contains("'flatten'") && message.contains("reshape"), "\(message)")
            #expect(message.contains("global_avg_pool2d") && !message.contains("\n"), "\(message)")
        }
    }

    @Test func unknownPaddingIsNamed() throws {
        let json = #"{"type": "conv2d", "name": "c1", "outFeatures": 4, "kernelSize": [3, 3], "padding": "causal"}"#
        #expect(throws: ModelError.invalidConfig("layer 'c1': padding 'causal' is not supported (valid, same)")) {
            try JSONDecoder().decode(LayerSpec.self, from: Data(json.utf8))
        }
    }

    @Test func unknownKerasLayerIsNamed() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Rewrite the .keras config so one layer claims to be an LSTM.
        let unpacked = dir.appendingPathComponent("unpacked")
        try FileManager.default.unzipItem(at: TestPaths.sharedFixture("keras/digits_mlp.keras"), to: unpacked)
        let configURL = unpacked.appendingPathComponent("config.json")
        let config = try String(contentsOf: configURL, encoding: .utf8)
        #expect(config.contains("\"class_name\": \"Dropout\""))
        try config.replacingOccurrences(of: "\"class_name\": \"Dropout\"", with: "\"class_name\": \"LSTM\"").write(
            to: configURL, atomically: true, encoding: .utf8)
        let url = dir.appendingPathComponent("lstm.keras")
        try FileManager.default.zipItem(at: unpacked, to: url, shouldKeepParent: false)
        do {
            _ = try ModelLoader.load(url.path)
            Issue.record("expected an error")
        } catch {
            let message = "\(error)"
            #expect(message.contains("dropout") && message.contains("LSTM") && message.contains("Conv2D"), "\(message)")
        }
    }

    @Test func modelJSONForAnMLPMustExist() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(
            at: TestPaths.fixture("mlp/digits_mlp.safetensors"), to: dir.appendingPathComponent("m.safetensors"))
        #expect(throws: FormatError.self) { try ModelLoader.load(dir.appendingPathComponent("m.safetensors").path) }
    }
}
