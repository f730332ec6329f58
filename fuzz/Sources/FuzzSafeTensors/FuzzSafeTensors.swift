// libFuzzer target: arbitrary bytes as a safetensors file (the in-memory reader shares the parser with the mmap one).
// Any thrown error is fine; a trap, a sanitizer report or a hang is a bug.
import Formats
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    if let (tensors, _) = try? SafeTensors.read(data: bytes, name: "fuzz.safetensors") {
        // Touch every tensor the parser accepted, so out-of-bounds views would be read.
        for t in tensors.values { _ = t.floats.count }
        _ = try? SafeTensors.encode(tensors)
    }
    return 0
}
