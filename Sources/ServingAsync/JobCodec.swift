import Foundation
import ServingCore

/// How a transport's request bodies become core requests and core responses become stored results. The REST
/// adapter provides it (KServe v2 JSON with the binary extension); the worker itself knows no wire format.
///
/// One codec is the queue's payload format: the worker decodes every job with it, whichever transport accepted the
/// job. Other transports (gRPC's SubmitInfer, GetJob) convert through the core types with ``encodeRequest(_:)`` and
/// ``decodeResponse(_:)``, so a job submitted over one transport can be read over another.
public protocol JobCodec: Sendable {
    /// Decodes a request body as the transport received it; errors name the field.
    func decode(_ body: Data, headerLength: Int?) throws(InferenceError) -> InferRequest
    /// Encodes a response as JSON (async results are read as JSON: binary output is not kept).
    func encode(_ response: InferResponse, request: InferRequest) throws -> Data
    /// A core request as a body ``decode(_:headerLength:)`` reads back equal (tensor data exactly, not rounded).
    func encodeRequest(_ request: InferRequest) throws -> (body: Data, headerLength: Int?)
    /// A stored result's response, as ``encode(_:request:)`` wrote it, back as a core response.
    func decodeResponse(_ data: Data) throws(InferenceError) -> InferResponse
}
