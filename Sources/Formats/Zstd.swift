import CZstd
import Foundation
import Tensors

/// Zstandard compression over libzstd, for measuring and shipping compressed artifacts. Frames carry a content
/// checksum, so corruption is reported instead of decoded into garbage.
///
/// ```swift
/// let packed = try Zstd.compress(weights, level: 19)
/// let same = try Zstd.decompress(packed)
/// let bytesOnDisk = try Zstd.compressedSize(of: modelURL, level: 19)
/// ```
public enum Zstd {
    /// Compression levels libzstd accepts (negative levels are the fast modes; 0 means the default, 3).
    public static var levels: ClosedRange<Int> { Int(ZSTD_minCLevel())...Int(ZSTD_maxCLevel()) }

    /// Compresses `data` into one frame that records its size and a checksum.
    public static func compress(_ data: Data, level: Int = 19) throws -> Data {
        let cctx = try makeCompressor(level: level, label: "zstd")
        defer { ZSTD_freeCCtx(cctx) }
        let capacity = ZSTD_compressBound(data.count)
        var out = Data(count: capacity)
        let written = out.withUnsafeMutableBytes { dst in
            data.withUnsafeBytes { src in ZSTD_compress2(cctx, dst.baseAddress, capacity, src.baseAddress, src.count) }
        }
        try check(written, label: "zstd", what: "compression failed")
        out.count = written
        return out
    }

    /// Decompresses one or more concatenated frames. Streams, so frames that do not record their content size
    /// (written by `zstd` from a pipe) work too; `name` labels errors.
    public static func decompress(_ data: Data, name: String = "zstd data") throws -> Data {
        guard let dctx = ZSTD_createDCtx() else { throw FormatError.io(file: name, message: "cannot create a zstd decompressor") }
        defer { ZSTD_freeDCtx(dctx) }
        guard !data.isEmpty else { throw FormatError.invalid(file: name, message: "empty input: no zstd frame") }
        let chunk = ZSTD_DStreamOutSize()
        var buffer = [UInt8](repeating: 0, count: chunk)
        var output = Data()
        var pending = 1
        // A small frame can claim gigabytes (a decompression bomb, or a corrupt size): stop at the memory available.
        let limit = MemoryBudget.availableBytes
        try data.withUnsafeBytes { src in
            var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
            while true {
                let produced: Int = try buffer.withUnsafeMutableBytes { dst in
                    var out = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                    let r = ZSTD_decompressStream(dctx, &out, &input)
                    try check(r, label: name, what: "corrupt zstd frame")
                    pending = r
                    guard output.count <= limit - out.pos else {
                        throw FormatError.invalid(file: name, message: "decompresses to more than the \(limit) bytes of memory available")
                    }
                    output.append(dst.baseAddress!.assumingMemoryBound(to: UInt8.self), count: out.pos)
                    return out.pos
                }
                // Done when all input is consumed and the decoder had no more output to flush.
                if input.pos == input.size && produced < chunk { break }
            }
        }
        guard pending == 0 else {
            throw FormatError.invalid(
                file: name, message: "truncated zstd frame (input ended mid-frame after \(output.count) decoded bytes)")
        }
        return output
    }

    /// The decompressed size recorded in the first frame's header, or nil when the frame does not record it
    /// (or `data` is not a zstd frame).
    public static func frameContentSize(_ data: Data) -> Int? {
        let size = data.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest UInt64 values.
        return size >= UInt64.max - 1 ? nil : Int(exactly: size)
    }

    /// Compresses the file at `source` into `destination`, streaming (constant memory), written atomically.
    public static func compressFile(at source: URL, to destination: URL, level: Int = 19) throws {
        try writeFileAtomically(destination) { temp in
            guard FileManager.default.createFile(atPath: temp.path, contents: nil) else {
                throw FormatError.io(file: fileLabel(destination), message: "cannot create")
            }
            let out: FileHandle
            do { out = try FileHandle(forWritingTo: temp) } catch {
                throw FormatError.io(file: fileLabel(destination), message: "cannot open for writing: \(error.localizedDescription)")
            }
            defer { try? out.close() }
            try stream(source, level: level) { bytes in
                do { try out.write(contentsOf: bytes) } catch {
                    throw FormatError.io(file: fileLabel(destination), message: "write failed: \(error.localizedDescription)")
                }
            }
            do { try out.synchronize() } catch {
                throw FormatError.io(file: fileLabel(destination), message: "fsync failed: \(error.localizedDescription)")
            }
        }
    }

    /// The size `compressFile` would produce for `url`, computed by streaming without writing anything.
    public static func compressedSize(of url: URL, level: Int = 19) throws -> Int {
        var total = 0
        try stream(url, level: level) { total += $0.count }
        return total
    }

    // MARK: Internals

    private static func check(_ code: Int, label: String, what: String) throws {
        if ZSTD_isError(code) != 0 {
            throw FormatError.invalid(file: label, message: "\(what): \(String(cString: ZSTD_getErrorName(code)))")
        }
    }

    private static func makeCompressor(level: Int, label: String) throws -> OpaquePointer {
        guard levels.contains(level) else {
            throw FormatError.invalid(file: label, message: "zstd level \(level) is outside \(levels.lowerBound)...\(levels.upperBound)")
        }
        guard let cctx = ZSTD_createCCtx() else { throw FormatError.io(file: label, message: "cannot create a zstd compressor") }
        do {
            try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, Int32(level)), label: label, what: "bad level")
            try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1), label: label, what: "cannot enable checksums")
        } catch {
            ZSTD_freeCCtx(cctx)
            throw error
        }
        return cctx
    }

    /// Compresses `url` chunk by chunk, handing each piece of the frame to `sink`.
    private static func stream(_ url: URL, level: Int, sink: (Data) throws -> Void) throws {
        let label = fileLabel(url)
        guard FileManager.default.fileExists(atPath: url.path) else { throw FormatError.missingFile(label) }
        let input: FileHandle
        do { input = try FileHandle(forReadingFrom: url) } catch {
            throw FormatError.io(file: label, message: "cannot open: \(error.localizedDescription)")
        }
        defer { try? input.close() }
        let cctx = try makeCompressor(level: level, label: label)
        defer { ZSTD_freeCCtx(cctx) }
        // Recording the size in the frame header lets decoders allocate once.
        if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber {
            _ = ZSTD_CCtx_setPledgedSrcSize(cctx, size.uint64Value)
        }
        let inChunk = ZSTD_CStreamInSize()
        var buffer = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        while true {
            let chunk: Data
            do { chunk = try input.read(upToCount: inChunk) ?? Data() } catch {
                throw FormatError.io(file: label, message: "read failed: \(error.localizedDescription)")
            }
            let last = chunk.isEmpty
            let mode = last ? ZSTD_e_end : ZSTD_e_continue
            try chunk.withUnsafeBytes { src in
                var inBuf = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
                var finished = false
                repeat {
                    let (remaining, piece): (Int, Data) = try buffer.withUnsafeMutableBytes { dst in
                        var outBuf = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                        let r = ZSTD_compressStream2(cctx, &outBuf, &inBuf, mode)
                        try check(r, label: label, what: "compression failed")
                        return (r, Data(bytes: dst.baseAddress!, count: outBuf.pos))
                    }
                    if !piece.isEmpty { try sink(piece) }
                    // e_end is done when nothing remains to flush; e_continue when the input is consumed.
                    finished = last ? remaining == 0 : inBuf.pos == inBuf.size
                } while !finished
            }
            if last { break }
        }
    }
}
