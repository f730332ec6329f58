import Foundation
import Tensors
import Testing
import ZIPFoundation

@testable import Formats

/// Builders for synthetic Keras files (error cases and layouts the real fixtures do not cover).
enum KerasFileBuilder {
    /// An HDF5 file built by `body`, returned as bytes.
    static func hdf5(in dir: URL, _ body: (HDF5File) throws -> Void) throws -> Data {
        let url = dir.appendingPathComponent("build-\(UUID().uuidString).h5")
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let file = try HDF5File(creating: url)
            try body(file)
            try file.close()
        }
        return try Data(contentsOf: url)
    }

    /// A zip at `url` with the given members.
    static func zip(_ members: [(String, Data)], to url: URL) throws {
        let archive = try Archive(url: url, accessMode: .create)
        for (name, data) in members {
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) {
                position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
    }

    /// A Sequential `config.json` with an InputLayer and `layers` as (class, name).
    static func sequentialConfig(_ layers: [(String, String)]) -> Data {
        var items: [JSONValue] = [
            .object([
                "class_name": .string("InputLayer"),
                "config": .object(["name": .string("input"), "batch_shape": .array([.null, .int(3)])]),
            ])
        ]
        for (cls, name) in layers {
            items.append(.object(["class_name": .string(cls), "config": .object(["name": .string(name), "units": .int(1)])]))
        }
        return JSONValue.object([
            "class_name": .string("Sequential"),
            "config": .object(["name": .string("m"), "layers": .array(items)]),
        ]).serialized()
    }
}

@Suite("KerasFile")
struct KerasFileTests {
    @Test(
        "legacy .h5 and .keras saves of the same model give the same layers and bitwise-equal weights",
        arguments: FormatFixtures.kerasPairs)
    func formatsAgree(_ base: URL) throws {
        let legacy = try KerasFile.read(URL(fileURLWithPath: base.path + ".h5"))
        let v3 = try KerasFile.read(URL(fileURLWithPath: base.path + ".keras"))
        #expect(legacy.format == .legacyH5 && v3.format == .kerasV3)
        #expect(legacy.kerasVersion != nil && legacy.kerasVersion == v3.kerasVersion)
        #expect(legacy.modelConfig["class_name"] == v3.modelConfig["class_name"])
        let names = legacy.layerConfigs.compactMap { $0["config"]?["name"]?.string }
        #expect(names == v3.layerConfigs.compactMap { $0["config"]?["name"]?.string })
        #expect(Set(legacy.layerWeights.keys) == Set(v3.layerWeights.keys))
        for (layer, tensors) in legacy.layerWeights {
            let other = try #require(v3.layerWeights[layer])
            #expect(tensors.count == other.count, "layer \(layer)")
            for (a, b) in zip(tensors, other) { #expect(a.bitwiseEqual(b), "layer \(layer)") }
            #expect(legacy.weightPaths[layer]?.count == tensors.count && v3.weightPaths[layer]?.count == tensors.count)
        }
    }

    @Test(
        "weights come in Keras order with shapes that match each layer's config",
        arguments: FormatFixtures.kerasPairs.flatMap { [$0.path + ".h5", $0.path + ".keras"] })
    func orderAndShapes(_ path: String) throws {
        let contents = try KerasFile.read(URL(fileURLWithPath: path))
        let isSequential = contents.modelConfig["class_name"]?.string == "Sequential"
        var channels: Int?
        for layer in contents.layerConfigs {
            let cls = try #require(layer["class_name"]?.string)
            let cfg = try #require(layer["config"])
            let name = try #require(cfg["name"]?.string)
            let tensors = contents.layerWeights[name]
            switch cls {
            case "Dense":
                let t = try #require(tensors)
                let units = cfg["units"]?.int
                #expect(t.count == 2 && t[0].rank == 2 && t[0].shape[1] == units && t[1].shape == [units!], "\(name)")
            case "Conv2D":
                let t = try #require(tensors)
                let filters = try #require(cfg["filters"]?.int)
                let k = cfg["kernel_size"]?.array?.compactMap(\.int)
                #expect(t.count == 2 && Array(t[0].shape.prefix(2)) == k && t[0].shape[3] == filters && t[1].shape == [filters], "\(name)")
                channels = filters
            case "BatchNormalization":
                let t = try #require(tensors)
                #expect(t.count == 4 && t.allSatisfy { $0.shape == [channels!] }, "\(name)")
                // gamma, beta, moving_mean, moving_variance: only the last must be positive everywhere.
                #expect(t[3].floats.allSatisfy { $0 > 0 }, "\(name) moving_variance")
            case "InputLayer":
                // Sequential saves have no group for the InputLayer; Functional ones have an empty one.
                if isSequential { #expect(tensors == nil) } else { #expect(tensors?.isEmpty == true) }
            default:
                #expect(tensors?.isEmpty == true, "\(name) (\(cls)) should have no weights")
            }
        }
    }

    @Test("snake_case auto names match the groups Keras wrote in the real .keras files")
    func autoNames() throws {
        for base in FormatFixtures.kerasPairs {
            let url = URL(fileURLWithPath: base.path + ".keras")
            let archive = try Archive(url: url, accessMode: .read)
            var data = Data()
            _ = try archive.extract(archive["model.weights.h5"]!) { data.append($0) }
            let file = try HDF5File(image: data, name: "w.h5")
            let contents = try KerasFile.read(url)
            let classOf = Dictionary(
                uniqueKeysWithValues: contents.layerConfigs.map {
                    ($0["config"]!["name"]!.string!, $0["class_name"]!.string!)
                })
            for group in try file.children(of: "/layers") {
                let user = try #require(try file.attributeString("name", of: "/layers/\(group)/vars"))
                let cls = try #require(classOf[user])
                let snake = KerasFile.snakeCase(cls)
                #expect(
                    group == snake || (group.hasPrefix(snake + "_") && Int(group.dropFirst(snake.count + 1)) != nil), "\(group) vs \(cls)")
            }
        }
    }

    @Test("numbered variables sort numerically, and groups map by their name attribute or by auto name")
    func syntheticKerasV3() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Groups without a `name` attribute (older writers): mapped by (class, ordinal) auto names. The Dense
        // named "big" has 12 variables, so "10" and "11" must come after "9".
        let unnamed = try KerasFileBuilder.hdf5(in: dir) { f in
            for i in 0..<12 { try f.write(Tensor(shape: [1], floats: [Float(i)]), to: "layers/dense/vars/\(i)") }
            try f.write(Tensor(shape: [1], floats: [100]), to: "layers/dense_1/vars/0")
            try f.createGroup("layers/dropout/vars")
        }
        let url1 = dir.appendingPathComponent("unnamed.keras")
        try KerasFileBuilder.zip(
            [
                ("config.json", KerasFileBuilder.sequentialConfig([("Dense", "big"), ("Dropout", "drop"), ("Dense", "small")])),
                ("metadata.json", Data("{\"keras_version\": \"3.0.0\"}".utf8)),
                ("model.weights.h5", unnamed),
            ], to: url1)
        let c1 = try KerasFile.read(url1)
        #expect(c1.kerasVersion == "3.0.0")
        #expect(c1.layerWeights["big"]?.map { $0.floats[0] } == (0..<12).map(Float.init))
        #expect(c1.layerWeights["small"]?.map { $0.floats[0] } == [100])
        #expect(c1.layerWeights["drop"]?.isEmpty == true)
        #expect(c1.weightPaths["big"]?[10] == "layers/dense/vars/10")

        // Groups with a `name` attribute win over the auto name, even when they disagree.
        let named = try KerasFileBuilder.hdf5(in: dir) { f in
            try f.write(Tensor(shape: [1], floats: [1]), to: "layers/dense/vars/0")
            try f.setAttribute("name", string: "second", on: "layers/dense/vars")
            try f.write(Tensor(shape: [1], floats: [2]), to: "layers/dense_1/vars/0")
            try f.setAttribute("name", string: "first", on: "layers/dense_1/vars")
        }
        let url2 = dir.appendingPathComponent("named.keras")
        try KerasFileBuilder.zip(
            [
                ("config.json", KerasFileBuilder.sequentialConfig([("Dense", "first"), ("Dense", "second")])),
                ("model.weights.h5", named),
            ], to: url2)
        let c2 = try KerasFile.read(url2)
        #expect(c2.kerasVersion == nil)
        #expect(c2.layerWeights["first"]?.first?.floats == [2])
        #expect(c2.layerWeights["second"]?.first?.floats == [1])
    }

    @Test("legacy .h5 written like Keras 2 (fixed-length names, ':0' suffixes) reads")
    func keras2StyleLegacy() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("k2.h5")
        let config = String(decoding: KerasFileBuilder.sequentialConfig([("Dense", "dense_1"), ("Flatten", "flatten")]), as: UTF8.self)
        let data = try KerasFileBuilder.hdf5(in: dir) { f in
            try f.setAttribute("model_config", strings: [config], fixedLength: true, on: "/")
            try f.setAttribute("keras_version", strings: ["2.4.0"], fixedLength: true, on: "/")
            try f.createGroup("model_weights/flatten")
            try f.setAttribute("layer_names", strings: ["dense_1", "flatten"], fixedLength: true, on: "model_weights")
            try f.write(Tensor(shape: [3, 1], floats: [1, 2, 3]), to: "model_weights/dense_1/dense_1/kernel:0")
            try f.write(Tensor(shape: [1], floats: [4]), to: "model_weights/dense_1/dense_1/bias:0")
            try f.setAttribute(
                "weight_names", strings: ["dense_1/kernel:0", "dense_1/bias:0"], fixedLength: true, on: "model_weights/dense_1")
            try f.setAttribute("weight_names", strings: [], on: "model_weights/flatten")
        }
        try data.write(to: url)
        let contents = try KerasFile.read(url)
        #expect(contents.kerasVersion == "2.4.0")
        #expect(contents.layerWeights["dense_1"]?.map(\.floats) == [[1, 2, 3], [4]])
        #expect(contents.layerWeights["flatten"]?.isEmpty == true)
        #expect(contents.weightPaths["dense_1"] == ["model_weights/dense_1/dense_1/kernel:0", "model_weights/dense_1/dense_1/bias:0"])
    }
}
