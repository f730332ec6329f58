import Foundation
import HTTPTypes
import Hummingbird
import ServingCore

extension HTTPField.Name {
    /// Length of the JSON part of a body that binary tensor data follows (Triton's binary extension).
    static let inferenceHeaderContentLength = Self("Inference-Header-Content-Length")!
    static let requestID = Self("X-Request-ID")!
}

/// Turns every error into the protocol's `{"error": "..."}` body with the error's status (400/404/429/503/500,
/// 413 for an oversized body, 404 for an unknown route), and echoes `X-Request-ID`.
struct ProtocolErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let e as InferenceError {
            response = errorResponse(status: .init(code: e.httpStatus), message: e.message)
        } catch let e as HTTPError {
            response = errorResponse(status: e.status, message: e.body ?? e.status.reasonPhrase)
        } catch let e as any HTTPResponseError {
            response = errorResponse(status: e.status, message: e.status.reasonPhrase)
        } catch {
            response = errorResponse(status: .internalServerError, message: "\(error)")
        }
        if let id = request.headers[.requestID] { response.headers[.requestID] = id }
        return response
    }
}

/// `{"error": message}` with `status`.
func errorResponse(status: HTTPResponse.Status, message: String) -> Response {
    jsonResponse(["error": message], status: status)
}

/// A JSON body (`value` encoded with snake_case keys as the types declare them).
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let bytes = (try? InferenceCoding.jsonEncoder.encode(value)) ?? Data(#"{"error":"response encoding failed"}"#.utf8)
    return Response(
        status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
}
