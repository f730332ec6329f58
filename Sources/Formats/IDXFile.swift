import Foundation
import Tensors

/// An IDX file, the MNIST family's array format: magic `00 00 <type> <rank>`, `rank` big-endian UInt32
/// dimensions, then the elements, big-endian, row-major. Read plain or gzipped (`.gz`, detected by its magic).
///
/// The header is checked against the bytes present: a dimension product that overflows, or a payload shorter
/// or longer than the dimensions promise, is a one-line error naming the file.
///
/// ```swift
/// let labels = try IDXFile.read(URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"))
/// labels.dimensions  // [10000]
/// let t = try labels.tensor()  // U8 [10000]
/// ```
public struct IDXFile: Sendable {
    /// The element types the IDX format defines (the third magic byte).
    public enum ElementType: UInt8, Sendable, CustomStringConvertible {
        case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int16: return 2
            case .int32, .float32: return 4
            case .float64: return 8
            }
        }

        public var description: String {
            switch self {
            case .uint8: return "uint8"
            case .int8: return "int8"
            case .int16: return "int16"
            case .int32: return "int32"
            case .float32: return "float32"
            case .float64: return "float64"
            }
        }
    }

    /// The element type from the header.
    public let elementType: ElementType
    /// The dimensions from the header, outermost first (`[60000, 28, 28]` for MNIST training images).
    public let dimensions: [Int]
    /// The elements as stored: big-endian, row-major, exactly `dimensions.product × elementType.byteSize` bytes.
    public let payload: Data
    /// The file label used in errors.
    public let name: String

    /// Number of elements (the product of the dimensions).
    public var count: Int { dimensions.reduce(1, *) }

    /// Reads `url`, gunzipping it first when it starts with the gzip magic.
    public static func read(_ url: URL) throws -> IDXFile {
        let label = fileLabel(url)
        guard FileManager.default.fileExists(atPath: url.path) else { throw FormatError.missingFile(label) }
        let raw: Data
        do { raw = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw FormatError.io(file: label, message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(Gzip.isGzip(raw) ? Gzip.decompress(raw, name: label) : raw, name: label)
    }

    /// Parses decompressed IDX bytes; `name` labels errors.
    public static func parse(_ bytes: Data, name: String) throws -> IDXFile {
        func fail(_ message: String) -> FormatError { .invalid(file: name, message: message) }
        let b = [UInt8](bytes.prefix(4))
        guard b.count == 4 else { throw fail("\(bytes.count) bytes: too short for an IDX header (4-byte magic)") }
        guard b[0] == 0, b[1] == 0 else {
            throw fail("bad IDX magic \(b.map(hex).joined(separator: " ")) (expected 00 00 <type> <rank>)")
        }
        guard let type = ElementType(rawValue: b[2]) else {
            throw fail("unknown IDX element type 0x\(hex(b[2]))")
        }
        let rank = Int(b[3])
        guard rank >= 1 else { throw fail("IDX rank 0: no dimensions") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw fail("truncated IDX header: rank \(rank) needs \(headerSize) bytes, the file has \(bytes.count)")
        }
        let start = bytes.startIndex
        var dimensions: [Int] = []
        var elements = 1
        var overflow = false
        for i in 0..<rank {
            let at = start + 4 + 4 * i
            let d = bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
            dimensions.append(d)
            let product = elements.multipliedReportingOverflow(by: d)
            elements = product.partialValue
            overflow = overflow || product.overflow
        }
        let size = elements.multipliedReportingOverflow(by: type.byteSize)
        let payloadSize = size.partialValue
        guard !overflow, !size.overflow else { throw fail("IDX dimensions \(dimensions) of \(type) overflow the address space") }
        let present = bytes.count - headerSize
        guard present == payloadSize else {
            let what = present < payloadSize ? "truncated" : "trailing bytes"
            throw fail("\(what): header says \(dimensions) \(type) = \(payloadSize) bytes of data, the file holds \(present)")
        }
        return IDXFile(elementType: type, dimensions: dimensions, payload: Data(bytes[(start + headerSize)...]), name: name)
    }

    /// The elements as a tensor of the same shape: uint8 → U8, int8 → I8, int32 → I32, float32 → F32 (byte-swapped
    /// to host order). int16 and float64 have no tensor dtype here.
    public func tensor() throws -> Tensor {
        switch elementType {
        case .uint8: return Tensor(shape: dimensions, integers: [UInt8](payload), dtype: .uint8)
        case .int8: return Tensor(shape: dimensions, integers: payload.map { Int8(bitPattern: $0) }, dtype: .int8)
        case .int32: return Tensor(shape: dimensions, integers: bigEndianWords().map { Int32(bitPattern: $0) }, dtype: .int32)
        case .float32: return Tensor(shape: dimensions, floats: bigEndianWords().map { Float(bitPattern: $0) })
        case .int16, .float64:
            throw FormatError.unsupported(file: name, message: "IDX \(elementType) elements have no tensor dtype (uint8, int8, int32, float32)")
        }
    }

    /// uint8 elements divided by `divisor` into a float32 tensor of `shape` (the element count must match): one
    /// pass, no intermediate integer tensor. Division (not a multiply by 1/255) so the values are bit-identical to
    /// numpy's `x.astype(np.float32) / np.float32(255)`, the teacher's input scaling.
    public func floats(dividedBy divisor: Float, shape: [Int]) throws -> Tensor {
        guard elementType == .uint8 else {
            throw FormatError.unsupported(file: name, message: "expected uint8 elements, the file holds \(elementType)")
        }
        guard shape.reduce(1, *) == count else {
            throw FormatError.invalid(file: name, message: "\(dimensions) cannot be viewed as \(shape)")
        }
        var out = Tensor(uninitialized: shape)
        out.withUnsafeMutableFloats { dst in
            payload.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
                for i in 0..<dst.count { dst[i] = Float(src[i]) / divisor }
            }
        }
        return out
    }

    private static func hex(_ byte: UInt8) -> String { byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }

    private func bigEndianWords() -> [UInt32] {
        payload.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            (0..<count).map { i in UInt32(bigEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        }
    }
}
