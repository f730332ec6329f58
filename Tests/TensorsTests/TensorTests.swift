import Tensors
import Testing

struct TensorTests {
    @Test func copyOnWriteKeepsValuesApart() {
        let a = Tensor(shape: [2, 2], floats: [1, 2, 3, 4])
        var b = a
        b.withUnsafeMutableFloats { $0[0] = 9 }
        #expect(a.floats == [1, 2, 3, 4])
        #expect(b.floats == [9, 2, 3, 4])
    }

    @Test func permuteMatchesIndexArithmetic() {
        // (2, 3, 4) → (4, 2, 3): out[k, i, j] = in[i, j, k]
        let values = (0..<24).map(Float.init)
        let t = Tensor(shape: [2, 3, 4], floats: values).permuted([2, 0, 1])
        #expect(t.shape == [4, 2, 3])
        let v = t.floats
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { #expect(v[(k * 2 + i) * 3 + j] == values[(i * 3 + j) * 4 + k]) } } }
        #expect(Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]).transposed2D().floats == [1, 4, 2, 5, 3, 6])
    }

    @Test(arguments: [(1, 1, 1), (3, 5, 7), (17, 33, 65), (64, 384, 1536)])
    func linearMatchesNaiveProduct(m: Int, n: Int, k: Int) {
        var rng = SplitMix(seed: UInt64(m * 1000 + n * 10 + k))
        let x = Tensor(shape: [m, k], floats: (0..<(m * k)).map { _ in rng.nextFloat() })
        let w = Tensor(shape: [n, k], floats: (0..<(n * k)).map { _ in rng.nextFloat() })
        let b = Tensor(shape: [n], floats: (0..<n).map { _ in rng.nextFloat() })
        let y = MatMul.linear(x, weight: w, bias: b).floats
        let xv = x.floats, wv = w.floats, bv = b.floats
        for i in 0..<m {
            for j in 0..<n {
                var acc = Double(bv[j])
                for t in 0..<k { acc += Double(xv[i * k + t]) * Double(wv[j * k + t]) }
                #expect(abs(Double(y[i * n + j]) - acc) <= 1e-4 * max(1, abs(acc)))
            }
        }
    }

    @Test func rowsAndConcatenateRoundTrip() throws {
        let t = Tensor(shape: [4, 2], floats: (0..<8).map(Float.init))
        let parts = [t.rows(0..<1), t.rows(1..<3), t.rows(3..<4)]
        #expect(try Tensor.concatenateRows(parts).bitwiseEqual(t))
    }

    /// Inputs with no items used to trap here (SIGILL); they are user data, so the error is thrown.
    @Test func concatenatingNothingOrMismatchedRowsThrows() {
        #expect(throws: TensorError.self) { try Tensor.concatenateRows([]) }
        #expect(throws: TensorError.self) { try Tensor.concatenateRows([Tensor(zeros: [1, 2]), Tensor(zeros: [1, 3])]) }
    }

    @Test func memoryBudgetRefusesOverflowAndHugeShapes() {
        #expect(MemoryBudget.elementCount([Int.max, 2]) == nil)
        #expect(MemoryBudget.elementCount([-1, 2]) == nil)
        #expect(throws: TensorError.self) { try MemoryBudget.check(shape: [100_000, 100_000, 100_000], what: "x") }
        #expect(throws: TensorError.self) { try MemoryBudget.check(shape: [1 << 62, 4], what: "x") }
        #expect((try? MemoryBudget.check(shape: [10, 10], what: "x")) == 400)
    }

    @Test func halfPrecisionWidens() {
        let h = Tensor(shape: [2], integers: [Float16(1.5).bitPattern, Float16(-2).bitPattern], dtype: .float16)
        #expect(h.floats == [1.5, -2])
        let bf = Tensor(shape: [1], integers: [UInt16(Float(3.0).bitPattern >> 16)], dtype: .bfloat16)
        #expect(bf.floats == [3])
    }
}

/// Deterministic test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
}
