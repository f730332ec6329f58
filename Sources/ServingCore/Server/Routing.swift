import Formats
import Foundation
import Layers
import Tokenizers

/// A canary split (`traffic_split: {minilm-int8: 90, minilm-int8-v2: 10}`): each request goes to one target, drawn
/// by weight. Every target must have the same signature, so clients cannot tell which one answered (the response's
/// `routed_to` parameter says).
final class TrafficSplit: Sendable {
    let weights: [(model: String, weight: Int)]
    let signature: ServedModel
    private let routed: Locked<[String: UInt64]>

    init(model: String, weights: [String: Int], lookup: (String) -> ServedModel?) throws(InferenceError) {
        let sorted = weights.sorted { $0.key < $1.key }.map { (model: $0.key, weight: $0.value) }
        var first: ServedModel? = nil
        for (target, _) in sorted {
            guard target != model else { throw .invalidArgument("model '\(model)': traffic_split names itself") }
            guard let m = lookup(target) else { throw .invalidArgument("model '\(model)': traffic_split target '\(target)' is not loaded") }
            if let f = first, f.inputs != m.inputs || f.outputs != m.outputs {
                throw .invalidArgument(
                    "model '\(model)': traffic_split targets '\(f.name)' and '\(target)' have different signatures (inputs or outputs differ)")
            }
            first = first ?? m
        }
        self.weights = sorted
        signature = first!
        routed = Locked(Dictionary(uniqueKeysWithValues: sorted.map { ($0.model, 0) }))
    }

    /// The target for the next request.
    func choose() -> String {
        var draw = Int.random(in: 0..<weights.reduce(0) { $0 + $1.weight })
        var target = weights[weights.count - 1].model
        for w in weights {
            if draw < w.weight {
                target = w.model
                break
            }
            draw -= w.weight
        }
        routed.withLock { $0[target, default: 0] += 1 }
        return target
    }

    func snapshot(model: String) -> TrafficSplitStatistics {
        TrafficSplitStatistics(
            model: model, weights: Dictionary(uniqueKeysWithValues: weights.map { ($0.model, $0.weight) }), routed: routed.withLock { $0 })
    }
}

/// The shadow of one model: which requests to mirror, how many mirrors are in flight, and the agreement figures.
final class ShadowMirror: Sendable {
    let config: ModelConfig.ShadowConfig
    private let state: Locked<(statistics: ShadowStatistics, inFlight: Int)>

    init(model: String, config: ModelConfig.ShadowConfig) {
        self.config = config
        state = Locked((ShadowStatistics(model: model, shadowModel: config.model, sample: config.sample), 0))
    }

    /// Draws whether to mirror this request; when sampled but `limit` mirrors are in flight, counts it skipped.
    func shouldMirror(limit: Int) -> Bool {
        guard Double.random(in: 0..<1) < config.sample else { return false }
        return state.withLock { s in
            guard s.inFlight < limit else {
                s.statistics.skipped += 1
                return false
            }
            s.inFlight += 1
            return true
        }
    }

    func finish(live: [InferOutput], shadow: [InferOutput], liveNanoseconds: UInt64, shadowNanoseconds: UInt64) {
        state.withLock { s in
            s.inFlight -= 1
            s.statistics.record(live: live, shadow: shadow, liveNanoseconds: liveNanoseconds, shadowNanoseconds: shadowNanoseconds)
        }
    }

    func fail() {
        state.withLock { s in
            s.inFlight -= 1
            s.statistics.failed += 1
        }
    }

    func snapshot() -> ShadowStatistics { state.withLock { $0.statistics } }
}

extension ModelConfig {
    /// Whether this entry calls other models (ensemble, traffic split) instead of computing.
    var routes: Bool { platform == .ensemble || trafficSplit != nil }

    /// The models an ensemble or split calls.
    var targets: [String] { (ensembleScheduling?.step.map(\.modelName) ?? []) + (trafficSplit.map { Array($0.keys) } ?? []) }
}

extension InferenceError {
    /// The same kind of error with `prefix` before its message (an ensemble names the step that failed).
    func prefixed(_ prefix: String) -> InferenceError {
        switch self {
        case let .invalidArgument(m): return .invalidArgument(prefix + m)
        case let .notFound(m): return .notFound(prefix + m)
        case let .queueFull(m): return .queueFull(prefix + m)
        case let .timedOut(m): return .timedOut(prefix + m)
        case let .unavailable(m): return .unavailable(prefix + m)
        case let .internal(m): return .internal(prefix + m)
        }
    }
}

/// Runs `body`, answering `.timedOut` if it has not finished within `nanoseconds`. The body keeps running to its
/// end (a batch is never torn apart); its late result is dropped.
func withDeadline<T: Sendable>(
    nanoseconds: UInt64, _ body: @escaping @Sendable () async throws(InferenceError) -> T
) async throws(InferenceError) -> T {
    let result: Result<T, InferenceError> = await withCheckedContinuation { (c: CheckedContinuation<Result<T, InferenceError>, Never>) in
        let once = Locked<CheckedContinuation<Result<T, InferenceError>, Never>?>(c)
        @Sendable func answer(_ r: Result<T, InferenceError>) { once.withLock { c -> CheckedContinuation<Result<T, InferenceError>, Never>? in defer { c = nil }; return c }?.resume(returning: r) }
        let timer = Task {
            try? await Task.sleep(nanoseconds: nanoseconds)
            if !Task.isCancelled {
                answer(.failure(.timedOut("the request did not finish within the server's request timeout (\(nanoseconds / 1_000_000) ms)")))
            }
        }
        Task {
            do throws(InferenceError) { answer(.success(try await body())) } catch { answer(.failure(error)) }
            timer.cancel()
        }
    }
    return try result.get()
}

/// Builds the kernel an entry computes with.
enum KernelFactory {
    static func make(_ entry: ModelEntry) async throws -> (any ServingKernel, LoadedModel?) {
        let config = entry.config
        switch config.platform {
        case .pooling?:
            let p = config.pooling ?? ModelConfig.PoolingConfig()
            guard let mode = SentencePooling.Mode(rawValue: p.mode) else {
                throw InferenceError.invalidArgument("model '\(entry.name)': pooling.mode '\(p.mode)' is not one of mean, cls, max")
            }
            return (PoolingKernel(pooling: .init(mode: mode, normalize: p.normalize)), nil)
        case .combiner?:
            let c = config.combine ?? ModelConfig.CombineConfig()
            guard c.op == "average" else { throw InferenceError.invalidArgument("model '\(entry.name)': combine.op '\(c.op)' is not 'average'") }
            return (CombinerKernel(count: c.inputs), nil)
        case .tokenizer?:
            guard case let .path(p) = entry.source else {
                throw InferenceError.invalidArgument("model '\(entry.name)': a compress_tokenizer needs a model folder with tokenizer files")
            }
            let tokenizer = try await onDedicatedThread { try WordPieceTokenizer(modelDirectory: URL(fileURLWithPath: p)) }
            return (TokenizerKernel(tokenizer: tokenizer), nil)
        case .bertEncoder?:
            let model = try await loadModel(entry)
            guard case let .sentenceEncoder(bert, _, _) = model.kind else {
                throw InferenceError.invalidArgument("model '\(entry.name)': compress_bert_encoder needs a BERT sentence encoder")
            }
            return (BertEncoderKernel(bert: bert), model)
        case nil, .ensemble?:
            let model = try await loadModel(entry)
            return (EngineKernel(model: model, textInputs: config.textInputs), model)
        }
    }

    static func loadModel(_ entry: ModelEntry) async throws -> LoadedModel {
        let model: LoadedModel
        switch entry.source {
        case let .loaded(m): model = m
        case let .path(p): model = try await onDedicatedThread { try ModelLoader.load(p) }
        case .builtin: throw InferenceError.invalidArgument("model '\(entry.name)' has no weights (add a version folder or `model:`)")
        }
        model.freeze()
        return model
    }
}
