// libFuzzer target: arbitrary bytes as recipe YAML (parsing and validation only; nothing is run).
import Foundation
import Pipeline

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecipe(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? RecipeLoader.parse(text, file: "fuzz.yaml")
    return 0
}
