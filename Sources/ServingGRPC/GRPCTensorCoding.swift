import Foundation
import InferenceGRPCProtocol
import ServingCore

/// Converts between the gRPC messages and the core's protocol types: typed `contents` and `raw_input_contents` in,
/// `raw_output_contents` out (as Triton answers, whatever form the request used; tritonclient.grpc and
/// perf_analyzer read it). Errors name the tensor.
enum GRPCTensorCoding {
    /// A core request from a ModelInfer message.
    static func request(_ message: Inference_ModelInferRequest) throws(InferenceError) -> InferRequest {
        let raw = message.rawInputContents
        if !raw.isEmpty {
            guard raw.count == message.inputs.count else {
                throw .invalidArgument(
                    "raw_input_contents holds \(raw.count) tensors for \(message.inputs.count) inputs (give one per input, in order)")
            }
        }
        var inputs: [InferInput] = []
        inputs.reserveCapacity(message.inputs.count)
        for (i, tensor) in message.inputs.enumerated() {
            guard let datatype = TensorDataType(rawValue: tensor.datatype) else {
                throw .invalidArgument(
                    "input '\(tensor.name)': unknown datatype '\(tensor.datatype)' (one of \(TensorDataType.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            let shape = try Self.shape(tensor.shape, tensor: tensor.name)
            let count = try ServedModel.elementCount(of: shape, tensor: tensor.name)
            let data: TensorData
            if !raw.isEmpty {
                guard !tensor.hasContents else {
                    throw .invalidArgument("input '\(tensor.name)': has typed contents while the request uses raw_input_contents")
                }
                // Data.withUnsafeBytes rethrows untyped errors: recover the core's.
                do {
                    data = try raw[i].withUnsafeBytes { try TensorData(binary: $0, datatype: datatype, count: count, tensor: tensor.name) }
                } catch let e as InferenceError {
                    throw e
                } catch {
                    throw .internal("\(error)")
                }
            } else {
                data = try typed(tensor.contents, datatype: datatype, tensor: tensor.name)
                guard data.count == count else {
                    throw .invalidArgument("input '\(tensor.name)': shape \(shape) needs \(count) elements, contents hold \(data.count)")
                }
            }
            inputs.append(
                InferInput(
                    name: tensor.name, datatype: datatype, shape: shape, parameters: try parameters(tensor.parameters, owner: tensor.name),
                    data: data))
        }
        var outputs: [RequestedOutput]? = nil
        if !message.outputs.isEmpty {
            outputs = try message.outputs.map { o throws(InferenceError) in
                let p = try parameters(o.parameters, owner: o.name)
                return RequestedOutput(name: o.name, parameters: p.isEmpty ? nil : p)
            }
        }
        return InferRequest(
            id: message.id.isEmpty ? nil : message.id, parameters: try parameters(message.parameters, owner: "the request"), inputs: inputs,
            outputs: outputs)
    }

    /// A ModelInfer response with every output in `raw_output_contents`.
    static func response(_ response: InferResponse) -> Inference_ModelInferResponse {
        var m = Inference_ModelInferResponse()
        m.modelName = response.modelName
        m.modelVersion = response.modelVersion ?? ""
        m.id = response.id ?? ""
        m.parameters = response.parameters.mapValues(parameter)
        m.outputs.reserveCapacity(response.outputs.count)
        m.rawOutputContents.reserveCapacity(response.outputs.count)
        for o in response.outputs {
            var t = Inference_ModelInferResponse.InferOutputTensor()
            t.name = o.name
            t.datatype = o.datatype.rawValue
            t.shape = o.shape.map(Int64.init)
            t.parameters = o.parameters.mapValues(parameter)
            m.outputs.append(t)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(o.data.binarySize)
            o.data.appendBinary(to: &bytes)
            m.rawOutputContents.append(Data(bytes))
        }
        return m
    }

    private static func shape(_ dims: [Int64], tensor: String) throws(InferenceError) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(dims.count)
        for d in dims {
            guard let i = Int(exactly: d), i >= 0 else { throw .invalidArgument("input '\(tensor)': shape \(dims) has a negative dimension") }
            out.append(i)
        }
        return out
    }

    /// Typed contents, from the field the datatype uses (INT8/16/32 share `int_contents`, UINT8/16/32
    /// `uint_contents`); values outside the datatype's range are refused. FP16 has no typed field.
    static func typed(_ c: Inference_InferTensorContents, datatype: TensorDataType, tensor: String) throws(InferenceError) -> TensorData {
        func narrow<S: BinaryInteger, T: FixedWidthInteger>(_ values: [S], _: T.Type) throws(InferenceError) -> [T] {
            var out: [T] = []
            out.reserveCapacity(values.count)
            for v in values {
                guard let x = T(exactly: v) else {
                    throw .invalidArgument("input '\(tensor)': value \(v) is outside \(datatype.rawValue)'s range \(T.min)...\(T.max)")
                }
                out.append(x)
            }
            return out
        }
        switch datatype {
        case .bool: return .bool(c.boolContents)
        case .int8: return .int8(try narrow(c.intContents, Int8.self))
        case .int16: return .int16(try narrow(c.intContents, Int16.self))
        case .int32: return .int32(c.intContents)
        case .int64: return .int64(c.int64Contents)
        case .uint8: return .uint8(try narrow(c.uintContents, UInt8.self))
        case .uint16: return .uint16(try narrow(c.uintContents, UInt16.self))
        case .uint32: return .uint32(c.uintContents)
        case .uint64: return .uint64(c.uint64Contents)
        case .fp32: return .fp32(c.fp32Contents)
        case .fp64: return .fp64(c.fp64Contents)
        case .bytes: return .bytes(c.bytesContents.map { Array($0) })
        case .fp16: throw .invalidArgument("input '\(tensor)': FP16 has no typed contents; send it in raw_input_contents")
        }
    }

    static func parameters(_ p: [String: Inference_InferParameter], owner: String) throws(InferenceError) -> Parameters {
        var out: Parameters = [:]
        for (key, value) in p {
            switch value.parameterChoice {
            case let .boolParam(b)?: out[key] = .bool(b)
            case let .int64Param(i)?: out[key] = .int(i)
            case let .stringParam(s)?: out[key] = .string(s)
            case let .doubleParam(d)?: out[key] = .double(d)
            case let .uint64Param(u)?:
                guard let i = Int64(exactly: u) else { throw .invalidArgument("parameter '\(key)' of \(owner): \(u) is too large") }
                out[key] = .int(i)
            case nil: throw .invalidArgument("parameter '\(key)' of \(owner) has no value")
            }
        }
        return out
    }

    static func parameter(_ v: ParameterValue) -> Inference_InferParameter {
        var p = Inference_InferParameter()
        switch v {
        case let .bool(b): p.boolParam = b
        case let .int(i): p.int64Param = i
        case let .double(d): p.doubleParam = d
        case let .string(s): p.stringParam = s
        }
        return p
    }
}
