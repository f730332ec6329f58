import Foundation
import Tensors
import Testing

@testable import Formats

@Suite("HDF5")
struct HDF5Tests {
    @Test("tensors of every writable dtype round-trip through nested groups")
    func roundTrip() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("t.h5")
        var tensors = SafeTensorsTests.mixedTensors()
        tensors["f.f16"] = nil
        tensors["g.bf16"] = nil
        do {
            let file = try HDF5File(creating: url)
            for (name, t) in tensors { try file.write(t, to: "/deep/er/\(name)") }
            try file.write(Tensor(shape: [1], floats: [7]), to: "top")
            try file.write(Tensor(shape: [2], floats: [8, 9]), to: "top")  // replaces
            try file.createGroup("/empty/group")
            try file.close()
        }
        let file = try HDF5File(readingFrom: url)
        #expect(try file.children(of: "/") == ["deep", "empty", "top"])
        #expect(try file.children(of: "/deep/er") == tensors.keys.sorted())
        #expect(try file.children(of: "/empty/group") == [])
        #expect(file.isGroup("/deep") && file.isGroup("deep/er") && !file.isGroup("/top") && file.isGroup("/"))
        #expect(file.exists("/top") && file.exists("/deep/er/a.i8") && !file.exists("/nope/x") && !file.exists("/deep/nope"))
        for (name, t) in tensors {
            let back = try file.dataset("/deep/er/\(name)")
            #expect(back.bitwiseEqual(t), "tensor \(name): \(back) vs \(t)")
        }
        #expect(try file.dataset("top").floats == [8, 9])
        #expect(throws: FormatError.self) { try file.dataset("/deep") }
        #expect(throws: FormatError.self) { try file.dataset("/missing") }
        #expect(throws: FormatError.self) { try file.children(of: "/top") }
    }

    @Test("float64 datasets are read as float32")
    func float64ToFloat32() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("d.h5")
        let doubles: [Double] = [0.1, -2.5, 1e-3, 3.141592653589793, 1e30, -0.0]
        do {
            let file = try HDF5File(creating: url)
            try file.write(doubles: doubles, shape: [2, 3], to: "x")
        }
        let t = try HDF5File(readingFrom: url).dataset("x")
        #expect(t.dtype == .float32 && t.shape == [2, 3])
        #expect(t.floats == doubles.map { Float($0) })
    }

    @Test("string attributes: variable and fixed length, scalars and arrays")
    func stringAttributes() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("a.h5")
        let names = ["dense", "dense_1", "a_much_longer_name", "é"]
        do {
            let file = try HDF5File(creating: url)
            try file.createGroup("g")
            try file.setAttribute("config", string: "{\"k\": \"v ✓\"}", on: "/")
            try file.setAttribute("vlen", strings: names, on: "g")
            try file.setAttribute("fixed", strings: names, fixedLength: true, on: "g")
            try file.setAttribute("one", strings: ["only"], fixedLength: true, on: "g")
            try file.setAttribute("none", strings: [], on: "g")
            try file.setAttribute("config", string: "replaced", on: "g")
            try file.setAttribute("config", string: "twice", on: "g")
            #expect(throws: FormatError.self) { try file.setAttribute("x", string: "y", on: "/missing") }
        }
        let file = try HDF5File(readingFrom: url)
        #expect(try file.attributeString("config", of: "/") == "{\"k\": \"v ✓\"}")
        #expect(try file.attributeString("config", of: "/g") == "twice")
        #expect(try file.attributeStrings("vlen", of: "g") == names)
        #expect(try file.attributeStrings("fixed", of: "g") == names)
        #expect(try file.attributeString("one", of: "g") == "only")
        #expect(try file.attributeStrings("none", of: "g") == [])
        #expect(try file.attributeString("absent", of: "g") == nil)
        #expect(throws: FormatError.self) { try file.attributeStrings("absent", of: "g") }
        #expect(throws: FormatError.self) { try file.attributeString("vlen", of: "g") }  // four strings, not one
        #expect(throws: FormatError.self) { try file.attributeString("x", of: "/missing") }
    }

    @Test("F16 and BF16 tensors are refused with an error naming the dataset")
    func halfPrecisionRefused() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try HDF5File(creating: dir.appendingPathComponent("h.h5"))
        let half = SafeTensorsTests.mixedTensors()["f.f16"]!
        #expect { try file.write(half, to: "w") } throws: { "\($0)".contains("'/w'") && "\($0)".contains("F16") }
    }

    @Test("reads the Keras digits .h5: names, empty weight_names, tensors match the config")
    func realKerasFile() throws {
        let file = try HDF5File(readingFrom: FormatFixtures.digitsH5)
        let config = try JSONValue.parse(Data(try #require(try file.attributeString("model_config", of: "/")).utf8))
        let configNames = KerasFileContents.layerConfigs(of: config)
            .filter { $0["class_name"]?.string != "InputLayer" }.compactMap { $0["config"]?["name"]?.string }
        let layerNames = try file.attributeStrings("layer_names", of: "/model_weights")
        #expect(layerNames == configNames)
        #expect(try file.children(of: "/model_weights").contains("top_level_model_weights"))
        for layer in KerasFileContents.layerConfigs(of: config) where layer["class_name"]?.string == "Dense" {
            let name = try #require(layer["config"]?["name"]?.string)
            let weightNames = try file.attributeStrings("weight_names", of: "/model_weights/\(name)")
            #expect(weightNames.count == 2)
            let kernel = try file.dataset("/model_weights/\(name)/\(weightNames[0])")
            #expect(kernel.dtype == .float32 && kernel.shape.last == layer["config"]?["units"]?.int)
        }
        for layer in KerasFileContents.layerConfigs(of: config) where layer["class_name"]?.string == "Dropout" {
            let name = try #require(layer["config"]?["name"]?.string)
            #expect(try file.attributeStrings("weight_names", of: "/model_weights/\(name)") == [])
        }
    }

    @Test("in-memory images open without touching disk and never alias each other")
    func memoryImages() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        func image(_ value: Float) throws -> Data {
            let url = dir.appendingPathComponent("img\(value).h5")
            do { try HDF5File(creating: url).write(Tensor(shape: [1], floats: [value]), to: "v") }
            return try Data(contentsOf: url)
        }
        let a = try HDF5File(image: try image(1), name: "same.h5")
        let b = try HDF5File(image: try image(2), name: "same.h5")
        #expect(try a.dataset("v").floats == [1])
        #expect(try b.dataset("v").floats == [2])
        #expect(throws: FormatError.self) { try HDF5File(image: Data("not hdf5 at all".utf8), name: "junk") }
    }

    @Test("concurrent readers are serialized by the global lock")
    func concurrentReads() throws {
        let file = try HDF5File(readingFrom: FormatFixtures.digitsH5)
        let path = "/model_weights/dense_1/digits_mlp/dense_1/kernel"
        let expected = try file.dataset(path)
        let results = ResultBox(count: 16)
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let own = try? HDF5File(readingFrom: FormatFixtures.digitsH5)
            results.set(i, (try? (i % 2 == 0 ? file : own!).dataset(path))?.bitwiseEqual(expected) ?? false)
        }
        #expect(results.all)
    }

    @Test("files that are not HDF5 give a one-line error")
    func notHDF5() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("text.h5")
        try Data("hello, not hdf5\n".utf8).write(to: url)
        #expect { try HDF5File(readingFrom: url) } throws: { "\($0)".contains("text.h5: not an HDF5 file") }
        #expect { try HDF5File(readingFrom: dir.appendingPathComponent("absent.h5")) } throws: {
            ($0 as? FormatError) == .missingFile(dir.appendingPathComponent("absent.h5").path)
        }
    }
}

/// Collects per-thread results for concurrency tests.
final class ResultBox: @unchecked Sendable {
    private var values: [Bool]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: false, count: count) }
    func set(_ i: Int, _ v: Bool) { lock.lock(); values[i] = v; lock.unlock() }
    var all: Bool { lock.lock(); defer { lock.unlock() }; return values.allSatisfy { $0 } }
}
