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
        for entry in repository.withLock({ $0.entries }) { try await load(entry) }
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
        for h in hosts { await h.batcher.drain() }
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

    /// Runs `request` on model `name`, through its batcher.
    public func infer(model name: String, version: String? = nil, request: InferRequest) async throws(InferenceError) -> InferResponse {
        let start = monotonicNanoseconds()
        let h = try host(name, version: version)
        do throws(InferenceError) {
            guard accepting.withLock({ $0 }) else { throw InferenceError.unavailable("the server is shutting down") }
            let prepared = try h.served.prepare(request)
            let priority = try Self.intParameter(request, "priority")
            let timeout = try Self.intParameter(request, "timeout")
            let rows = try await h.batcher.submit(prepared, priority: priority, timeoutMicroseconds: timeout)
            let response = InferResponse(
                modelName: h.served.name, modelVersion: h.served.version, id: request.id, outputs: h.served.makeOutputs(rows, for: request))
            h.statistics.recordSuccess(nanoseconds: monotonicNanoseconds() - start)
            return response
        } catch {
            h.statistics.recordFailure(nanoseconds: monotonicNanoseconds() - start)
            throw error
        }
    }

    private static func intParameter(_ r: InferRequest, _ key: String) throws(InferenceError) -> Int? {
        guard let v = r.parameters[key] else { return nil }
        guard let i = v.intValue, let n = Int(exactly: i) else { throw .invalidArgument("request parameter '\(key)' must be an integer") }
        return n
    }

    /// Requests waiting in model `name`'s queue now (Triton's `nv_inference_pending_request_count`).
    public func pendingRequests(model name: String) throws(InferenceError) -> Int {
        try host(name, version: nil).batcher.queueDepth
    }

    // MARK: statistics

    /// Statistics of one model (all versions loaded) or, with `name` nil, of every ready model.
    public func statistics(model name: String? = nil, version: String? = nil) throws(InferenceError) -> StatisticsResponse {
        if let name { return StatisticsResponse(modelStats: [try host(name, version: version).statistics.snapshot()]) }
        let hosts = slots.withLock { s in s.values.compactMap { if case let .ready(h) = $0 { return h } else { return nil } } }
        return StatisticsResponse(modelStats: hosts.map { $0.statistics.snapshot() }.sorted { $0.name < $1.name })
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
        await old.batcher.drain()
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
            let host = try await ModelHost.load(entry, defaultThreads: options.threadsPerInstance)
            slots.withLock { $0[entry.name] = .ready(host) }
            options.logger.info(
                "loaded \(entry.name) v\(entry.version): \(host.served.platform), \(entry.config.instanceCount) instance(s) × \(host.threads) thread(s), max_batch_size \(entry.config.maxBatchSize)"
            )
        } catch {
            if previous == nil { slots.withLock { $0[entry.name] = .unavailable("\(error)") } }
            throw error
        }
        if let previous { await previous.batcher.drain() }
    }
}

/// A ready model: the served signature, its batcher and statistics.
final class ModelHost: Sendable {
    let served: ServedModel
    let batcher: DynamicBatcher
    let statistics: StatisticsRecorder
    let threads: Int

    private init(served: ServedModel, batcher: DynamicBatcher, statistics: StatisticsRecorder, threads: Int) {
        self.served = served
        self.batcher = batcher
        self.statistics = statistics
        self.threads = threads
    }

    /// Loads (on a dedicated thread: reading and packing weights takes seconds of CPU), freezes, and starts the
    /// batcher's instances, which warm up before this returns.
    static func load(_ entry: ModelEntry, defaultThreads: Int?) async throws -> ModelHost {
        let model: LoadedModel
        switch entry.source {
        case let .loaded(m): model = m
        case let .path(p): model = try await onDedicatedThread { try ModelLoader.load(p) }
        }
        model.freeze()
        let config = entry.config
        let threads = config.threads ?? defaultThreads ?? max(1, Executor.availableCores / config.instanceCount)
        let statistics = StatisticsRecorder(name: entry.name, version: entry.version)
        let batcher = DynamicBatcher(
            model: model, policy: BatchingPolicy(config: config), instances: config.instanceCount, threads: threads, statistics: statistics)
        do { try await batcher.start() } catch {
            await batcher.drain()
            throw error
        }
        return ModelHost(
            served: ServedModel(name: entry.name, version: entry.version, config: config, model: model), batcher: batcher,
            statistics: statistics, threads: threads)
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
