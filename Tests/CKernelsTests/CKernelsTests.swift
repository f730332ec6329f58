import CKernels
import Testing

/// Every ISA level this machine can run (COMPRESS_ISA may lower it).
private let levels: [Int32] = {
    let available = ck_set_isa_cap(-1)
    return [Int32(CK_ISA_SCALAR), Int32(CK_ISA_AVX2), Int32(CK_ISA_AVX512)].filter { $0 <= available }
}()

/// (m, n, k) shapes: odd sizes, K not a multiple of 4, N not a multiple of 16, and MiniLM's real ones.
private let gemmShapes: [(Int, Int, Int)] = [
    (1, 1, 1), (1, 17, 3), (2, 16, 7), (3, 33, 15), (7, 31, 17), (15, 100, 33), (16, 64, 31),
    (17, 15, 100), (1, 384, 1536), (1, 1536, 384), (16, 384, 384), (33, 7, 64), (100, 2, 2),
]

private let rowShapes: [(Int, Int)] = [(1, 1), (1, 7), (3, 15), (2, 16), (5, 17), (15, 384), (2, 1536), (4, 33)]

/// SplitMix64: deterministic inputs without Foundation.
private struct Rng {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func float(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func floats(_ n: Int, _ lo: Float, _ hi: Float) -> [Float] { (0..<n).map { _ in float(lo, hi) } }
}

/// max over i of |a − b| / (absTol + relTol·|b|).
private func worstRatio(_ a: [Float], _ b: [Float], abs absTol: Float, rel relTol: Float) -> Float {
    zip(a, b).map { abs($0 - $1) / (absTol + relTol * abs($1)) }.max() ?? 0
}

/// The cap is process-global, so these tests run one at a time.
@Suite(.serialized) struct CKernelsTests {
    @Test(arguments: levels)
    func capSelectsLevel(level: Int32) {
        #expect(ck_set_isa_cap(level) == level)
        #expect(ck_isa() == level)
        ck_set_isa_cap(-1)
    }

    @Test(arguments: levels, rowShapes.map { "\($0.0)x\($0.1)" })
    func elementwiseMatchTwins(level: Int32, shape: String) {
        let dims = shape.split(separator: "x").map { Int($0)! }
        let (rows, cols) = (dims[0], dims[1])
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        var rng = Rng(state: UInt64(rows * 1000 + cols))
        let x = rng.floats(rows * cols, -10, 10)
        let bias = rng.floats(cols, -0.5, 0.5)

        var fast = x, ref = x
        ck_bias_gelu_f32(&fast, bias, rows, cols)
        ck_bias_gelu_f32_ref(&ref, bias, rows, cols)
        // 1 ulp of the output or 2e-7: the SIMD erf is as accurate as libm (see the C test).
        #expect(worstRatio(fast, ref, abs: 2e-7, rel: 1.8e-7) <= 1)

        for (f, r) in [(ck_sigmoid_f32, ck_sigmoid_f32_ref), (ck_tanh_f32, ck_tanh_f32_ref)] {
            fast = x
            ref = x
            f(&fast, fast.count)
            r(&ref, ref.count)
            #expect(worstRatio(fast, ref, abs: 1e-7, rel: 1e-6) <= 1)
        }
        fast = x
        ref = x
        ck_bias_relu_f32(&fast, bias, rows, cols)
        ck_bias_relu_f32_ref(&ref, bias, rows, cols)
        #expect(fast == ref)
    }

    @Test(arguments: levels, rowShapes.map { "\($0.0)x\($0.1)" })
    func layerNormAndSoftmaxMatchTwins(level: Int32, shape: String) {
        let dims = shape.split(separator: "x").map { Int($0)! }
        let (rows, cols) = (dims[0], dims[1])
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        var rng = Rng(state: UInt64(rows * 7919 + cols))
        let x = rng.floats(rows * cols, 3, 5)
        let residual = rng.floats(rows * cols, -2, 2)
        let bias = rng.floats(cols, -0.5, 0.5)
        let gamma = rng.floats(cols, 0.5, 1.5)
        let beta = rng.floats(cols, -0.5, 0.5)

        var fast = x, ref = x
        ck_add_layernorm_f32(&fast, residual, bias, gamma, beta, 1e-12, rows, cols)
        ck_add_layernorm_f32_ref(&ref, residual, bias, gamma, beta, 1e-12, rows, cols)
        #expect(worstRatio(fast, ref, abs: 2e-6, rel: 1e-6) <= 1)

        let keyBias: [Float] = (0..<cols).map { $0 % 3 == 2 ? -Float.infinity : 0 }
        fast = x
        ref = x
        ck_softmax_rows_f32(&fast, rows, cols, 0.125, keyBias)
        ck_softmax_rows_f32_ref(&ref, rows, cols, 0.125, keyBias)
        #expect(worstRatio(fast, ref, abs: 1e-9, rel: 1e-6) <= 1)
        for r in 0..<rows {
            let sum = fast[(r * cols)..<((r + 1) * cols)].reduce(0, +)
            #expect(abs(sum - 1) < 1e-5)
        }
    }

    @Test(arguments: levels, rowShapes.map { "\($0.0)x\($0.1)" })
    func quantizeRowsIsExact(level: Int32, shape: String) {
        let dims = shape.split(separator: "x").map { Int($0)! }
        let (rows, k) = (dims[0], dims[1])
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        var rng = Rng(state: UInt64(rows * 31 + k))
        let x = rng.floats(rows * k, -3, 5)

        var q = [UInt8](repeating: 0, count: rows * k), qRef = q
        var scale = [Float](repeating: 0, count: rows), scaleRef = scale
        var zp = [Int32](repeating: 0, count: rows), zpRef = zp
        ck_quantize_rows_u8(x, rows, k, &q, &scale, &zp)
        ck_quantize_rows_u8_ref(x, rows, k, &qRef, &scaleRef, &zpRef)
        #expect(q == qRef)
        #expect(scale == scaleRef)
        #expect(zp == zpRef)

        var s = [Int8](repeating: 0, count: rows * k), sRef = s
        ck_quantize_rows_s8(x, rows, k, &s, &scale)
        ck_quantize_rows_s8_ref(x, rows, k, &sRef, &scaleRef)
        #expect(s == sRef)
        #expect(scale == scaleRef)
    }

    @Test(arguments: levels, gemmShapes.map { "\($0.0)x\($0.1)x\($0.2)" })
    func gemmU8S8IsExact(level: Int32, shape: String) {
        let dims = shape.split(separator: "x").map { Int($0)! }
        let (m, n, k) = (dims[0], dims[1], dims[2])
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        var rng = Rng(state: UInt64(m * 1_000_003 + n * 1009 + k))
        let a = (0..<(m * k)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let w = (0..<(n * k)).map { _ in Int8(Int(rng.next() % 255) - 127) }
        let zp = (0..<m).map { _ in Int32(rng.next() % 256) }
        let aScale = rng.floats(m, 0.001, 0.05)
        let bScale = rng.floats(n, 0.001, 0.02)
        let bias = rng.floats(n, -1, 1)
        var packed = [UInt8](repeating: 0, count: ck_packed_b_size(n, k))
        ck_pack_b_s8(w, n, k, &packed)

        // Split the columns in two ranges, as two threads would.
        let mid = n / 2
        var c = [Int32](repeating: 0, count: m * n)
        ck_gemm_u8s8_s32(a, k, zp, packed, &c, n, m, n, k, 0, mid)
        ck_gemm_u8s8_s32(a, k, zp, packed, &c, n, m, n, k, mid, n)
        var naive = [Int32](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Int32 = 0, colsum: Int32 = 0
                for t in 0..<k {
                    s += Int32(a[i * k + t]) * Int32(w[j * k + t])
                    colsum += Int32(w[j * k + t])
                }
                naive[i * n + j] = s - zp[i] * colsum
            }
        }
        #expect(c == naive)

        var f = [Float](repeating: 0, count: m * n), fRef = f
        ck_gemm_u8s8_f32(a, k, aScale, zp, packed, bScale, bias, &f, n, m, n, k, 0, n)
        ck_gemm_u8s8_f32_ref(a, k, aScale, zp, packed, bScale, bias, &fRef, n, m, n, k, 0, n)
        #expect(f.map(\.bitPattern) == fRef.map(\.bitPattern))
    }

    @Test(arguments: levels, gemmShapes.map { "\($0.0)x\($0.1)x\($0.2)" })
    func gemmQ4MatchesTwin(level: Int32, shape: String) {
        let dims = shape.split(separator: "x").map { Int($0)! }
        let (m, n, k) = (dims[0], dims[1], dims[2])
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        var rng = Rng(state: UInt64(m * 13 + n * 17 + k))
        let a = rng.floats(m * k, -1, 1)
        let w = rng.floats(n * k, -0.2, 0.2)
        let bias = rng.floats(n, -1, 1)
        let nb = ck_q4_blocks_per_row(k)
        var blocks = [ck_block_q4](repeating: ck_block_q4(), count: n * nb)
        ck_quantize_q4_ref(w, n, k, &blocks)
        var wd = [Float](repeating: 0, count: n * k)
        ck_dequantize_q4(blocks, n, k, &wd)

        var c = [Float](repeating: 0, count: m * n), cRef = c
        ck_gemm_q4_f32(a, k, blocks, bias, &c, n, m, n, k, 0, n)
        ck_gemm_q4_f32_ref(a, k, blocks, bias, &cRef, n, m, n, k, 0, n)
        for i in 0..<m {
            for j in 0..<n {
                var mag: Float = 0
                for t in 0..<k { mag += abs(a[i * k + t] * wd[j * k + t]) }
                #expect(abs(c[i * n + j] - cRef[i * n + j]) <= 2e-6 * mag + 1e-6)
            }
        }
    }
}
