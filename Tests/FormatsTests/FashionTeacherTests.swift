import Formats
import Foundation
import Layers
import Tensors
import Testing

/// The committed Fashion-MNIST teacher (tools/train_fashion_teacher.py) through our Keras loader, against the
/// outputs Keras computed, and its accuracy on the full official test split against Keras's.
struct FashionTeacherTests {
    static let model = TestPaths.fixture("fashion-teacher/fashion_teacher.h5")
    static let reference = TestPaths.fixture("fashion-teacher/reference.safetensors")

    static func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.floats, b.floats).map { abs($0 - $1) }.max()! }

    static func argmax(_ probs: Tensor) -> [Int] {
        let k = probs.shape[1], v = probs.floats
        return (0..<probs.shape[0]).map { i in (0..<k).max { v[i * k + $0] < v[i * k + $1] }! }
    }

    @Test func logitsAndProbabilitiesMatchKeras() throws {
        let teacher = try KerasModelLoader.load(Self.model)
        let ref = try SafeTensors.read(Self.reference).tensors
        let x = ref["x"]!
        #expect(teacher.inputShape == [28, 28, 1])
        #expect(teacher.specs.map(\.name) == ["conv1", "pool1", "conv2", "pool2", "flatten", "drop1", "fc1", "drop2", "logits", "probs"])
        let probs = try teacher.forward(x, on: testExecutor)
        #expect(probs.shape == [64, 10])
        #expect(Self.maxDiff(probs, ref["probs"]!) <= 1e-4)
        // Logits: the same layers without the final softmax (what distillation reads).
        let logitsModel = try SequentialModel(inputShape: teacher.inputShape, layers: Array(teacher.layers.dropLast()))
        let logits = try logitsModel.forward(x, on: testExecutor)
        #expect(logits.shape == [64, 10])
        #expect(Self.maxDiff(logits, ref["logits"]!) <= 1e-4, "max |logits diff| \(Self.maxDiff(logits, ref["logits"]!))")
        // The reference images are the first 64 of the test split as our reader scales them.
        try IDXFileTests.requireData()
        let test = try FashionMNIST.load(.test)
        #expect(test.images.rows(0..<64).bitwiseEqual(x))
        #expect(test.labels.prefix(64).map(Int64.init) == ref["y"]!.int64s)
    }

    @Test func testAccuracyEqualsKeras() throws {
        try IDXFileTests.requireData()
        let teacher = try KerasModelLoader.load(Self.model)
        let ref = try SafeTensors.read(Self.reference)
        let keras = ref.tensors["test_predictions"]!.withUnsafeElements(as: Int32.self) { $0.map(Int.init) }
        let kerasAccuracy = try #require(ref.metadata["test_accuracy"].flatMap { Double($0) })
        let test = try FashionMNIST.load(.test)
        var ours: [Int] = []
        for start in stride(from: 0, to: test.count, by: 500) {
            ours += Self.argmax(try teacher.forward(test.images.rows(start..<min(start + 500, test.count)), on: testExecutor))
        }
        let correct = zip(ours, test.labels).filter { $0 == $1 }.count
        let disagreements = zip(ours, keras).filter { $0 != $1 }.count
        #expect(disagreements == 0, "\(disagreements) test images classified differently from Keras")
        #expect(Double(correct) / Double(test.count) == kerasAccuracy, "ours \(correct)/\(test.count), Keras \(kerasAccuracy)")
        #expect(kerasAccuracy >= 0.90)
    }
}
