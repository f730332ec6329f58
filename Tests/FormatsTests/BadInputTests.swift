import Formats
import Foundation
import Layers
import Tensors
import Testing

/// Inputs that used to trap, allocate terabytes or pass silently (issue 7) now throw one-line errors.
struct BadInputTests {
    @Test func duplicateSafetensorsHeaderKeysAreRejected() throws {
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8) + [0, 0, 0, 0])
        #expect(throws: FormatError.invalid(file: "dup", message: "header lists 'w' twice")) {
            try SafeTensors.read(data: data, name: "dup")
        }
    }

    @Test func hugeInputShapeIsRefusedBeforeAllocating() {
        // The issue's `.keras` with batch_shape [null, 100000, 100000, 1] asked malloc for 20 TB and aborted.
        #expect(throws: ModelError.self) {
            try SequentialModel(
                inputShape: [100_000, 100_000, 1],
                specs: [LayerSpec(type: .flatten, name: "f"), LayerSpec(type: .dense, name: "d", outFeatures: 512)])
        }
        #expect(throws: ModelError.self) {
            try SequentialModel(inputShape: [8], specs: [LayerSpec(type: .dense, name: "d", outFeatures: -3)])
        }
    }

    @Test(arguments: [Float(-1), 0, .nan, .infinity])
    func layerNormEpsilonMustBePositiveAndFinite(_ eps: Float) {
        let config = BertConfig(
            vocabSize: 10, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16, layerNormEps: eps)
        #expect(throws: ModelError.self) { try config.validate() }
    }

    @Test func nonFiniteWeightsAreNamedAtLoad() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = TestPaths.fixture("mlp/digits_mlp.safetensors")
        var tensors = try SafeTensors.read(source).tensors
        var w = tensors["fc2.weight"]!
        w.withUnsafeMutableFloats { $0[5] = .infinity }
        tensors["fc2.weight"] = w
        let url = dir.appendingPathComponent("digits_mlp.safetensors")
        try SafeTensors.write(tensors, to: url)
        try FileManager.default.copyItem(at: TestPaths.fixture("mlp/digits_mlp.json"), to: dir.appendingPathComponent("digits_mlp.json"))
        do {
            _ = try ModelLoader.load(url.path)
            Issue.record("loaded a model with an infinite weight")
        } catch {
            #expect("\(error)".contains("tensor 'fc2.weight' has 1 NaN or infinite values"))
        }
    }
}
