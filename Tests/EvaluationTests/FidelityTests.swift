import Evaluation
import Formats
import Foundation
import Tensors
import Testing

struct FidelityTests {
    static let a = Tensor(shape: [6, 3], floats: [1, 0, 0, 0.9, 0.1, 0, 0, 1, 0, 0, 0.9, 0.1, 0, 0, 1, 0.1, 0, 0.9])

    @Test func identicalOutputsAgreeFully() {
        #expect(Fidelity.rowCosines(Self.a, Self.a).allSatisfy { abs($0 - 1) < 1e-12 })
        #expect(Fidelity.nearestNeighbourOverlap(Self.a, Self.a, k: 2) == 1)
        #expect(Fidelity.topOneAgreement(Self.a, Self.a) == 1)
        #expect(Fidelity.maxAbsDiff(Self.a, Self.a) == 0)
    }

    @Test func scrambledOutputsDisagree() {
        // Rows swapped pairwise across clusters: neighbours and argmax change.
        var v = Self.a.floats
        for j in 0..<3 { v.swapAt(j, 2 * 3 + j); v.swapAt(3 + j, 4 * 3 + j) }
        let b = Tensor(shape: [6, 3], floats: v)
        #expect(Fidelity.nearestNeighbourOverlap(Self.a, b, k: 1) < 1)
        #expect(Fidelity.topOneAgreement(Self.a, b) < 1)
        #expect(Fidelity.rowCosines(Self.a, b).min()! < 0.2)
    }

    @Test func accuracyCountsArgmax() {
        #expect(Fidelity.accuracy(Self.a, labels: [0, 0, 1, 1, 2, 2]) == 1)
        #expect(abs(Fidelity.accuracy(Self.a, labels: [0, 1, 1, 1, 2, 0]) - 4.0 / 6) < 1e-12)
    }

    @Test func paraphraseCheckRanksPairs() {
        // Pairs (a0,b0) … : two near-identical pairs labelled paraphrase, two orthogonal ones unrelated.
        let e = Tensor(shape: [8, 2], floats: [1, 0, 1, 0.1, 0, 1, 0.1, 1, 1, 0, 0, 1, 0, 1, 1, 0])
        let r = Fidelity.paraphraseCheck(e, isParaphrase: [true, true, false, false])
        #expect(r.auc == 1 && r.paraphraseAboveMedianUnrelated == 1)
        let flipped = Fidelity.paraphraseCheck(e, isParaphrase: [false, false, true, true])
        #expect(flipped.auc == 0)
    }

    @Test func badDataSpecsNameTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tsv = dir.appendingPathComponent("pairs.tsv")
        try "paraphrase\ta\tb\nsimilar\tc\td\n".write(to: tsv, atomically: true, encoding: .utf8)
        do { _ = try EvalData.load(tsv.path); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("pairs.tsv") && "\(error)".contains("line 2"), "\(error)")
        }
        let st = dir.appendingPathComponent("x.safetensors")
        try SafeTensors.write(
            ["x": Tensor(zeros: [4, 2]), "y": Tensor(shape: [3], integers: [Int64(0), 1, 2], dtype: .int64)], metadata: [:], to: st)
        do { _ = try EvalData.load(st.path); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("3 entries for 4 items"), "\(error)")
        }
        #expect(throws: FormatError.missingFile(dir.appendingPathComponent("none.txt").path)) {
            try EvalData.load(dir.appendingPathComponent("none.txt").path)
        }
    }
}

/// Cosine mean, top-5 neighbour overlap and the pairwise-similarity Spearman correlation against numpy/scipy
/// (tools/make_fidelity_goldens.py; the data has tied similarities, which Spearman ranks by their average).
struct FidelityReferenceTests {
    @Test func embeddingMetricsMatchScipy() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/fidelity/embedding_metrics.safetensors")
        let t = try SafeTensors.read(url).tensors
        let (a, b) = (t["a"]!, t["b"]!)
        func reference(_ name: String) -> Double { Double(t[name]!.floats[0]) }
        let cos = Fidelity.rowCosines(a, b)
        let cosineMean = Double(cos.reduce(0, +)) / Double(cos.count)
        let overlap = Double(Fidelity.nearestNeighbourOverlap(a, b, k: 5))
        let spearman = Double(Fidelity.pairwiseSimilaritySpearman(a, b))
        #expect(abs(cosineMean - reference("cosine_mean")) < 1e-6)
        #expect(abs(overlap - reference("top5_overlap")) < 1e-6)
        #expect(abs(spearman - reference("spearman")) < 1e-6)
        #expect(abs(Fidelity.pairwiseSimilaritySpearman(a, a) - 1) < 1e-12)
        #expect(Fidelity.spearman([1, 2, 2, 3], [10, 20, 20, 30]) == 1)
    }
}
