// libFuzzer target: arbitrary bytes as an artifact's model.json, next to a valid weights file (the digits MLP
// artifact from fuzz/corpus/manifest-weights/, found through COMPRESS_FUZZ_WEIGHTS or the working directory), so
// inputs that parse reach the model building, tensor matching and quantization checks.
import Formats
import Foundation

nonisolated(unsafe) private let directory: URL = {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("compress-fuzz-manifest-\(getpid())")
    try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    let weights = ProcessInfo.processInfo.environment["COMPRESS_FUZZ_WEIGHTS"] ?? "fuzz/corpus/manifest-weights/model.safetensors"
    try? FileManager.default.removeItem(at: d.appendingPathComponent("model.safetensors"))
    try? FileManager.default.copyItem(atPath: weights, toPath: d.appendingPathComponent("model.safetensors").path)
    return d
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do { try Data(bytes: data, count: size).write(to: directory.appendingPathComponent("model.json")) } catch { return 0 }
    _ = try? Artifact.load(directory)
    return 0
}
