import Foundation
import ServingCore

/// The REST form of inference requests and responses: JSON, optionally followed by binary tensor data (Triton's
/// binary tensor data extension: `Inference-Header-Content-Length` gives the JSON's length, each binary input has
/// a `binary_data_size` parameter, and outputs come back binary when asked with `binary_data` /
/// `binary_data_output`).
enum InferenceCoding {
    struct WireInput: Decodable {
        var name: String
        var shape: [Int]
        var datatype: String
        var parameters: Parameters?
        var data: JSONElements?
    }

    struct WireRequest: Decodable {
        var id: String?
        var parameters: Parameters?
        var inputs: [WireInput]
        var outputs: [RequestedOutput]?
    }

    struct WireOutput: Encodable {
        var name: String
        var datatype: String
        var shape: [Int]
        var parameters: Parameters?
        var data: JSONTensorData?
    }

    struct WireResponse: Encodable {
        var modelName: String
        var modelVersion: String?
        var id: String?
        var parameters: Parameters?
        var outputs: [WireOutput]

        enum CodingKeys: String, CodingKey {
            case modelName = "model_name", modelVersion = "model_version", id, parameters, outputs
        }
    }

    /// Decodes a request body. `headerLength` is the `Inference-Header-Content-Length` value (nil: all JSON).
    /// `fast` false always decodes with `JSONDecoder` (tests compare both readers).
    static func decodeRequest(_ body: UnsafeRawBufferPointer, headerLength: Int?, fast: Bool = true) throws(InferenceError) -> InferRequest {
        let jsonLength = headerLength ?? body.count
        guard jsonLength >= 0, jsonLength <= body.count else {
            throw .invalidArgument("Inference-Header-Content-Length \(jsonLength) exceeds the body's \(body.count) bytes")
        }
        let header = UnsafeRawBufferPointer(rebasing: body[0..<jsonLength])
        let wire: WireRequest
        if fast, let quick = FastRequestJSON.wireRequest(header) {
            wire = quick
        } else {
            do {
                wire = try jsonDecoder.decode(WireRequest.self, from: Data(header))
            } catch {
                throw .invalidArgument("malformed inference request JSON: \(Self.describe(error))")
            }
        }
        var offset = jsonLength
        var inputs: [InferInput] = []
        inputs.reserveCapacity(wire.inputs.count)
        for w in wire.inputs {
            guard let datatype = TensorDataType(rawValue: w.datatype) else {
                throw .invalidArgument(
                    "input '\(w.name)': unknown datatype '\(w.datatype)' (one of \(TensorDataType.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            let count = try ServedModel.elementCount(of: w.shape, tensor: w.name)
            var parameters = w.parameters ?? [:]
            let data: TensorData
            if let sizeValue = parameters.removeValue(forKey: "binary_data_size") {
                guard let size64 = sizeValue.intValue, size64 >= 0, let size = Int(exactly: size64) else {
                    throw .invalidArgument("input '\(w.name)': binary_data_size must be a non-negative integer")
                }
                guard w.data == nil else { throw .invalidArgument("input '\(w.name)': has both JSON data and binary_data_size") }
                guard size <= body.count - offset else {
                    throw .invalidArgument(
                        "input '\(w.name)': binary_data_size \(size) runs past the body (\(body.count - offset) binary bytes left)")
                }
                data = try TensorData(
                    binary: UnsafeRawBufferPointer(rebasing: body[offset..<offset + size]), datatype: datatype, count: count, tensor: w.name
                )
                offset += size
            } else {
                guard let json = w.data else { throw .invalidArgument("input '\(w.name)': no data (give `data` or binary_data_size)") }
                data = try json.tensorData(datatype, tensor: w.name)
                guard data.count == count else {
                    throw .invalidArgument("input '\(w.name)': shape \(w.shape) needs \(count) elements, data has \(data.count)")
                }
            }
            inputs.append(InferInput(name: w.name, datatype: datatype, shape: w.shape, parameters: parameters, data: data))
        }
        guard offset == body.count else {
            throw .invalidArgument("the body has \(body.count - offset) bytes after the inputs' binary data")
        }
        return InferRequest(id: wire.id, parameters: wire.parameters ?? [:], inputs: inputs, outputs: wire.outputs)
    }

    /// Encodes a response: JSON, plus binary data for outputs asked in binary form. Returns the body and, when
    /// binary data follows, the JSON header's length (for `Inference-Header-Content-Length`).
    static func encodeResponse(_ response: InferResponse, request: InferRequest) -> (body: [UInt8], headerLength: Int?) {
        let allBinary = request.parameters["binary_data_output"]?.boolValue ?? false
        var binary: [UInt8] = []
        var outputs: [WireOutput] = []
        for o in response.outputs {
            let asked = request.outputs?.first { $0.name == o.name }
            let wantsBinary = asked?.parameters?["binary_data"]?.boolValue ?? allBinary
            var parameters = o.parameters
            if wantsBinary {
                let before = binary.count
                o.data.appendBinary(to: &binary)
                parameters["binary_data_size"] = .int(Int64(binary.count - before))
            }
            outputs.append(
                WireOutput(
                    name: o.name, datatype: o.datatype.rawValue, shape: o.shape, parameters: parameters.isEmpty ? nil : parameters,
                    data: wantsBinary ? nil : JSONTensorData(data: o.data)))
        }
        let wire = WireResponse(
            modelName: response.modelName, modelVersion: response.modelVersion, id: response.id,
            parameters: response.parameters.isEmpty ? nil : response.parameters, outputs: outputs)
        var json = ResponseJSONWriter.encode(wire)
        if binary.isEmpty { return (json, nil) }
        let headerLength = json.count
        json += binary
        return (json, headerLength)
    }

    /// One decoder for every request (making one per request costs an allocation and its option storage).
    static let jsonDecoder = JSONDecoder()

    /// NaN and infinities (a diverged model) become strings rather than failing the response.
    static let jsonEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }()

    /// A decoding error as one line naming the field.
    static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch e {
        case let .keyNotFound(key, c): return "missing '\(key.stringValue)'\(c.codingPath.isEmpty ? "" : " in \(path(c))")"
        case let .typeMismatch(_, c), let .valueNotFound(_, c): return "'\(path(c))': \(c.debugDescription)"
        case let .dataCorrupted(c): return c.codingPath.isEmpty ? "not valid JSON" : "'\(path(c))': \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
