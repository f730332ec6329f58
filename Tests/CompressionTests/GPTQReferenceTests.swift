import Compression
import Formats
import Foundation
import Tensors
import Testing

/// Our GPTQ against a float64 numpy port of the reference fasterquant (tools/gptq_reference.py). We update weights
/// in float32, so a code may flip where w/s lands within rounding distance of .5; nearly all must agree.
struct GPTQReferenceTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/quant/gptq_reference.safetensors")

    @Test(arguments: [("int8", 8, 0, false), ("int4_g32", 4, 32, false), ("int4_g32_act", 4, 32, true)])
    func codesMatchTheReference(name: String, bits: Int, group: Int, actOrder: Bool) throws {
        let t = try SafeTensors.read(Self.fixture).tensors
        let q = try GPTQ.quantize(t["W"]!, hessian: t["H"]!, bits: bits, groupSize: group, actOrder: actOrder, dampening: 0.01)
        let expected = t["codes_\(name)"]!.int64s.map { Int8($0) }
        let same = zip(q.codes, expected).filter { $0 == $1 }.count
        #expect(Double(same) / Double(expected.count) >= 0.995, "\(name): \(expected.count - same) of \(expected.count) codes differ")
        #expect(zip(q.codes, expected).allSatisfy { abs(Int($0) - Int($1)) <= 1 })
        let scales = t["scales_\(name)"]!.floats
        #expect(q.scales.count == scales.count)
        #expect(zip(q.scales, scales).allSatisfy { abs($0 - $1) <= 1e-4 * abs($1) }, "\(name): scales differ")
    }
}
