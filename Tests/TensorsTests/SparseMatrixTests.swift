import CKernels
import Tensors
import Testing

/// The CSR sparse kernel behind pruned Linears against the dense packed GEMM on random masks, at every ISA level
/// (SIMD paths and their scalar twin), for row counts on both sides of its gather / tile switch.
@Suite(.serialized)
struct SparseMatrixTests {
    struct Lcg {
        var s: UInt64
        mutating func next() -> Float {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(s >> 40) / Float(1 << 24)
        }
    }

    static func randomWeight(n: Int, k: Int, density: Double, seed: UInt64) -> Tensor {
        var g = Lcg(s: seed)
        return Tensor(shape: [n, k], floats: (0..<(n * k)).map { _ in Double(g.next()) < density ? g.next() * 2 - 1 : 0 })
    }

    @Test(arguments: [1, 2, 7, 32, 33])
    func sparseMatchesDenseOnRandomMasks(rows: Int) throws {
        for (n, k, density) in [(384, 1536, 0.1), (1536, 384, 0.05), (17, 33, 0.5), (64, 100, 0.0)] {
            let w = Self.randomWeight(n: n, k: k, density: density, seed: UInt64(n * k + rows))
            let sparse = try #require(SparseMatrix(w, maximumDensity: 1))
            #expect(sparse.density == Double(w.floats.filter { $0 != 0 }.count) / Double(n * k))
            let x = Self.randomWeight(n: rows, k: k, density: 1, seed: 7)
            let dense = PackedMatrix(w).multiply(x, on: Executor(threads: 2))
            for level in [CK_ISA_SCALAR, CK_ISA_AVX2, CK_ISA_AVX512] {
                let applied = ck_set_isa_cap(Int32(level))
                defer { ck_set_isa_cap(-1) }
                var y = Tensor(zeros: [rows, n])
                y.withUnsafeMutableFloats { yp in
                    // One thread: the ISA cap is per thread, and pool workers would run at full width.
                    x.withUnsafeFloats { sparse.multiply($0.baseAddress!, rows: rows, into: yp.baseAddress!, on: Executor(threads: 1)) }
                }
                let diff = zip(y.floats, dense.floats).map { abs($0 - $1) }.max() ?? 0
                #expect(diff < 1e-4, "n \(n) k \(k) density \(density) rows \(rows) isa \(String(cString: ck_isa_name(applied))): \(diff)")
            }
            // Split across two threads (output ranges per thread).
            var y2 = Tensor(zeros: [rows, n])
            y2.withUnsafeMutableFloats { yp in
                x.withUnsafeFloats { sparse.multiply($0.baseAddress!, rows: rows, into: yp.baseAddress!, on: Executor(threads: 2)) }
            }
            #expect((zip(y2.floats, dense.floats).map { abs($0 - $1) }.max() ?? 0) < 1e-4)
        }
    }

    @Test func tooDenseOrTooWideWeightsStayDense() {
        #expect(SparseMatrix(Self.randomWeight(n: 8, k: 8, density: 1, seed: 1)) == nil)
        #expect(SparseMatrix(Tensor(zeros: [1, 70_000]), maximumDensity: 1) == nil)
    }
}
