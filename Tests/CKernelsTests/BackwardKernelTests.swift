import CKernels
import Foundation
import Testing

/// Every ISA level this machine can run (COMPRESS_ISA may lower it).
private let backwardLevels: [Int32] = {
    let available = ck_set_isa_cap(-1)
    return [Int32(CK_ISA_SCALAR), Int32(CK_ISA_AVX2), Int32(CK_ISA_AVX512)].filter { $0 <= available }
}()

/// Odd widths (SIMD tails), one lane-exact width, and MiniLM's hidden/FFN widths.
private let backwardShapes: [(Int, Int)] = [(1, 1), (3, 7), (2, 16), (5, 17), (4, 33), (6, 384), (2, 1536)]

/// Deterministic values in [lo, hi) (a 64-bit LCG; enough for kernel inputs).
private func values(_ n: Int, seed: UInt64, _ lo: Float, _ hi: Float) -> [Float] {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<n).map { _ in
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return lo + (hi - lo) * Float(s >> 40) / Float(1 << 24)
    }
}

private func worstRelative(_ a: [Float], _ b: [Float], floor: Float) -> Float {
    zip(a, b).map { abs($0 - $1) / max(abs($1), floor) }.max() ?? 0
}

/// The training kernels' SIMD paths against their scalar twins (ck_backward.c). The ISA cap is per thread, so
/// these run serialized to keep each test's cap its own.
@Suite(.serialized) struct BackwardKernelTests {
    @Test(arguments: backwardLevels, backwardShapes.map { "\($0.0)x\($0.1)" })
    func layerNormForwardAndBackwardMatchTwins(level: Int32, shape: String) {
        let dims = shape.split(separator: "x").map { Int($0)! }
        let (rows, cols) = (dims[0], dims[1])
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        // A mean far from zero relative to the spread: the case the double sums exist for.
        let x = values(rows * cols, seed: UInt64(rows * 100 + cols), 2, 4)
        let w = values(cols, seed: 2, 0.5, 1.5), b = values(cols, seed: 3, -0.5, 0.5)
        let dy = values(rows * cols, seed: 4, -1, 1)
        var out = [Float](repeating: 0, count: rows * cols), outRef = out
        var mean = [Float](repeating: 0, count: rows), rstd = mean, meanRef = mean, rstdRef = mean
        ck_layernorm_forward_f32(&out, &mean, &rstd, x, w, b, 1e-5, rows, cols)
        ck_layernorm_forward_f32_ref(&outRef, &meanRef, &rstdRef, x, w, b, 1e-5, rows, cols)
        #expect(mean == meanRef && worstRelative(rstd, rstdRef, floor: 1e-6) <= 2e-7)
        #expect(zip(out, outRef).map { abs($0 - $1) }.max()! <= 4e-7 * 4)

        var dx = values(rows * cols, seed: 5, -1, 1), dxRef = dx  // accumulates onto what is there
        var dw = values(cols, seed: 6, -1, 1), dwRef = dw
        var db = values(cols, seed: 7, -1, 1), dbRef = db
        ck_layernorm_backward_f32(&dx, &dw, &db, dy, x, w, meanRef, rstdRef, rows, cols)
        ck_layernorm_backward_f32_ref(&dxRef, &dwRef, &dbRef, dy, x, w, meanRef, rstdRef, rows, cols)
        // The SIMD row means are float sums (the twin's are double): relative to the gradient's scale, ≤ 1e-5.
        let scale = dxRef.map { abs($0) }.max()! + 1
        #expect(zip(dx, dxRef).map { abs($0 - $1) }.max()! <= 1e-5 * scale)
        #expect(worstRelative(dw, dwRef, floor: 1) <= 1e-5)
        #expect(worstRelative(db, dbRef, floor: 1) <= 1e-6)
    }

    @Test(arguments: backwardLevels, backwardShapes.map { "\($0.0)x\($0.1)" })
    func geluAndSoftmaxBackwardMatchTwins(level: Int32, shape: String) {
        let dims = shape.split(separator: "x").map { Int($0)! }
        let (rows, cols) = (dims[0], dims[1])
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        let n = rows * cols
        let x = values(n, seed: UInt64(n), -6, 6), dy = values(n, seed: 9, -1, 1)
        var dx = [Float](repeating: 0, count: n), dxRef = dx
        ck_gelu_backward_f32(&dx, x, dy, n)
        ck_gelu_backward_f32_ref(&dxRef, x, dy, n)
        // gelu' ∈ [−0.17, 1.13]: absolute error against |dy| ≤ 1, a few ulp of the SIMD erf/exp.
        #expect(zip(dx, dxRef).map { abs($0 - $1) }.max()! <= 1e-6)

        // Probabilities from a softmax, upstream gradients of both signs.
        var p = values(n, seed: 10, -4, 4)
        ck_softmax_rows_f32_ref(&p, rows, cols, 1, nil)
        var ds = [Float](repeating: 0, count: n), dsRef = ds
        ck_softmax_backward_rows_f32(&ds, p, dy, rows, cols, 0.25)
        ck_softmax_backward_rows_f32_ref(&dsRef, p, dy, rows, cols, 0.25)
        #expect(zip(ds, dsRef).map { abs($0 - $1) }.max()! <= 1e-7)
        // In place (ds aliasing dp), as the attention backward calls it.
        var inPlace = dy
        inPlace.withUnsafeMutableBufferPointer { ck_softmax_backward_rows_f32($0.baseAddress!, p, $0.baseAddress!, rows, cols, 0.25) }
        #expect(inPlace == ds)
    }

    /// AdamW's SIMD paths follow the twin's operation order without FMA: bit-identical, tails included, with and
    /// without weight decay, over several steps (moments carried).
    @Test(arguments: backwardLevels, [1, 15, 16, 17, 33, 1000])
    func adamWMatchesTwinExactly(level: Int32, n: Int) {
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        var p = values(n, seed: 11, -1, 1), m = [Float](repeating: 0, count: n), v = m
        var pRef = p, mRef = m, vRef = v
        for t in 1...4 {
            let g = values(n, seed: UInt64(20 + t), -2, 2)
            let c1 = 1 - powf(0.9, Float(t)), c2 = 1 - powf(0.999, Float(t))
            let decay: Float = t % 2 == 0 ? 1 : 1 - 1e-3 * 0.01
            ck_adamw_f32(&p, &m, &v, g, n, 1e-3, 0.9, 0.999, 1e-8, decay, c1, c2)
            ck_adamw_f32_ref(&pRef, &mRef, &vRef, g, n, 1e-3, 0.9, 0.999, 1e-8, decay, c1, c2)
        }
        #expect(p == pRef && m == mRef && v == vRef)
    }

    /// col2im and max pooling: SIMD paths against their twins (exact: same visiting order), and the twins against
    /// the plain Swift loops they replaced, on odd channel counts (tails), padding and overlapping windows.
    @Test(arguments: backwardLevels, [1, 3, 16, 17, 33])
    func windowKernelsMatchTwinsAndSwiftLoops(level: Int32, c: Int) {
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        // (kernel, stride, padding before, output size) over 2 images of 7 × 5: 3×3 "same" convolution windows,
        // 2×2 stride-2 "valid" pooling, 3×3 stride-2 "same" pooling (overlapping, padded).
        for (k, st, pad, oh, ow) in [(3, 1, 1, 7, 5), (2, 2, 0, 3, 2), (3, 2, 1, 4, 3)] {
            var g = ck_window2d(
                n: 2, h: 7, w: 5, c: Int64(c), oh: Int64(oh), ow: Int64(ow), kh: Int64(k), kw: Int64(k), sh: Int64(st), sw: Int64(st),
                pad_top: Int64(pad), pad_left: Int64(pad))
            let inCount = 2 * 7 * 5 * c, outCount = 2 * oh * ow * c
            let dcols = values(2 * oh * ow * k * k * c, seed: UInt64(c * 10 + k), -1, 1)
            var dx = values(inCount, seed: 3, -1, 1), dxRef = dx, dxSwift = dx
            ck_col2im_nhwc_f32(&dx, dcols, &g, 0, 1)
            ck_col2im_nhwc_f32(&dx, dcols, &g, 1, 2)
            ck_col2im_nhwc_f32_ref(&dxRef, dcols, &g, 0, 2)
            // Each window cell in bounds, in (image, oy, ox, ky, kx) order.
            func cells(_ body: (_ outIndex: Int, _ cell: Int, _ inIndex: Int) -> Void) {
                for b in 0..<2 {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            for ky in 0..<k {
                                let iy = oy * st + ky - pad
                                if iy < 0 || iy >= 7 { continue }
                                for kx in 0..<k {
                                    let ix = ox * st + kx - pad
                                    if ix < 0 || ix >= 5 { continue }
                                    body((b * oh + oy) * ow + ox, ky * k + kx, ((b * 7 + iy) * 5 + ix) * c)
                                }
                            }
                        }
                    }
                }
            }
            cells { o, cell, i in for ch in 0..<c { dxSwift[i + ch] += dcols[(o * k * k + cell) * c + ch] } }
            #expect(dx == dxRef && dxRef == dxSwift, "col2im k\(k) s\(st) c\(c)")

            // im2col (the forward col2im is the adjoint of), against the same window walk.
            let image = values(inCount, seed: 12, -1, 1)
            var cols = [Float](repeating: .nan, count: dcols.count), colsSwift = [Float](repeating: 0, count: dcols.count)
            ck_im2col_nhwc_f32(&cols, image, &g, 0, 2)
            cells { o, cell, i in for ch in 0..<c { colsSwift[(o * k * k + cell) * c + ch] = image[i + ch] } }
            #expect(cols == colsSwift, "im2col k\(k) s\(st) c\(c)")

            var x = values(inCount, seed: UInt64(c + k), -1, 1)
            x[5] = x[6]  // a tie: the first maximum must win
            var y = [Float](repeating: 0, count: outCount), yRef = y
            var arg = [Int32](repeating: -1, count: outCount), argRef = arg
            ck_maxpool_forward_nhwc_f32(&y, &arg, x, &g, 0, 2)
            ck_maxpool_forward_nhwc_f32_ref(&yRef, &argRef, x, &g, 0, 2)
            var ySwift = [Float](repeating: -.infinity, count: outCount), argSwift = [Int32](repeating: 0, count: outCount)
            cells { o, _, i in
                for ch in 0..<c where x[i + ch] > ySwift[o * c + ch] {
                    ySwift[o * c + ch] = x[i + ch]
                    argSwift[o * c + ch] = Int32(i + ch)
                }
            }
            #expect(y == yRef && arg == argRef && yRef == ySwift && argRef == argSwift, "maxpool k\(k) s\(st) c\(c)")

            let dy = values(outCount, seed: 8, -1, 1)
            var dpx = [Float](repeating: 0, count: inCount), dpxSwift = dpx
            ck_maxpool_backward_f32(&dpx, dy, arg, 0, Int64(outCount))
            for o in 0..<outCount { dpxSwift[Int(argSwift[o])] += dy[o] }
            #expect(dpx == dpxSwift)
        }
    }

    /// The fused training attention (forward keeping P, and its backward) against its scalar twin: the same loops,
    /// vectorized, so only FMA rounding and the SIMD softmax differ. Lengths around the vector widths, head sizes
    /// 8 and 32, q/k/v as column blocks of a (len, 3·A) matrix as in BERT.
    @Test(arguments: backwardLevels, [1, 7, 16, 24, 33])
    func trainingAttentionMatchesTwin(level: Int32, len: Int) {
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        for dh in [8, 32] {
            let a = 2 * dh, ld = 3 * a  // two heads; this checks head 1 (offset dh)
            let qkv = values(len * ld, seed: UInt64(len * 7 + dh), -1, 1), dctx = values(len * a, seed: 5, -1, 1)
            let scale = 1 / Float(dh).squareRoot()
            var scratch = [Float](repeating: 0, count: dh * len + len * len)
            var p = [Float](repeating: 0, count: len * len), pRef = p
            var ctx = [Float](repeating: 7, count: len * a), ctxRef = ctx
            qkv.withUnsafeBufferPointer { b in
                let q = b.baseAddress! + dh
                ctx.withUnsafeMutableBufferPointer { c in
                    ck_attention_train_forward_f32(q, q + a, q + 2 * a, ld, len, dh, scale, &p, c.baseAddress! + dh, a, &scratch)
                }
                ctxRef.withUnsafeMutableBufferPointer { c in
                    ck_attention_train_forward_f32_ref(q, q + a, q + 2 * a, ld, len, dh, scale, &pRef, c.baseAddress! + dh, a, &scratch)
                }
            }
            #expect(zip(p, pRef).map { abs($0 - $1) }.max()! <= 1e-6)
            #expect(zip(ctx, ctxRef).map { abs($0 - $1) }.max()! <= 1e-5)
            #expect(ctx[0] == 7 && ctxRef[0] == 7)  // head 0's columns are not written
            // Without and with an extra softmax-input gradient dz (attention-distribution KL).
            let dzValues = UnsafeMutableBufferPointer<Float>.allocate(capacity: len * len)
            defer { dzValues.deallocate() }
            _ = dzValues.initialize(from: values(len * len, seed: 11, -1, 1))
            for dz in [nil, UnsafePointer(dzValues.baseAddress!)] as [UnsafePointer<Float>?] {
            var d = [Float](repeating: 9, count: len * ld), dRef = d
            qkv.withUnsafeBufferPointer { b in
                let q = b.baseAddress! + dh
                dctx.withUnsafeBufferPointer { g in
                    d.withUnsafeMutableBufferPointer { o in
                        let o0 = o.baseAddress! + dh
                        ck_attention_train_backward_f32(
                            q, q + a, q + 2 * a, ld, pRef, g.baseAddress! + dh, a, dz, o0, o0 + a, o0 + 2 * a, len, dh, scale, &scratch)
                    }
                    dRef.withUnsafeMutableBufferPointer { o in
                        let o0 = o.baseAddress! + dh
                        ck_attention_train_backward_f32_ref(
                            q, q + a, q + 2 * a, ld, pRef, g.baseAddress! + dh, a, dz, o0, o0 + a, o0 + 2 * a, len, dh, scale, &scratch)
                    }
                }
            }
            let scaleOfD = dRef.map { abs($0) }.max()!
            #expect(zip(d, dRef).map { abs($0 - $1) }.max()! <= 1e-5 * scaleOfD)
            #expect(d[0] == 9 && dRef[0] == 9)  // head 0's dq column is not written
            }
        }
    }

    /// BatchNorm's kernels: SIMD over features with the twins' row order and no FMA, so bit-identical; the twins
    /// themselves are the Swift loops they replaced (checked here against those loops).
    @Test(arguments: backwardLevels, backwardShapes.map { "\($0.0)x\($0.1)" })
    func batchNormKernelsMatchTwinsExactly(level: Int32, shape: String) {
        let dims = shape.split(separator: "x").map { Int($0)! }
        let (rows, f) = (dims[0] + 1, dims[1])
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        let x = values(rows * f, seed: UInt64(rows * 31 + f), 1, 3), dy = values(rows * f, seed: 4, -1, 1)
        var sum = [Double](repeating: 0, count: f), sumRef = sum, sumSwift = sum
        ck_batchnorm_sums_f64(&sum, x, rows, f)
        ck_batchnorm_sums_f64_ref(&sumRef, x, rows, f)
        for r in 0..<rows { for j in 0..<f { sumSwift[j] += Double(x[r * f + j]) } }
        #expect(sum == sumRef && sumRef == sumSwift)
        let mean = sum.map { $0 / Double(rows) }
        var sq = [Double](repeating: 0, count: f), sqRef = sq
        ck_batchnorm_sqdev_f64(&sq, mean, x, rows, f)
        ck_batchnorm_sqdev_f64_ref(&sqRef, mean, x, rows, f)
        #expect(sq == sqRef)
        let meanF = mean.map { Float($0) }, rstd = sq.map { Float(1 / ($0 / Double(rows) + 1e-3).squareRoot()) }
        let gamma = values(f, seed: 5, 0.5, 1.5), beta = values(f, seed: 6, -1, 1)
        var y = [Float](repeating: 0, count: rows * f), yRef = y, h = y, hRef = y
        ck_batchnorm_apply_f32(&y, &h, x, meanF, rstd, gamma, beta, rows, f)
        ck_batchnorm_apply_f32_ref(&yRef, &hRef, x, meanF, rstd, gamma, beta, rows, f)
        let hSwift = (0..<(rows * f)).map { (x[$0] - meanF[$0 % f]) * rstd[$0 % f] }
        #expect(y == yRef && h == hRef && hRef == hSwift)
        var sdy = [Double](repeating: 0, count: f), sdyx = sdy, sdyRef = sdy, sdyxRef = sdy
        ck_batchnorm_backward_sums_f64(&sdy, &sdyx, dy, hRef, rows, f)
        ck_batchnorm_backward_sums_f64_ref(&sdyRef, &sdyxRef, dy, hRef, rows, f)
        #expect(sdy == sdyRef && sdyx == sdyxRef)
        let s = (0..<f).map { gamma[$0] * rstd[$0] }
        let mdy = sdy.map { Float($0) / Float(rows) }, mdyx = sdyx.map { Float($0) / Float(rows) }
        var dx = [Float](repeating: 0, count: rows * f), dxRef = dx
        ck_batchnorm_backward_dx_f32(&dx, dy, hRef, s, mdy, mdyx, rows, f)
        ck_batchnorm_backward_dx_f32_ref(&dxRef, dy, hRef, s, mdy, mdyx, rows, f)
        let dxSwift = (0..<(rows * f)).map { i in s[i % f] * (dy[i] - mdy[i % f] - hRef[i] * mdyx[i % f]) }
        #expect(dx == dxRef && dxRef == dxSwift)
        ck_batchnorm_backward_dx_f32(&dx, dy, hRef, s, nil, mdyx, rows, f)
        #expect(dx == (0..<(rows * f)).map { s[$0 % f] * dy[$0] })
    }

    /// The training GEMM path: B (k, n) packed by ``ck_sgemm_pack_b_kn`` (row stride > n) runs c = a·B on
    /// ck_sgemm_packed at every ISA level (against float64 sums), and the blocked transpose is exact.
    @Test(arguments: backwardLevels, [(1, 1, 1), (5, 17, 33), (37, 40, 9), (64, 100, 288)].map { "\($0.0)x\($0.1)x\($0.2)" })
    func packedKNGemmAndTranspose(level: Int32, shape: String) {
        let d = shape.split(separator: "x").map { Int($0)! }
        let (m, k, n) = (d[0], d[1], d[2])
        ck_set_isa_cap(level)
        defer { ck_set_isa_cap(-1) }
        let ldb = n + 3
        let a = values(m * k, seed: UInt64(m + k), -1, 1), b = values(k * ldb, seed: UInt64(n), -1, 1)
        var packed = [Float](repeating: .nan, count: ck_sgemm_packed_size(n, k))
        ck_sgemm_pack_b_kn(b, ldb, k, n, &packed)
        var c = [Float](repeating: 0, count: m * n)
        ck_sgemm_packed(a, k, packed, nil, &c, n, m, n, k, 0, n)
        var worst: Double = 0
        for i in 0..<m {
            for j in 0..<n {
                var acc = 0.0
                for kk in 0..<k { acc += Double(a[i * k + kk]) * Double(b[kk * ldb + j]) }
                worst = max(worst, abs(acc - Double(c[i * n + j])))
            }
        }
        #expect(worst <= 1e-5 * Double(k))
        var t = [Float](repeating: 0, count: k * m)
        ck_transpose_f32(&t, m, a, k, m, k)
        #expect((0..<(m * k)).allSatisfy { t[($0 % k) * m + $0 / k] == a[$0] })
    }
}
