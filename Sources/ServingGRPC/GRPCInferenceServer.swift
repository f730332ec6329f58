import GRPCCore
import GRPCNIOTransportHTTP2
import InferenceGRPCProtocol
import Logging
import ServiceLifecycle
import ServingCore

/// The gRPC server (HTTP/2 over TCP, plaintext) for an ``InferenceServer``, as a swift-service-lifecycle `Service`:
/// graceful shutdown stops accepting RPCs and returns once in-flight ones have been answered.
///
/// ```swift
/// let grpc = GRPCInferenceServer(server: server, host: "127.0.0.1", port: 8001, logger: logger)
/// let group = ServiceGroup(services: [server, grpc], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public final class GRPCInferenceServer: Service, Sendable {
    private let grpc: GRPCServer<HTTP2ServerTransport.Posix>
    private let transport: HTTP2ServerTransport.Posix
    private let onRunning: @Sendable (Int) async -> Void

    /// - Parameters:
    ///   - host, port: where to listen (loopback by default; port 0 picks a free one, given to `onRunning`).
    ///   - maxMessageBytes: largest request message (Triton accepts up to 2 GiB; the REST body limit's default here).
    ///   - authToken: when set, every RPC but ServerLive/ServerReady needs `authorization: Bearer <authToken>`.
    ///   - accessLog: log one line per RPC to `logger` (request ids are echoed either way).
    ///   - flushDelayMicroseconds: grpc-swift's flush coalescing (responses wait up to this long to be written together
    ///     with others); 0 writes each at once. The transport's default, 100 µs, added up to that to every answer at
    ///     low load (a timer per response on an idle connection), so it is off unless asked for.
    ///   - asyncService: compress.v1.AsyncInferenceService, served on the same port beside
    ///     inference.GRPCInferenceService behind the same interceptors (`compress serve --async`).
    public init(
        server: InferenceServer, host: String = "127.0.0.1", port: Int = 8001, maxMessageBytes: Int = 64 << 20, authToken: String? = nil,
        accessLog: Bool = false, flushDelayMicroseconds: Int = 0, asyncService: AsyncInferenceService? = nil, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.rpc.maxRequestPayloadSize = maxMessageBytes
        config.connection.flushCoalescing =
            flushDelayMicroseconds > 0 ? .init(maxFlushDelay: .microseconds(Int64(flushDelayMicroseconds)), maxBytes: 64 << 10) : nil
        transport = HTTP2ServerTransport.Posix(address: .ipv4(host: host, port: port), transportSecurity: .plaintext, config: config)
        var services: [any RegistrableRPCService] = [InferenceService(server: server)]
        if let asyncService { services.append(asyncService) }
        grpc = GRPCServer(
            transport: transport, services: services,
            // The access log is outermost, so refused RPCs are logged (and their request ids echoed) too.
            interceptors: [AccessLogInterceptor(logger: accessLog ? logger : nil)]
                + (authToken.map { [BearerAuthInterceptor(token: Array($0.utf8))] } ?? []))
        self.onRunning = onRunning
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.grpc.serve() }
                if let address = try? await transport.listeningAddress, let ip = address.ipv4 {
                    await onRunning(ip.port)
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.grpc.beginGracefulShutdown()
        }
    }

    /// The bound port once listening (waits for the bind).
    public var port: Int {
        get async throws {
            let address = try await transport.listeningAddress
            guard let ip = address.ipv4 else { throw RPCError(code: .internalError, message: "not listening on IPv4") }
            return ip.port
        }
    }

    /// Stops accepting RPCs; `run()` returns once in-flight ones finish.
    public func beginGracefulShutdown() { grpc.beginGracefulShutdown() }
}
