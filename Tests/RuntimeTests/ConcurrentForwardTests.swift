import Compression
import Dispatch
import Evaluation
import Foundation
import Layers
import Formats
import Runtime

import Tensors
import Testing

/// Many threads calling forward on one frozen model give bit-identical outputs to serial calls, for fp32, int8 and
/// int4 weights; each thread has its own executor, or all share one. Run these under `swift test --sanitize=thread`
/// too (make tsan).
@Suite(.serialized)
struct ConcurrentForwardTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    enum Precision: String, CaseIterable, Sendable { case fp32, int8, int4 }

    static func quantized(_ model: LoadedModel, _ precision: Precision) throws -> LoadedModel {
        switch precision {
        case .fp32: break
        case .int8:
            let config = QuantizeConfig(weights: .init(bits: 8), activations: .init(mode: .dynamic))
            try Quantizer(config: config, executor: testExecutor).apply(to: model, calibration: nil)
        case .int4:
            let config = QuantizeConfig(weights: .init(bits: 4, granularity: .group, groupSize: 32))
            try Quantizer(config: config, executor: testExecutor).apply(to: model, calibration: nil)
        }
        model.freeze()
        return model
    }

    /// Runs `calls` predictions of item batches spread over `threads` threads and returns how many outputs differ
    /// bitwise from the serial result of the same batch.
    static func mismatches(
        _ model: LoadedModel, batches: [ModelInputs], calls: Int, threads: Int, sharedExecutor: Bool
    ) throws -> Int {
        let serial = try batches.map { try model.predict($0, on: Executor(threads: 1)) }
        let shared = Executor(threads: 2)
        let bad = Locked(0)
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let executor = sharedExecutor ? shared : Executor(threads: 1)
            var i = t
            while i < calls {
                let b = i % batches.count
                do {
                    let out = try model.predict(batches[b], on: executor)
                    if !out.bitwiseEqual(serial[b]) { bad.withLock { $0 += 1 } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
                i += threads
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        return bad.withLock { $0 }
    }

    @Test(arguments: Precision.allCases)
    func digitsMLPTenThousandConcurrentCalls(precision: Precision) throws {
        let model = try Self.quantized(try ModelLoader.load(Self.repo.appendingPathComponent("Tests/Fixtures/mlp/digits_mlp.safetensors").path), precision)
        let items = try EvalData.load(Self.repo.appendingPathComponent("datasets/digits/test.h5").path).items
        // Batches of 1, 3 and 32 rows: the 32-row ones take the multi-threaded and (int4) dequantized-weight paths.
        let batches = [items.slice(0..<1), items.slice(1..<4), items.slice(4..<36), items.slice(36..<37)]
        #expect(try Self.mismatches(model, batches: batches, calls: 10_000, threads: 4, sharedExecutor: false) == 0)
        #expect(try Self.mismatches(model, batches: batches, calls: 2_000, threads: 4, sharedExecutor: true) == 0)
    }

    @Test(arguments: Precision.allCases)
    func digitsCNNConcurrentCalls(precision: Precision) throws {
        let cnn = try ModelLoader.load(Self.repo.appendingPathComponent("Tests/Fixtures/keras/digits_cnn.keras").path)
        let model = try Self.quantized(cnn, precision == .int4 ? .int8 : precision)
        let items = try EvalData.load(Self.repo.appendingPathComponent("datasets/digits/test.h5").path).items
        let batches = [items.slice(0..<1), items.slice(1..<33)]
        #expect(try Self.mismatches(model, batches: batches, calls: 2_000, threads: 4, sharedExecutor: false) == 0)
    }

    @Test(arguments: Precision.allCases)
    func miniLMConcurrentCalls(precision: Precision) throws {
        let path = Self.repo.appendingPathComponent("models/all-MiniLM-L6-v2").path
        let model = try Self.quantized(try ModelLoader.load(path), precision)
        let text = try String(contentsOf: Self.repo.deletingLastPathComponent().appendingPathComponent("shared/fixtures/minilm/sentences.txt"), encoding: .utf8)
        let sentences = text.split(separator: "\n").map(String.init)
        let batches: [ModelInputs] = [.texts([sentences[0]]), .texts(Array(sentences[1..<4])), .texts(Array(sentences[4..<20])), .texts([sentences[20]])]
        #expect(try Self.mismatches(model, batches: batches, calls: 160, threads: 4, sharedExecutor: false) == 0)
        #expect(try Self.mismatches(model, batches: batches, calls: 40, threads: 3, sharedExecutor: true) == 0)
    }

    @Test func frozenModelsRefuseEdits() throws {
        let model = try ModelLoader.load(Self.repo.appendingPathComponent("Tests/Fixtures/mlp/digits_mlp.safetensors").path)
        model.freeze()
        let (path, module) = model.root.namedModules().first { !$0.1.parameterNames.isEmpty }!
        let name = module.parameterNames[0]
        #expect(throws: ModelError.frozen(path + "." + name)) { try module.setParameter(name, module.parameter(name), path: path + "." + name) }
        #expect(throws: ModelError.self) { try model.root.replaceModule(at: path, with: module) }
        let config = QuantizeConfig(weights: .init(bits: 8))
        #expect(throws: ModelError.self) { try Quantizer(config: config, executor: testExecutor).apply(to: model, calibration: nil) }
    }
}
