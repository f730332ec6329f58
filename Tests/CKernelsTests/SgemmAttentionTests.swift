import CKernels
import Foundation
import Testing

/// The ISA levels this machine can run (capping above the hardware level would only repeat the top one).
private let isaLevels: [Int32] = {
    let available = ck_set_isa_cap(-1)
    return [Int32(CK_ISA_SCALAR), Int32(CK_ISA_AVX2), Int32(CK_ISA_AVX512)].filter { $0 <= available }
}()

/// Deterministic values in [-spread, spread) from a 64-bit LCG (no Foundation, no global RNG state).
private func randomFloats(_ count: Int, seed: Int, spread: Float = 1) -> [Float] {
    var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * spread
    }
}

/// ck_sgemm_packed at every ISA level against the naive double-precision ck_sgemm_ref_unpacked: every row-tile
/// size 1…25 (tiles are up to 12 rows on AVX-512, 6 on AVX2, with 1–2-row special kernels), row strides larger than
/// the matrices, and MiniLM's Linear shapes.
@Suite(.serialized)
struct SgemmUnpackedReferenceTests {
    static let shapes: [(m: Int, n: Int, k: Int)] =
        (1...25).map { (m: $0, n: 47, k: 19) } + [(23, 1152, 384), (23, 384, 1536), (1, 1536, 384), (2, 384, 384), (37, 65, 1)]

    @Test(arguments: isaLevels, 0..<shapes.count)
    func matchesDoubleReference(level: Int32, shapeIndex: Int) {
        defer { ck_set_isa_cap(-1) }
        ck_set_isa_cap(level)
        let (m, n, k) = Self.shapes[shapeIndex]
        let lda = k + 1, ldc = n + 3
        let a = randomFloats(m * lda, seed: m * 1000 + k), w = randomFloats(n * k, seed: n), bias = randomFloats(n, seed: 7)
        var packed = [Float](repeating: .nan, count: ck_sgemm_packed_size(n, k))
        ck_sgemm_pack_b(w, n, k, &packed)
        var c = [Float](repeating: 12345, count: m * ldc), exact = c
        ck_sgemm_packed(a, lda, packed, bias, &c, ldc, m, n, k, 0, n)
        ck_sgemm_ref_unpacked(a, lda, w, bias, &exact, ldc, m, n, k)
        for i in 0..<m {
            for j in 0..<n {
                var magnitude = abs(Double(bias[j]))
                for t in 0..<k { magnitude += abs(Double(a[i * lda + t]) * Double(w[j * k + t])) }
                let diff = abs(Double(c[i * ldc + j]) - Double(exact[i * ldc + j]))
                #expect(diff <= 1e-5 * magnitude, "c[\(i), \(j)] m \(m) n \(n) k \(k) level \(level)")
            }
            // The stride padding past column n is never written.
            #expect(c[(i * ldc + n)..<(i * ldc + ldc)].allSatisfy { $0 == 12345 })
        }
    }
}

/// ck_attention_head_f32 at every ISA level against a double-precision softmax(q·kᵀ·scale)·v, for one head of
/// a (len, 3H) QKV matrix at MiniLM's (dh 32) and BERT-base's (dh 64) head sizes, up to 512 tokens.
@Suite(.serialized)
struct AttentionDoubleReferenceTests {
    static let shapes: [(len: Int, dh: Int)] = [1, 6, 7, 23, 64, 129, 512].flatMap { len in [32, 64].map { (len, $0) } }

    @Test(arguments: isaLevels, shapes)
    func matchesDoubleReference(level: Int32, shape: (len: Int, dh: Int)) {
        defer { ck_set_isa_cap(-1) }
        ck_set_isa_cap(level)
        let (len, dh) = shape
        let heads = 2, h = heads * dh, ld = 3 * h, head = 1
        let qkv = randomFloats(len * ld, seed: len * 100 + dh)
        var scratch = [Float](repeating: 0, count: ck_attention_scratch_size(len, dh))
        var out = [Float](repeating: 12345, count: len * h)
        let scale = 1 / Float(dh).squareRoot()
        qkv.withUnsafeBufferPointer { p in
            let q = p.baseAddress! + head * dh
            out.withUnsafeMutableBufferPointer { o in
                ck_attention_head_f32(q, q + h, q + 2 * h, ld, len, dh, scale, o.baseAddress! + head * dh, h, &scratch)
            }
        }
        var worst = 0.0
        var scores = [Double](repeating: 0, count: len)
        for i in 0..<len {
            for j in 0..<len {
                var dot = 0.0
                for d in 0..<dh { dot += Double(qkv[i * ld + head * dh + d]) * Double(qkv[j * ld + h + head * dh + d]) }
                scores[j] = dot * Double(scale)
            }
            let top = scores.max()!
            let weights = scores.map { Foundation.exp($0 - top) }
            let total = weights.reduce(0, +)
            for d in 0..<dh {
                var ctx = 0.0
                for j in 0..<len { ctx += weights[j] * Double(qkv[j * ld + 2 * h + head * dh + d]) }
                ctx /= total
                worst = max(worst, abs(Double(out[i * h + head * dh + d]) - ctx) / max(1, abs(ctx)))
            }
            // Head 0's columns are not this call's to write.
            #expect(out[(i * h)..<(i * h + dh)].allSatisfy { $0 == 12345 })
        }
        #expect(worst <= 2e-6, "len \(len) dh \(dh) level \(level): \(worst)")
    }
}
