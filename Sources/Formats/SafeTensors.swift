import Foundation
import Tensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and writes the Hugging Face safetensors format: an 8-byte little-endian header length, a JSON header
/// `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, then the raw bytes.
///
/// Reading memory-maps the file and the tensors borrow the mapping (no copies; the mapping lives as long as
/// any tensor does). Every header field is validated before a byte is touched; errors name the file and tensor.
///
/// ```swift
/// let (tensors, metadata) = try SafeTensors.read(URL(fileURLWithPath: "model.safetensors"))
/// try SafeTensors.write(tensors, metadata: metadata, to: URL(fileURLWithPath: "copy.safetensors"))
/// ```
public enum SafeTensors {
    /// Largest header we accept, the limit the reference implementation uses.
    public static let maxHeaderBytes = 100_000_000

    /// Reads a safetensors file by memory-mapping it.
    public static func read(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let mapping = try MappedFile(url)
        return try parse(base: mapping.base, size: mapping.size, owner: mapping, name: fileLabel(url))
    }

    /// Reads safetensors bytes already in memory (copied once into an aligned buffer the tensors share);
    /// `name` labels errors.
    public static func read(data: Data, name: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let buffer = TensorStorage(uninitializedByteCount: data.count)
        data.withUnsafeBytes { if $0.count > 0 { buffer.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return try parse(base: UnsafeRawPointer(buffer.pointer), size: data.count, owner: buffer, name: name)
    }

    /// Writes `tensors` (and string `metadata`) to `url` atomically; see ``encode(_:metadata:)`` for the layout.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        let data: Data
        do { data = try encode(tensors, metadata: metadata) } catch let FormatError.invalid(_, message) {
            throw FormatError.invalid(file: fileLabel(url), message: message)
        }
        try writeAtomically(data, to: url)
    }

    /// Encodes tensors as safetensors bytes, deterministically: header keys sorted, data laid out by element size
    /// (largest first, so every tensor is aligned to its element size, as the reference writer does) then by name,
    /// header padded with spaces to a multiple of 8 bytes. Empty `metadata` is omitted, as Python writes `None`.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        if tensors["__metadata__"] != nil {
            throw FormatError.invalid(file: "safetensors", message: "'__metadata__' is reserved and cannot name a tensor")
        }
        let layout = tensors.keys.sorted { a, b in
            let (sa, sb) = (tensors[a]!.dtype.byteSize, tensors[b]!.dtype.byteSize)
            return sa != sb ? sa > sb : a < b
        }
        var offsets: [String: (Int, Int)] = [:]
        var total = 0
        for name in layout {
            let n = tensors[name]!.byteCount
            offsets[name] = (total, total + n)
            total += n
        }
        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            header += "}"
            first = false
        }
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let (b, e) = offsets[name]!
            if !first { header += "," }
            first = false
            header +=
                "\(jsonString(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(b),\(e)]}"
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        headerBytes += Array(repeating: UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8)

        var out = Data(capacity: 8 + headerBytes.count + total)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for name in layout { tensors[name]!.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Validates the header and builds tensors that borrow `base` (or copies of misaligned ones).
    static func parse(
        base: UnsafeRawPointer, size: Int, owner: AnyObject, name file: String
    ) throws
        -> (tensors: [String: Tensor], metadata: [String: String])
    {
        func fail(_ message: String) -> FormatError { FormatError.invalid(file: file, message: message) }
        guard size >= 8 else { throw fail("file is \(size) bytes, shorter than the 8-byte header length") }
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(size - 8) else {
            throw fail("header length \(headerLength) exceeds the file size (\(size) bytes): truncated or not safetensors")
        }
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw fail("header length \(headerLength) exceeds the \(maxHeaderBytes)-byte limit")
        }
        let headerData = Data(bytes: base + 8, count: Int(headerLength))
        let header = try JSONValue.parse(headerData, file: file, what: "header")
        guard let entries = header.object else { throw fail("header is not a JSON object") }
        if let dup = firstDuplicateTopLevelKey(headerData) { throw fail("header lists '\(dup)' twice") }

        let dataStart = 8 + Int(headerLength)
        let dataSize = size - dataStart
        var metadata: [String: String] = [:]
        var spans: [(begin: Int, end: Int, name: String)] = []
        var tensors: [String: Tensor] = [:]
        for (name, entry) in entries {
            if name == "__metadata__" {
                if entry.isNull { continue }
                guard let object = entry.object else { throw fail("'__metadata__' is not an object of strings") }
                for (key, value) in object {
                    guard let s = value.string else { throw fail("'__metadata__' value for '\(key)' is not a string") }
                    metadata[key] = s
                }
                continue
            }
            guard entry.object != nil else { throw fail("tensor '\(name)' entry is not an object") }
            guard let dtypeName = entry["dtype"]?.string else { throw fail("tensor '\(name)' has no 'dtype' string") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw FormatError.unsupported(
                    file: file,
                    message:
                        "tensor '\(name)' has unsupported dtype '\(dtypeName)' (supported: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            guard let dims = entry["shape"]?.array else { throw fail("tensor '\(name)' has no 'shape' list") }
            var shape: [Int] = []
            var count = 1
            for d in dims {
                guard let v = d.int, v >= 0 else {
                    throw fail("tensor '\(name)' shape \(JSONValue.array(dims)) must hold non-negative integers")
                }
                shape.append(v)
                let (product, overflow) = count.multipliedReportingOverflow(by: v)
                guard !overflow else { throw fail("tensor '\(name)' shape \(shape) overflows") }
                count = product
            }
            guard let offs = entry["data_offsets"]?.array, offs.count == 2,
                let begin = offs[0].int, let end = offs[1].int, begin >= 0, end >= 0
            else {
                throw fail("tensor '\(name)' needs 'data_offsets' [begin, end] of non-negative integers")
            }
            guard begin <= end else { throw fail("tensor '\(name)' data offsets [\(begin), \(end)) are reversed") }
            guard end <= dataSize else {
                throw fail("tensor '\(name)' data offsets [\(begin), \(end)) exceed the data section (\(dataSize) bytes)")
            }
            let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, end - begin == expected else {
                throw fail(
                    "tensor '\(name)' data offsets [\(begin), \(end)) hold \(end - begin) bytes, but \(dtypeName) \(shape) needs \(overflow ? "too many" : String(expected))"
                )
            }
            spans.append((begin, end, name))
            let pointer = base + dataStart + begin
            let storage: TensorStorage
            if Int(bitPattern: pointer) % dtype.byteSize == 0 {
                storage = TensorStorage(borrowing: pointer, byteCount: expected, owner: owner)
            } else {
                // Typed views need natural alignment; files from the reference writer never get here.
                storage = TensorStorage(uninitializedByteCount: expected)
                storage.pointer.copyMemory(from: pointer, byteCount: expected)
            }
            tensors[name] = Tensor(shape: shape, dtype: dtype, storage: storage)
        }
        // Empty tensors occupy no bytes and may sit anywhere; the others must not share a byte.
        spans = spans.filter { $0.begin < $0.end }.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var previous: (begin: Int, end: Int, name: String)?
        for span in spans {
            if let p = previous, span.begin < p.end {
                throw fail("tensors '\(p.name)' [\(p.begin), \(p.end)) and '\(span.name)' [\(span.begin), \(span.end)) overlap")
            }
            if previous == nil || span.end > previous!.end { previous = span }
        }
        return (tensors, metadata)
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped; other text as UTF-8.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

/// A read-only memory mapping of a whole file, unmapped when the last tensor borrowing it goes away.
final class MappedFile {
    let base: UnsafeRawPointer
    let size: Int

    init(_ url: URL) throws {
        let label = fileLabel(url)
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw FormatError.missingFile(label) }
            throw FormatError.io(file: label, message: "cannot open: \(posixMessage())")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FormatError.io(file: label, message: "cannot stat: \(posixMessage())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FormatError.invalid(file: label, message: "not a regular file") }
        size = Int(st.st_size)
        if size == 0 {
            // mmap rejects empty lengths; an empty file still gets the parser's "too short" error.
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw FormatError.io(file: label, message: "cannot memory-map: \(posixMessage())")
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if size == 0 { UnsafeMutableRawPointer(mutating: base).deallocate() } else { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }
}
