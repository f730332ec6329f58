// libFuzzer target: arbitrary bytes as a Keras model, through the same front end `compress` uses (ModelLoader),
// written to a temporary file because HDF5 and ZIP readers open paths. The first byte picks the container:
// even → legacy .h5 (HDF5), odd → Keras 3 .keras (zip).
import Formats
import Foundation

nonisolated(unsafe) private let directory: URL = {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("compress-fuzz-keras-\(getpid())")
    try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeras(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let url = directory.appendingPathComponent(data[0] % 2 == 0 ? "model.h5" : "model.keras")
    do { try Data(bytes: data + 1, count: size - 1).write(to: url) } catch { return 0 }
    _ = try? ModelLoader.load(url.path)
    return 0
}
