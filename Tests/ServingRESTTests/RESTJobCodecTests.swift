import Foundation
import ServingCore
import ServingREST
import Testing

/// The async queue's payload codec as other transports use it: a core request stored through `encodeRequest` decodes
/// back equal (every datatype, FP16 and BYTES included), and a stored response reads back equal.
@Suite struct RESTJobCodecTests {
    @Test func requestRoundTripsExactly() throws {
        let request = InferRequest(
            id: "r-1", parameters: ["priority": .int(2)],
            inputs: [
                InferInput(name: "a", datatype: .fp32, shape: [1, 3], data: .fp32([0.1, -.infinity, .leastNonzeroMagnitude])),
                InferInput(name: "h", datatype: .fp16, shape: [2], parameters: ["p": .string("x")], data: .fp16([0x3C00, 0x7BFF])),
                InferInput(name: "t", datatype: .bytes, shape: [2, 1], data: .bytes([Array("héllo".utf8), [0, 255]])),
                InferInput(name: "b", datatype: .bool, shape: [2], data: .bool([true, false])),
                InferInput(name: "i", datatype: .int64, shape: [1], data: .int64([Int64.min])),
            ],
            outputs: [RequestedOutput(name: "y")])
        let codec = RESTJobCodec()
        let (body, headerLength) = try codec.encodeRequest(request)
        #expect(try codec.decode(body, headerLength: headerLength) == request)
    }

    @Test func storedResponseReadsBack() throws {
        let request = InferRequest(inputs: [], outputs: [RequestedOutput(name: "y", parameters: ["binary_data": .bool(true)])])
        let response = InferResponse(
            modelName: "m", modelVersion: "1", id: "r-1", parameters: ["k": .string("v")],
            outputs: [
                InferOutput(name: "y", datatype: .fp32, shape: [4], data: .fp32([0.1, .nan, 1e-38, -3])),
                InferOutput(name: "z", datatype: .int32, shape: [1, 2], data: .int32([-7, 7])),
                InferOutput(name: "s", datatype: .bytes, shape: [1], data: .bytes([Array("a b".utf8)])),
            ])
        let codec = RESTJobCodec()
        let back = try codec.decodeResponse(try codec.encode(response, request: request))
        #expect(back.modelName == "m" && back.modelVersion == "1" && back.id == "r-1" && back.parameters == response.parameters)
        #expect(back.outputs.map(\.name) == ["y", "z", "s"])
        #expect(back.outputs.map(\.shape) == [[4], [1, 2], [1]])
        guard case let .fp32(y) = back.outputs[0].data else { Issue.record("y is not FP32"); return }
        #expect(y.map(\.bitPattern) == [Float(0.1), Float.nan, Float(1e-38), Float(-3)].map(\.bitPattern))
        #expect(back.outputs[1].data == .int32([-7, 7]))
        #expect(back.outputs[2].data == .bytes([Array("a b".utf8)]))
        do {
            _ = try codec.decodeResponse(Data("{\"outputs\": 1}".utf8))
            Issue.record("decoded garbage")
        } catch {
            #expect(error.message.contains("not a KServe v2 response"))
        }
    }
}
