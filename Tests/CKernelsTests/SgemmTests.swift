import CKernels
import Testing

/// The packed fp32 GEMM at every ISA level against a double-precision product, on odd shapes and column ranges;
/// the SIMD paths against the scalar twin.
@Suite(.serialized)
struct SgemmTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (3, 17, 5), (7, 33, 31), (23, 1152, 384), (23, 384, 1536), (13, 100, 64), (64, 48, 3), (25, 16, 7),
    ]

    @Test(arguments: [Int32(0), 1, 2], 0..<8)
    func packedMatchesReference(level: Int32, shape: Int) {
        defer { ck_set_isa_cap(-1) }
        ck_set_isa_cap(level)
        let (m, n, k) = Self.shapes[shape]
        var seed: UInt64 = UInt64(m * 7919 + n * 31 + k)
        func rand() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(seed >> 40) / Float(1 << 24) - 0.5 }
        let a = (0..<(m * k)).map { _ in rand() }, w = (0..<(n * k)).map { _ in rand() }, bias = (0..<n).map { _ in rand() }
        var packed = [Float](repeating: .nan, count: ck_sgemm_packed_size(n, k))
        ck_sgemm_pack_b(w, n, k, &packed)
        var c = [Float](repeating: .nan, count: m * n), twin = c
        // Two column ranges, the first ending on a panel boundary.
        let mid = (n / 32) * 16
        ck_sgemm_packed(a, k, packed, bias, &c, n, m, n, k, 0, mid)
        ck_sgemm_packed(a, k, packed, bias, &c, n, m, n, k, mid, n)
        ck_sgemm_packed_ref(a, k, packed, bias, &twin, n, m, n, k, 0, n)
        for i in 0..<m {
            for j in 0..<n {
                var exact = Double(bias[j]), magnitude = 0.0
                for t in 0..<k {
                    exact += Double(a[i * k + t]) * Double(w[j * k + t]); magnitude += abs(Double(a[i * k + t] * w[j * k + t]))
                }
                #expect(abs(Double(c[i * n + j]) - exact) <= 1e-5 * (magnitude + 1), "c[\(i), \(j)] level \(level)")
                #expect(abs(c[i * n + j] - twin[i * n + j]) <= 1e-5 * Float(magnitude + 1))
            }
        }
    }
}

/// Static u8 quantization: every ISA equals the twin exactly, including values far outside the range.
@Suite(.serialized)
struct FixedQuantizationTests {
    @Test(arguments: [Int32(0), 1, 2], [1, 7, 16, 33, 1000])
    func matchesTwin(level: Int32, n: Int) {
        defer { ck_set_isa_cap(-1) }
        ck_set_isa_cap(level)
        var seed: UInt64 = UInt64(n)
        let x: [Float] = (0..<n).map { i in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let v = Float(Int64(bitPattern: seed) >> 40) / Float(1 << 20)
            return i % 97 == 0 ? v * 1e9 : v  // a few huge values must saturate, not wrap
        }
        var q = [UInt8](repeating: 0, count: n), twin = q
        ck_quantize_u8_fixed(x, n, 0.05, 117, &q)
        ck_quantize_u8_fixed_ref(x, n, 0.05, 117, &twin)
        #expect(q == twin)
    }
}

/// Fused attention per head at every ISA level against its scalar twin, on odd lengths and head sizes.
@Suite(.serialized)
struct AttentionTests {
    @Test(arguments: [Int32(0), 1, 2], [(1, 32), (5, 32), (17, 32), (23, 64), (40, 7), (129, 16)])
    func matchesTwin(level: Int32, shape: (len: Int, dh: Int)) {
        defer { ck_set_isa_cap(-1) }
        ck_set_isa_cap(level)
        let (len, dh) = shape
        let heads = 3, h = heads * dh, ld = 3 * h
        var seed: UInt64 = UInt64(len * 131 + dh)
        let qkv: [Float] = (0..<(len * ld)).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed) >> 40) / Float(1 << 22)
        }
        var scratch = [Float](repeating: 0, count: ck_attention_scratch_size(len, dh))
        var out = [Float](repeating: .nan, count: len * h), twin = out
        let scale = 1 / Float(dh).squareRoot()
        qkv.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                twin.withUnsafeMutableBufferPointer { t in
                    scratch.withUnsafeMutableBufferPointer { s in
                        for head in 0..<heads {
                            let q = p.baseAddress! + head * dh
                            ck_attention_head_f32(q, q + h, q + 2 * h, ld, len, dh, scale, o.baseAddress! + head * dh, h, s.baseAddress!)
                            ck_attention_head_f32_ref(
                                q, q + h, q + 2 * h, ld, len, dh, scale, t.baseAddress! + head * dh, h, s.baseAddress!)
                        }
                    }
                }
            }
        }
        let worst = zip(out, twin).map { abs($0 - $1) / max(1, abs($1)) }.max()!
        #expect(worst <= 2e-6, "len \(len) dh \(dh) level \(level): \(worst)")
    }
}
