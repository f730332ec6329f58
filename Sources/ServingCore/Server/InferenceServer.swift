import CoreMetrics
import Formats
import Foundation
import Logging
import Runtime
import ServiceLifecycle
import Tensors

/// The transport-independent server: the models of a repository, each with its batcher and statistics, behind the
/// operations of the Open Inference Protocol. REST (and later gRPC) adapters only translate to and from it.
///
/// ```swift
/// let server = InferenceServer(repository: try ModelRepository.quickStart(["artifacts/minilm-int8"]))
/// try await server.loadAll()        // ready once every model is loaded, frozen and warmed up
/// let response = try await server.infer(model: "minilm-int8", request: request)
/// ```
///
/// As a `Service` (swift-service-lifecycle), `run()` loads every model, waits for graceful shutdown, then drains:
/// queued and in-flight requests are answered before it returns.
public final class InferenceServer: Sendable, Service {
    public struct Options: Sendable {
        public var name = "compress"
        public var version = "0.1.0"
        /// Threads per instance when a model's config gives none (nil: all cores ÷ instances).
        public var threadsPerInstance: Int?
        public var logger = Logger(label: "compress.serve")
        /// Longest a request may take end to end (queue, steps, compute) before it is answered 503 (nil: no limit).
        /// Its work is not abandoned mid-batch: the batch finishes and the late result is dropped.
        public var requestTimeoutNanoseconds: UInt64?
        /// Shadow mirrors in flight per model beyond which sampled requests are skipped (counted), so a slow
        /// original model never builds an unbounded backlog behind live traffic.
        public var maxShadowsInFlight = 4
        /// Where each model's statistics also go as metrics (``ServingMetricNames``); no-op by default.
        public var metrics: any MetricsFactory = NOOPMetricsHandler.instance
        /// Models whose warm batch-1 pass is shorter than this compute a request inline when it finds the queue
        /// empty and an instance idle (``DynamicBatcher``); 0 never does. Callers' threads then run forward passes:
        /// set it only when they have large stacks and may block that long (NIO's event loops for a small model).
        public var inlineComputeBelowNanoseconds: UInt64 = 0

        public init(threadsPerInstance: Int? = nil) { self.threadsPerInstance = threadsPerInstance }
    }

    /// Extensions reported by `GET /v2` (what the REST adapter implements on top of the core).
    public static let extensions = ["binary_tensor_data", "statistics", "model_repository", "model_configuration", "schedule_policy"]

    private enum Slot: Sendable {
        case loading
        case ready(ModelHost)
        case unloading
        case unavailable(String)
    }

    public let options: Options
    private let repository: Locked<ModelRepository>
    private let slots = Locked<[String: Slot]>([:])
    private let accepting = Locked(true)

    public init(repository: ModelRepository, options: Options = Options()) {
        self.repository = Locked(repository)
        self.options = options
    }

    // MARK: lifecycle

    /// Loads every model of the repository; throws the first failure (a server that cannot serve its models should
    /// not start).
    public func loadAll() async throws {
        let entries = repository.withLock { $0.entries }
        // Models that compute first; ensembles and splits (which call them) after, each once its targets are ready.
        for entry in entries where !entry.config.routes { try await load(entry) }
        var pending = entries.filter(\.config.routes)
        while !pending.isEmpty {
            let ready = slots.withLock { s in Set(s.compactMap { if case .ready = $0.value { return $0.key } else { return nil } }) }
            guard let i = pending.firstIndex(where: { $0.config.targets.allSatisfy(ready.contains) }) else {
                // What is left refers to a model that is missing or on a cycle: loading says which.
                try await load(pending[0])
                pending.removeFirst()
                continue
            }
            try await load(pending.remove(at: i))
        }
    }

    public func run() async throws {
        try await loadAll()
        options.logger.info("ready: \(slots.withLock { $0.keys.sorted() }.joined(separator: ", "))")
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops taking requests, answers every queued one, and stops every model's instances.
    public func shutdown() async {
        accepting.withLock { $0 = false }
        let hosts = slots.withLock { s in s.values.compactMap { if case let .ready(h) = $0 { return h } else { return nil } } }
        for h in hosts { await h.batcher?.drain() }
        options.logger.info("drained \(hosts.count) model(s)")
    }

    // MARK: health and metadata

    public var isLive: Bool { true }

    /// True once every model of the repository is ready and until shutdown starts.
    public var isReady: Bool {
        guard accepting.withLock({ $0 }) else { return false }
        let names = repository.withLock { $0.entries.map(\.name) }
        return slots.withLock { s in names.allSatisfy { if case .ready = s[$0] { return true } else { return false } } }
    }

    public var metadata: ServerMetadata { ServerMetadata(name: options.name, version: options.version, extensions: Self.extensions) }

    public func modelMetadata(_ name: String, version: String? = nil) throws(InferenceError) -> ModelMetadata {
        try host(name, version: version).served.metadata
    }

    public func isModelReady(_ name: String, version: String? = nil) -> Bool {
        guard accepting.withLock({ $0 }) else { return false }
        return (try? host(name, version: version)) != nil
    }

    /// The served model (its config and signature), for the model configuration extension.
    public func servedModel(_ name: String, version: String? = nil) throws(InferenceError) -> ServedModel {
        try host(name, version: version).served
    }

    // MARK: inference

    /// Runs `request` on model `name`: through its batcher, its ensemble steps, or the canary split's choice.
    public func infer(model name: String, version: String? = nil, request: InferRequest) async throws(InferenceError) -> InferResponse {
        guard let limit = options.requestTimeoutNanoseconds else { return try await inferNow(model: name, version: version, request: request) }
        return try await withDeadline(nanoseconds: limit) { [self] () async throws(InferenceError) -> InferResponse in
            try await inferNow(model: name, version: version, request: request)
        }
    }

    private func inferNow(
        model name: String, version: String?, request: InferRequest, mirror: Bool = true
    ) async throws(InferenceError) -> InferResponse {
        let start = monotonicNanoseconds()
        let h = try host(name, version: version)
        do throws(InferenceError) {
            guard accepting.withLock({ $0 }) else { throw InferenceError.unavailable("the server is shutting down") }
            let outputs: [InferOutput]
            var parameters: Parameters = [:]
            if let batcher = h.batcher {
                let prepared = try h.served.prepare(request)
                let priority = try Self.intParameter(request, "priority")
                let timeout = try Self.intParameter(request, "timeout")
                outputs = h.served.makeOutputs(try await batcher.submit(prepared, priority: priority, timeoutMicroseconds: timeout), for: request)
            } else if let plan = h.ensemble {
                try h.served.checkRequestedOutputs(request)
                outputs = h.served.makeOutputs(try await runEnsemble(plan, request: request), for: request)
            } else if let split = h.split {
                let target = split.choose()
                let routed = try await inferNow(model: target, version: nil, request: request, mirror: mirror)
                outputs = routed.outputs
                parameters["routed_to"] = .string(target)
            } else {
                throw InferenceError.internal("model '\(name)' has nothing to run")
            }
            let elapsed = monotonicNanoseconds() - start
            h.statistics.recordSuccess(nanoseconds: elapsed)
            if mirror, let shadow = h.shadow { mirrorToShadow(shadow, request: request, live: outputs, liveNanoseconds: elapsed) }
            return InferResponse(modelName: h.served.name, modelVersion: h.served.version, id: request.id, parameters: parameters, outputs: outputs)
        } catch {
            h.statistics.recordFailure(nanoseconds: monotonicNanoseconds() - start, error: error)
            throw error
        }
    }

    /// Runs an ensemble's steps, each through its own model (batcher and statistics); steps whose inputs are ready
    /// run concurrently.
    private func runEnsemble(_ plan: EnsemblePlan, request: InferRequest) async throws(InferenceError) -> [InferOutput] {
        var tensors: [String: InferInput] = [:]
        for input in request.inputs {
            guard plan.inputs.contains(where: { $0.name == input.name }) else {
                throw .invalidArgument(
                    "unexpected input '\(input.name)' (ensemble '\(plan.name)' takes \(plan.inputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
            }
            guard tensors[input.name] == nil else { throw .invalidArgument("input '\(input.name)' is given twice") }
            tensors[input.name] = input
        }
        var pending = plan.steps
        let forwarded = request.parameters.filter { ["priority", "timeout"].contains($0.key) }
        while !pending.isEmpty {
            let ready = pending.filter { $0.inputMap.values.allSatisfy { tensors[$0] != nil } }
            guard !ready.isEmpty else {
                let missing = Set(pending.flatMap(\.inputMap.values)).subtracting(tensors.keys).sorted()
                throw .invalidArgument("ensemble '\(plan.name)' is missing input(s) \(missing.map { "'\($0)'" }.joined(separator: ", "))")
            }
            pending.removeAll { s in ready.contains { $0.index == s.index } }
            let snapshot = tensors
            let results: [(EnsemblePlan.Step, Result<InferResponse, InferenceError>)] = await withTaskGroup(
                of: (EnsemblePlan.Step, Result<InferResponse, InferenceError>).self
            ) { group in
                for step in ready {
                    let inputs = step.inputMap.sorted { $0.key < $1.key }.map { (k, t) in
                        var i = snapshot[t]!
                        i.name = k
                        return i
                    }
                    let stepRequest = InferRequest(id: request.id, parameters: forwarded, inputs: inputs)
                    group.addTask { [self] in
                        do throws(InferenceError) {
                            return (step, .success(try await inferNow(model: step.model, version: nil, request: stepRequest)))
                        } catch {
                            return (step, .failure(error))
                        }
                    }
                }
                var out: [(EnsemblePlan.Step, Result<InferResponse, InferenceError>)] = []
                for await r in group { out.append(r) }
                return out
            }
            for (step, result) in results.sorted(by: { $0.0.index < $1.0.index }) {
                switch result {
                case let .failure(e): throw e.prefixed("ensemble '\(plan.name)' step \(step.index + 1) (model '\(step.model)'): ")
                case let .success(r):
                    for (k, t) in step.outputMap {
                        guard let o = r.outputs.first(where: { $0.name == k }) else {
                            throw .internal("ensemble '\(plan.name)' step \(step.index + 1): model '\(step.model)' returned no '\(k)'")
                        }
                        tensors[t] = InferInput(name: t, datatype: o.datatype, shape: o.shape, data: o.data)
                    }
                }
            }
        }
        return plan.outputs.compactMap { m in tensors[m.name].map { InferOutput(name: m.name, datatype: $0.datatype, shape: $0.shape, data: $0.data) } }
    }

    /// Sends a sample of `request` to the shadow model off the response path and records how its outputs compare.
    private func mirrorToShadow(_ shadow: ShadowMirror, request: InferRequest, live: [InferOutput], liveNanoseconds: UInt64) {
        guard shadow.shouldMirror(limit: options.maxShadowsInFlight) else { return }
        Task.detached { [self] in
            let start = monotonicNanoseconds()
            do throws(InferenceError) {
                var plain = request
                plain.outputs = nil
                let answer = try await inferNow(model: shadow.config.model, version: nil, request: plain, mirror: false)
                shadow.finish(live: live, shadow: answer.outputs, liveNanoseconds: liveNanoseconds, shadowNanoseconds: monotonicNanoseconds() - start)
            } catch {
                shadow.fail()
            }
        }
    }

    private static func intParameter(_ r: InferRequest, _ key: String) throws(InferenceError) -> Int? {
        guard let v = r.parameters[key] else { return nil }
        guard let i = v.intValue, let n = Int(exactly: i) else { throw .invalidArgument("request parameter '\(key)' must be an integer") }
        return n
    }

    /// Requests waiting in model `name`'s queue now (Triton's `nv_inference_pending_request_count`).
    public func pendingRequests(model name: String) throws(InferenceError) -> Int {
        try host(name, version: nil).batcher?.queueDepth ?? 0
    }

    // MARK: statistics

    /// Statistics of one model (all versions loaded) or, with `name` nil, of every ready model.
    public func statistics(model name: String? = nil, version: String? = nil) throws(InferenceError) -> StatisticsResponse {
        if let name { return StatisticsResponse(modelStats: [try host(name, version: version).statistics.snapshot()]) }
        let hosts = slots.withLock { s in s.values.compactMap { if case let .ready(h) = $0 { return h } else { return nil } } }
        return StatisticsResponse(modelStats: hosts.map { $0.statistics.snapshot() }.sorted { $0.name < $1.name })
    }

    /// Agreement of every model that has a shadow (see ``ShadowStatistics``).
    public func shadowStatistics(model name: String? = nil) throws(InferenceError) -> [ShadowStatistics] {
        if let name {
            guard let shadow = try host(name, version: nil).shadow else { throw .notFound("model '\(name)' has no shadow") }
            return [shadow.snapshot()]
        }
        return readyHosts().compactMap { $0.shadow?.snapshot() }.sorted { $0.model < $1.model }
    }

    /// One consistent read of everything a metrics exporter shows (statistics, queues, shadows, canary splits).
    public func metricsSnapshot() -> ServingMetricsSnapshot {
        let hosts = readyHosts().sorted { $0.served.name < $1.served.name }
        return ServingMetricsSnapshot(
            models: hosts.map { $0.statistics.snapshot() },
            pendingRequests: Dictionary(uniqueKeysWithValues: hosts.map { ($0.served.name, $0.batcher?.queueDepth ?? 0) }),
            shadows: hosts.compactMap { $0.shadow?.snapshot() },
            trafficSplits: hosts.compactMap { h in h.split.map { $0.snapshot(model: h.served.name) } })
    }

    private func readyHosts() -> [ModelHost] {
        slots.withLock { s in s.values.compactMap { if case let .ready(h) = $0 { return h } else { return nil } } }
    }

    // MARK: repository

    /// Every model the repository knows, with its state (Triton's index).
    public func repositoryIndex(readyOnly: Bool = false) -> [RepositoryIndexEntry] {
        let entries = repository.withLock { $0.entries }
        let states = slots.withLock { $0 }
        return entries.compactMap { e in
            let (state, reason): (String, String)
            switch states[e.name] {
            case .ready?: (state, reason) = ("READY", "")
            case .loading?: (state, reason) = ("LOADING", "")
            case .unloading?: (state, reason) = ("UNLOADING", "")
            case let .unavailable(r)?: (state, reason) = ("UNAVAILABLE", r)
            case nil: (state, reason) = ("UNAVAILABLE", "unloaded")
            }
            if readyOnly && state != "READY" { return nil }
            return RepositoryIndexEntry(name: e.name, version: e.version, state: state, reason: reason)
        }
    }

    /// (Re)loads model `name`: a repository folder is read again (its config may have changed); the old instances
    /// keep serving until the new ones are warm, then drain.
    public func loadModel(_ name: String) async throws(InferenceError) {
        var entry = repository.withLock { $0.entries.first { $0.name == name } }
        if let root = repository.withLock({ $0.root }) {
            do { entry = try ModelRepository.entry(named: name, in: root) } catch { throw .invalidArgument("\(error)") }
        }
        guard let entry else { throw .notFound("no model '\(name)' in the repository") }
        repository.withLock { r in
            if let i = r.entries.firstIndex(where: { $0.name == name }) { r.entries[i] = entry } else { r.entries.append(entry) }
        }
        do { try await load(entry) } catch let e as InferenceError { throw e } catch {
            throw .unavailable("loading '\(name)' failed: \(error)")
        }
    }

    /// Stops serving model `name` after answering its queued requests.
    public func unloadModel(_ name: String) async throws(InferenceError) {
        let old: ModelHost? = slots.withLock { s in
            guard case let .ready(h)? = s[name] else { return nil }
            s[name] = .unloading
            return h
        }
        guard let old else {
            if repository.withLock({ r in r.entries.contains { $0.name == name } }) { return }
            throw .notFound("no model '\(name)' in the repository")
        }
        await old.batcher?.drain()
        slots.withLock { $0[name] = nil }
    }

    // MARK: internals

    private func host(_ name: String, version: String?) throws(InferenceError) -> ModelHost {
        let slot = slots.withLock { $0[name] }
        switch slot {
        case let .ready(h)?:
            if let version, version != h.served.version {
                throw .notFound("model '\(name)' has no version '\(version)' (serving version \(h.served.version))")
            }
            return h
        case .loading?: throw .unavailable("model '\(name)' is loading")
        case .unloading?: throw .unavailable("model '\(name)' is unloading")
        case let .unavailable(reason)?: throw .unavailable("model '\(name)' is unavailable: \(reason)")
        case nil:
            if repository.withLock({ r in r.entries.contains { $0.name == name } }) { throw .unavailable("model '\(name)' is not loaded") }
            throw .notFound("unknown model '\(name)'")
        }
    }

    private func load(_ entry: ModelEntry) async throws {
        let previous: ModelHost? = slots.withLock { s in
            if case let .ready(h)? = s[entry.name] { return h }
            s[entry.name] = .loading
            return nil
        }
        do {
            let known = repository.withLock { r in Set(r.entries.map(\.name)) }
            let host = try await ModelHost.load(
                entry, defaultThreads: options.threadsPerInstance, inlineBelowNanoseconds: options.inlineComputeBelowNanoseconds, known: known,
                metrics: options.metrics,
                lookup: { [self] name in try? self.host(name, version: nil).served })
            slots.withLock { $0[entry.name] = .ready(host) }
            options.logger.info(
                "loaded \(entry.name) v\(entry.version): \(host.served.platform), \(host.batcher == nil ? "routing" : "\(entry.config.instanceCount) instance(s) × \(host.threads) thread(s)"), max_batch_size \(entry.config.maxBatchSize)\(host.batcher?.computesInline == true ? ", computes inline when idle" : "")"
            )
        } catch {
            if previous == nil { slots.withLock { $0[entry.name] = .unavailable("\(error)") } }
            throw error
        }
        if let previous { await previous.batcher?.drain() }
    }
}

/// A ready model: the served signature, what runs it (a batcher, an ensemble plan or a canary split), its
/// statistics and its shadow.
final class ModelHost: Sendable {
    let served: ServedModel
    let batcher: DynamicBatcher?
    let ensemble: EnsemblePlan?
    let split: TrafficSplit?
    let shadow: ShadowMirror?
    let statistics: StatisticsRecorder
    let threads: Int

    private init(
        served: ServedModel, batcher: DynamicBatcher? = nil, ensemble: EnsemblePlan? = nil, split: TrafficSplit? = nil,
        shadow: ShadowMirror?, statistics: StatisticsRecorder, threads: Int = 0
    ) {
        self.served = served
        self.batcher = batcher
        self.ensemble = ensemble
        self.split = split
        self.shadow = shadow
        self.statistics = statistics
        self.threads = threads
    }

    /// Loads (on a dedicated thread: reading and packing weights takes seconds of CPU), freezes, and starts the
    /// batcher's instances, which warm up before this returns. Ensembles and splits check their targets through
    /// `lookup` (loaded models' signatures); `known` is every model name of the repository.
    static func load(
        _ entry: ModelEntry, defaultThreads: Int?, inlineBelowNanoseconds: UInt64 = 0, known: Set<String>, metrics: any MetricsFactory,
        lookup: (String) -> ServedModel?
    ) async throws -> ModelHost {
        let config = entry.config
        let statistics = StatisticsRecorder(name: entry.name, version: entry.version, metrics: metrics)
        var shadow: ShadowMirror? = nil
        if let s = config.shadow {
            guard known.contains(s.model), s.model != entry.name else {
                throw InferenceError.invalidArgument("model '\(entry.name)': shadow.model '\(s.model)' is not another model of the repository")
            }
            shadow = ShadowMirror(model: entry.name, config: s)
        }
        if let weights = config.trafficSplit {
            let split = try TrafficSplit(model: entry.name, weights: weights, lookup: lookup)
            let first = split.signature
            return ModelHost(
                served: ServedModel(
                    name: entry.name, version: entry.version, config: config, platform: "traffic_split", inputs: first.inputs,
                    outputs: first.outputs, optionalInputs: first.optionalInputs),
                split: split, shadow: shadow, statistics: statistics)
        }
        if config.platform == .ensemble {
            let plan = try EnsemblePlan.build(name: entry.name, config: config, lookup: lookup)
            return ModelHost(
                served: ServedModel(
                    name: entry.name, version: entry.version, config: config, platform: "ensemble", inputs: plan.inputs, outputs: plan.outputs),
                ensemble: plan, shadow: shadow, statistics: statistics)
        }
        let (kernel, model) = try await KernelFactory.make(entry)
        // Tokenizer, pooling and combiner steps compute on their instance thread alone: no worker pool for them.
        let threads = model == nil ? 1 : config.threads ?? defaultThreads ?? max(1, Executor.availableCores / config.instanceCount)
        let batcher = DynamicBatcher(
            kernel: kernel, policy: BatchingPolicy(config: config), instances: config.instanceCount, threads: threads, statistics: statistics,
            inlineBelowNanoseconds: inlineBelowNanoseconds)
        do { try await batcher.start() } catch {
            await batcher.drain()
            throw error
        }
        return ModelHost(
            served: ServedModel(name: entry.name, version: entry.version, config: config, kernel: kernel, model: model), batcher: batcher,
            shadow: shadow, statistics: statistics, threads: threads)
    }
}

/// Runs `body` on a new thread and returns its result, keeping long CPU work off the cooperative pool.
func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        let t = Thread {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
        t.stackSize = 8 << 20
        t.start()
    }
}
