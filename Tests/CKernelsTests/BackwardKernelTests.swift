import CKernels
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
}
