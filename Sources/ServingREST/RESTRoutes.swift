import Foundation
import HTTPTypes
import Hummingbird
import ServingAsync
import ServingCore

/// The KServe v2 / Open Inference Protocol REST endpoints over an ``InferenceServer``, plus Triton's statistics,
/// repository and model configuration extensions. Thin: decoding, the core call, encoding.
///
/// ```swift
/// let router = Router()
/// RESTRoutes(server: server).register(on: router)
/// ```
public struct RESTRoutes: Sendable {
    public let server: InferenceServer
    /// Largest request body accepted (413 beyond it).
    public var maxBodyBytes: Int
    /// When set, every route but health needs `Authorization: Bearer <authToken>`.
    public var authToken: String?
    /// When set, the async endpoints (`infer-async`, `v2/jobs/{id}`) enqueue through it.
    public var asyncInference: AsyncInference?

    public init(server: InferenceServer, maxBodyBytes: Int = 64 << 20, authToken: String? = nil, asyncInference: AsyncInference? = nil) {
        self.server = server
        self.maxBodyBytes = maxBodyBytes
        self.authToken = authToken
        self.asyncInference = asyncInference
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.add(middleware: ProtocolErrorMiddleware<Context>())
        if let authToken { router.add(middleware: BearerAuthMiddleware<Context>(token: Array(authToken.utf8))) }
        let server = self.server
        router.get("/v2") { _, _ in jsonResponse(server.metadata) }
        router.get("/v2/health/live") { _, _ in health(server.isLive, key: "live") }
        router.get("/v2/health/ready") { _, _ in health(server.isReady, key: "ready") }

        // Constant segments win over parameters, so `stats` here is never taken for a model name.
        router.get("/v2/models/stats") { _, _ in jsonResponse(try server.statistics()) }
        for prefix in ["/v2/models/:model", "/v2/models/:model/versions/:version"] {
            router.get(RouterPath(prefix)) { _, c in
                jsonResponse(try server.modelMetadata(try c.parameters.require("model"), version: c.parameters.get("version")))
            }
            router.get(RouterPath(prefix + "/ready")) { _, c in
                health(server.isModelReady(try c.parameters.require("model"), version: c.parameters.get("version")), key: "ready")
            }
            router.get(RouterPath(prefix + "/config")) { _, c in
                jsonResponse(
                    TritonModelConfiguration(
                        try server.servedModel(try c.parameters.require("model"), version: c.parameters.get("version"))))
            }
            router.get(RouterPath(prefix + "/shadow")) { _, c in
                jsonResponse(try server.shadowStatistics(model: try c.parameters.require("model")))
            }
            router.get(RouterPath(prefix + "/stats")) { _, c in
                jsonResponse(try server.statistics(model: try c.parameters.require("model"), version: c.parameters.get("version")))
            }
            router.post(RouterPath(prefix + "/infer")) { request, c in
                try await infer(request, model: try c.parameters.require("model"), version: c.parameters.get("version"))
            }
        }

        if let asyncInference { AsyncRoutes(front: asyncInference, maxBodyBytes: maxBodyBytes).register(on: router) }

        router.post("/v2/repository/index") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 16)
            var readyOnly = false
            if body.readableBytes > 0 {
                do {
                    readyOnly = try JSONDecoder().decode(IndexRequest.self, from: body.withUnsafeReadableBytes { Data($0) }).ready ?? false
                } catch {
                    throw InferenceError.invalidArgument("malformed repository index request: \(InferenceCoding.describe(error))")
                }
            }
            return jsonResponse(server.repositoryIndex(readyOnly: readyOnly))
        }
        router.post("/v2/repository/models/:model/load") { _, c in
            try await server.loadModel(try c.parameters.require("model"))
            return Response(status: .ok)
        }
        router.post("/v2/repository/models/:model/unload") { _, c in
            try await server.unloadModel(try c.parameters.require("model"))
            return Response(status: .ok)
        }

        // Every route above, with the methods it takes: any other method on the same path is 405 with `Allow`
        // (HTTP's answer, and what schemathesis' unsupported-method check wants, whatever method it tries), not the
        // router's 404.
        var routes: [(String, [HTTPRequest.Method])] = [
            ("/v2", [.get]), ("/v2/health/live", [.get]), ("/v2/health/ready", [.get]), ("/v2/models/stats", [.get]),
            ("/v2/repository/index", [.post]), ("/v2/repository/models/:model/load", [.post]),
            ("/v2/repository/models/:model/unload", [.post]),
        ]
        for prefix in ["/v2/models/:model", "/v2/models/:model/versions/:version"] {
            routes += ["", "/ready", "/config", "/shadow", "/stats"].map { (prefix + $0, [HTTPRequest.Method.get]) }
            routes.append((prefix + "/infer", [.post]))
            if asyncInference != nil { routes.append((prefix + "/infer-async", [.post])) }
        }
        if asyncInference != nil { routes.append(("/v2/jobs/:id", [.get])) }
        router.add(middleware: MethodNotAllowedMiddleware<Context>(routes: routes))
    }

    private func infer(_ request: Request, model: String, version: String?) async throws -> Response {
        // An unknown model is 404 whatever the body holds, as Triton answers.
        _ = try server.servedModel(model, version: version)
        let body = try await request.body.collect(upTo: maxBodyBytes)
        var headerLength: Int? = nil
        if let h = request.headers[.inferenceHeaderContentLength] {
            guard let n = Int(h.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                throw InferenceError.invalidArgument("Inference-Header-Content-Length must be a non-negative integer, got '\(h)'")
            }
            headerLength = n
        }
        let inferRequest = try body.withUnsafeReadableBytes { bytes throws(InferenceError) in
            try InferenceCoding.decodeRequest(bytes, headerLength: headerLength)
        }
        let response = try await server.infer(model: model, version: version, request: inferRequest)
        let (bytes, binaryHeader) = InferenceCoding.encodeResponse(response, request: inferRequest)
        var headers: HTTPFields = [.contentType: binaryHeader == nil ? "application/json" : "application/octet-stream"]
        if let binaryHeader { headers[.inferenceHeaderContentLength] = String(binaryHeader) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// `POST /v2/repository/index` body: `{"ready": true}` lists only ready models. `ready` may be left out, not null
/// (the protocol's schema says boolean; schemathesis sends `{"ready": null}` and expects a 400).
private struct IndexRequest: Decodable {
    var ready: Bool?

    enum CodingKeys: String, CodingKey { case ready }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.ready), try c.decodeNil(forKey: .ready) {
            throw DecodingError.valueNotFound(
                Bool.self, .init(codingPath: [CodingKeys.ready], debugDescription: "'ready' must be true or false, not null"))
        }
        ready = try c.decodeIfPresent(Bool.self, forKey: .ready)
    }
}

/// 200 with `{"live": true}` / `{"ready": true}`, or 400 with false: the protocol reads the status (a 4xx means
/// false, as Triton answers); the body is for people.
private func health(_ ok: Bool, key: String) -> Response {
    jsonResponse([key: ok], status: ok ? .ok : .badRequest)
}
