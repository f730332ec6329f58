import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServingCore

/// The metrics endpoint (`GET /metrics`, Prometheus text format), on its own port as Triton serves it (8002).
///
/// ```swift
/// let app = MetricsServer.application(server: server, metrics: metrics, port: 8002, logger: logger)
/// ```
public enum MetricsServer {
    /// The router (`GET /metrics`), for in-process tests.
    public static func router(server: InferenceServer, metrics: PrometheusMetrics) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.scrape(server))))
        }
        return router
    }

    /// The application bound to `host` (loopback by default) and `port` (0: any free); `onRunning` gets the port.
    public static func application(
        server: InferenceServer, metrics: PrometheusMetrics, host: String = "127.0.0.1", port: Int = 8002, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(server: server, metrics: metrics),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "compress-metrics"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
