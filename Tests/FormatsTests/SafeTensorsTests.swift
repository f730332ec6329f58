import Foundation
import Tensors
import Testing

@testable import Formats

/// Paths of the fixtures used by the Formats tests, found from this file's location (symlinks resolved, so a
/// scratch package that links `Tests/FormatsTests` still finds the repository).
enum FormatFixtures {
    /// `<repo>`: three levels up from `Tests/FormatsTests/<file>.swift`.
    static let repo: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `<repo>/../shared/fixtures` (read-only shared fixtures).
    static let shared = repo.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    static let minilmReference = shared.appendingPathComponent("minilm/reference.safetensors")
    static let minilmSentences = shared.appendingPathComponent("minilm/sentences.txt")
    static let digitsReference = shared.appendingPathComponent("keras/digits_mlp_reference.safetensors")
    static let digitsH5 = shared.appendingPathComponent("keras/digits_mlp.h5")
    static let digitsKeras = shared.appendingPathComponent("keras/digits_mlp.keras")
    /// `<repo>/Tests/Fixtures/keras/<name>` (digits_cnn, layer_zoo).
    static func keras(_ name: String) -> URL { repo.appendingPathComponent("Tests/Fixtures/keras/\(name)") }

    /// Model base names with both a `.h5` and a `.keras` file saved from the same model.
    static var kerasPairs: [URL] {
        [shared.appendingPathComponent("keras/digits_mlp"), keras("digits_cnn"), keras("layer_zoo")]
            .filter { FileManager.default.fileExists(atPath: $0.path + ".h5") }
    }

    /// The tools venv Python (with numpy, h5py, safetensors), when installed.
    static var python: URL? {
        let venv = ProcessInfo.processInfo.environment["TOOLS_VENV"] ?? "/opt/compress-tools-venv"
        let url = URL(fileURLWithPath: venv).appendingPathComponent("bin/python")
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }

    /// A fresh temporary directory, removed by the caller's `defer`.
    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("formats-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs the tools Python on `script` with `args`; returns stdout.
    static func runPython(_ script: String, _ args: [String]) throws -> String {
        let process = Process()
        process.executableURL = python!
        process.arguments = ["-c", script] + args
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FormatError.invalid(file: "python", message: String(decoding: errData, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite("SafeTensors")
struct SafeTensorsTests {
    @Test("reads the MiniLM reference written by Python safetensors; tensors borrow the mapping")
    func readsMiniLMReference() throws {
        let (tensors, metadata) = try SafeTensors.read(FormatFixtures.minilmReference)
        let embeddings = try #require(tensors["embeddings"])
        let mask = try #require(tensors["attention_mask"])
        let lengths = try #require(tensors["lengths"])
        #expect(embeddings.dtype == .float32 && mask.dtype == .int64 && lengths.dtype == .int64)
        #expect(embeddings.storage.isBorrowed)

        // One embedding per sentence of the fixture's input file.
        let sentences = try String(contentsOf: FormatFixtures.minilmSentences, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: true)
        #expect(embeddings.shape[0] == sentences.count)
        // The mask's row sums are the recorded lengths (checks the I64 payload and offsets).
        let maskValues = mask.int64s, lengthValues = lengths.int64s
        let columns = mask.shape[1]
        for row in 0..<mask.shape[0] {
            #expect(maskValues[(row * columns)..<((row + 1) * columns)].reduce(0, +) == lengthValues[row])
        }
        // The reference says the embeddings are L2-normalized.
        #expect(metadata["normalize"] == "True")
        let width = embeddings.shape[1]
        let values = embeddings.floats
        for row in 0..<embeddings.shape[0] {
            let norm = values[(row * width)..<((row + 1) * width)].reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-4)
        }
    }

    @Test("reads the Keras digits reference: probabilities sum to one, labels are digits")
    func readsDigitsReference() throws {
        let (tensors, metadata) = try SafeTensors.read(FormatFixtures.digitsReference)
        let probs = try #require(tensors["probs"]), x = try #require(tensors["x_test"]), y = try #require(tensors["y_test"])
        #expect(metadata["test_accuracy"] != nil)
        #expect(x.shape.first == probs.shape[0] && y.shape == [probs.shape[0]])
        let p = probs.floats, classes = probs.shape[1]
        for row in 0..<probs.shape[0] {
            #expect(abs(p[(row * classes)..<((row + 1) * classes)].reduce(0, +) - 1) < 1e-4)
        }
        #expect(y.int64s.allSatisfy { (0..<Int64(classes)).contains($0) })
    }

    @Test("write then read is bitwise identical", arguments: [FormatFixtures.minilmReference, FormatFixtures.digitsReference])
    func roundTrip(_ source: URL) throws {
        let (tensors, metadata) = try SafeTensors.read(source)
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("copy.safetensors")
        try SafeTensors.write(tensors, metadata: metadata, to: copy)
        let (back, backMetadata) = try SafeTensors.read(copy)
        #expect(backMetadata == metadata)
        #expect(Set(back.keys) == Set(tensors.keys))
        for (name, t) in tensors { #expect(back[name]!.bitwiseEqual(t), "tensor \(name)") }
        // The in-memory reader agrees with the mmap reader.
        let (fromData, _) = try SafeTensors.read(data: try Data(contentsOf: copy), name: "copy")
        for (name, t) in tensors { #expect(fromData[name]!.bitwiseEqual(t), "tensor \(name)") }
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["copy.safetensors"])
    }

    static func mixedTensors() -> [String: Tensor] {
        [
            "b.f32": Tensor(shape: [2, 3], floats: [1, -2, 3.5, 4, 5, 6]),
            "a.i8": Tensor(shape: [3], integers: [Int8(-1), 0, 7], dtype: .int8),
            "c.u8": Tensor(shape: [1], integers: [UInt8(255)], dtype: .uint8),
            "d.i64": Tensor(shape: [2], integers: [Int64.min, Int64.max], dtype: .int64),
            "e.i32": Tensor(shape: [2, 1], integers: [Int32(-5), 9], dtype: .int32),
            "f.f16": Tensor(
                shape: [3], integers: [Float16(1.5).bitPattern, Float16(-2).bitPattern, Float16(0.25).bitPattern], dtype: .float16),
            "g.bf16": Tensor(shape: [1], integers: [UInt16(0x3F80)], dtype: .bfloat16),
            "h.empty": Tensor(zeros: [0, 4]),
            "i.scalar": Tensor(shape: [], floats: [42]),
        ]
    }

    @Test("encoding is deterministic, 8-byte padded, and aligns every tensor to its element size")
    func deterministicAndAligned() throws {
        let tensors = Self.mixedTensors()
        let metadata = ["format": "pt", "note": "quote \" backslash \\ newline \n é"]
        let a = try SafeTensors.encode(tensors, metadata: metadata)
        var reordered: [String: Tensor] = [:]
        for key in tensors.keys.sorted().reversed() { reordered[key] = tensors[key] }
        let b = try SafeTensors.encode(reordered, metadata: metadata)
        #expect(a == b)
        let headerLength = Int(a.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        #expect(headerLength % 8 == 0)
        let header = try JSONValue.parse(a.subdata(in: 8..<(8 + headerLength)))
        for (name, t) in tensors {
            let begin = try #require(header[name]?["data_offsets"]?[0]?.int)
            #expect((8 + headerLength + begin) % t.dtype.byteSize == 0, "tensor \(name)")
        }
        let (back, backMetadata) = try SafeTensors.read(data: a, name: "mixed")
        #expect(backMetadata == metadata)
        for (name, t) in tensors { #expect(back[name]!.bitwiseEqual(t), "tensor \(name)") }
        #expect(throws: FormatError.self) { try SafeTensors.encode(["__metadata__": Tensor(zeros: [1])]) }
    }

    @Test(
        "Python safetensors reads our files and we read its files",
        .enabled(if: FormatFixtures.python != nil, "needs the tools venv (tools/setup_venv.sh)"))
    func pythonInterop() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Swift → Python: every dtype numpy has (bf16 has no numpy dtype).
        var tensors = Self.mixedTensors()
        tensors["g.bf16"] = nil
        let ours = dir.appendingPathComponent("ours.safetensors")
        try SafeTensors.write(tensors, metadata: ["producer": "swift"], to: ours)
        let readScript = """
            import json, sys
            from safetensors import safe_open
            with safe_open(sys.argv[1], framework="numpy") as f:
                out = {"__metadata__": f.metadata()}
                for k in f.keys():
                    a = f.get_tensor(k)
                    out[k] = {"dtype": str(a.dtype), "shape": list(a.shape), "values": [float(v) for v in a.reshape(-1)]}
            print(json.dumps(out))
            """
        let seen = try JSONValue.parse(Data(try FormatFixtures.runPython(readScript, [ours.path]).utf8))
        #expect(seen["__metadata__"]?["producer"]?.string == "swift")
        for (name, t) in tensors {
            let entry = try #require(seen[name], "python did not see \(name)")
            #expect(entry["shape"]?.array?.compactMap(\.int) == t.shape, "tensor \(name)")
            let values = entry["values"]?.array?.compactMap(\.double) ?? []
            let expected: [Double] = t.dtype.isFloatingPoint ? t.floats.map(Double.init) : t.int64s.map(Double.init)
            #expect(values == expected, "tensor \(name)")
        }

        // Python → Swift: arrays of every numpy dtype we support, and their values as JSON.
        let theirs = dir.appendingPathComponent("theirs.safetensors")
        let writeScript = """
            import json, sys
            import numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(0)
            arrays = {
                "f32": rng.standard_normal((3, 5)).astype(np.float32),
                "f16": rng.standard_normal((4,)).astype(np.float16),
                "i64": rng.integers(-2**40, 2**40, (2, 2)).astype(np.int64),
                "i32": rng.integers(-2**30, 2**30, (5,)).astype(np.int32),
                "i8": rng.integers(-128, 128, (7,)).astype(np.int8),
                "u8": rng.integers(0, 256, (2, 3, 1)).astype(np.uint8),
            }
            save_file(arrays, sys.argv[1], metadata={"producer": "python"})
            print(json.dumps({k: {"shape": list(a.shape), "values": [float(v) for v in a.reshape(-1)]} for k, a in arrays.items()}))
            """
        let expected = try JSONValue.parse(Data(try FormatFixtures.runPython(writeScript, [theirs.path]).utf8))
        let (read, metadata) = try SafeTensors.read(theirs)
        #expect(metadata == ["producer": "python"])
        for (name, entry) in try #require(expected.object) {
            let t = try #require(read[name], "missing \(name)")
            #expect(t.shape == entry["shape"]?.array?.compactMap(\.int), "tensor \(name)")
            let values: [Double] = t.dtype.isFloatingPoint ? t.floats.map(Double.init) : t.int64s.map(Double.init)
            #expect(values == entry["values"]?.array?.compactMap(\.double), "tensor \(name)")
        }
    }
}
