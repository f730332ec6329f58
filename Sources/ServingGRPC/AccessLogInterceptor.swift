import Foundation
import GRPCCore
import Logging

/// Echoes the client's `x-request-id` in the response's initial metadata and, when `logger` is given, logs one
/// structured line per RPC (method, status, duration, peer, request id) once its response has been sent.
struct AccessLogInterceptor: ServerInterceptor {
    /// Access lines go here at `.info`; nil echoes request ids only (a log line per request costs measurable µs).
    let logger: Logger?

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let requestID = request.metadata[stringValues: "x-request-id"].first(where: { _ in true })
        let start = DispatchTime.now().uptimeNanoseconds
        let logger = self.logger
        let method = context.descriptor.fullyQualifiedMethod
        let peer = context.remotePeer
        @Sendable func log(_ status: String) {
            guard let logger else { return }
            let micros = (DispatchTime.now().uptimeNanoseconds - start) / 1000
            logger.info(
                "grpc \(method) \(status)",
                metadata: [
                    "method": "\(method)", "status": "\(status)", "duration_us": "\(micros)", "peer": "\(peer)",
                    "request_id": "\(requestID ?? "-")",
                ])
        }
        var response: StreamingServerResponse<Output>
        do {
            response = try await next(request, context)
        } catch {
            log((error as? RPCError)?.code.description ?? "unknown")
            throw error
        }
        switch response.accepted {
        case var .success(contents):
            if let requestID { contents.metadata.addString(requestID, forKey: "x-request-id") }
            if logger != nil {
                let producer = contents.producer
                contents.producer = { writer in
                    do {
                        let trailers = try await producer(writer)
                        log("ok")
                        return trailers
                    } catch {
                        log((error as? RPCError)?.code.description ?? "unknown")
                        throw error
                    }
                }
            }
            response.accepted = .success(contents)
        case let .failure(error):
            log(error.code.description)
        }
        return response
    }
}
