import Foundation
import ServingCore

/// Encodes requests and checks responses in the Open Inference Protocol's REST form, with or without Triton's
/// binary tensor data extension. Written by hand rather than through `JSONEncoder`: the generator must cost far
/// less than the server it drives, and a tensor of 784 floats through Codable costs ~10× this.
enum InferenceBody {
    /// The body, and the JSON header's length when binary data follows it.
    static func encode(_ request: BenchRequest, binary: Bool) -> (body: [UInt8], headerLength: Int?) {
        var json = "{\"inputs\":["
        var tail: [UInt8] = []
        for (i, input) in request.inputs.enumerated() {
            if i > 0 { json += "," }
            json += "{\"name\":\(quoted(input.name)),\"shape\":[\(input.shape.map(String.init).joined(separator: ","))],"
            json += "\"datatype\":\"\(input.data.datatype.rawValue)\""
            if binary {
                let before = tail.count
                input.data.appendBinary(to: &tail)
                json += ",\"parameters\":{\"binary_data_size\":\(tail.count - before)}}"
            } else {
                json += ",\"data\":"
                appendJSON(input.data, to: &json)
                json += "}"
            }
        }
        json += "]"
        if binary { json += ",\"parameters\":{\"binary_data_output\":true}" }
        json += "}"
        var body = Array(json.utf8)
        guard binary else { return (body, nil) }
        let headerLength = body.count
        body += tail
        return (body, headerLength)
    }

    /// What a response held: a problem when a 200 answer is not a valid inference response, the server's
    /// `error` text otherwise.
    struct Parsed {
        var problem: String?
        var errorMessage: String?
    }

    /// Parses the JSON part, checks every output has data (inline or binary) and the binary sizes add up.
    static func decodeResponse(_ body: UnsafeRawBufferPointer, headerLength: Int?) -> Parsed {
        let jsonLength = headerLength ?? body.count
        guard jsonLength <= body.count else { return Parsed(problem: "header length \(jsonLength) > body \(body.count)") }
        let json = Data(bytes: body.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: jsonLength)
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return Parsed(problem: "not JSON") }
        if let e = object["error"] as? String { return Parsed(problem: "error: \(e)", errorMessage: e) }
        guard let outputs = object["outputs"] as? [[String: Any]], !outputs.isEmpty else { return Parsed(problem: "no outputs") }
        var binaryBytes = 0
        for o in outputs {
            if let p = o["parameters"] as? [String: Any], let n = p["binary_data_size"] as? Int {
                binaryBytes += n
            } else if o["data"] as? [Any] == nil {
                return Parsed(problem: "output without data")
            }
        }
        guard binaryBytes == body.count - jsonLength else {
            return Parsed(problem: "binary outputs announce \(binaryBytes) bytes, body has \(body.count - jsonLength)")
        }
        return Parsed()
    }

    static func appendJSON(_ data: TensorData, to s: inout String) {
        func list<T>(_ v: [T], _ f: (T) -> String) {
            s += "["
            for (i, x) in v.enumerated() {
                if i > 0 { s += "," }
                s += f(x)
            }
            s += "]"
        }
        switch data {
        case let .bool(v): list(v) { $0 ? "true" : "false" }
        case let .uint8(v): list(v) { String($0) }
        case let .uint16(v): list(v) { String($0) }
        case let .uint32(v): list(v) { String($0) }
        case let .uint64(v): list(v) { String($0) }
        case let .int8(v): list(v) { String($0) }
        case let .int16(v): list(v) { String($0) }
        case let .int32(v): list(v) { String($0) }
        case let .int64(v): list(v) { String($0) }
        case let .fp16(v): list(v) { String($0) }
        case let .fp32(v): list(v) { $0.isFinite ? "\($0)" : "0" }
        case let .fp64(v): list(v) { $0.isFinite ? "\($0)" : "0" }
        case let .bytes(v): list(v) { quoted(String(decoding: $0, as: UTF8.self)) }
        }
    }

    /// A JSON string literal.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
