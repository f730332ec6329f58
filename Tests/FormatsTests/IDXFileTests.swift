import Formats
import Foundation
import Tensors
import Testing

/// The IDX + gzip reader against Python's gzip + numpy on Debian's Fashion-MNIST files
/// (tools/make_fashion_idx_reference.py), and against damaged files made here.
struct IDXFileTests {
    struct Reference: Decodable {
        struct File: Decodable {
            let file: String
            let dims: [Int]
            let sum: Int
            let weighted_sum: Int
            let first_image: [Float]?
            let sample_index: Int?
            let sample_image: [Float]?
            let first_labels: [Int]?
            let class_counts: [Int]?
        }
        let files: [String: File]
    }

    static let reference: Reference = {
        let url = TestPaths.fixture("fashion-mnist/idx_reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    static let directory = FashionMNIST.defaultDirectory

    /// Fails (not skips) without the data: `make test` installs it.
    static func requireData() throws {
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz").path) else {
            throw TestSetupError("Fashion-MNIST missing under \(directory.path): run `make fashion-data`")
        }
    }

    @Test(arguments: ["train-images", "train-labels", "t10k-images", "t10k-labels"])
    func filesMatchNumpy(_ key: String) throws {
        try Self.requireData()
        let ref = Self.reference.files[key]!
        let idx = try IDXFile.read(Self.directory.appendingPathComponent(ref.file))
        #expect(idx.elementType == .uint8)
        #expect(idx.dimensions == ref.dims)
        var sum = 0, weighted = 0
        idx.payload.withUnsafeBytes { (p: UnsafeRawBufferPointer) in
            for i in 0..<p.count {
                sum += Int(p[i])
                weighted += Int(p[i]) * (i % 65521 + 1)
            }
        }
        #expect(sum == ref.sum)
        #expect(weighted == ref.weighted_sum)
    }

    @Test(arguments: [FashionMNIST.Split.train, .test])
    func loaderScalesLikeTheTeacher(_ split: FashionMNIST.Split) throws {
        try Self.requireData()
        let prefix = split.rawValue
        let images = Self.reference.files["\(prefix)-images"]!, labels = Self.reference.files["\(prefix)-labels"]!
        let examples = try FashionMNIST.load(split)
        #expect(examples.images.shape == [images.dims[0], 28, 28, 1])
        #expect(examples.images.dtype == .float32)
        #expect(examples.labels.count == labels.dims[0])
        #expect(Array(examples.labels.prefix(32)) == labels.first_labels!)
        #expect((0..<10).map { c in examples.labels.filter { $0 == c }.count } == labels.class_counts!)
        // Bit-exact: numpy's float32(x) / float32(255), written as float32 values.
        #expect(examples.images.rows(0..<1).floats == images.first_image!)
        let s = images.sample_index!
        #expect(examples.images.rows(s..<s + 1).floats == images.sample_image!)
    }

    @Test func standardSplitsHoldOutTheLastFiveThousand() throws {
        try Self.requireData()
        let (train, validation, test) = try FashionMNIST.standardSplits()
        #expect(train.count == 55000 && validation.count == 5000 && test.count == 10000)
        #expect(train.images.shape == [55000, 28, 28, 1] && validation.images.shape == [5000, 28, 28, 1])
        let labels = Self.reference.files["train-labels"]!
        let all = (0..<10).map { c in (train.labels + validation.labels).filter { $0 == c }.count }
        #expect(all == labels.class_counts!)
        #expect(Array(train.labels.prefix(32)) == labels.first_labels!)
    }

    // MARK: damaged files

    /// IDX bytes: magic, big-endian dims, then `payload` bytes.
    static func idx(type: UInt8 = 0x08, dims: [UInt32], payload: Int) -> Data {
        var d = Data([0, 0, type, UInt8(dims.count)])
        for v in dims { withUnsafeBytes(of: v.bigEndian) { d.append(contentsOf: $0) } }
        d.append(Data(repeating: 7, count: payload))
        return d
    }

    static func write(_ data: Data, _ name: String) throws -> URL {
        let url = try TestPaths.temporaryDirectory().appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    /// Reading `data` as `name` fails with a one-line error that names the file and contains `phrase`.
    static func expectError(_ data: Data, name: String, _ phrase: String) throws {
        let url = try write(data, name)
        do {
            _ = try IDXFile.read(url)
            Issue.record("\(name): read succeeded, expected '\(phrase)'")
        } catch let e as FormatError {
            #expect(e.description.contains(name), "\(e)")
            #expect(e.description.contains(phrase), "\(e)")
            #expect(!e.description.contains("\n"))
        }
    }

    @Test func plainIDXRoundTrips() throws {
        var data = Self.idx(type: 0x0C, dims: [2, 3], payload: 0)
        for v: Int32 in [1, -2, 3, 70000, -80000, 6] { withUnsafeBytes(of: v.bigEndian) { data.append(contentsOf: $0) } }
        let idx = try IDXFile.read(try Self.write(data, "ints.idx"))
        #expect(idx.elementType == .int32 && idx.dimensions == [2, 3])
        let t = try idx.tensor()
        #expect(t.shape == [2, 3] && t.dtype == .int32)
        #expect(t.withUnsafeElements(as: Int32.self) { Array($0) } == [1, -2, 3, 70000, -80000, 6])
    }

    @Test func lyingHeadersAreRejected() throws {
        try Self.expectError(Self.idx(dims: [10], payload: 5), name: "short.idx", "truncated: header says [10] uint8 = 10 bytes")
        try Self.expectError(Self.idx(dims: [2, 2], payload: 5), name: "long.idx", "trailing bytes")
        try Self.expectError(Self.idx(dims: [.max, .max, .max], payload: 0), name: "huge.idx", "overflow")
        try Self.expectError(Data([0, 0, 8, 3, 0, 0]), name: "header.idx", "truncated IDX header")
        try Self.expectError(Data([1, 2, 8, 1, 0, 0, 0, 0]), name: "magic.idx", "bad IDX magic")
        try Self.expectError(Data([0, 0, 0x42, 1, 0, 0, 0, 0]), name: "type.idx", "unknown IDX element type 0x42")
        try Self.expectError(Data([0, 0, 8, 0]), name: "rank.idx", "rank 0")
        try Self.expectError(Data([0, 0]), name: "tiny.idx", "too short")
    }

    @Test func damagedGzipIsRejected() throws {
        try Self.requireData()
        let good = try Data(contentsOf: Self.directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        try Self.expectError(good.prefix(good.count / 2), name: "half.gz", "truncated gzip data")
        try Self.expectError(good.prefix(good.count - 4), name: "notrailer.gz", "truncated gzip data")
        var flipped = good
        for i in stride(from: 200, to: 260, by: 1) { flipped[i] ^= 0x5A }
        try Self.expectError(flipped, name: "flipped.gz", "corrupt gzip data")
        var badCRC = good
        badCRC[good.count - 6] ^= 0xFF  // inside the CRC-32 of the trailer
        try Self.expectError(badCRC, name: "crc.gz", "corrupt gzip data")
        try Self.expectError(good + Data("junk".utf8), name: "junk.gz", "4 trailing bytes after the gzip stream")
        // Two members decode as one stream (as gunzip does): the IDX then holds twice the promised payload.
        try Self.expectError(good + good, name: "twice.gz", "trailing bytes: header says [10000]")
        do {
            _ = try IDXFile.read(URL(fileURLWithPath: "/nonexistent/labels.gz"))
            Issue.record("missing file read")
        } catch let e as FormatError { #expect(e == .missingFile("/nonexistent/labels.gz")) }
    }

    @Test func gzipRejectsNonGzip() {
        #expect(throws: FormatError.self) { try Gzip.decompress(Data([1, 2, 3]), name: "x") }
    }
}
