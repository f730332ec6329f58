import CKernels
import Foundation
import Tensors
import Testing

@testable import Compression

/// The quantization algorithms on synthetic layers with known structure.
struct AlgorithmTests {
    /// Seeded data: W (out, in) and correlated inputs X (n, in) with a few large channels (like transformer activations).
    static func layer(out: Int, inF: Int, n: Int, seed: UInt64) -> (w: Tensor, x: Tensor) {
        var s = seed
        func r() -> Float { s = s &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: s) >> 40) / Float(1 << 23) }
        let w = Tensor(shape: [out, inF], floats: (0..<(out * inF)).map { _ in r() * 0.1 })
        var x = [Float](repeating: 0, count: n * inF)
        for i in 0..<n {
            let shared = r()
            for j in 0..<inF { x[i * inF + j] = 0.6 * shared + r() * (j % 17 == 0 ? 8 : 1) }
        }
        return (w, Tensor(shape: [n, inF], floats: x))
    }

    static func outputError(_ x: Tensor, _ w: Tensor, _ q: QuantizedWeight) -> Double {
        let a = MatMul.linear(x, weight: w).floats, b = MatMul.linear(x, weight: q.dequantized()).floats
        return zip(a, b).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
    }

    static func hessian(_ x: Tensor) -> Tensor {
        var acc = GPTQ.HessianAccumulator(features: x.shape[1])
        x.withUnsafeFloats { acc.add($0.baseAddress!, rows: x.shape[0]) }
        return acc.hessian()
    }

    @Test func rtnInt8MatchesTheCQuantizer() throws {
        let (w, _) = Self.layer(out: 33, inF: 70, n: 1, seed: 3)
        let q = try RTN.quantize(w, bits: 8, groupSize: 0)
        var codes = [Int8](repeating: 0, count: 33 * 70), scales = [Float](repeating: 0, count: 33)
        w.withUnsafeFloats { ck_quantize_rows_s8_ref($0.baseAddress!, 33, 70, &codes, &scales) }
        #expect(q.codes == codes)
        #expect(q.scales == scales)
    }

    @Test(arguments: [(8, 0), (4, 32)])
    func gptqWithIdentityHessianIsRTN(bits: Int, group: Int) throws {
        let (w, _) = Self.layer(out: 16, inF: 64, n: 1, seed: 5)
        var eye = [Float](repeating: 0, count: 64 * 64)
        for i in 0..<64 { eye[i * 64 + i] = 1 }
        let g = try GPTQ.quantize(w, hessian: Tensor(shape: [64, 64], floats: eye), bits: bits, groupSize: group, dampening: 0)
        let r = try RTN.quantize(w, bits: bits, groupSize: group)
        #expect(g.codes == r.codes)
        #expect(g.scales == r.scales)
    }

    @Test(arguments: [(8, 0, false), (4, 32, false), (4, 32, true), (4, 64, false)])
    func gptqBeatsRTNOnOutputError(bits: Int, group: Int, actOrder: Bool) throws {
        let (w, x) = Self.layer(out: 48, inF: 128, n: 512, seed: 11)
        let g = try GPTQ.quantize(w, hessian: Self.hessian(x), bits: bits, groupSize: group, actOrder: actOrder)
        let r = try RTN.quantize(w, bits: bits, groupSize: group)
        let eg = Self.outputError(x, w, g), er = Self.outputError(x, w, r)
        #expect(eg < er, "GPTQ \(eg) vs RTN \(er)")
        #expect(g.codes.allSatisfy { bits == 8 ? $0 >= -127 && $0 <= 127 : $0 >= -8 && $0 <= 7 })
    }

    @Test func scaleSearchNeverIncreasesTheGridError() throws {
        let (w, _) = Self.layer(out: 8, inF: 64, n: 1, seed: 17)
        let plain = try RTN.quantize(w, bits: 4, groupSize: 32), searched = try RTN.quantize(w, bits: 4, groupSize: 32, scaleSearch: true)
        func err(_ q: QuantizedWeight) -> Double {
            zip(w.floats, q.dequantized().floats).reduce(0) { $0 + pow(Double(abs($1.0 - $1.1)), 2.4) }
        }
        #expect(err(searched) <= err(plain))
    }

    @Test func q4PackingMatchesTheKernelDequantizer() throws {
        let (w, _) = Self.layer(out: 5, inF: 96, n: 1, seed: 23)
        let q = try RTN.quantize(w, bits: 4, groupSize: 32)
        let blocks = try Quantizer.packQ4(q)
        var out = [Float](repeating: 0, count: 5 * 96)
        blocks.withUnsafeBytes { ck_dequantize_q4($0.baseAddress!.assumingMemoryBound(to: ck_block_q4.self), 5, 96, &out) }
        #expect(out == q.dequantized().floats)
    }

    @Test func awqAndSmoothQuantScales() throws {
        let (w, x) = Self.layer(out: 32, inF: 64, n: 256, seed: 29)
        let found = try AWQ.searchScales(w, inputs: x, bits: 4, groupSize: 32)
        let rtn = try RTN.quantize(w, bits: 4, groupSize: 32)
        let rtnError = Self.outputError(x, w, rtn) / Double(256 * 32)
        #expect(found.error <= rtnError * (1 + 1e-6), "AWQ \(found.error) vs RTN \(rtnError)")  // α = 0 is plain RTN
        let s = SmoothQuant.scales(activationAbsMax: [4, 1, 0], weight: Tensor(shape: [1, 3], floats: [1, 4, 2]), alpha: 0.5)
        #expect(abs(s[0] - 2) < 1e-6 && abs(s[1] - 0.5) < 1e-6 && s[2] == 1)
    }

    @Test func calibrationMethodsOrderAsExpected() throws {
        // Gaussian-like bulk plus rare outliers at ±50.
        var values: [Float] = []
        var s: UInt64 = 41
        for i in 0..<200_000 {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let u = Float(s >> 40) / Float(1 << 24)
            values.append((u - 0.5) * 4 + (i % 20_000 == 0 ? 50 : 0))
        }
        var o = ActivationCalibration.Observer()
        values.withUnsafeBufferPointer { o.observe($0) }
        let minmax = try ActivationCalibration.range(o, method: .minmax, symmetric: true).hi
        let p100 = try ActivationCalibration.range(o, method: .percentile, percentile: 100, symmetric: true).hi
        let p99 = try ActivationCalibration.range(o, method: .percentile, percentile: 99.9, symmetric: true).hi
        let entropy = try ActivationCalibration.range(o, method: .entropy, symmetric: true).hi
        let mse = try ActivationCalibration.range(o, method: .mse, symmetric: true).hi
        #expect(abs(p100 - minmax) <= minmax / 2048 + 1e-6)
        #expect(p99 < 3 && p99 > 1.5)
        #expect(entropy < minmax && entropy > 1.5, "entropy \(entropy)")
        #expect(mse < minmax && mse > 1.5, "mse \(mse)")
        #expect(throws: CompressionError.self) {
            try ActivationCalibration.range(ActivationCalibration.Observer(), method: .entropy, symmetric: true)
        }
    }
}

/// Entropy calibration against pytorch-quantization's `_compute_amax_entropy` run on the same histograms
/// (tools/entropy_calibration_reference.py): the chosen bin must be identical.
struct EntropyReferenceTests {
    struct Case: Decodable { let name: String; let range: Double; let histogram: [Double]; let bins: Int }
    struct Fixture: Decodable { let cases: [Case] }

    @Test func chosenBinsMatchTheReference() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/quant/entropy_reference.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        #expect(fixture.cases.count == 3)
        for c in fixture.cases {
            let t = ActivationCalibration.entropyThreshold(histogram: c.histogram, range: Float(c.range))
            let bins = Int((Double(t) * Double(c.histogram.count) / c.range).rounded())
            #expect(bins == c.bins, "\(c.name): chose \(bins) bins, reference \(c.bins)")
        }
    }
}
