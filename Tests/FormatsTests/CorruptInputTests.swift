import Foundation
import Tensors
import Testing

@testable import Formats

/// Damaged and malformed inputs must give a one-line `FormatError` naming the file (and the tensor, layer or
/// field), never a crash or HDF5's multi-line error stack.
@Suite("Corrupt inputs")
struct CorruptInputTests {
    static func expectOneLineError(
        _ file: String, _ fragments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("\(file): expected an error", sourceLocation: sourceLocation)
        } catch let error as FormatError {
            let text = error.description
            #expect(!text.contains("\n"), "multi-line: \(text)", sourceLocation: sourceLocation)
            #expect(text.contains(file), "\(text) does not name \(file)", sourceLocation: sourceLocation)
            for f in fragments { #expect(text.contains(f), "\(text) lacks '\(f)'", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("not a FormatError: \(error)", sourceLocation: sourceLocation)
        }
    }

    static var realFiles: [URL] {
        [FormatFixtures.digitsH5, FormatFixtures.digitsKeras, FormatFixtures.digitsReference, FormatFixtures.minilmReference]
            + FormatFixtures.kerasPairs.dropFirst().flatMap {
                [URL(fileURLWithPath: $0.path + ".h5"), URL(fileURLWithPath: $0.path + ".keras")]
            }
    }

    @Test("real files truncated at 0, 100, half and size-10 bytes", arguments: realFiles)
    func truncated(_ source: URL) throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Data(contentsOf: source)
        for cut in [0, 100, data.count / 2, data.count - 10] {
            let url = dir.appendingPathComponent("cut\(cut)-\(source.lastPathComponent)")
            try data.prefix(cut).write(to: url)
            Self.expectOneLineError(url.lastPathComponent) {
                if source.pathExtension == "safetensors" { _ = try SafeTensors.read(url) } else { _ = try KerasFile.read(url) }
            }
        }
    }

    /// A valid file with one tensor, then its header replaced by `header` (data section kept, 16 bytes).
    static func safetensors(header: String, data: Int = 16) -> Data {
        var bytes = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(Data(header.utf8))
        bytes.append(Data(repeating: 0, count: data))
        return bytes
    }

    @Test("malformed safetensors headers name the tensor and the problem")
    func safetensorsHeaders() throws {
        let w = "encoder.layer.0.attention.self.query.weight"
        let cases: [(String, [String])] = [
            ("[1, 2]", ["not a JSON object"]),
            ("{\"a\": ", ["not valid JSON"]),
            ("{\"\(w)\": {\"dtype\": \"F64\", \"shape\": [2], \"data_offsets\": [0, 16]}}", [w, "'F64'"]),
            ("{\"\(w)\": {\"shape\": [4], \"data_offsets\": [0, 16]}}", [w, "dtype"]),
            ("{\"\(w)\": {\"dtype\": \"F32\", \"shape\": [-4], \"data_offsets\": [0, 16]}}", [w, "non-negative"]),
            ("{\"\(w)\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 16]}}", [w, "shape"]),
            ("{\"\(w)\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0]}}", [w, "data_offsets"]),
            ("{\"\(w)\": {\"dtype\": \"F32\", \"shape\": [150], \"data_offsets\": [0, 600]}}", [w, "[0, 600)", "data section (16 bytes)"]),
            ("{\"\(w)\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 0]}}", [w, "reversed"]),
            ("{\"\(w)\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 16]}}", [w, "12"]),
            (
                "{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 12]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}",
                ["'a'", "'b'", "overlap"]
            ),
            ("{\"__metadata__\": {\"k\": 1}}", ["'k'", "not a string"]),
            ("{\"__metadata__\": [1]}", ["__metadata__"]),
            ("{\"x\": {\"dtype\": \"F32\", \"shape\": [9223372036854775807, 4], \"data_offsets\": [0, 16]}}", ["'x'"]),
        ]
        for (header, fragments) in cases {
            Self.expectOneLineError("bad.safetensors", fragments) {
                _ = try SafeTensors.read(data: Self.safetensors(header: header), name: "bad.safetensors")
            }
        }
        // Header length fields that lie.
        var huge = Self.safetensors(header: "{}")
        huge.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
        Self.expectOneLineError("bad.safetensors", ["exceeds the file size"]) {
            _ = try SafeTensors.read(data: huge, name: "bad.safetensors")
        }
        Self.expectOneLineError("bad.safetensors", ["shorter than"]) {
            _ = try SafeTensors.read(data: Data([1, 2]), name: "bad.safetensors")
        }
        // Empty tensors may share an offset; valid files still read.
        let ok =
            "{\"e\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [4, 4]}, \"f\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}"
        let (tensors, _) = try SafeTensors.read(data: Self.safetensors(header: ok), name: "ok")
        #expect(tensors["e"]?.shape == [0] && tensors["f"]?.floats == [0, 0, 0, 0])
        // A missing file is a missingFile error.
        #expect(throws: FormatError.missingFile("/nonexistent/model.safetensors")) {
            try SafeTensors.read(URL(fileURLWithPath: "/nonexistent/model.safetensors"))
        }
    }

    @Test("broken .keras archives name the missing member, the JSON error, or the layer without weights")
    func brokenKerasArchives() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try KerasFileBuilder.hdf5(in: dir) { f in
            try f.write(Tensor(shape: [3, 1], floats: [1, 2, 3]), to: "layers/dense/vars/0")
            try f.setAttribute("name", string: "fc", on: "layers/dense/vars")
        }
        let goodConfig = KerasFileBuilder.sequentialConfig([("Dense", "fc")])
        let cases: [(String, [(String, Data)], [String])] = [
            ("noconfig.keras", [("model.weights.h5", weights)], ["config.json"]),
            (
                "badjson.keras", [("config.json", Data("{\"class_name\": ".utf8)), ("model.weights.h5", weights)],
                ["config.json", "not valid JSON"]
            ),
            ("noclass.keras", [("config.json", Data("{\"config\": {}}".utf8)), ("model.weights.h5", weights)], ["class_name"]),
            ("noweights.keras", [("config.json", goodConfig)], ["model.weights.h5"]),
            ("badweights.keras", [("config.json", goodConfig), ("model.weights.h5", Data("not hdf5".utf8))], ["model.weights.h5"]),
            (
                "missinglayer.keras",
                [
                    ("config.json", KerasFileBuilder.sequentialConfig([("Dense", "fc"), ("Dense", "head")])),
                    ("model.weights.h5", weights),
                ], ["layer 'head' (Dense)", "layers/dense_1"]
            ),
        ]
        for (name, members, fragments) in cases {
            let url = dir.appendingPathComponent(name)
            try KerasFileBuilder.zip(members, to: url)
            Self.expectOneLineError(name, fragments) { _ = try KerasFile.read(url) }
        }
        let good = dir.appendingPathComponent("good.keras")
        try KerasFileBuilder.zip([("config.json", goodConfig), ("model.weights.h5", weights)], to: good)
        #expect(try KerasFile.read(good).layerWeights["fc"]?.first?.floats == [1, 2, 3])
    }

    @Test("broken legacy .h5 files name the attribute, layer or weight at fault")
    func brokenLegacyFiles() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = String(decoding: KerasFileBuilder.sequentialConfig([("Dense", "fc"), ("Dense", "head")]), as: UTF8.self)
        func build(_ name: String, _ body: (HDF5File) throws -> Void) throws -> URL {
            let url = dir.appendingPathComponent(name)
            try KerasFileBuilder.hdf5(in: dir, body).write(to: url)
            return url
        }
        func weights(_ f: HDF5File, layers: [String], listed: [String]? = nil) throws {
            try f.createGroup("model_weights")
            try f.setAttribute("layer_names", strings: listed ?? layers, on: "model_weights")
            for layer in layers {
                try f.write(Tensor(shape: [1, 1], floats: [1]), to: "model_weights/\(layer)/m/\(layer)/kernel")
                try f.setAttribute("weight_names", strings: ["m/\(layer)/kernel"], on: "model_weights/\(layer)")
            }
        }
        let cases: [(URL, [String])] = [
            (try build("noconfig.h5") { try weights($0, layers: ["fc", "head"]) }, ["model_config"]),
            (
                try build("badjson.h5") { f in
                    try f.setAttribute("model_config", string: "{oops", on: "/")
                    try weights(f, layers: ["fc", "head"])
                }, ["model_config", "not valid JSON"]
            ),
            (
                try build("nolayernames.h5") { f in
                    try f.setAttribute("model_config", string: config, on: "/")
                    try f.createGroup("model_weights/fc")
                }, ["layer_names"]
            ),
            (
                try build("missinglayer.h5") { f in
                    try f.setAttribute("model_config", string: config, on: "/")
                    try weights(f, layers: ["fc"])
                }, ["layer 'head' (Dense)", "/model_weights/head"]
            ),
            (
                try build("listedbutabsent.h5") { f in
                    try f.setAttribute("model_config", string: config, on: "/")
                    try weights(f, layers: ["fc"], listed: ["fc", "head"])
                }, ["layer 'head'", "'/model_weights/head'"]
            ),
            (
                try build("missingweight.h5") { f in
                    try f.setAttribute("model_config", string: config, on: "/")
                    try weights(f, layers: ["fc", "head"])
                    try f.setAttribute("weight_names", strings: ["m/head/kernel", "m/head/bias"], on: "model_weights/head")
                }, ["layer 'head'", "model_weights/head/m/head/bias"]
            ),
        ]
        for (url, fragments) in cases {
            Self.expectOneLineError(url.lastPathComponent, fragments) { _ = try KerasFile.read(url) }
        }
    }

    @Test("files that are neither HDF5 nor zip")
    func foreignFiles() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, fragment) in [("junk.h5", "not an HDF5 file"), ("junk.keras", "zip"), ("junk.bin", "not a Keras model")] {
            let url = dir.appendingPathComponent(name)
            try Data("this is plain text, not a model\n".utf8).write(to: url)
            Self.expectOneLineError(name, [fragment]) { _ = try KerasFile.read(url) }
        }
        Self.expectOneLineError("absent.keras", ["no such file"]) { _ = try KerasFile.read(dir.appendingPathComponent("absent.keras")) }
    }

    @Test("atomic directory replacement keeps the old directory on failure and swaps on success")
    func atomicDirectory() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("artifact")
        try withTemporaryDirectoryReplacing(target, ownership: .artifact) { try Data("v1".utf8).write(to: $0.appendingPathComponent("f")) }
        #expect(try String(contentsOf: target.appendingPathComponent("f"), encoding: .utf8) == "v1")
        #expect(throws: FormatError.self) {
            try withTemporaryDirectoryReplacing(target, ownership: .artifact) { tmp in
                try Data("v2".utf8).write(to: tmp.appendingPathComponent("f"))
                throw FormatError.invalid(file: "x", message: "stage failed")
            }
        }
        #expect(try String(contentsOf: target.appendingPathComponent("f"), encoding: .utf8) == "v1")
        try withTemporaryDirectoryReplacing(target, ownership: .artifact) { try Data("v3".utf8).write(to: $0.appendingPathComponent("g")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).sorted() == [".compress-artifact", "g"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["artifact"])
        try writeAtomically(Data("x".utf8), to: dir.appendingPathComponent("file"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["artifact", "file"])
    }
}
