import Foundation
import GRPCCore
import InferenceGRPCProtocol
import ServingAsync
import ServingCore

/// `compress.v1.AsyncInferenceService` (Protos/compress/async_inference.proto) over the same ``AsyncInference``
/// front as REST's `infer-async` and `v2/jobs/{id}`. SubmitInfer decodes the ModelInfer message (malformed tensors,
/// or tensors that do not fit the model, are INVALID_ARGUMENT at once), stores it in the queue's payload format
/// through `codec` and enqueues it; GetJob reads the job and, once done, answers the response as ModelInfer does
/// (outputs in `raw_output_contents`).
///
/// `codec` must be the workers' codec (``JobCodec`` is the queue's payload format), so jobs submitted here run on
/// the same workers as REST's and can be read over either transport.
public struct AsyncInferenceService: Compress_V1_AsyncInferenceService.SimpleServiceProtocol {
    public let front: AsyncInference
    public let codec: any JobCodec

    public init(front: AsyncInference, codec: any JobCodec) {
        self.front = front
        self.codec = codec
    }

    public func submitInfer(request: Compress_V1_SubmitInferRequest, context: ServerContext) async throws -> Compress_V1_SubmitInferResponse {
        let message = request.request
        let version = message.modelVersion.isEmpty ? nil : message.modelVersion
        do {
            // An unknown model is NOT_FOUND whatever the request holds, as ModelInfer answers.
            let model = try front.server.servedModel(message.modelName, version: version)
            let core = try GRPCTensorCoding.request(message)
            // The message is decoded anyway, so tensors that do not fit the model's signature are refused now rather
            // than dead-lettered later (an ensemble, which runs no batches itself, is left to the worker).
            do { _ = try model.prepare(core) } catch { if case .invalidArgument = error { throw error } }
            let payload: (body: Data, headerLength: Int?)
            do { payload = try codec.encodeRequest(core) } catch {
                throw InferenceError.internal("the request could not be stored: \(error)")
            }
            let outcome = try await front.submit(
                model: message.modelName, version: version, body: payload.body, headerLength: payload.headerLength,
                callback: request.callbackURL.isEmpty ? nil : request.callbackURL,
                idempotencyKey: request.idempotencyKey.isEmpty ? nil : request.idempotencyKey)
            var r = Compress_V1_SubmitInferResponse()
            r.jobID = outcome.id
            r.status = .queued
            r.idempotentReplayed = outcome.duplicate
            return r
        } catch let error as InferenceError {
            throw error.rpcError
        }
    }

    public func getJob(request: Compress_V1_GetJobRequest, context: ServerContext) async throws -> Compress_V1_GetJobResponse {
        guard !request.jobID.isEmpty else { throw RPCError(code: .invalidArgument, message: "job_id is empty") }
        let job: AsyncJob?
        do { job = try await front.job(request.jobID) } catch let error as InferenceError { throw error.rpcError }
        guard let job else { throw RPCError(code: .notFound, message: "job '\(request.jobID)' is unknown or its result expired") }
        var r = Compress_V1_GetJobResponse()
        r.jobID = job.id
        r.attempts = UInt32(clamping: job.attempts)
        r.error = job.error ?? ""
        r.submittedAt = job.submittedAt ?? 0
        r.completedAt = job.completedAt ?? 0
        switch job.state {
        case .queued: r.status = .queued
        case .running: r.status = .running
        case .failed: r.status = .failed
        case .done:
            r.status = .done
            if let stored = job.response {
                do { r.response = GRPCTensorCoding.response(try codec.decodeResponse(stored)) } catch { throw error.rpcError }
            }
        }
        return r
    }
}
