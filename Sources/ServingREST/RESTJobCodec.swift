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
        return Data(InferenceCoding.encodeResponse(response, request: jsonOnly).body)
    }

    /// JSON naming the inputs, each with `binary_data_size`, followed by their binary data: exact for every
    /// datatype (FP16 too, which JSON cannot carry) and as compact as the gRPC message it came from.
    public func encodeRequest(_ request: InferRequest) throws -> (body: Data, headerLength: Int?) {
        var binary: [UInt8] = []
        var inputs: [WireBinaryInput] = []
        inputs.reserveCapacity(request.inputs.count)
        for input in request.inputs {
            let before = binary.count
            input.data.appendBinary(to: &binary)
            var parameters = input.parameters
            parameters["binary_data_size"] = .int(Int64(binary.count - before))
            inputs.append(WireBinaryInput(name: input.name, shape: input.shape, datatype: input.datatype.rawValue, parameters: parameters))
        }
        let wire = WireBinaryRequest(
            id: request.id, parameters: request.parameters.isEmpty ? nil : request.parameters, inputs: inputs, outputs: request.outputs)
        var body = try JSONEncoder().encode(wire)
        let headerLength = body.count
        body.append(contentsOf: binary)
        return (body, headerLength)
    }

    /// Reads the JSON `encode` stored. Floating-point data comes back exactly (JSON holds each value's shortest
    /// round-tripping decimal); `"nan"`, `"inf"` and `"-inf"` are the non-finite values `encode` writes as strings.
    public func decodeResponse(_ data: Data) throws(InferenceError) -> InferResponse {
        let wire: WireStoredResponse
        do {
            wire = try JSONDecoder().decode(WireStoredResponse.self, from: data)
        } catch {
            throw .internal("the stored job result is not a KServe v2 response: \(InferenceCoding.describe(error))")
        }
        var outputs: [InferOutput] = []
        outputs.reserveCapacity(wire.outputs.count)
        for o in wire.outputs {
            guard let datatype = TensorDataType(rawValue: o.datatype) else {
                throw .internal("the stored job result's output '\(o.name)' has the unknown datatype '\(o.datatype)'")
            }
            guard let elements = o.data else { throw .internal("the stored job result's output '\(o.name)' has no data") }
            outputs.append(
                InferOutput(
                    name: o.name, datatype: datatype, shape: o.shape, parameters: o.parameters ?? [:],
                    data: try Self.outputData(elements, datatype, name: o.name)))
        }
        return InferResponse(
            modelName: wire.modelName, modelVersion: wire.modelVersion, id: wire.id, parameters: wire.parameters ?? [:], outputs: outputs)
    }

    /// Floating-point outputs accept the non-finite strings; FP16 comes back from the Float values `encode` wrote.
    private static func outputData(_ elements: JSONElements, _ datatype: TensorDataType, name: String) throws(InferenceError) -> TensorData {
        func reals() throws(InferenceError) -> [Double] {
            try elements.flattened().map { e throws(InferenceError) -> Double in
                switch e {
                case let .int(i): return Double(i)
                case let .double(d): return d
                case .string("nan"): return .nan
                case .string("inf"): return .infinity
                case .string("-inf"): return -.infinity
                default: throw .internal("the stored job result's output '\(name)' holds a non-number")
                }
            }
        }
        switch datatype {
        case .fp16: return .fp16(try reals().map { Float16(Float($0)).bitPattern })
        case .fp32: return .fp32(try reals().map { Float($0) })
        case .fp64: return .fp64(try reals())
        default: return try elements.tensorData(datatype, tensor: name)
        }
    }
}

/// An input of ``RESTJobCodec/encodeRequest(_:)``'s JSON header (its data follows the JSON).
private struct WireBinaryInput: Encodable {
    var name: String
    var shape: [Int]
    var datatype: String
    var parameters: Parameters
}

private struct WireBinaryRequest: Encodable {
    var id: String?
    var parameters: Parameters?
    var inputs: [WireBinaryInput]
    var outputs: [RequestedOutput]?
}

/// A response as ``RESTJobCodec/encode(_:request:)`` stores it (every output's data in JSON).
private struct WireStoredResponse: Decodable {
    struct Output: Decodable {
        var name: String
        var datatype: String
        var shape: [Int]
        var parameters: Parameters?
        var data: JSONElements?
    }

    var modelName: String
    var modelVersion: String?
    var id: String?
    var parameters: Parameters?
    var outputs: [Output]

    enum CodingKeys: String, CodingKey {
        case modelName = "model_name", modelVersion = "model_version", id, parameters, outputs
    }
}
