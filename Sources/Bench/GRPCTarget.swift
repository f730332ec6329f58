import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import InferenceGRPCProtocol
import ServingCore

/// The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, grpc-swift 2 over HTTP/2), inputs and
/// outputs as `raw_input_contents`/`raw_output_contents` (what `perf_analyzer -i grpc` sends), over `connections`
/// HTTP/2 connections with load slot `i` pinned to connection `i / slotsPerConnection` (modulo the count).
///
/// Why several: Triton's C++ client, which perf_analyzer runs one of per concurrency slot, shares one gRPC channel
/// among at most 6 clients (`TRITON_CLIENT_GRPC_CHANNEL_MAX_SHARE_COUNT`, default 6, in `grpc_client.cc`), so
/// at concurrency 32 perf_analyzer talks over 6 connections, and a server reads each connection on one event loop.
/// ``BenchPlan`` picks the same count by default so both tools load the server the same way.
public final class GRPCTarget: LoadTarget {
    public var protocolName: String { "grpc" }
    /// Slots sharing one connection by default (perf_analyzer's channel share count).
    public static let perfAnalyzerSlotsPerConnection = 6
    /// Consecutive load slots sharing one connection.
    public let slotsPerConnection: Int
    private let endpoint: String
    private let model: String
    private let clients: [GRPCClient<HTTP2ClientTransport.Posix>]
    private let services: [Inference_GRPCInferenceService.Client<HTTP2ClientTransport.Posix>]
    private let running: [Task<Void, Never>]
    /// The connection count.
    public var connections: Int { clients.count }

    /// How many connections perf_analyzer's gRPC clients open at concurrency `n`: one per 6 slots.
    public static func connections(forConcurrency n: Int) -> Int {
        max(1, (n + perfAnalyzerSlotsPerConnection - 1) / perfAnalyzerSlotsPerConnection)
    }

    /// A client for `endpoint` (`HOST:PORT`, optionally `grpc://HOST:PORT`) and `model` over `connections`
    /// HTTP/2 connections (each connects on first use), `slotsPerConnection` consecutive load slots on each.
    public init(endpoint: String, model: String, connections: Int = 1, slotsPerConnection: Int = GRPCTarget.perfAnalyzerSlotsPerConnection) throws {
        var e = endpoint
        if e.hasPrefix("grpc://") { e.removeFirst("grpc://".count) }
        while e.hasSuffix("/") { e.removeLast() }
        guard let colon = e.lastIndex(of: ":"), let port = Int(e[e.index(after: colon)...]), (1...65535).contains(port), colon != e.startIndex
        else { throw BenchError("bad gRPC endpoint '\(endpoint)': expected HOST:PORT (e.g. 127.0.0.1:8001)") }
        let host = String(e[..<colon])
        self.endpoint = e
        self.model = model
        self.slotsPerConnection = max(1, slotsPerConnection)
        var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
        for _ in 0..<max(1, connections) {
            let transport = try HTTP2ClientTransport.Posix(
                target: .dns(host: host, port: port), transportSecurity: .plaintext,
                config: .defaults { $0.http2.maxFrameSize = 1 << 20 })
            clients.append(GRPCClient(transport: transport))
        }
        self.clients = clients
        services = clients.map { Inference_GRPCInferenceService.Client(wrapping: $0) }
        running = clients.map { client in Task { try? await client.runConnections() } }
    }

    /// Metadata and statistics go over the first connection.
    private var service: Inference_GRPCInferenceService.Client<HTTP2ClientTransport.Posix> { services[0] }

    public func metadata() async throws -> ModelMetadata {
        var request = Inference_ModelMetadataRequest()
        request.name = model
        let r: Inference_ModelMetadataResponse
        do { r = try await service.modelMetadata(request, options: Self.options(seconds: 10)) } catch let error as RPCError {
            if error.code == .notFound || error.code == .invalidArgument || error.code == .unavailable && error.message.contains("model") {
                throw BenchError("model '\(model)' not found at \(endpoint): \(error.message)")
            }
            throw BenchError("cannot reach \(endpoint) over gRPC: \(Self.describe(error))")
        }
        func tensor(_ t: Inference_ModelMetadataResponse.TensorMetadata) throws -> TensorMetadata {
            guard let type = TensorDataType(rawValue: t.datatype) else {
                throw BenchError("\(endpoint): model '\(model)' declares tensor '\(t.name)' with unknown datatype '\(t.datatype)'")
            }
            return TensorMetadata(name: t.name, datatype: type, shape: t.shape.map { Int($0) })
        }
        return ModelMetadata(
            name: r.name, versions: r.versions, platform: r.platform, inputs: try r.inputs.map(tensor), outputs: try r.outputs.map(tensor))
    }

    public func statistics() async throws -> ModelStatistics? {
        var request = Inference_ModelStatisticsRequest()
        request.name = model
        guard let r = try? await service.modelStatistics(request, options: Self.options(seconds: 10)),
            let s = r.modelStats.first(where: { $0.name == model }) ?? r.modelStats.first
        else { return nil }
        func d(_ x: Inference_StatisticDuration) -> StatDuration { StatDuration(count: x.count, ns: x.ns) }
        var out = ModelStatistics(name: s.name, version: s.version)
        out.lastInference = s.lastInference
        out.inferenceCount = s.inferenceCount
        out.executionCount = s.executionCount
        let i = s.inferenceStats
        out.inferenceStats.success = d(i.success)
        out.inferenceStats.fail = d(i.fail)
        out.inferenceStats.queue = d(i.queue)
        out.inferenceStats.computeInput = d(i.computeInput)
        out.inferenceStats.computeInfer = d(i.computeInfer)
        out.inferenceStats.computeOutput = d(i.computeOutput)
        return out
    }

    public func infer(_ request: BenchRequest) async -> RequestOutcome { await infer(request, slot: 0) }

    public func infer(_ request: BenchRequest, slot: Int) async -> RequestOutcome {
        let service = services[(max(0, slot) / slotsPerConnection) % services.count]
        let t0 = monotonicNanoseconds()
        var message = Inference_ModelInferRequest()
        message.modelName = model
        message.inputs = request.inputs.map { input in
            var t = Inference_ModelInferRequest.InferInputTensor()
            t.name = input.name
            t.datatype = input.data.datatype.rawValue
            t.shape = input.shape.map { Int64($0) }
            return t
        }
        message.rawInputContents = request.inputs.map { input in
            var bytes: [UInt8] = []
            input.data.appendBinary(to: &bytes)
            return Data(bytes)
        }
        let t1 = monotonicNanoseconds()
        let response: Inference_ModelInferResponse
        // No deadline, as perf_analyzer sends none: a deadline costs a timer task per RPC on both sides (grpc-swift's
        // client `withDeadline` and server `executeWithTimeout`); measured at c=1 on the digits CNN, the server
        // spent 778 µs CPU per request from us against 552 µs from perf_analyzer with it. The run's end cancels
        // requests still in flight instead.
        do { response = try await service.modelInfer(message) } catch let error as RPCError {
            return RequestOutcome(
                status: Self.httpStatus(error.code), serializeNs: t1 - t0, sendWaitNs: monotonicNanoseconds() - t1, error: Self.describe(error))
        } catch {
            return RequestOutcome(status: 0, serializeNs: t1 - t0, sendWaitNs: monotonicNanoseconds() - t1, error: "\(error)")
        }
        let t2 = monotonicNanoseconds()
        var outcome = RequestOutcome(status: 200, serializeNs: t1 - t0, sendWaitNs: t2 - t1)
        // Each output must carry data: raw contents (one per output, in order) or typed contents.
        let raw = response.rawOutputContents
        if response.outputs.isEmpty {
            outcome.status = -1
            outcome.error = "malformed response: no outputs"
        } else if !raw.isEmpty && raw.count != response.outputs.count {
            outcome.status = -1
            outcome.error = "malformed response: \(response.outputs.count) outputs, \(raw.count) raw contents"
        } else if raw.isEmpty && response.outputs.contains(where: { !$0.hasContents }) {
            outcome.status = -1
            outcome.error = "malformed response: an output without contents"
        }
        outcome.deserializeNs = monotonicNanoseconds() - t2
        return outcome
    }

    public func shutdown() async throws {
        for client in clients { client.beginGracefulShutdown() }
        for task in running { await task.value }
    }

    static func options(seconds: Int) -> CallOptions {
        var o = CallOptions.defaults
        o.timeout = .seconds(seconds)
        return o
    }

    /// gRPC status → the HTTP status the REST transport would have answered (Triton's mapping), so error tables
    /// read the same for both protocols.
    static func httpStatus(_ code: RPCError.Code) -> Int {
        switch code {
        case .invalidArgument, .outOfRange, .failedPrecondition: return 400
        case .unauthenticated: return 401
        case .permissionDenied: return 403
        case .notFound: return 404
        case .resourceExhausted: return 429
        case .unimplemented: return 501
        case .unavailable: return 503
        case .deadlineExceeded: return 504
        default: return 500
        }
    }

    static func describe(_ error: RPCError) -> String {
        "\(error.code): \(error.message)".replacingOccurrences(of: "\n", with: " ")
    }
}
