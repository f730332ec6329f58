import Foundation
import ServingAsync
import ServingCore

/// The KServe v2 REST body as an async job's payload: decoded as `infer` decodes it (JSON, or JSON followed by
/// binary tensor data); results are stored as JSON whatever binary output the request asked for, because a job's
/// result is read back inside a JSON document (`GET v2/jobs/{id}`).
public struct RESTJobCodec: JobCodec {
    public init() {}

    public func decode(_ body: Data, headerLength: Int?) throws(InferenceError) -> InferRequest {
        do {
            return try body.withUnsafeBytes { raw in try InferenceCoding.decodeRequest(raw, headerLength: headerLength) }
        } catch let e as InferenceError {
            throw e
        } catch {
            throw .internal("\(error)")
        }
    }

    public func encode(_ response: InferResponse, request: InferRequest) throws -> Data {
        var jsonOnly = request
        jsonOnly.parameters["binary_data_output"] = nil
        jsonOnly.outputs = jsonOnly.outputs?.map { o in
            var o = o
            o.parameters?["binary_data"] = nil
            return o
        }
        return Data(try InferenceCoding.encodeResponse(response, request: jsonOnly).body)
    }
}
