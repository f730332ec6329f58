import Hummingbird
import Logging
import NIOCore
import ServingAsync
import ServingCore

/// Builds the Hummingbird application serving an ``InferenceServer`` over HTTP/1.1.
///
/// ```swift
/// let app = RESTServer.application(server: server, host: "127.0.0.1", port: 8000)
/// let group = ServiceGroup(services: [server, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public enum RESTServer {
    /// The router with every endpoint (what in-process tests drive with `app.test(.router)`).
    /// With `accessLog`, one line per request goes to `logger`.
    public static func router(
        for server: InferenceServer, maxBodyBytes: Int = 64 << 20, authToken: String? = nil, accessLog: Bool = false,
        asyncInference: AsyncInference? = nil, logger: Logger = Logger(label: "compress.serve")
    ) -> Router<BasicRequestContext> {
        let router = Router()
        // Outermost, so the line records the status the error middleware chose.
        if accessLog { router.add(middleware: AccessLogMiddleware(logger: logger)) }
        RESTRoutes(server: server, maxBodyBytes: maxBodyBytes, authToken: authToken, asyncInference: asyncInference).register(on: router)
        return router
    }

    /// The application, bound to `host` (loopback by default: expose it deliberately) and `port` (0: any free).
    /// `onRunning` gets the bound port once listening.
    public static func application(
        server: InferenceServer, host: String = "127.0.0.1", port: Int = 8000, maxBodyBytes: Int = 64 << 20, authToken: String? = nil,
        accessLog: Bool = false,
        asyncInference: AsyncInference? = nil, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(for: server, maxBodyBytes: maxBodyBytes, authToken: authToken, accessLog: accessLog, asyncInference: asyncInference, logger: logger),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "compress"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
