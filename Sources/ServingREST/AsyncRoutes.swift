import Foundation
import HTTPTypes
import Hummingbird
import ServingAsync
import ServingCore
import ServingQueue

extension HTTPField.Name {
    /// A client's key for a submit: retrying with the same key returns the first job instead of adding one.
    static let idempotencyKey = Self("Idempotency-Key")!
    /// Where the worker POSTs the job's view once it is done.
    static let callbackURL = Self("X-Callback-URL")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}

/// Async inference over REST (issue 11): `POST v2/models/{m}[/versions/{v}]/infer-async` answers `202` with
/// `{"id", "status_url"}` at once (and `Location`); `GET v2/jobs/{id}` gives the status and, when done, the KServe
/// v2 response (``JobView``). Headers: `Idempotency-Key` (a repeat returns the same id, `Idempotent-Replayed:
/// true`), `X-Callback-URL` (the view is POSTed there when done), `Inference-Header-Content-Length` as for `infer`.
struct AsyncRoutes: Sendable {
    let front: AsyncInference
    let maxBodyBytes: Int

    func register<Context: RequestContext>(on router: Router<Context>) {
        let front = self.front
        let maxBodyBytes = self.maxBodyBytes
        for prefix in ["/v2/models/:model", "/v2/models/:model/versions/:version"] {
            router.post(RouterPath(prefix + "/infer-async")) { request, c in
                let model = try c.parameters.require("model")
                let version = c.parameters.get("version")
                _ = try front.server.servedModel(model, version: version)
                let body = try await request.body.collect(upTo: maxBodyBytes)
                var headerLength: Int? = nil
                if let h = request.headers[.inferenceHeaderContentLength] {
                    guard let n = Int(h.trimmingCharacters(in: .whitespaces)), n >= 0, n <= body.readableBytes else {
                        throw InferenceError.invalidArgument("Inference-Header-Content-Length must be an integer in 0...\(body.readableBytes), got '\(h)'")
                    }
                    headerLength = n
                }
                let outcome = try await front.submit(
                    model: model, version: version, body: body.withUnsafeReadableBytes { Data($0) }, headerLength: headerLength,
                    callback: request.headers[.callbackURL], idempotencyKey: request.headers[.idempotencyKey])
                var response = jsonResponse(["id": outcome.id, "status_url": "/v2/jobs/\(outcome.id)"], status: .accepted)
                response.headers[.location] = "/v2/jobs/\(outcome.id)"
                if outcome.duplicate { response.headers[.idempotentReplayed] = "true" }
                return response
            }
        }
        router.get("/v2/jobs/:id") { _, c in
            let id = try c.parameters.require("id")
            guard let json = try await front.statusJSON(of: id) else {
                throw InferenceError.notFound("job '\(id)' is unknown or its result expired")
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: json)))
        }
    }
}

/// `GET /metrics` serving Prometheus text from `sources` (the worker's own metrics port; the queue's autoscaling
/// signals and the worker's counters).
public enum PrometheusTextServer {
    public static func router(sources: [any PrometheusTextSource]) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/metrics") { _, _ in
            let text = self.text(of: sources)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        return router
    }

    /// The sources' text, one after the other; a failing source (Redis down) becomes a comment line saying why, so
    /// it does not hide the others.
    public static func text(of sources: [any PrometheusTextSource]) -> String {
        var text = ""
        for s in sources {
            do { text += try s.prometheusText() } catch {
                text += "# error: \(String(describing: error).replacingOccurrences(of: "\n", with: " "))\n"
            }
        }
        return text
    }
}
