import Dispatch
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
    /// The router (`GET /metrics`), for in-process tests. `additionalText` is appended to every scrape (complete
    /// Prometheus text blocks: the async queue's depth, lag and totals under `compress serve --async`); it may block
    /// briefly (a Redis round trip), so it runs off the event loop.
    public static func router(
        server: InferenceServer, metrics: PrometheusMetrics, additionalText: (@Sendable () -> String)? = nil
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/metrics") { _, _ in
            var bytes = metrics.scrape(server)
            if let additionalText {
                let text = await withCheckedContinuation { c in
                    DispatchQueue.global().async { c.resume(returning: additionalText()) }
                }
                bytes += Array(text.utf8)
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return router
    }

    /// The application bound to `host` (loopback by default) and `port` (0: any free); `onRunning` gets the port.
    public static func application(
        server: InferenceServer, metrics: PrometheusMetrics, host: String = "127.0.0.1", port: Int = 8002,
        additionalText: (@Sendable () -> String)? = nil, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(server: server, metrics: metrics, additionalText: additionalText),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "compress-metrics"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
