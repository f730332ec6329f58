import Foundation
import GRPCCore
import InferenceGRPCProtocol
import ServingCore

/// `inference.GRPCInferenceService` over an ``InferenceServer``: each RPC decodes, calls the core, encodes.
/// Core errors become gRPC statuses as Triton maps them (``InferenceError/rpcError``).
public struct InferenceService: Inference_GRPCInferenceService.SimpleServiceProtocol {
    public let server: InferenceServer

    public init(server: InferenceServer) { self.server = server }

    // MARK: health and metadata

    public func serverLive(request: Inference_ServerLiveRequest, context: ServerContext) async throws -> Inference_ServerLiveResponse {
        var r = Inference_ServerLiveResponse()
        r.live = server.isLive
        return r
    }

    public func serverReady(request: Inference_ServerReadyRequest, context: ServerContext) async throws -> Inference_ServerReadyResponse {
        var r = Inference_ServerReadyResponse()
        r.ready = server.isReady
        return r
    }

    public func modelReady(request: Inference_ModelReadyRequest, context: ServerContext) async throws -> Inference_ModelReadyResponse {
        var r = Inference_ModelReadyResponse()
        r.ready = server.isModelReady(request.name, version: Self.version(request.version))
        return r
    }

    public func serverMetadata(
        request: Inference_ServerMetadataRequest, context: ServerContext
    ) async throws -> Inference_ServerMetadataResponse {
        GRPCMessages.serverMetadata(server.metadata)
    }

    public func modelMetadata(
        request: Inference_ModelMetadataRequest, context: ServerContext
    ) async throws -> Inference_ModelMetadataResponse {
        try mapped { () throws(InferenceError) in
            GRPCMessages.modelMetadata(try server.modelMetadata(request.name, version: Self.version(request.version)))
        }
    }

    public func modelConfig(request: Inference_ModelConfigRequest, context: ServerContext) async throws -> Inference_ModelConfigResponse {
        try mapped { () throws(InferenceError) in
            GRPCMessages.modelConfig(TritonModelConfiguration(try server.servedModel(request.name, version: Self.version(request.version))))
        }
    }

    // MARK: inference

    public func modelInfer(request: Inference_ModelInferRequest, context: ServerContext) async throws -> Inference_ModelInferResponse {
        do {
            return try await infer(request)
        } catch {
            throw error.rpcError
        }
    }

    /// Requests of one stream run concurrently (so they can share batches); each answer, or error, is written as
    /// it completes (match them by `id`, as perf_analyzer does). A failed request is reported in the stream
    /// (`error_message`) and the stream goes on, as Triton does.
    public func modelStreamInfer(
        request: RPCAsyncSequence<Inference_ModelInferRequest, any Error>, response: RPCWriter<Inference_ModelStreamInferResponse>,
        context: ServerContext
    ) async throws {
        let (answers, sink) = AsyncStream.makeStream(of: Inference_ModelStreamInferResponse.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // One writer: RPCWriter takes one message at a time.
            group.addTask {
                for await answer in answers { try await response.write(answer) }
            }
            do {
                try await withThrowingTaskGroup(of: Void.self) { requests in
                    for try await message in request {
                        requests.addTask { sink.yield(await streamAnswer(message)) }
                    }
                    try await requests.waitForAll()
                }
            } catch {
                sink.finish()
                throw error
            }
            sink.finish()
            try await group.waitForAll()
        }
    }

    private func streamAnswer(_ message: Inference_ModelInferRequest) async -> Inference_ModelStreamInferResponse {
        var answer = Inference_ModelStreamInferResponse()
        do {
            answer.inferResponse = try await infer(message)
        } catch {
            answer.errorMessage = error.message
            // The request's id comes back with its error so the client can match them.
            answer.inferResponse.id = message.id
            answer.inferResponse.modelName = message.modelName
        }
        return answer
    }

    private func infer(_ message: Inference_ModelInferRequest) async throws(InferenceError) -> Inference_ModelInferResponse {
        let version = Self.version(message.modelVersion)
        // An unknown model is NOT_FOUND whatever the request holds, as Triton answers.
        _ = try server.servedModel(message.modelName, version: version)
        let request = try GRPCTensorCoding.request(message)
        let response = try await server.infer(model: message.modelName, version: version, request: request)
        return GRPCTensorCoding.response(response)
    }

    // MARK: statistics and repository

    public func modelStatistics(
        request: Inference_ModelStatisticsRequest, context: ServerContext
    ) async throws -> Inference_ModelStatisticsResponse {
        try mapped { () throws(InferenceError) in
            GRPCMessages.statistics(
                try server.statistics(model: request.name.isEmpty ? nil : request.name, version: Self.version(request.version)))
        }
    }

    public func repositoryIndex(
        request: Inference_RepositoryIndexRequest, context: ServerContext
    ) async throws -> Inference_RepositoryIndexResponse {
        GRPCMessages.repositoryIndex(server.repositoryIndex(readyOnly: request.ready))
    }

    public func repositoryModelLoad(
        request: Inference_RepositoryModelLoadRequest, context: ServerContext
    ) async throws -> Inference_RepositoryModelLoadResponse {
        do { try await server.loadModel(request.modelName) } catch { throw error.rpcError }
        return Inference_RepositoryModelLoadResponse()
    }

    public func repositoryModelUnload(
        request: Inference_RepositoryModelUnloadRequest, context: ServerContext
    ) async throws -> Inference_RepositoryModelUnloadResponse {
        do { try await server.unloadModel(request.modelName) } catch { throw error.rpcError }
        return Inference_RepositoryModelUnloadResponse()
    }

    // MARK: helpers

    /// The protocol's empty version means "the server's choice".
    private static func version(_ v: String) -> String? { v.isEmpty ? nil : v }

    private func mapped<T>(_ body: () throws(InferenceError) -> T) throws(RPCError) -> T {
        do { return try body() } catch { throw error.rpcError }
    }
}

extension InferenceError {
    /// The gRPC status Triton answers with: INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED (queue full),
    /// DEADLINE_EXCEEDED (queue timeout), UNAVAILABLE, INTERNAL; the message is the core's, naming the tensor.
    public var rpcError: RPCError {
        let code: RPCError.Code
        switch self {
        case .invalidArgument: code = .invalidArgument
        case .notFound: code = .notFound
        case .queueFull: code = .resourceExhausted
        case .timedOut: code = .deadlineExceeded
        case .unavailable: code = .unavailable
        case .internal: code = .internalError
        }
        return RPCError(code: code, message: message)
    }
}
