import Testing

@testable import ServingCore

@Suite struct TensorDataTests {
    @Test(arguments: [
        TensorData.bool([true, false, true]), .uint8([0, 255]), .uint16([1, 65535]), .uint32([7, .max]), .uint64([.max]),
        .int8([-128, 127]), .int16([-3]), .int32([.min, 5]), .int64([.min, .max]), .fp16([0x3C00]), .fp32([1.5, -0.0, .pi]),
        .fp64([1e300, -2]), .bytes([Array("héllo".utf8), [], [0, 1, 2]]),
    ])
    func binaryRoundTrip(_ data: TensorData) throws {
        var raw: [UInt8] = []
        data.appendBinary(to: &raw)
        #expect(raw.count == data.binarySize)
        let back = try raw.withUnsafeBytes { try TensorData(binary: $0, datatype: data.datatype, count: data.count, tensor: "t") }
        #expect(back == data)
    }

    @Test func binaryErrorsNameTheTensor() {
        let cases: [([UInt8], TensorDataType, Int)] = [
            ([0, 0, 0], .fp32, 1),  // too short
            ([2], .bool, 1),  // not 0/1
            ([5, 0, 0, 0, 1], .bytes, 1),  // length past the end
            ([0, 0, 0, 0, 0, 0, 0, 0], .bytes, 1),  // two elements, one expected
            ([1, 0], .bytes, 1),  // cut inside a length
        ]
        for (raw, type, count) in cases {
            #expect(throws: InferenceError.self) {
                try raw.withUnsafeBytes { try TensorData(binary: $0, datatype: type, count: count, tensor: "input0") }
            }
            do { _ = try raw.withUnsafeBytes { try TensorData(binary: $0, datatype: type, count: count, tensor: "input0") } } catch {
                #expect("\(error)".contains("'input0'"))
            }
        }
    }

    @Test func statusMapping() {
        #expect(InferenceError.invalidArgument("").httpStatus == 400)
        #expect(InferenceError.notFound("").httpStatus == 404)
        #expect(InferenceError.queueFull("").httpStatus == 429)
        #expect(InferenceError.queueFull("").grpcCode == "RESOURCE_EXHAUSTED")
        #expect(InferenceError.unavailable("").httpStatus == 503)
        #expect(InferenceError.internal("").httpStatus == 500)
    }
}
