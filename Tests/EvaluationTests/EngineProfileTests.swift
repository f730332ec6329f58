import Evaluation
import Formats
import Foundation
import Runtime
import Tensors
import Testing

@Suite(.serialized) struct EngineProfileTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// MiniLM: every kind of a BERT pass shows up, and the kinds add up to the wall time measured around each pass.
    @Test func minilmKindsAddUpToEndToEnd() throws {
        let m = try ModelLoader.load(Self.repo.appendingPathComponent("models/all-MiniLM-L6-v2").path)
        let lines = try EvalData.readLines(Self.repo.appendingPathComponent("datasets/text/eval.txt"))
        guard case let .sentenceEncoder(bert, _, tokenizer) = m.kind else { Issue.record("not a text model"); return }
        let texts = EngineProfile.texts(from: lines, tokenizer: tokenizer, batch: 2, tokens: 32)
        #expect(texts.count == 2)
        for t in texts { #expect((24...32).contains(tokenizer.encode(t).count)) }
        let p = try EngineProfile.measure(m, name: "minilm", items: .texts(texts), threads: 1, passes: 5, warmup: 1)
        let kinds = Set(p.parts.filter { $0.msPerPass > 0 }.map(\.kind))
        #expect(kinds.isSuperset(of: [.tokenizer, .embedding, .attention, .gemm, .normalization, .activation, .pooling]))
        let layers = Double(bert.config.numHiddenLayers)
        let regions = Dictionary(uniqueKeysWithValues: p.parts.map { ($0.kind, $0.regionsPerPass) })
        #expect(regions[.gemm] == 4 * layers)  // QKV, attention output, intermediate, output
        #expect(regions[.attention] == layers)
        #expect(regions[.normalization] == 2 * layers + 1)
        #expect(abs(p.profiledTotalMs - p.endToEndMs) <= 0.03 * p.endToEndMs, "\(p.profiledTotalMs) vs \(p.endToEndMs)")
        #expect(p.parts.first { $0.kind == .gemm }!.fraction > 0.3)  // GEMMs dominate a BERT pass
    }

    /// The digits CNN: convolutions, GEMMs and pooling, adding up the same way.
    @Test func cnnKindsAddUpToEndToEnd() throws {
        let m = try ModelLoader.load(Self.repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras").path)
        let data = try EvalData.load(Self.repo.appendingPathComponent("datasets/digits/test.h5").path)
        let p = try EngineProfile.measure(m, name: "cnn", items: data.items.slice(0..<8), threads: 1, passes: 5, warmup: 1)
        let kinds = Set(p.parts.filter { $0.msPerPass > 0 }.map(\.kind))
        #expect(kinds.isSuperset(of: [.convolution, .gemm, .pooling]))
        #expect(abs(p.profiledTotalMs - p.endToEndMs) <= 0.03 * p.endToEndMs, "\(p.profiledTotalMs) vs \(p.endToEndMs)")
    }

    /// Without a profiler the executor's hook does nothing observable.
    @Test func plainExecutorHasNoProfiler() {
        let e = Executor(threads: 1)
        #expect(e.profiler == nil)
        #expect(e.timed(.gemm) { 41 + 1 } == 42)
    }
}
