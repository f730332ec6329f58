import Runtime
import Formats
import Foundation
import Layers
import Tensors
import Testing

/// Keras models against the probabilities Keras itself computed (tools/train_digits_cnn.py and the shared MLP).
struct KerasReferenceTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let model: URL
        let reference: URL
        let input: String
        let accuracy: Double?
        var testDescription: String { model.lastPathComponent }
    }

    static let cases: [Case] = [
        Case(
            model: TestPaths.sharedFixture("keras/digits_mlp.h5"),
            reference: TestPaths.sharedFixture("keras/digits_mlp_reference.safetensors"), input: "x_test", accuracy: 0.9806),
        Case(
            model: TestPaths.sharedFixture("keras/digits_mlp.keras"),
            reference: TestPaths.sharedFixture("keras/digits_mlp_reference.safetensors"), input: "x_test", accuracy: 0.9806),
        Case(
            model: TestPaths.fixture("keras/digits_cnn.h5"), reference: TestPaths.fixture("keras/digits_cnn_reference.safetensors"),
            input: "x_test", accuracy: nil),
        Case(
            model: TestPaths.fixture("keras/digits_cnn.keras"), reference: TestPaths.fixture("keras/digits_cnn_reference.safetensors"),
            input: "x_test", accuracy: nil),
        Case(
            model: TestPaths.fixture("mlp/digits_mlp.safetensors"),
            reference: TestPaths.sharedFixture("keras/digits_mlp_reference.safetensors"), input: "x_test", accuracy: 0.9806),
        Case(
            model: TestPaths.fixture("keras/layer_zoo.h5"), reference: TestPaths.fixture("keras/layer_zoo_reference.safetensors"),
            input: "x", accuracy: nil),
        Case(
            model: TestPaths.fixture("keras/layer_zoo.keras"), reference: TestPaths.fixture("keras/layer_zoo_reference.safetensors"),
            input: "x", accuracy: nil),
    ]

    @Test(arguments: cases)
    func probabilitiesMatchKeras(_ c: Case) throws {
        let model = try ModelLoader.load(c.model.path)
        let ref = try SafeTensors.read(c.reference).tensors
        let x = ref[c.input]!, expected = ref["probs"]!
        let out = try model.predict(.tensor(x), on: testExecutor)
        #expect(out.shape == expected.shape)
        let diff = zip(out.floats, expected.floats).map { abs($0 - $1) }.max()!
        #expect(diff <= 1e-5, "max abs diff \(diff)")
        if let accuracy = c.accuracy, let y = ref["y_test"] {
            let n = out.shape[0], k = out.shape[1], v = out.floats, labels = y.int64s
            let correct = (0..<n).filter { i in (0..<k).max { v[i * k + $0] < v[i * k + $1] }! == Int(labels[i]) }.count
            #expect(abs(Double(correct) / Double(n) - accuracy) < 5e-5)
        }
    }

    @Test func batchNormIsFoldedForInference() throws {
        let model = try ModelLoader.load(TestPaths.fixture("keras/digits_cnn.keras").path)
        guard case let .sequential(seq) = model.kind else { Issue.record("not sequential"); return }
        #expect(!seq.layers.contains { $0 is BatchNorm })
        // Unfolded, the same file keeps its BatchNorms and still matches Keras.
        let unfolded = try KerasModelLoader.load(TestPaths.fixture("keras/digits_cnn.keras"))
        #expect(unfolded.layers.contains { $0 is BatchNorm })
        let ref = try SafeTensors.read(TestPaths.fixture("keras/digits_cnn_reference.safetensors")).tensors
        let out = try unfolded.forward(ref["x_test"]!, on: testExecutor)
        let diff = zip(out.floats, ref["probs"]!.floats).map { abs($0 - $1) }.max()!
        #expect(diff <= 1e-5)
    }

    @Test func h5AndKerasGiveTheSameParameters() throws {
        let a = try KerasModelLoader.load(TestPaths.fixture("keras/digits_cnn.h5"))
        let b = try KerasModelLoader.load(TestPaths.fixture("keras/digits_cnn.keras"))
        let pa = a.namedParameters(), pb = b.namedParameters()
        #expect(pa.map(\.0) == pb.map(\.0))
        for ((name, ta), (_, tb)) in zip(pa, pb) { #expect(ta.bitwiseEqual(tb), "\(name)") }
    }
}
