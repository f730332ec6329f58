import Formats
import Foundation
import Runtime
import Tensors
import Testing

@testable import ServingCore

/// The example repository (Tests/Fixtures/serving-repository), loaded once: ensembles, steps, combiner, canary.
enum ExampleRepository {
    static let path = TestModels.repo.appendingPathComponent("Tests/Fixtures/serving-repository").path

    /// Loaded once per process (three MiniLM copies take a few seconds), never blocking a cooperative thread.
    static let loading = Task {
        let s = InferenceServer(repository: try ModelRepository.open(path), options: .init(threadsPerInstance: 1))
        try await s.loadAll()
        return s
    }

    static var server: InferenceServer { get async throws { try await loading.value } }

    static func text(_ sentences: [String]) -> InferRequest {
        InferRequest(inputs: [InferInput(name: "text", datatype: .bytes, shape: [sentences.count, 1], data: .bytes(sentences.map { Array($0.utf8) }))])
    }

    static func floats(_ r: InferResponse, _ name: String) -> [Float] {
        guard case let .fp32(v)? = r.outputs.first(where: { $0.name == name })?.data else { return [] }
        return v
    }
}

@Suite(.serialized) struct EnsembleTests {
    static let sentences = ["A man is eating food.", "The new movie is awesome, and everyone should see it twice.", "ok"]

    /// tokenizer → encoder → pooling gives what the whole model gives for the same text (the engine's own pooling
    /// of the same packed hidden states), and each step records its own statistics.
    @Test func minilmTextEnsembleMatchesTheWholeModel() async throws {
        let server = try await ExampleRepository.server
        #expect(server.isReady)
        let meta = try server.modelMetadata("minilm-text")
        #expect(meta.platform == "ensemble")
        #expect(meta.inputs.map(\.name) == ["text"] && meta.inputs[0].datatype == .bytes)
        #expect(meta.outputs.map(\.name) == ["embeddings"])
        let before = try server.statistics(model: "minilm-encoder").modelStats[0].inferenceCount
        let r = try await server.infer(model: "minilm-text", request: ExampleRepository.text(Self.sentences))
        let got = ExampleRepository.floats(r, "embeddings")
        let expected = try TestModels.minilm.predict(.texts(Self.sentences), on: Executor(threads: 1)).toFloat32().floats
        #expect(r.outputs[0].shape == [3, 384])
        #expect(got.count == expected.count)
        #expect(zip(got, expected).map { abs($0 - $1) }.max()! <= 1e-6)
        for step in ["minilm-tokenizer", "minilm-encoder", "minilm-pooling", "minilm-text"] {
            #expect(try server.statistics(model: step).modelStats[0].inferenceStats.success.count >= 1, "\(step)")
        }
        #expect(try server.statistics(model: "minilm-encoder").modelStats[0].inferenceCount == before + 3)
    }

    /// The CNN and MLP run side by side and their probabilities are averaged, element for element.
    @Test func digitsEnsembleAveragesBothModels() async throws {
        let server = try await ExampleRepository.server
        let request = TestModels.cnnRequest(3)
        let cnn = ExampleRepository.floats(try await server.infer(model: "digits-cnn", request: request), "probabilities")
        let mlp = ExampleRepository.floats(try await server.infer(model: "digits-mlp", request: request), "probabilities")
        let both = try await server.infer(model: "digits-ensemble", request: request)
        #expect(both.outputs.map(\.name) == ["probabilities"] && both.outputs[0].shape == [3, 10])
        let got = ExampleRepository.floats(both, "probabilities")
        #expect(got.count == 30)
        #expect(zip(got, zip(cnn, mlp)).allSatisfy { abs($0 - ($1.0 + $1.1) / 2) <= 1e-7 })
        #expect(cnn != mlp)
        // A bad input fails the step that reads it, and the error names the ensemble's step.
        var bad = request
        bad.inputs[0].datatype = .fp32
        bad.inputs[0].shape = [3, 64]
        bad.inputs[0].data = .fp32(Array(repeating: 0, count: 192))
        await #expect {
            _ = try await server.infer(model: "digits-ensemble", request: bad)
        } throws: { e in
            guard case let .invalidArgument(m) = e as? InferenceError else { return false }
            return m.contains("step") && m.contains("'x'")
        }
    }

    /// Canary: every request goes to one target, the split counts them, and the response says which answered.
    @Test func canarySplitRoutesByWeight() async throws {
        let server = try await ExampleRepository.server
        var seen: Set<String> = []
        for i in 0..<60 {
            let r = try await server.infer(model: "digits-canary", request: TestModels.cnnRequest(1, seed: i))
            #expect(r.modelName == "digits-canary")
            if case let .string(target)? = r.parameters["routed_to"] { seen.insert(target) }
        }
        #expect(seen.isSubset(of: ["digits-cnn", "digits-mlp"]) && seen.contains("digits-cnn"))
        let split = server.metricsSnapshot().trafficSplits.first { $0.model == "digits-canary" }
        #expect(split?.routed.values.reduce(0, +) == 60)
        #expect(split?.weights == ["digits-cnn": 90, "digits-mlp": 10])
    }

    static func plan(_ yaml: String) async throws -> EnsemblePlan {
        let config = try ModelConfigLoader.parse(yaml, file: "e/config.yaml")
        let server = try await ExampleRepository.server
        return try EnsemblePlan.build(name: "e", config: config) { try? server.servedModel($0) }
    }

    /// Cycles, missing tensors, type mismatches and unknown models are load errors naming the step.
    @Test(arguments: [
        (
            """
            - {model_name: digits-average, input_map: {input0: a, input1: b}, output_map: {output: c}}
            - {model_name: digits-average, input_map: {input0: c, input1: c}, output_map: {output: a}}
            """, "cycle"
        ),
        ("- {model_name: nope, input_map: {x: x}, output_map: {probabilities: p}}\n", "step 1 (model 'nope')"),
        ("- {model_name: digits-cnn, input_map: {x: x, y: x}, output_map: {probabilities: p}}\n", "'y'"),
        ("- {model_name: digits-cnn, input_map: {x: x}, output_map: {logits: p}}\n", "'logits'"),
        (
            """
            - {model_name: minilm-tokenizer, input_map: {text: text}, output_map: {input_ids: ids, attention_mask: mask}}
            - {model_name: minilm-pooling, input_map: {last_hidden_state: ids, attention_mask: mask}, output_map: {embeddings: e}}
            """, "step 2 (model 'minilm-pooling'): input 'last_hidden_state' takes FP32"
        ),
        ("- {model_name: digits-average, input_map: {input0: a}, output_map: {output: c}}\n", "'input1' is missing"),
    ])
    func badEnsemblesFailToLoad(steps: String, fragment: String) async throws {
        let yaml = "platform: ensemble\nensemble_scheduling:\n  step:\n" + steps.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        await #expect {
            _ = try await Self.plan(yaml)
        } throws: { e in
            "\(e)".contains(fragment) && "\(e)".contains("ensemble 'e'")
        }
    }

    /// A declared input that no step reads is fine; a step reading an undeclared, unwritten tensor is not.
    @Test func declaredInputsAreChecked() async throws {
        await #expect {
            _ = try await Self.plan(
                """
                platform: ensemble
                input: [{name: image, data_type: TYPE_FP32, dims: [8, 8, 1]}]
                ensemble_scheduling:
                  step:
                    - {model_name: digits-cnn, input_map: {x: pixels}, output_map: {probabilities: p}}
                """)
        } throws: { "\($0)".contains("step 1 (model 'digits-cnn'): reads tensor 'pixels'") }
        await #expect {
            _ = try await Self.plan(
                """
                platform: ensemble
                input: [{name: x, data_type: TYPE_INT64, dims: [8, 8, 1]}]
                ensemble_scheduling:
                  step:
                    - {model_name: digits-cnn, input_map: {x: x}, output_map: {probabilities: p}}
                """)
        } throws: { "\($0)".contains("input 'x' takes FP32") }
    }
}

@Suite(.serialized) struct TextSignatureTests {
    /// `text_inputs: tokens` lists only the ids and mask (perf_analyzer sends every listed input), the mask optional.
    @Test func tokenSignatureForPerfAnalyzer() async throws {
        let server = try await ExampleRepository.server
        let served = try server.servedModel("minilm")
        #expect(served.inputs.map(\.name) == ["input_ids", "attention_mask"])
        let config = TritonModelConfiguration(served)
        #expect(config.input.map(\.optional) == [false, true])
        await #expect(throws: InferenceError.self) { _ = try await server.infer(model: "minilm", request: ExampleRepository.text(["hi"])) }
        // perf_analyzer's --input-data zero: ids and mask all 0. Such a row has no tokens and embeds to zeros
        // (sentence-transformers' clamped mean pooling); the other row is computed as usual.
        let ids: [Int64] = [101, 7592, 102, 0] + [0, 0, 0, 0]
        let mask: [Int64] = [1, 1, 1, 0] + [0, 0, 0, 0]
        let r = try await server.infer(
            model: "minilm",
            request: InferRequest(inputs: [
                InferInput(name: "input_ids", datatype: .int64, shape: [2, 4], data: .int64(ids)),
                InferInput(name: "attention_mask", datatype: .int64, shape: [2, 4], data: .int64(mask)),
            ]))
        let e = ExampleRepository.floats(r, "embeddings")
        #expect(e.count == 768)
        #expect(e[384...].allSatisfy { $0 == 0 })
        let alone = try TestModels.minilm.run(.tokens(ids: [101, 7592, 102], lengths: [3]), on: Executor(threads: 1)).toFloat32().floats
        #expect(zip(e[..<384], alone).allSatisfy { abs($0 - $1) <= 1e-6 })
    }

    @Test func newConfigKeysParseAndValidate() throws {
        let c = try ModelConfigLoader.parse("model: m\ntext_inputs: text\nshadow: {model: orig, sample: 0.25}\n", file: "a/config.yaml")
        #expect(c.textInputs == .text && c.shadow == .init(model: "orig", sample: 0.25))
        for (yaml, fragment) in [
            ("text_inputs: words\n", "text_inputs"),
            ("shadow: {model: o, sample: 1.5}\n", "shadow.sample"),
            ("platform: ensemble\n", "ensemble_scheduling"),
            ("platform: compress_combiner\ncombine: {inputs: 1}\n", "combine"),
            ("traffic_split: {a: 1}\n", "traffic_split"),
            ("platform: ensemble\nensemble_scheduling: {step: [{model_name: a, input_map: {}, output_map: {}, typo: 1}]}\n", "typo"),
        ] {
            #expect(throws: RepositoryError.self, "\(fragment)") { _ = try ModelConfigLoader.parse(yaml, file: "a/config.yaml") }
            do { _ = try ModelConfigLoader.parse(yaml, file: "a/config.yaml") } catch { #expect("\(error)".contains(fragment), "\(error)") }
        }
    }
}

@Suite(.serialized) struct ShadowAndLimitTests {
    static func server(_ shadowSample: Double, shadowModel: LoadedModel) async throws -> InferenceServer {
        var live = ModelConfig(maxBatchSize: 8, threads: 1)
        live.shadow = .init(model: "original", sample: shadowSample)
        let server = InferenceServer(
            repository: ModelRepository(entries: [
                ModelEntry(name: "compressed", config: live, source: .loaded(TestModels.cnn)),
                ModelEntry(name: "original", config: ModelConfig(maxBatchSize: 8, threads: 1), source: .loaded(shadowModel)),
            ]))
        try await server.loadAll()
        return server
    }

    static func waitForMirrors(_ server: InferenceServer, _ n: UInt64) async throws -> ShadowStatistics {
        for _ in 0..<500 {
            let s = try server.shadowStatistics(model: "compressed")[0]
            if s.mirrored + s.failed + s.skipped >= n { return s }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        return try server.shadowStatistics(model: "compressed")[0]
    }

    /// The same model as its own shadow agrees fully: every row's top-1, cosine 1, no difference.
    @Test func identicalShadowAgrees() async throws {
        let server = try await Self.server(1.0, shadowModel: TestModels.cnn)
        for i in 0..<6 { _ = try await server.infer(model: "compressed", request: TestModels.cnnRequest(2, seed: i)) }
        let s = try await Self.waitForMirrors(server, 6)
        #expect(s.mirrored + s.skipped == 6 && s.failed == 0)
        #expect(s.rowsCompared == 2 * s.mirrored && s.top1Agreements == s.rowsCompared)
        #expect(s.maxAbsDiff.counts[0] == s.mirrored)
        #expect(s.cosine.count == s.rowsCompared && s.cosine.cumulative.last == s.rowsCompared)
        #expect(s.latencyMicroseconds.count == s.mirrored && s.shadowLatencyMicroseconds.count == s.mirrored)
        #expect(server.metricsSnapshot().shadows == [s])
        // The original model's own statistics count the mirrored requests.
        #expect(try server.statistics(model: "original").modelStats[0].inferenceStats.success.count == s.mirrored)
        await server.shutdown()
    }

    /// A different shadow (the MLP behind the CNN) disagrees measurably, and sample 0.5 mirrors some but not all.
    @Test func differentShadowIsMeasured() async throws {
        let server = try await Self.server(0.5, shadowModel: TestModels.mlp)
        for i in 0..<40 { _ = try await server.infer(model: "compressed", request: TestModels.cnnRequest(1, seed: i)) }
        try await Task.sleep(nanoseconds: 300_000_000)
        let s = try server.shadowStatistics(model: "compressed")[0]
        #expect(s.mirrored > 0 && s.mirrored + s.skipped < 40)
        #expect(s.maxAbsDiff.counts[0] < s.mirrored)
        await server.shutdown()
    }

    /// The server's request timeout answers a request stuck in the queue, and the batch it was in still runs.
    @Test func requestTimeoutAnswers() async throws {
        var config = ModelConfig(maxBatchSize: 8, dynamicBatching: .init(preferredBatchSize: [8], maxQueueDelayMicroseconds: 10_000_000), threads: 1)
        config.dynamicBatching?.defaultQueuePolicy.timeoutAction = .delay
        var options = InferenceServer.Options(threadsPerInstance: 1)
        options.requestTimeoutNanoseconds = 50_000_000
        let server = InferenceServer(
            repository: ModelRepository(entries: [ModelEntry(name: "cnn", config: config, source: .loaded(TestModels.cnn))]), options: options)
        try await server.loadAll()
        let start = Date()
        await #expect {
            _ = try await server.infer(model: "cnn", request: TestModels.cnnRequest(1))
        } throws: { e in
            guard case .timedOut = e as? InferenceError else { return false }
            return true
        }
        // Answered by the 50 ms timeout, not by the batch leaving after its 10 s delay: the margin is wide because
        // the whole suite shares the 2-core cooperative pool (1.97 s was seen under load against a 2 s delay).
        #expect(Date().timeIntervalSince(start) < 5)
        await server.shutdown()
    }

    @Test func shadowMustNameAnotherModel() async throws {
        var live = ModelConfig(maxBatchSize: 8, threads: 1)
        live.shadow = .init(model: "missing", sample: 1)
        let server = InferenceServer(repository: ModelRepository(entries: [ModelEntry(name: "m", config: live, source: .loaded(TestModels.cnn))]))
        await #expect { try await server.loadAll() } throws: { "\($0)".contains("shadow.model 'missing'") }
    }
}
