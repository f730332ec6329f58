import Foundation
import ServingCore

/// How a transport's request bodies become core requests and core responses become stored results. The REST
/// adapter provides it (KServe v2 JSON with the binary extension); the worker itself knows no wire format.
public protocol JobCodec: Sendable {
    /// Decodes a request body as the transport received it; errors name the field.
    func decode(_ body: Data, headerLength: Int?) throws(InferenceError) -> InferRequest
    /// Encodes a response as JSON (async results are read as JSON: binary output is not kept).
    func encode(_ response: InferResponse, request: InferRequest) throws -> Data
}
