import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import ServingCore

/// The KServe v2 REST transport: JSON tensors, or Triton's binary tensor data extension for inputs and outputs
/// (what `perf_analyzer -i http` sends by default). Inference requests go over ``HTTP1Connections`` (raw NIO
/// keep-alive connections) for plain `http://`, or over async-http-client (`https://`, or when asked for A/B);
/// metadata and statistics always over async-http-client.
public final class RESTTarget: LoadTarget {
    /// How tensors travel.
    public enum Encoding: String, Sendable, CaseIterable {
        /// Inputs and outputs as JSON arrays.
        case json
        /// Inputs and outputs as raw little-endian bytes after a JSON header (`Inference-Header-Content-Length`).
        case binary
    }

    public let encoding: Encoding
    public var protocolName: String { "rest-\(encoding.rawValue)" }
    private let base: String
    private let model: String
    private let client: HTTPClient
    /// The client's own event loops; nil when it shares NIO's singleton group.
    private let ownGroup: MultiThreadedEventLoopGroup?
    /// The load loop's connections; nil sends inference requests through async-http-client.
    private let connections: HTTP1Connections?
    private let inferHead: HTTPRequestHead

    /// A client for `url` (`http://host:port`, a trailing `/` allowed) and `model`, with up to `connections`
    /// keep-alive connections on `threads` event-loop threads of its own, or (nil) on NIO's singleton loops: when
    /// those also run Swift concurrency's tasks (`compress bench` installs them so), a request's task resumes on
    /// the loop that read its answer, with no thread hop per request.
    /// `rawHTTP` false sends inference requests through async-http-client too (the older client, for A/B runs).
    public init(url: String, model: String, encoding: Encoding, connections: Int = 64, threads: Int? = 1, rawHTTP: Bool = true) throws {
        var u = url
        while u.hasSuffix("/") { u.removeLast() }
        if !u.contains("://") { u = "http://" + u }
        guard let parsed = URL(string: u), parsed.scheme == "http" || parsed.scheme == "https", let host = parsed.host, !host.isEmpty
        else { throw BenchError("bad URL '\(url)': expected http://HOST:PORT") }
        base = u
        self.model = model
        self.encoding = encoding
        let group = threads.map { MultiThreadedEventLoopGroup(numberOfThreads: max(1, $0)) }
        ownGroup = group
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(120), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, connections))
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(120))
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .shared(group ?? MultiThreadedEventLoopGroup.singleton), configuration: configuration)
        let port = parsed.port ?? 80
        let hostHeader = parsed.port == nil ? host : "\(host):\(port)"
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: parsed.path + "/v2/models/\(model)/infer")
        head.headers.add(name: "Host", value: hostHeader)
        head.headers.add(name: "Content-Type", value: encoding == .binary ? "application/octet-stream" : "application/json")
        inferHead = head
        self.connections =
            rawHTTP && parsed.scheme == "http"
            ? HTTP1Connections(host: host, port: port, group: group ?? MultiThreadedEventLoopGroup.singleton) : nil
    }

    public func metadata() async throws -> ModelMetadata {
        let (status, body) = try await get("/v2/models/\(model)")
        if status == 404 || status == 400 {
            throw BenchError("model '\(model)' not found at \(base)\(Self.errorSuffix(body))")
        }
        guard status == 200 else { throw BenchError("GET \(base)/v2/models/\(model) answered \(status)\(Self.errorSuffix(body))") }
        do { return try JSONDecoder().decode(ModelMetadata.self, from: body) } catch {
            throw BenchError("GET \(base)/v2/models/\(model): not KServe v2 model metadata")
        }
    }

    public func statistics() async throws -> ModelStatistics? {
        let (status, body) = try await get("/v2/models/\(model)/stats")
        guard status == 200 else { return nil }
        let response = try? JSONDecoder().decode(StatisticsResponse.self, from: body)
        return response?.modelStats.first { $0.name == model } ?? response?.modelStats.first
    }

    public func infer(_ request: BenchRequest) async -> RequestOutcome {
        let t0 = monotonicNanoseconds()
        let (encoded, headerLength) = InferenceBody.encode(request, binary: encoding == .binary)
        let body = ByteBuffer(bytes: encoded)
        let t1 = monotonicNanoseconds()
        do {
            let answer =
                if let connections { try await exchange(body, headerLength: headerLength, over: connections) } else {
                    try await exchangeThroughClient(body, headerLength: headerLength)
                }
            return Self.check(answer.status, answer.body, headerLength: answer.headerLength, t0: t0, t1: t1)
        } catch {
            return RequestOutcome(status: 0, serializeNs: t1 - t0, sendWaitNs: monotonicNanoseconds() - t1, error: Self.describe(error))
        }
    }

    /// One inference exchange's answer, whichever client carried it.
    private typealias Answer = (status: Int, body: ByteBuffer, headerLength: Int?)

    /// Over the load loop's raw keep-alive connections.
    private func exchange(_ body: ByteBuffer, headerLength: Int?, over connections: HTTP1Connections) async throws -> Answer {
        var head = inferHead
        if let headerLength { head.headers.add(name: "Inference-Header-Content-Length", value: String(headerLength)) }
        head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        let response = try await connections.send(head: head, body: body)
        return (response.status, response.body, response.inferenceHeaderLength)
    }

    /// Over async-http-client (`https://`, or `--rest-client async-http-client`).
    private func exchangeThroughClient(_ body: ByteBuffer, headerLength: Int?) async throws -> Answer {
        var r = HTTPClientRequest(url: "\(base)/v2/models/\(model)/infer")
        r.method = .POST
        r.headers.add(name: "Content-Type", value: headerLength == nil ? "application/json" : "application/octet-stream")
        if let headerLength { r.headers.add(name: "Inference-Header-Content-Length", value: String(headerLength)) }
        r.body = .bytes(body)
        let response = try await client.execute(r, timeout: .seconds(120))
        let headerLength = response.headers.first(name: "Inference-Header-Content-Length").flatMap { Int($0) }
        return (Int(response.status.code), try await response.body.collect(upTo: 256 << 20), headerLength)
    }

    /// Times the answer's check and turns it into an outcome (`t0` before encoding, `t1` when the body was handed
    /// to the transport).
    private static func check(_ status: Int, _ responseBody: ByteBuffer, headerLength: Int?, t0: UInt64, t1: UInt64) -> RequestOutcome {
        let t2 = monotonicNanoseconds()
        var outcome = RequestOutcome(status: status, serializeNs: t1 - t0, sendWaitNs: t2 - t1)
        let parsed = responseBody.withUnsafeReadableBytes { InferenceBody.decodeResponse($0, headerLength: headerLength) }
        outcome.deserializeNs = monotonicNanoseconds() - t2
        if status == 200, let problem = parsed.problem {
            outcome.status = -1
            outcome.error = "malformed response: \(problem)"
        } else if status != 200 {
            outcome.error = parsed.errorMessage ?? "HTTP \(status)"
        }
        return outcome
    }

    public func shutdown() async throws {
        await connections?.shutdown()
        try await client.shutdown()
        try await ownGroup?.shutdownGracefully()
    }

    private func get(_ path: String) async throws -> (Int, Data) {
        var r = HTTPClientRequest(url: base + path)
        r.method = .GET
        do {
            let response = try await client.execute(r, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 16 << 20)
            return (Int(response.status.code), Data(body.readableBytesView))
        } catch {
            throw BenchError("cannot reach \(base): \(Self.describe(error))")
        }
    }

    private static func errorSuffix(_ body: Data) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let e = object["error"] as? String else { return "" }
        return ": \(e)"
    }

    /// One line for a transport error (NIO's descriptions span lines and name internal types).
    static func describe(_ error: Error) -> String {
        let s = "\(error)"
        if s.contains("connectTimeout") { return "connection timed out" }
        if s.contains("refused") || s.contains("ECONNREFUSED") { return "connection refused" }
        if s.contains("deadlineExceeded") { return "request timed out" }
        return s.replacingOccurrences(of: "\n", with: " ")
    }
}
