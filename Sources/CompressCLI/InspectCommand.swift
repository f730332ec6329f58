import ArgumentParser
import Formats
import Foundation
import Pipeline

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "List a model's layers, shapes, parameters and bytes.")

    @Argument(help: "Model: artifact, run (artifacts/NAME) or Hugging Face directory, .h5, .keras, or .safetensors (+ .json).")
    var model: String
    @Flag(name: .long, help: "Print JSON.")
    var json = false
    @OptionGroup var common: CommonOptions

    func run() throws {
        try reportingErrors {
            let report = ModelInspection(try ModelLoader.load(model, verify: common.verify), name: model)
            printOut(json ? String(decoding: try report.json(), as: UTF8.self) : report.text)
        }
    }
}
