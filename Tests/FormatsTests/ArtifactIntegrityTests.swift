import Formats
import Foundation
import Layers
import Runtime
import Tensors
import Testing

/// Corrupted or crafted artifacts fail at load with the file and tensor named (issue 7): checksums, quantization
/// parameters, paths that leave the directory, unknown keys and encodings, missing manifest entries.
struct ArtifactIntegrityTests {
    /// The digits MLP fixture with `fc2` replaced by a static-activation Int8Linear, written as an artifact.
    static func writeQuantizedMLP(to dir: URL) throws -> URL {
        let model = try ModelLoader.load(TestPaths.fixture("mlp/digits_mlp.safetensors").path)
        let q = Int8Linear(
            name: "fc2", inFeatures: 128, outFeatures: 64, useBias: true, activation: .relu, mode: .static, inputScale: false)
        try q.setParameter(
            "weight", Tensor(shape: [64, 128], integers: (0..<(64 * 128)).map { Int8(truncatingIfNeeded: $0 % 7 - 3) }, dtype: .int8))
        try q.setParameter("weight_scale", Tensor(shape: [64], floats: .init(repeating: 0.01, count: 64)))
        try q.setParameter("act_scale", Tensor(shape: [1], floats: [0.05]))
        try q.setParameter("act_zero_point", Tensor(shape: [1], integers: [Int32(0)], dtype: .int32))
        try model.root.replaceModule(at: "fc2", with: q)
        let out = dir.appendingPathComponent("mlp-int8")
        try Artifact.write(model, to: out, provenance: ArtifactTests.provenance("mlp"))
        return out
    }

    /// Rewrites one tensor of the artifact's weights (and its checksum, so only the tensor check can fire).
    static func replaceTensor(_ name: String, in artifact: URL, with t: Tensor) throws {
        let url = artifact.appendingPathComponent("model.safetensors")
        var tensors = try SafeTensors.read(url).tensors
        tensors[name] = t
        let data = try SafeTensors.encode(tensors, metadata: ["format": "compress-artifact-v1"])
        try data.write(to: url)
        var h = SHA256()
        h.update(data)
        try editManifest(artifact) { $0["weightsSha256"] = h.finalize() }
    }

    static func editManifest(_ artifact: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = artifact.appendingPathComponent("model.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
    }

    static func loadError(_ artifact: URL, verify: Bool = true) -> String? {
        do { _ = try ModelLoader.load(artifact.path, verify: verify); return nil } catch { return "\(error)" }
    }

    @Test func writtenArtifactRecordsAndPassesItsChecksum() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Self.writeQuantizedMLP(to: dir)
        let manifest = try Artifact.readManifest(a)
        #expect(manifest.version == 2)
        #expect(manifest.weightsSha256 == (try SHA256.hex(ofFile: a.appendingPathComponent("model.safetensors"))))
        #expect(Self.loadError(a) == nil)
    }

    @Test func flippedByteIsDetectedUnlessVerificationIsOff() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Self.writeQuantizedMLP(to: dir)
        let url = a.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 3] ^= 0x01  // inside fc3's bias: still a valid file, a different model
        try bytes.write(to: url)
        #expect(Self.loadError(a)?.contains("does not match model.json's weightsSha256") == true)
        #expect(Self.loadError(a, verify: false) == nil)
    }

    @Test func version2WithoutChecksumIsRejected() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Self.writeQuantizedMLP(to: dir)
        try Self.editManifest(a) { $0["weightsSha256"] = nil }
        #expect(Self.loadError(a)?.contains("weightsSha256") == true)
        // Version 1 artifacts predate the checksum and load unverified.
        try Self.editManifest(a) { $0["version"] = 1 }
        #expect(Self.loadError(a) == nil)
    }

    struct BadParameter: Sendable, CustomTestStringConvertible {
        let tensor: String
        let value: Tensor
        let expected: String
        var testDescription: String { "\(tensor) \(value.floats.prefix(2))" }
    }

    static let badParameters: [BadParameter] = [
        .init(tensor: "fc2.weight_scale", value: Tensor(shape: [64], floats: [0] + .init(repeating: 0.01, count: 63)), expected: "scale 0"),
        .init(tensor: "fc2.weight_scale", value: Tensor(shape: [64], floats: [.nan] + .init(repeating: 0.01, count: 63)), expected: "NaN"),
        .init(
            tensor: "fc2.weight_scale", value: Tensor(shape: [64], floats: [.infinity] + .init(repeating: 0.01, count: 63)), expected: "inf"
        ),
        .init(
            tensor: "fc2.weight_scale", value: Tensor(shape: [64], floats: [-0.01] + .init(repeating: 0.01, count: 63)), expected: "-0.01"),
        .init(tensor: "fc2.act_scale", value: Tensor(shape: [1], floats: [0]), expected: "act_scale"),
        .init(tensor: "fc2.act_zero_point", value: Tensor(shape: [1], integers: [Int32(300)], dtype: .int32), expected: "outside 0...255"),
        .init(
            tensor: "fc1.weight", value: Tensor(shape: [128, 64], floats: [.nan] + .init(repeating: 0, count: 128 * 64 - 1)),
            expected: "fc1.weight"),
    ]

    @Test(arguments: badParameters)
    func invalidQuantizationParametersAndNonFiniteWeightsAreRejected(_ bad: BadParameter) throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Self.writeQuantizedMLP(to: dir)
        try Self.replaceTensor(bad.tensor, in: a, with: bad.value)
        let message = try #require(Self.loadError(a))
        #expect(message.contains(bad.expected), "\(message)")
        #expect(message.contains(bad.tensor), "\(message)")
    }

    @Test(arguments: ["../../../../etc/passwd", "/etc/passwd", "sub/../../x.safetensors", "weights.bin"])
    func weightsFileMustBeTheArtifactsOwn(_ name: String) throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Self.writeQuantizedMLP(to: dir)
        try Self.editManifest(a) { $0["weightsFile"] = name }
        let message = try #require(Self.loadError(a))
        #expect(message.contains("weightsFile"), "\(message)")
    }

    @Test func symlinkOutOfTheArtifactIsRefused() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Self.writeQuantizedMLP(to: dir)
        let weights = a.appendingPathComponent("model.safetensors")
        let outside = dir.appendingPathComponent("elsewhere.safetensors")
        try FileManager.default.moveItem(at: weights, to: outside)
        try FileManager.default.createSymbolicLink(at: weights, withDestinationURL: outside)
        #expect(Self.loadError(a)?.contains("outside the artifact directory") == true)
    }

    @Test func unknownKeysEncodingsAndUnlistedTensorsAreRejected() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Self.writeQuantizedMLP(to: dir)
        let original = try Data(contentsOf: a.appendingPathComponent("model.json"))
        func restore() throws { try original.write(to: a.appendingPathComponent("model.json")) }

        try Self.editManifest(a) { $0["weightsFil"] = "model.safetensors" }
        #expect(Self.loadError(a)?.contains("unknown key 'weightsFil'") == true)
        try restore()
        try Self.editManifest(a) {
            var tensors = $0["tensors"] as! [String: Any]
            var entry = tensors["fc2.weight"] as! [String: Any]
            entry["encoding"] = "int3-magic"
            tensors["fc2.weight"] = entry
            $0["tensors"] = tensors
        }
        #expect(Self.loadError(a)?.contains("encoding 'int3-magic'") == true)
        try restore()
        try Self.editManifest(a) {
            var tensors = $0["tensors"] as! [String: Any]
            tensors["fc3.bias"] = nil
            $0["tensors"] = tensors
        }
        #expect(Self.loadError(a)?.contains("'fc3.bias' is not listed in model.json") == true)
        try restore()
        try Self.editManifest(a) {
            var p = $0["provenance"] as! [String: Any]
            p["signedBy"] = "me"
            $0["provenance"] = p
        }
        #expect(Self.loadError(a)?.contains("unknown key 'provenance.signedBy'") == true)
    }

    @Test func outputLockRefusesASecondHolder() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run")
        let first = try OutputLock(for: out)
        #expect(throws: FormatError.self) { try OutputLock(for: out) }
        do { _ = try OutputLock(for: out) } catch { #expect("\(error)".contains("already running")) }
        first.release()
        _ = try OutputLock(for: out)
    }

    @Test func interruptedRunLeftoversAreCleanedAndAMovedAsidePreviousIsRestored() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run")
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent(".run.tmp-abc/model"), withIntermediateDirectories: true)
        try fm.createDirectory(at: dir.appendingPathComponent(".run.old-xyz"), withIntermediateDirectories: true)
        try Data("previous".utf8).write(to: dir.appendingPathComponent(".run.old-xyz/metrics.json"))
        let lock = try OutputLock(for: out)
        lock.recoverInterruptedRuns(of: out)
        #expect(fm.fileExists(atPath: out.appendingPathComponent("metrics.json").path))
        #expect(try fm.contentsOfDirectory(atPath: dir.path).sorted() == [".run.lock", "run"])
    }
}
