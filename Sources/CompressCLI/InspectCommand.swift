import ArgumentParser
import Formats
import Foundation
import Layers

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "List a model's layers, shapes, parameters and bytes.")

    @Argument(help: "Model: artifact, run (artifacts/NAME) or Hugging Face directory, .h5, .keras, or .safetensors (+ .json).")
    var model: String
    @Flag(name: .long, help: "Print JSON.")
    var json = false
    @OptionGroup var common: CommonOptions

    struct Row: Codable {
        var path: String
        var type: String
        var summary: String
        var parameters: Int
        var bytes: Int
        var encoding: String
        var bitsPerWeight: Double
        var tensors: [String: [Int]]
    }

    func run() throws {
        try reportingErrors {
            let m = try ModelLoader.load(model)
            var rows: [Row] = []
            let encodingsByPath = parameterEncodings(m.root)
            for (path, module) in m.root.namedModules() where !module.parameterNames.isEmpty {
                let prefix = path.isEmpty ? "" : path + "."
                var tensors: [String: [Int]] = [:]
                var count = 0, bytes = 0
                var encodings = Set<String>()
                for name in module.parameterNames {
                    let t = module.parameter(name)
                    tensors[name] = t.shape
                    count += t.count
                    bytes += t.byteCount
                    encodings.insert(encodingsByPath[prefix + name] ?? "f32")
                }
                let bits = (module as? any QuantizedModule)?.bitsPerWeight ?? 32
                rows.append(
                    Row(
                        path: path, type: module.typeName, summary: module.summary, parameters: count, bytes: bytes,
                        encoding: encodings.sorted().joined(separator: "+"), bitsPerWeight: bits, tensors: tensors))
            }
            let total = rows.reduce(0) { $0 + $1.parameters }, totalBytes = rows.reduce(0) { $0 + $1.bytes }
            if json {
                struct Out: Codable {
                    var model: String; var format: String; var kind: String; var parameters: Int; var bytes: Int; var layers: [Row];
                    var provenance: [String: String]
                }
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                let out = Out(
                    model: model, format: m.format, kind: m.takesText ? "sentence-embedding" : "sequential", parameters: total,
                    bytes: totalBytes, layers: rows, provenance: m.provenance)
                printOut(String(decoding: try e.encode(out), as: UTF8.self))
                return
            }
            var s = "\(model)  (\(m.format), \(m.takesText ? "sentence encoder" : "sequential"))\n"
            if case let .sequential(seq) = m.kind {
                s +=
                    "input (N, \(seq.inputShape.map(String.init).joined(separator: ", "))) → output (N, \(seq.outputShape.map(String.init).joined(separator: ", ")))\n"
            }
            if case let .sentenceEncoder(bert, pooling, tok) = m.kind {
                s +=
                    "BERT \(bert.config.numHiddenLayers) layers, hidden \(bert.config.hiddenSize), heads \(bert.config.numAttentionHeads), ffn \(bert.config.intermediateSize); pooling \(pooling.mode.rawValue)\(pooling.normalize ? " + normalize" : ""); max tokens \(tok.maxLength)\n"
            }
            let w = max(24, rows.map(\.path.count).max() ?? 0)
            s +=
                "\("path".padding(toLength: w, withPad: " ", startingAt: 0))  \("type".padding(toLength: 14, withPad: " ", startingAt: 0))  \("values".leftPad(10))  \("bytes".leftPad(11))  \("bits".leftPad(5))  enc  config\n"
            for r in rows {
                s +=
                    "\(r.path.padding(toLength: w, withPad: " ", startingAt: 0))  \(r.type.padding(toLength: 14, withPad: " ", startingAt: 0))  \(String(r.parameters).leftPad(10))  \(String(r.bytes).leftPad(11))  \(String(format: "%5.2f", r.bitsPerWeight))  \(r.encoding)  \(r.summary)\n"
            }
            s +=
                "total: \(logicalParameterCount(m.root)) weights in \(total) stored values (codes and scales), \(totalBytes) bytes (\(String(format: "%.2f", Double(totalBytes) / 1e6)) MB)"
            for (k, v) in m.provenance.sorted(by: { $0.key < $1.key }) { s += "\nprovenance.\(k): \(v)" }
            printOut(s)
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
