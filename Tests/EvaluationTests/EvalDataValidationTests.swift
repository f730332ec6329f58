import Evaluation
import Formats
import Foundation
import Tensors
import Testing

/// Data files that used to crash or mislead (issue 7): no items, scalar arrays, labels outside the classes,
/// fractional labels, NaN measurements in JSON.
struct EvalDataValidationTests {
    static func temp(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("compress-evaldata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name)
    }

    static func message(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch { return "\(error)" }
    }

    @Test func emptyTextAndPairFilesHaveNoItems() throws {
        for name in ["empty.txt", "empty.tsv"] {
            let url = try Self.temp(name)
            try Data("\n  \n".utf8).write(to: url)
            #expect(Self.message { _ = try EvalData.load(url.path) }?.contains("\(url.path) has no items") == true)
        }
    }

    @Test func emptyOrScalarArraysAreRejected() throws {
        let url = try Self.temp("x.safetensors")
        try SafeTensors.write(["x": Tensor(zeros: [0, 4])], to: url)
        #expect(Self.message { _ = try EvalData.load(url.path) }?.contains("has no items") == true)
        try SafeTensors.write(["x": Tensor(zeros: [])], to: url)
        #expect(Self.message { _ = try EvalData.load(url.path) }?.contains("is a scalar") == true)
    }

    @Test func fractionalFloatLabelsAreRejected() throws {
        let url = try Self.temp("xy.safetensors")
        try SafeTensors.write(["x": Tensor(zeros: [2, 4]), "y": Tensor(shape: [2], floats: [1, 1.5])], to: url)
        #expect(Self.message { _ = try EvalData.load(url.path) }?.contains("item 1 is 1.5") == true)
        try SafeTensors.write(["x": Tensor(zeros: [2, 4]), "y": Tensor(shape: [2], floats: [1, 3])], to: url)
        #expect(try EvalData.load(url.path).labels == [1, 3])
    }

    @Test(arguments: [Int64(99), -1, 1 << 40])
    func labelsOutsideTheClassesAreRejected(_ label: Int64) throws {
        let url = try Self.temp("xy.safetensors")
        try SafeTensors.write(["x": Tensor(zeros: [2, 4]), "y": Tensor(shape: [2], integers: [0, label], dtype: .int64)], to: url)
        let data = try EvalData.load(url.path)
        #expect(Self.message { try data.validateLabels(classes: 10) }?.contains("label \(label) of item 1 is outside 0..<10") == true)
    }

    @Test func nanMeasurementsAreNullInJSONWithAFlag() throws {
        let fidelity = FidelityReport(
            reference: "ref", cosineMean: .nan, cosineMin: .nan, maxAbsDiff: .nan, top5Overlap: nil, topOneAgreement: nil)
        var report = EvalReport(
            model: "m", format: "f", data: ["d"], items: 1, parameters: 1, accuracy: nil, fidelity: fidelity, paraphrase: nil,
            latency: nil, throughput: [], size: SizeReport(fileBytes: 0, weightsBytes: 0, weightsZstdBytes: 0, zstdLevel: 3),
            peakRssBytes: 0, threads: 1)
        report.nonFiniteOutputs = 7
        let json = try JSONSerialization.jsonObject(with: try report.jsonData()) as! [String: Any]
        #expect(json["non_finite"] as? Bool == true)
        #expect(json["non_finite_outputs"] as? Int == 7)
        #expect((json["fidelity"] as! [String: Any])["cosine_mean"] is NSNull)
        let back = try JSONDecoder().decode(EvalReport.self, from: try report.jsonData())
        #expect(back.fidelity?.cosineMean.isNaN == true)
    }

    @Test func maxAbsDiffDoesNotHideNaN() {
        let a = Tensor(shape: [1, 2], floats: [.nan, 1]), b = Tensor(shape: [1, 2], floats: [0, 1])
        #expect(Fidelity.maxAbsDiff(a, b).isNaN)
    }
}
