import Foundation
import Formats

/// Everything `compress bench` was asked to do, checked, and the driver that does it.
public struct BenchPlan: Sendable {
    public var url: String
    public var model: String
    /// REST tensors as JSON or binary (when `grpc` is false).
    public var encoding: RESTTarget.Encoding = .binary
    /// Drive the server over gRPC (`url` is then HOST:PORT of its gRPC listener) instead of REST.
    public var grpc = false
    public var dataSpec: String?
    public var shapes: [RequestSource.ShapeOption] = []
    public var fill: RequestSource.Fill = .random
    public var batch = 1
    public var modes: [LoadMode] = [.concurrency(1)]
    /// `--latency-bound-ms`: search rates instead of running `modes`; the closed-loop level giving the starting
    /// rate is the last of `modes`.
    public var latencyBoundMs: Double?
    public var settings = RunSettings()
    /// The REST client's own event-loop threads; nil shares NIO's singleton loops (see ``RESTTarget``).
    public var clientThreads: Int? = nil
    /// gRPC connections; nil opens as many as perf_analyzer would at the highest concurrency (one per 6 slots,
    /// see ``GRPCTarget``).
    public var grpcConnections: Int? = nil
    /// REST inference over raw NIO keep-alive connections (``HTTP1Connections``); false: over async-http-client.
    public var rawHTTP = true

    public init(url: String, model: String) {
        self.url = url
        self.model = model
    }

    /// Connects, checks the model, builds the requests and runs every level. `progress` gets one line per window.
    public func run(progress: (@Sendable (String) -> Void)?) async throws -> BenchResult {
        let maxConcurrency = modes.map { mode -> Int in if case let .concurrency(n) = mode { return n } else { return 1 } }.max() ?? 1
        let target: any LoadTarget =
            grpc
            ? try grpcTarget(maxConcurrency: maxConcurrency)
            : try RESTTarget(
                url: url, model: model, encoding: encoding, connections: max(maxConcurrency, min(settings.maxOutstanding, 256)),
                threads: clientThreads, rawHTTP: rawHTTP)
        do {
            let result = try await run(on: target, progress: progress)
            try await target.shutdown()
            return result
        } catch {
            try? await target.shutdown()
            throw error
        }
    }

    /// The gRPC client: perf_analyzer's connection count unless `grpcConnections` says otherwise, the slots then
    /// spread evenly over the connections.
    public func grpcTarget(maxConcurrency: Int) throws -> GRPCTarget {
        guard let n = grpcConnections else {
            return try GRPCTarget(endpoint: url, model: model, connections: GRPCTarget.connections(forConcurrency: maxConcurrency))
        }
        let connections = max(1, n)
        return try GRPCTarget(
            endpoint: url, model: model, connections: connections, slotsPerConnection: (maxConcurrency + connections - 1) / connections)
    }

    /// The same on a given transport (gRPC plugs in here).
    public func run(on target: any LoadTarget, progress: (@Sendable (String) -> Void)?) async throws -> BenchResult {
        let metadata = try await target.metadata()
        let requests: [BenchRequest]
        if let dataSpec {
            requests = try RequestSource.fromData(dataSpec, metadata: metadata, batch: batch)
        } else {
            requests = try RequestSource.generated(metadata: metadata, shapes: shapes, fill: fill, batch: batch)
        }
        // One request first: a model that refuses our inputs fails here with its own message, not as a wall of
        // errors in every window.
        let probe = await target.infer(requests[0])
        guard probe.succeeded else {
            throw BenchError("model '\(model)' refused the first request (status \(probe.status)): \(probe.error ?? "no message")")
        }
        let runner = LoadRunner(target: target, requests: requests, settings: settings)
        var result = BenchResult(url: url, model: model, protocolName: target.protocolName, levels: [])
        if let bound = latencyBoundMs {
            let start = await runner.run(modes.last ?? .concurrency(16), progress: progress)
            result.levels.append(start)
            let search = LatencyBoundSearch(boundMs: bound)
            let (levels, best) = await search.run(startRate: max(1, start.summary.throughput * 0.8)) { rate in
                await runner.run(.rate(perSecond: rate, poisson: true), progress: progress)
            }
            result.levels += levels
            result.latencyBoundMs = bound
            result.bestRate = best
        } else {
            for mode in modes { result.levels.append(await runner.run(mode, progress: progress)) }
        }
        return result
    }
}
