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

/// Optional bearer-token auth: every route but `/v2/health/*` needs `Authorization: Bearer <token>` (401 with
/// `WWW-Authenticate: Bearer` otherwise), so load balancers can probe health without the secret.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.hasPrefix("/v2/health/") { return try await next(request, context) }
        let given = request.headers[.authorization].flatMap { h -> Substring? in
            let parts = h.split(separator: " ", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "bearer" ? parts[1].drop { $0 == " " } : nil
        }
        guard let given, Self.constantTimeEqual(Array(given.utf8), token) else {
            var r = errorResponse(
                status: .unauthorized, message: given == nil ? "this server needs an Authorization: Bearer token" : "the bearer token is not valid")
            r.headers[.wwwAuthenticate] = "Bearer"
            if let id = request.headers[.requestID] { r.headers[.requestID] = id }
            return r
        }
        return try await next(request, context)
    }

    /// Compares without returning early at the first difference (the time taken says nothing about the token).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) { diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return diff == 0
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

/// Answers 405 with `Allow` when the router found no route for a request whose path is a known route's under other
/// methods (`routes`: paths with `:parameter` segments, and the methods each takes). Innermost, so it sees the
/// router's own not-found error (an unknown model is the core's 404 and passes through).
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: [(segments: [Substring], methods: [HTTPRequest.Method])]

    init(routes: [(String, [HTTPRequest.Method])]) {
        self.routes = routes.map { ($0.0.split(separator: "/"), $0.1) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as HTTPError where e.status == .notFound {
            let path = request.uri.path.split(separator: "/")
            var allowed: [HTTPRequest.Method] = []
            for route in routes where route.segments.count == path.count
                && zip(route.segments, path).allSatisfy({ $0.hasPrefix(":") || $0 == $1 })
            {
                for m in route.methods where !allowed.contains(m) { allowed.append(m) }
            }
            guard !allowed.isEmpty, !allowed.contains(request.method) else { throw e }
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            var r = errorResponse(
                status: .methodNotAllowed, message: "\(request.method.rawValue) is not allowed on \(request.uri.path) (allowed: \(allow))")
            r.headers[.allow] = allow
            return r
        }
    }
}
