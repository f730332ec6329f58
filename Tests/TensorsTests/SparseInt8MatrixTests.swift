import CKernels
import Tensors
import Testing

/// The blocked-sparse int8 kernel behind pruned int8 Linears against the dense u8×s8 GEMM on the same weight: bit for
/// bit, on random masks, at every ISA level (SIMD paths and the scalar twin), on one and two threads.
@Suite(.serialized)
struct SparseInt8MatrixTests {
    struct Lcg {
        var s: UInt64
        mutating func next() -> UInt32 {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt32(truncatingIfNeeded: s >> 33)
        }
        mutating func unit() -> Double { Double(next()) / Double(UInt32.max) }
    }

    static func randomInt8(n: Int, k: Int, density: Double, seed: UInt64) -> Tensor {
        var g = Lcg(s: seed)
        let codes = (0..<(n * k)).map { _ -> Int8 in g.unit() < density ? Int8(Int(g.next() % 255) - 127) : 0 }
        return Tensor(shape: [n, k], integers: codes, dtype: .int8)
    }

    /// y from the dense kernel (`ck_gemm_u8s8_f32` on the packed weight) and from the sparse one, same inputs.
    static func both(
        _ w: Tensor, _ sparse: SparseInt8Matrix, rows: Int, seed: UInt64, executor: Executor
    ) -> (dense: [Float], sparse: [Float]) {
        let n = w.shape[0], k = w.shape[1]
        var g = Lcg(s: seed)
        let x = (0..<(rows * k)).map { _ in Float(g.unit() * 4 - 2.5) }
        var q = [UInt8](repeating: 0, count: rows * k)
        var sa = [Float](repeating: 0, count: rows)
        let sb = (0..<n).map { _ in Float(0.001 + g.unit() * 0.05) }
        var zp = [Int32](repeating: 0, count: rows)
        ck_quantize_rows_u8(x, rows, k, &q, &sa, &zp)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: ck_packed_b_size(n, k), alignment: 64)
        defer { packed.deallocate() }
        w.withUnsafeElements(as: Int8.self) { ck_pack_b_s8($0.baseAddress!, n, k, packed) }
        var dense = [Float](repeating: 0, count: rows * n), out = [Float](repeating: .nan, count: rows * n)
        ck_gemm_u8s8_f32(q, k, sa, zp, packed, sb, nil, &dense, n, rows, n, k, 0, n)
        sparse.multiply(q, aScale: sa, aZeroPoint: zp, weightScale: sb, bias: nil, rows: rows, into: &out, on: executor)
        return (dense, out)
    }

    @Test(arguments: [1, 2, 3, 8, 17, 32, 33])
    func sparseMatchesDenseInt8BitForBit(rows: Int) throws {
        for (n, k, density) in [(384, 1536, 0.1), (1536, 384, 0.05), (17, 33, 0.5), (64, 102, 0.0), (10, 9, 1.0)] {
            let w = Self.randomInt8(n: n, k: k, density: density, seed: UInt64(n * k + rows))
            let sparse = try #require(SparseInt8Matrix(w, maximumDensity: 1))
            let nonzero = w.withUnsafeElements(as: Int8.self) { $0.filter { $0 != 0 }.count }
            #expect(sparse.density == Double(nonzero) / Double(n * k))
            for level in [CK_ISA_SCALAR, CK_ISA_AVX2, CK_ISA_AVX512] {
                let applied = ck_set_isa_cap(Int32(level))
                defer { ck_set_isa_cap(-1) }
                // One thread: the ISA cap is per thread, and pool workers would run at full width.
                let (dense, out) = Self.both(w, sparse, rows: rows, seed: UInt64(rows), executor: Executor(threads: 1))
                #expect(
                    dense.elementsEqual(out) { $0.bitPattern == $1.bitPattern },
                    "n \(n) k \(k) density \(density) rows \(rows) isa \(String(cString: ck_isa_name(applied)))")
            }
            let (dense, out) = Self.both(w, sparse, rows: rows, seed: 99, executor: Executor(threads: 2))
            #expect(dense.elementsEqual(out) { $0.bitPattern == $1.bitPattern }, "two threads, n \(n) k \(k) rows \(rows)")
        }
    }

    @Test func blocksAreTheGroupsOfFourHoldingANonzero() throws {
        // Row 0: columns 1 and 2 (group 0) and 9 (group 2); row 1: nothing; k = 10 leaves a 2-wide last group.
        var codes = [Int8](repeating: 0, count: 20)
        codes[1] = 5; codes[2] = -3; codes[9] = 7
        let m = try #require(SparseInt8Matrix(Tensor(shape: [2, 10], integers: codes, dtype: .int8), maximumDensity: 1))
        #expect(m.blockCount == 2)
        #expect(abs(m.density - 0.15) < 1e-12)
    }

    @Test func tooDenseWeightsStayDenseAndCrossoverPicksByRows() throws {
        #expect(SparseInt8Matrix(Self.randomInt8(n: 8, k: 8, density: 1, seed: 1)) == nil)
        let sparse = try #require(SparseInt8Matrix(Self.randomInt8(n: 64, k: 64, density: 0.02, seed: 2)))
        #expect(sparse.isFaster(rows: 64) == (SparseInt8Matrix.maximumUsefulDensity > 0))
        #expect(sparse.isFaster(rows: 1) == (sparse.density <= SparseInt8Matrix.crossover[0].density))
        let limit = SparseInt8Matrix.crossover.map(\.density).min()!
        let between = try #require(SparseInt8Matrix(Self.randomInt8(n: 256, k: 256, density: limit + 0.04, seed: 3), maximumDensity: 1))
        #expect(between.isFaster(rows: 1) == (between.density <= SparseInt8Matrix.crossover[0].density))
        #expect(between.isFaster(rows: 64) == (between.density <= SparseInt8Matrix.crossover.last!.density))
    }
}
