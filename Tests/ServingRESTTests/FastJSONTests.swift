import Foundation
import ServingCore
import Testing

@testable import ServingREST

/// The fast request reader and response writer against Foundation's JSON coders: same request or a fall-back,
/// same response document.
@Suite struct FastJSONTests {
    /// Bodies the fast reader takes, and bodies it must leave to `JSONDecoder` (escapes, null, whole numbers with a
    /// fraction, huge integers, duplicate keys, malformed JSON, wrong types).
    static let bodies: [String] = [
        #"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[[0.5,-1],[2.25,3]]}]}"#,
        #"{"id":"r1","parameters":{"priority":1,"flag":true,"w":0.5,"s":"a/b"},"inputs":[{"name":"input_ids","shape":[1,3],"datatype":"INT64","data":[101,2023,102]}],"outputs":[{"name":"embeddings","parameters":{"binary_data":true}}]}"#,
        #"  {"inputs":[{"name":"t","shape":[2,1],"datatype":"BYTES","data":["héllo","wörld"]}], "unknown": {"a":[1,2,{"b":false}]}} "#,
        #"{"inputs":[{"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]}],"outputs":[]}"#,
        #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1e-3]}]}"#,
        #"{"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[1.0]}]}"#,
        #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[2E2]}]}"#,
        #"{"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[92233720368547758070]}]}"#,
        #"{"inputs":[{"name":"t","shape":[1],"datatype":"BYTES","data":["a\"b\n"]}]}"#,
        #"{"id":null,"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#,
        #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"inputs":[]}"#,
        #"{"inputs":[{"name":"x","shape":[1.0],"datatype":"FP32","data":[1]}]}"#,
        #"{"inputs":[{"name":"x","shape":"1","datatype":"FP32","data":[1]}]}"#,
        #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":{"a":1}}]}"#,
        #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[01]}]}"#,
        #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}"#,
        #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],}]}"#,
        #"{"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]}"#,
        #"{"parameters":{"p":[1]},"inputs":[]}"#,
        #"{"inputs":[]} x"#,
        #"[1,2]"#,
        "",
    ]

    @Test(arguments: bodies) func fastReaderAgreesWithDecoder(_ body: String) {
        let bytes = Array(body.utf8)
        let viaDecoder = bytes.withUnsafeBytes { b in Result(catching: { () throws(InferenceError) in try InferenceCoding.decodeRequest(b, headerLength: nil, fast: false) }) }
        let viaFast = bytes.withUnsafeBytes { b in Result(catching: { () throws(InferenceError) in try InferenceCoding.decodeRequest(b, headerLength: nil) }) }
        #expect(viaDecoder == viaFast, "\(body)")
    }

    @Test func fastReaderTakesTheCommonRequests() {
        for body in Self.bodies.prefix(5) {
            #expect(Array(body.utf8).withUnsafeBytes { FastRequestJSON.wireRequest($0) } != nil, "\(body)")
        }
        // A binary request's header as perf_analyzer sends it.
        let header = #"{"inputs":[{"name":"x","shape":[1,28,28,1],"datatype":"FP32","parameters":{"binary_data_size":3136}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":true}}]}"#
        #expect(Array(header.utf8).withUnsafeBytes { FastRequestJSON.wireRequest($0) } != nil)
    }

    /// The writer's document parses to the same JSON object as `JSONEncoder`'s, for every datatype, binary and
    /// JSON outputs, non-finite floats and strings that need escaping.
    @Test func writerMatchesEncoder() throws {
        let outputs: [InferenceCoding.WireOutput] = [
            .init(name: "p", datatype: "FP32", shape: [1, 4], parameters: nil, data: JSONTensorData(data: .fp32([0.1, -2, .nan, -.infinity]))),
            .init(name: "q\"\\\n\u{01}é", datatype: "FP64", shape: [2], parameters: ["k": .double(0.25), "b": .bool(true)], data: JSONTensorData(data: .fp64([1e-300, .infinity]))),
            .init(name: "i", datatype: "INT64", shape: [3], parameters: ["binary_data_size": .int(24)], data: nil),
            .init(name: "u", datatype: "UINT8", shape: [2], parameters: nil, data: JSONTensorData(data: .uint8([0, 255]))),
            .init(name: "h", datatype: "FP16", shape: [1], parameters: nil, data: JSONTensorData(data: .fp16([Float16(1.5).bitPattern]))),
            .init(name: "t", datatype: "BYTES", shape: [2], parameters: ["s": .string("x/y")], data: JSONTensorData(data: .bytes([Array("a\"b".utf8), [0xFF]]))),
            .init(name: "b", datatype: "BOOL", shape: [2], parameters: nil, data: JSONTensorData(data: .bool([true, false]))),
            .init(name: "n", datatype: "INT8", shape: [2], parameters: nil, data: JSONTensorData(data: .int8([-128, 127]))),
        ]
        for response in [
            InferenceCoding.WireResponse(modelName: "m", modelVersion: "1", id: "req-1", parameters: ["routed_to": .string("a")], outputs: outputs),
            InferenceCoding.WireResponse(modelName: "m", modelVersion: nil, id: nil, parameters: nil, outputs: []),
        ] {
            let ours = try JSONSerialization.jsonObject(with: Data(ResponseJSONWriter.encode(response))) as? NSDictionary
            let foundation = try JSONSerialization.jsonObject(with: InferenceCoding.jsonEncoder.encode(response)) as? NSDictionary
            #expect(ours != nil && ours == foundation, "\(String(decoding: ResponseJSONWriter.encode(response), as: UTF8.self))")
        }
    }
}
