import CZlibSystem
import Foundation
import Tensors

/// gzip decompression over zlib's `inflate`, for datasets shipped as `.gz` (Debian's Fashion-MNIST IDX files).
///
/// Inflates chunk by chunk until zlib reports the end of the stream, so the output size is never guessed from the
/// header; the gzip trailer's CRC-32 and length are checked by zlib. Concatenated members (`cat a.gz b.gz`) are
/// read as one stream, as `gunzip` does.
///
/// ```swift
/// let raw = try Gzip.decompress(Data(contentsOf: url), name: url.path)
/// ```
public enum Gzip {
    /// Whether `data` starts with the gzip magic bytes `1f 8b`.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b
    }

    /// The decompressed bytes of the gzip stream `data`; `name` labels errors (truncated input, corrupt data,
    /// bad checksum, trailing bytes, more output than the memory available).
    public static func decompress(_ data: Data, name: String) throws -> Data {
        guard isGzip(data) else { throw FormatError.invalid(file: name, message: "not gzip data (no 1f 8b magic)") }
        var stream = z_stream()
        // 15 = the largest window; +16 = expect a gzip header and trailer (not zlib or raw deflate).
        guard czlib_inflate_init2(&stream, 15 + 16) == Z_OK else {
            throw FormatError.io(file: name, message: "cannot initialise zlib's inflate")
        }
        defer { inflateEnd(&stream) }
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        var output = Data()
        // A small file can claim gigabytes (a decompression bomb): stop at the memory available.
        let limit = MemoryBudget.availableBytes
        try data.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            let base = src.bindMemory(to: Bytef.self).baseAddress!
            var offset = 0
            // avail_in is 32-bit: feed the input in slices below 4 GiB.
            func refill() {
                let n = min(src.count - offset, 1 << 30)
                stream.next_in = UnsafeMutablePointer(mutating: base + offset)
                stream.avail_in = uInt(n)
                offset += n
            }
            refill()
            while true {
                let status: Int32 = buffer.withUnsafeMutableBytes { dst in
                    stream.next_out = dst.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(dst.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    output.append(dst.bindMemory(to: UInt8.self).baseAddress!, count: dst.count - Int(stream.avail_out))
                    return status
                }
                guard output.count <= limit else {
                    throw FormatError.invalid(file: name, message: "decompresses to more than the \(limit) bytes of memory available")
                }
                if stream.avail_in == 0 && offset < src.count { refill() }
                switch status {
                case Z_STREAM_END:
                    let rest = Int(stream.avail_in) + (src.count - offset)
                    if rest == 0 { return }
                    // Another gzip member may follow; anything else is trailing garbage.
                    let next = offset - Int(stream.avail_in)
                    guard rest >= 2, src[next] == 0x1f, src[next + 1] == 0x8b else {
                        throw FormatError.invalid(file: name, message: "\(rest) trailing bytes after the gzip stream")
                    }
                    inflateReset(&stream)
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw FormatError.invalid(
                        file: name, message: "truncated gzip data (input ended mid-stream after \(output.count) decoded bytes)")
                case Z_DATA_ERROR:
                    let reason = stream.msg.map { String(cString: $0) } ?? "invalid deflate data"
                    throw FormatError.invalid(file: name, message: "corrupt gzip data: \(reason)")
                case Z_MEM_ERROR:
                    throw FormatError.io(file: name, message: "zlib ran out of memory")
                default:
                    throw FormatError.invalid(file: name, message: "zlib inflate failed (status \(status))")
                }
            }
        }
        return output
    }
}
