import Foundation
import Hummingbird
import Logging

/// One structured line per request (method, path, status, duration, peer, request id) at `.info`, after the
/// response is made. Off by default: a line per request costs measurable microseconds at high rates.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let response = try await next(request, context)
        let micros = (DispatchTime.now().uptimeNanoseconds - start) / 1000
        logger.info(
            "http \(request.method) \(request.uri.path) \(response.status.code)",
            metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
                "duration_us": "\(micros)", "request_id": "\(request.headers[.requestID] ?? "-")",
            ])
        return response
    }
}
