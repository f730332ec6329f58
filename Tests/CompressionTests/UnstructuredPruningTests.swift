import CKernels
import Compression
import Formats
import Foundation
import Layers
import Runtime
import Tensors
import Testing

/// Masked pruning (unstructured, 1xK blocks, N:M) on the digits CNN: what is kept, in which layout, how much, and
/// that masks survive an update the way the trainer's hook re-applies them.
@Suite(.serialized)
struct UnstructuredPruningTests {
    static func cnn() throws -> LoadedModel {
        let url = StructuredPruningTests.fixture("keras/digits_cnn.keras")
        return LoadedModel(kind: .sequential(try KerasModelLoader.load(url)), source: url, format: "keras-v3")
    }

    static func weights(_ m: LoadedModel) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: m.root.namedParameters().filter { $0.0.hasSuffix(".weight") }.map { ($0.0, $0.1.floats) })
    }

    @Test func perLayerMagnitudeKeepsTheLargestWeightsOfEachLayer() throws {
        let model = try Self.cnn()
        let before = Self.weights(model)
        let masks = try UnstructuredPruner().masks(for: model.root, sparsity: 0.8)
        try masks.apply(to: model.root)
        for (path, w) in Self.weights(model) {
            let original = before[path]!
            let zeros = w.filter { $0 == 0 }.count
            #expect(zeros == Int(Double(w.count) * 0.8), "\(path)")
            let kept = zip(w, original).filter { $0.0 != 0 }.map { abs($0.1) }.min()!
            let pruned = zip(w, original).filter { $0.0 == 0 }.map { abs($0.1) }.max()!
            #expect(kept >= pruned, "\(path): a pruned weight was larger than a kept one")
        }
    }

    @Test func globalScopeUsesOneThreshold() throws {
        let model = try Self.cnn()
        let before = Self.weights(model)
        try UnstructuredPruner(scope: .global).masks(for: model.root, sparsity: 0.9).apply(to: model.root)
        let after = Self.weights(model)
        let all = after.keys.flatMap { p in zip(after[p]!, before[p]!) }
        #expect(all.filter { $0.0 == 0 }.count == Int(Double(all.count) * 0.9))
        #expect(all.filter { $0.0 != 0 }.map { abs($0.1) }.min()! >= all.filter { $0.0 == 0 }.map { abs($0.1) }.max()!)
        // Layers end with different sparsities (the small first conv keeps relatively more, or less: not uniform).
        let perLayer = Set(after.values.map { w in (Double(w.filter { $0 == 0 }.count) / Double(w.count) * 100).rounded() })
        #expect(perLayer.count > 1)
    }

    @Test func twoOfFourKeepsTheTwoLargestOfEveryRun() throws {
        let model = try Self.cnn()
        let before = Self.weights(model)
        // conv1's rows have 9 weights: 2:4 cannot tile them, so it is ignored here (and refused below).
        try UnstructuredPruner(pattern: .nOfM(n: 2, m: 4), ignore: ["conv1"]).masks(for: model.root, sparsity: 0).apply(to: model.root)
        for (path, w) in Self.weights(model) where path != "conv1.weight" {
            let o = before[path]!
            for g in stride(from: 0, to: w.count, by: 4) {
                let kept = (g..<(g + 4)).filter { w[$0] != 0 }
                #expect(kept.count == 2, "\(path) run \(g / 4)")
                let smallestKept = kept.map { abs(o[$0]) }.min()!
                #expect((g..<(g + 4)).filter { w[$0] == 0 }.allSatisfy { abs(o[$0]) <= smallestKept })
            }
        }
        #expect(throws: CompressionError.pruning(key: "structure", message: "2:4 needs rows divisible by 4; 'conv1' has rows of 9")) {
            try UnstructuredPruner(pattern: .nOfM(n: 2, m: 4)).masks(for: model.root, sparsity: 0)
        }
    }

    @Test func blocksGoWhole() throws {
        let model = try Self.cnn()
        try UnstructuredPruner(pattern: .blocks(width: 8), targets: ["fc1", "fc2"]).masks(for: model.root, sparsity: 0.5)
            .apply(to: model.root)
        for (path, w) in Self.weights(model) where path.hasPrefix("fc") {
            let blocks = stride(from: 0, to: w.count, by: 8).map { Array(w[$0..<($0 + 8)]) }
            #expect(blocks.allSatisfy { b in b.allSatisfy { $0 == 0 } || b.allSatisfy { $0 != 0 } }, "\(path)")
            #expect(blocks.filter { $0.allSatisfy { $0 == 0 } }.count == blocks.count / 2)
        }
    }

    @Test func masksAreReappliedAfterAnUpdate() throws {
        let model = try Self.cnn()
        let masks = try UnstructuredPruner(targets: ["fc1"]).masks(for: model.root, sparsity: 0.7)
        try masks.apply(to: model.root)
        // What an optimizer step does: every weight moves, pruned ones included.
        let fc1 = model.root.module(at: "fc1")!
        var w = fc1.parameter("weight")
        w.withUnsafeMutableFloats { for i in 0..<$0.count { $0[i] += 0.01 } }
        try fc1.setParameter("weight", w)
        #expect(PruningMasks.zeroFraction(model.root, paths: ["fc1.weight"]) == 0)
        try masks.apply(to: model.root)
        #expect(abs(PruningMasks.zeroFraction(model.root, paths: ["fc1.weight"]) - masks.sparsity) < 1e-12)
    }

    @Test func cubicScheduleStartsEndsAndSlowsDown() {
        let s = CubicSparsitySchedule(start: 0.1, end: 0.9, steps: 10)
        let values = (0...10).map { s.sparsity(at: $0) }
        #expect(abs(values.first! - 0.1) < 1e-12 && abs(values.last! - 0.9) < 1e-12)
        let steps = zip(values.dropFirst(), values).map { $0 - $1 }
        #expect(steps.allSatisfy { $0 > 0 })
        #expect(zip(steps.dropFirst(), steps).allSatisfy { $0 < $1 })  // most is removed early
    }

    @Test func badPatternsAreRefused() {
        #expect(SparsityPattern(spelling: "4:2") == nil)
        #expect(SparsityPattern(spelling: "2x8") == nil)
        #expect(SparsityPattern(spelling: "1x8") == .blocks(width: 8))
        #expect(SparsityPattern(spelling: "2:4") == .nOfM(n: 2, m: 4))
        #expect(throws: CompressionError.pruning(key: "sparsity", message: "1.0 is outside [0, 1)")) {
            try UnstructuredPruner().masks(for: try Self.cnn().root, sparsity: 1)
        }
    }

    @Test(arguments: [(0.9, "bitmask"), (0.99, "csr")])
    func sparseWeightsRoundTripThroughAnArtifactInTheSmallestEncoding(sparsity: Double, encoding: String) throws {
        let model = try Self.cnn()
        try UnstructuredPruner(targets: ["fc1"]).masks(for: model.root, sparsity: sparsity).apply(to: model.root)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sparse-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let provenance = ArtifactManifest.Provenance(
            source: "cnn", sourceSha256: "-", recipe: nil, toolVersion: "test", createdAt: "now", stages: ["prune"])
        try Artifact.write(model, to: dir, provenance: provenance)
        let manifest = try Artifact.readManifest(dir)
        #expect(manifest.tensors["fc1.weight"]?.encoding == encoding)
        #expect(manifest.tensors["fc1.weight"]?.shape == [64, 512])
        #expect(manifest.tensors["fc2.weight"]?.encoding == "f32")
        let again = try Artifact.load(dir)
        let x = try StructuredPruningTests.reference().tensors["x"]!
        #expect(try again.predict(.tensor(x), on: testExecutor).bitwiseEqual(try model.predict(.tensor(x), on: testExecutor)))
        let stored = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("model.safetensors").path)[.size] as! Int
        #expect(stored < 4 * model.root.parameterCount - 64 * 512 * 2, "fc1 stored sparse: at least half its dense bytes saved")
    }

    @Test func corruptSparsePartsAreNamedErrors() throws {
        var parts = SparseEncoding.encode(Tensor(shape: [2, 4], floats: [0, 1, 0, 0, 0, 0, 2, 0]), name: "w", encoding: "csr")
        parts["w.columns"] = Tensor(shape: [4], integers: [UInt8](arrayLiteral: 1, 0, 9, 0), dtype: .uint8)
        #expect(throws: FormatError.self) { try SparseEncoding.decodeForTesting(name: "w", shape: [2, 4], encoding: "csr", from: &parts) }
    }

    @Test(arguments: [(0.9, "int8-bitmask"), (0.99, "int8-csr")])
    func prunedInt8WeightsRunSparseAndRoundTripThroughAnArtifact(sparsity: Double, encoding: String) throws {
        let model = try Self.cnn()
        try UnstructuredPruner(targets: ["fc1"]).masks(for: model.root, sparsity: sparsity).apply(to: model.root)
        let config = QuantizeConfig(weights: .init(bits: 8), activations: .init(mode: .dynamic))
        try Quantizer(config: config, executor: testExecutor).apply(to: model, calibration: nil)
        let fc1 = try #require(model.root.module(at: "fc1") as? Int8Linear)
        // The blocked form is kept when the measured crossover for this ISA makes it win at some row count.
        let density = 1 - sparsity
        if density < SparseInt8Matrix.maximumUsefulDensity - 0.01 { #expect(fc1.sparseKernel != nil) }
        if density > SparseInt8Matrix.maximumUsefulDensity + 0.01 { #expect(fc1.sparseKernel == nil) }
        if let kernel = fc1.sparseKernel { #expect(kernel.kind == "int8-b4" && kernel.density <= density + 0.01) }
        #expect((model.root.module(at: "fc2") as? Int8Linear)?.sparseKernel == nil, "dense layers stay on the dense GEMM")
        // The layer's output is the dense int8 kernel's, bit for bit (a batch of 1 and of 32 rows).
        for rows in [1, 32] {
            let k = fc1.inFeatures, n = fc1.outFeatures
            let x = (0..<(rows * k)).map { Float(($0 * 7919) % 23) / 11 - 1 }
            var q = [UInt8](repeating: 0, count: rows * k), sa = [Float](repeating: 0, count: rows)
            var zp = [Int32](repeating: 0, count: rows)
            ck_quantize_rows_u8(x, rows, k, &q, &sa, &zp)
            let packed = UnsafeMutableRawPointer.allocate(byteCount: ck_packed_b_size(n, k), alignment: 64)
            defer { packed.deallocate() }
            fc1.parameter("weight").withUnsafeElements(as: Int8.self) { ck_pack_b_s8($0.baseAddress!, n, k, packed) }
            var expected = [Float](repeating: 0, count: rows * n), got = [Float](repeating: 0, count: rows * n)
            fc1.parameter("weight_scale").withUnsafeFloats { ws in
                ck_gemm_u8s8_f32(q, k, sa, zp, packed, ws.baseAddress!, nil, &expected, n, rows, n, k, 0, n)
            }
            fc1.matmul(x, rows: rows, into: &got, on: testExecutor)
            #expect(expected.elementsEqual(got) { $0.bitPattern == $1.bitPattern }, "rows \(rows)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sparse-int8-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let provenance = ArtifactManifest.Provenance(
            source: "cnn", sourceSha256: "-", recipe: nil, toolVersion: "test", createdAt: "now", stages: ["prune", "quantize"])
        try Artifact.write(model, to: dir, provenance: provenance)
        let manifest = try Artifact.readManifest(dir)
        #expect(manifest.tensors["fc1.weight"]?.encoding == encoding)
        #expect(manifest.tensors["fc1.weight"]?.dtype == "I8")
        #expect(manifest.tensors["fc2.weight"]?.encoding == "int8-per-channel")
        let again = try Artifact.load(dir)
        #expect(again.root.module(at: "fc1")!.parameter("weight").bitwiseEqual(fc1.parameter("weight")))
        let x = try StructuredPruningTests.reference().tensors["x"]!
        #expect(try again.predict(.tensor(x), on: testExecutor).bitwiseEqual(try model.predict(.tensor(x), on: testExecutor)))
    }

    @Test func corruptSparseInt8PartsAreNamedErrors() throws {
        let w = Tensor(shape: [2, 4], integers: [Int8](arrayLiteral: 0, 1, 0, 0, 0, 0, -2, 0), dtype: .int8)
        var parts = SparseEncoding.encode(w, name: "w", encoding: "int8-bitmask")
        var good = parts
        #expect(try SparseEncoding.decodeForTesting(name: "w", shape: [2, 4], encoding: "int8-bitmask", from: &good).bitwiseEqual(w))
        parts["w.values"] = Tensor(shape: [2], floats: [1, -2])
        #expect(throws: FormatError.self) { try SparseEncoding.decodeForTesting(name: "w", shape: [2, 4], encoding: "int8-bitmask", from: &parts) }
    }
}
