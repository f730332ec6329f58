import Foundation
import Testing

@testable import Formats

@Suite("Zstd")
struct ZstdTests {
    /// Compressible but not trivial bytes: a real fixture followed by a repetitive tail.
    static func sample() throws -> Data {
        var data = try Data(contentsOf: FormatFixtures.digitsReference)
        data.append(Data(String(repeating: "layer.weight ", count: 5000).utf8))
        return data
    }

    @Test("round trip at several levels", arguments: [1, 3, 19])
    func roundTrip(level: Int) throws {
        let data = try Self.sample()
        let packed = try Zstd.compress(data, level: level)
        #expect(packed.count < data.count)
        #expect(Zstd.frameContentSize(packed) == data.count)
        #expect(try Zstd.decompress(packed) == data)
    }

    @Test("empty input round-trips; bad levels are refused")
    func edges() throws {
        let packed = try Zstd.compress(Data())
        #expect(try Zstd.decompress(packed) == Data())
        #expect(throws: FormatError.self) { try Zstd.compress(Data([1]), level: 1000) }
    }

    @Test(
        "frames without a recorded size (zstd reading a pipe) and concatenated frames decompress",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd"), "needs the zstd CLI"))
    func unknownContentSize() throws {
        let data = try Self.sample()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
        process.arguments = ["-q", "-c", "-"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // Write from another thread so a full output pipe cannot deadlock us.
        let writer = Thread {
            input.fileHandleForWriting.write(data); try? input.fileHandleForWriting.close()
        }
        writer.start()
        let packed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(Zstd.frameContentSize(packed) == nil)
        #expect(try Zstd.decompress(packed) == data)
        #expect(try Zstd.decompress(packed + (try Zstd.compress(Data("tail".utf8)))) == data + Data("tail".utf8))
    }

    @Test("corrupt, truncated and foreign inputs give one-line errors")
    func corrupt() throws {
        let data = try Self.sample()
        let packed = try Zstd.compress(data, level: 3)
        var flipped = packed
        flipped[packed.count / 2] ^= 0xFF
        let cases: [(String, Data)] = [
            ("empty", Data()),
            ("garbage", Data("definitely not zstd".utf8)),
            ("truncated", packed.prefix(packed.count / 2)),
            ("truncated-end", packed.prefix(packed.count - 3)),
            ("flipped", flipped),
        ]
        for (name, bytes) in cases {
            #expect { try Zstd.decompress(bytes, name: "case-\(name).zst") } throws: { error in
                let text = "\(error)"
                return text.hasPrefix("case-\(name).zst: ") && !text.contains("\n")
            }
        }
    }

    @Test("file compression streams, writes atomically, and matches compressedSize")
    func files() throws {
        let dir = try FormatFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = FormatFixtures.minilmReference
        let target = dir.appendingPathComponent("ref.safetensors.zst")
        try Zstd.compressFile(at: source, to: target, level: 9)
        let packed = try Data(contentsOf: target)
        #expect(try Zstd.compressedSize(of: source, level: 9) == packed.count)
        #expect(try Zstd.decompress(packed) == (try Data(contentsOf: source)))
        #expect(Zstd.frameContentSize(packed) == (try Data(contentsOf: source)).count)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["ref.safetensors.zst"])
        #expect(throws: FormatError.self) { try Zstd.compressedSize(of: dir.appendingPathComponent("absent"), level: 3) }
        // An empty file compresses to a valid frame.
        let empty = dir.appendingPathComponent("empty")
        try Data().write(to: empty)
        try Zstd.compressFile(at: empty, to: dir.appendingPathComponent("empty.zst"))
        #expect(try Zstd.decompress(try Data(contentsOf: dir.appendingPathComponent("empty.zst"))) == Data())
    }
}
