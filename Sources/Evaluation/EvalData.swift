import Formats
import Foundation
import Runtime
import Tensors

/// Evaluation inputs named by a spec string:
/// - `FILE.txt`: text items, one a line (blank lines skipped);
/// - `FILE.tsv`: sentence pairs `label<TAB>a<TAB>b` with label `paraphrase` or `unrelated`;
/// - `fashion-mnist:train|validation|test`: Debian's Fashion-MNIST (``FashionMNIST/standardSplits(directory:)``:
///   the first 55,000 official training images, their last 5,000, the official 10,000 test images), with labels;
/// - `FILE.h5` / `FILE.safetensors`: an array of items `x` (or `x_test`, or the name after `#`) and optional
///   integer labels `y` (or `y_test`), e.g. `datasets/digits/test.h5`, `ref.safetensors#x_test,y_test`.
public struct EvalData {
    /// The items fed to the model.
    public var items: ModelInputs
    /// Top-1 labels, when the data has them.
    public var labels: [Int]?
    /// Sentence pairs: (is paraphrase, a, b).
    public var pairs: [(paraphrase: Bool, a: String, b: String)]
    /// The spec it came from.
    public var spec: String

    /// Loads the data a spec names; errors name the file.
    public static func load(_ spec: String) throws -> EvalData {
        if spec.hasPrefix(fashionPrefix) { return try fashion(spec) }
        let parts = spec.split(separator: "#", maxSplits: 1).map(String.init)
        let path = parts[0]
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: path) else { throw FormatError.missingFile(path) }
        let names = parts.count > 1 ? parts[1].split(separator: ",").map(String.init) : []
        switch url.pathExtension.lowercased() {
        case "txt":
            let lines = try readLines(url)
            guard !lines.isEmpty else { throw FormatError.invalid(file: path, message: "\(path) has no items (no non-blank lines)") }
            return EvalData(items: .texts(lines), labels: nil, pairs: [], spec: spec)
        case "tsv":
            var pairs: [(Bool, String, String)] = []
            for (i, line) in try readLines(url).enumerated() {
                let cols = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard cols.count == 3, cols[0] == "paraphrase" || cols[0] == "unrelated" else {
                    throw FormatError.invalid(file: path, message: "line \(i + 1): expected 'paraphrase|unrelated<TAB>a<TAB>b'")
                }
                pairs.append((cols[0] == "paraphrase", cols[1], cols[2]))
            }
            guard !pairs.isEmpty else { throw FormatError.invalid(file: path, message: "\(path) has no items (no sentence pairs)") }
            guard pairs.contains(where: { $0.0 }), pairs.contains(where: { !$0.0 }) else {
                throw FormatError.invalid(file: path, message: "needs both paraphrase and unrelated pairs")
            }
            return EvalData(
                items: .texts(pairs.flatMap { [$0.1, $0.2] }), labels: nil,
                pairs: pairs.map { (paraphrase: $0.0, a: $0.1, b: $0.2) }, spec: spec)
        case "h5", "hdf5", "safetensors":
            let tensors: [String: Tensor]
            if url.pathExtension.lowercased() == "safetensors" {
                tensors = try SafeTensors.read(url).tensors
            } else {
                let file = try HDF5File(readingFrom: url)
                var t: [String: Tensor] = [:]
                for name in try file.children(of: "/") where !file.isGroup("/" + name) { t[name] = try file.dataset("/" + name) }
                tensors = t
            }
            let xName = names.first ?? ["x", "x_test", "input", "inputs"].first { tensors[$0] != nil }
            guard let xName, let x = tensors[xName] else {
                throw FormatError.invalid(
                    file: path,
                    message:
                        "no input array (looked for \(names.first.map { "'\($0)'" } ?? "'x', 'x_test', 'input'"); has \(tensors.keys.sorted()))"
                )
            }
            // An empty or scalar array would reach the batching code with nothing to run (it used to trap there).
            guard x.rank >= 1 else {
                throw FormatError.invalid(file: path, message: "array '\(xName)' is a scalar; expected (items, ...) with one row per item")
            }
            guard x.shape[0] > 0 else {
                throw FormatError.invalid(file: path, message: "\(path) has no items (array '\(xName)' is \(x.shape))")
            }
            guard x.count > 0 else {
                throw FormatError.invalid(file: path, message: "array '\(xName)' has shape \(x.shape): items with no values")
            }
            let yName = names.count > 1 ? names[1] : ["y", "y_test", "labels"].first { tensors[$0] != nil }
            var labels: [Int]?
            if let yName {
                guard let y = tensors[yName] else { throw FormatError.invalid(file: path, message: "no label array '\(yName)'") }
                guard y.count == x.shape.first else {
                    throw FormatError.invalid(
                        file: path, message: "labels '\(yName)' have \(y.count) entries for \(x.shape.first ?? 0) items")
                }
                labels = try integerLabels(y, name: yName, file: path)
            }
            return EvalData(items: .tensor(x.toFloat32()), labels: labels, pairs: [], spec: spec)
        default:
            throw FormatError.invalid(file: path, message: "unknown data type (expected .txt, .tsv, .h5 or .safetensors)")
        }
    }

    static let fashionPrefix = "fashion-mnist:"

    /// One split of Fashion-MNIST; an unknown split name or missing files are errors naming the spec.
    static func fashion(_ spec: String) throws -> EvalData {
        let split = spec.dropFirst(fashionPrefix.count)
        guard ["train", "validation", "test"].contains(split) else {
            throw FormatError.invalid(file: spec, message: "unknown Fashion-MNIST split '\(split)' (train, validation, test)")
        }
        let examples: FashionMNIST.Examples
        if split == "test" {
            examples = try FashionMNIST.load(.test)
        } else {
            let all = try FashionMNIST.load(.train)
            let cut = all.count - FashionMNIST.validationCount
            examples = split == "train" ? all.slice(0..<cut) : all.slice(cut..<all.count)
        }
        return EvalData(items: .tensor(examples.images), labels: examples.labels, pairs: [], spec: spec)
    }

    /// Labels as integers; float labels must hold whole numbers (1.0, not 1.5, which used to be truncated).
    static func integerLabels(_ y: Tensor, name: String, file: String) throws -> [Int] {
        guard y.dtype.isFloatingPoint else { return y.int64s.map { Int($0) } }
        return try y.floats.enumerated().map { i, v in
            guard v.isFinite, v.rounded() == v, abs(v) < 9.0e18 else {
                throw FormatError.invalid(file: file, message: "label array '\(name)' item \(i) is \(v), not an integer class index")
            }
            return Int(v)
        }
    }

    /// Checks that every label is a class index of a model with `classes` outputs.
    public func validateLabels(classes: Int) throws {
        guard let labels else { return }
        if let i = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw FormatError.invalid(
                file: spec, message: "label \(labels[i]) of item \(i) is outside 0..<\(classes) (the model has \(classes) outputs)")
        }
    }

    /// UTF-8 lines without line ends; blank lines skipped.
    public static func readLines(_ url: URL) throws -> [String] {
        guard let text = String(data: try Data(contentsOf: url), encoding: .utf8) else {
            throw FormatError.invalid(file: url.path, message: "not UTF-8 text")
        }
        return text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\r")) }
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }
}
