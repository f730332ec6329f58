// libFuzzer target: the tokenizer on both of its inputs. Bytes up to the first 0xFF are a tokenizer.json (when
// they load, the rest is encoded as text); without a 0xFF, the whole input is text for the tiny WordPiece fixture.
import Foundation
import Tokenizers

nonisolated(unsafe) private let directory: URL = {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("compress-fuzz-tokenizer-\(getpid())")
    try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}()

nonisolated(unsafe) private let fixture: WordPieceTokenizer? = {
    let path = ProcessInfo.processInfo.environment["COMPRESS_FUZZ_TOKENIZER"] ?? "Tests/Fixtures/tokenizer/tiny/wordpiece/tokenizer.json"
    return try? WordPieceTokenizer(tokenizerJSON: URL(fileURLWithPath: path), maxLength: 64)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    if let split = bytes.firstIndex(of: 0xFF) {
        let url = directory.appendingPathComponent("tokenizer.json")
        do { try Data(bytes[..<split]).write(to: url) } catch { return 0 }
        if let t = try? WordPieceTokenizer(tokenizerJSON: url, maxLength: 32) {
            _ = t.encode(String(decoding: bytes[(split + 1)...], as: UTF8.self))
        }
    } else {
        _ = fixture?.encode(String(decoding: bytes, as: UTF8.self))
    }
    return 0
}
