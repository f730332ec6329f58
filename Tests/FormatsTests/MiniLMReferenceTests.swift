import Formats
import Foundation
import Layers
import Runtime
import Tensors
import Testing

/// MiniLM against reference outputs of a float64 numpy BERT checked against sentence-transformers
/// (../shared/fixtures/minilm/reference.safetensors).
@Suite(.serialized)
struct MiniLMReferenceTests {
    static let sentences: [String] = {
        let text = (try? String(contentsOf: TestPaths.sharedFixture("minilm/sentences.txt"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }()

    static func reference() throws -> [String: Tensor] {
        try SafeTensors.read(TestPaths.sharedFixture("minilm/reference.safetensors")).tensors
    }

    @Test func tokenIdsMatchReference() throws {
        let model = try HuggingFaceLoader.load(try TestPaths.requireMiniLM())
        guard case let .sentenceEncoder(_, _, tokenizer) = model.kind else { Issue.record("not a sentence encoder"); return }
        let ref = try Self.reference()
        let ids = ref["input_ids"]!.int64s, lengths = ref["lengths"]!.int64s
        let width = ref["input_ids"]!.shape[1]
        #expect(Self.sentences.count == lengths.count)
        for (i, s) in Self.sentences.enumerated() {
            let expected = ids[(i * width)..<(i * width + Int(lengths[i]))].map { Int32($0) }
            #expect(tokenizer.encode(s) == expected, "sentence \(i)")
        }
    }

    @Test(arguments: [1, 2])
    func embeddingsMatchReference(threads: Int) throws {
        let executor = Executor(threads: threads)
        let model = try HuggingFaceLoader.load(try TestPaths.requireMiniLM())
        let ref = try Self.reference()
        let expected = ref["embeddings"]!
        // All sentences in one packed batch, and each alone: both must match.
        let batched = try model.predict(.texts(Self.sentences), on: executor)
        let single = try Tensor.concatenateRows(try Self.sentences.map { try model.predict(.texts([$0]), on: executor) })
        for out in [batched, single] {
            #expect(out.shape == expected.shape)
            let diff = zip(out.floats, expected.floats).map { abs($0 - $1) }.max()!
            #expect(diff < 1e-4, "max abs diff \(diff)")
            let d = expected.shape[1]
            let a = out.floats, b = expected.floats
            for i in 0..<expected.shape[0] {
                var dot = 0.0, na = 0.0, nb = 0.0
                for j in 0..<d {
                    dot += Double(a[i * d + j] * b[i * d + j]); na += Double(a[i * d + j] * a[i * d + j]);
                    nb += Double(b[i * d + j] * b[i * d + j])
                }
                #expect(dot / (na * nb).squareRoot() >= 0.99999, "sentence \(i)")
            }
        }
    }

    @Test func hiddenStatesOfSentenceZeroMatch() throws {
        let model = try HuggingFaceLoader.load(try TestPaths.requireMiniLM())
        guard case let .sentenceEncoder(bert, _, tokenizer) = model.kind else { Issue.record("not a sentence encoder"); return }
        let ref = try Self.reference()["hidden_states_s0"]!  // (7, T, 384)
        let ids = tokenizer.encode(Self.sentences[0])
        let (_, states) = try bert.forward(ids: ids, lengths: [ids.count], collectHiddenStates: true, on: testExecutor)
        #expect(states.count == ref.shape[0])
        let per = ref.shape[1] * ref.shape[2]
        let r = ref.floats
        for (layer, state) in states.enumerated() {
            #expect(state.shape == [ref.shape[1], ref.shape[2]])
            let diff = zip(state.floats, r[(layer * per)..<((layer + 1) * per)]).map { abs($0 - $1) }.max()!
            #expect(diff < 2e-4, "layer \(layer): max abs diff \(diff)")
        }
    }
}
