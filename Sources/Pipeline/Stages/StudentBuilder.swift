import Formats
import Foundation
import Layers
import Tensors

/// Makes the student of a distill stage from its `student:` section and the teacher.
enum StudentBuilder {
    /// The student model and a one-line description for reports. Errors name the `student` field.
    static func build(_ spec: StudentSection, teacher: LoadedModel, seed: UInt64, verify: Bool) throws -> (LoadedModel, String) {
        if let path = spec.path {
            let model = try ModelLoader.load(path, verify: verify)
            switch (teacher.kind, model.kind) {
            case (.sequential, .sequential), (.sentenceEncoder, .sentenceEncoder): break
            default: throw StageFailure("student: '\(path)' is not the same kind of model as the teacher (classifier vs sentence encoder)")
            }
            return (model, "model \(path)")
        }
        if let keep = spec.keepLayers {
            guard case let .sentenceEncoder(bert, pooling, tokenizer) = teacher.kind else {
                throw StageFailure("student.keep_layers applies to BERT encoders; this teacher is a layer chain (use student.architecture)")
            }
            let n = bert.layers.count
            if let bad = keep.first(where: { $0 >= n }) {
                throw StageFailure("student.keep_layers: layer \(bad) is out of range (the teacher has \(n) layers, 0...\(n - 1))")
            }
            var config = bert.config
            config.numHiddenLayers = keep.count
            config.layerShapes = bert.config.layerShapes.map { shapes in keep.map { shapes[$0] } }
            let student = try BertModel(config: config, withPooler: bert.hasPooler)
            var params: [String: Tensor] = [:]
            for (path, t) in bert.namedParameters() {
                if path.hasPrefix("encoder.layer.") {
                    let rest = path.dropFirst("encoder.layer.".count)
                    let index = Int(rest.prefix { $0 != "." })!
                    guard let i = keep.firstIndex(of: index) else { continue }
                    params["encoder.layer.\(i)" + rest.drop { $0 != "." }] = copy(t)
                } else {
                    params[path] = copy(t)
                }
            }
            try student.update(parameters: params)
            return (
                LoadedModel(kind: .sentenceEncoder(student, pooling, tokenizer), source: teacher.source, format: "in-memory"),
                "teacher layers \(keep) of \(n) (initialized from the teacher)"
            )
        }
        guard let width = spec.architecture?.width else { throw StageFailure("student: nothing to build") }
        guard case let .sequential(chain) = teacher.kind else {
            throw StageFailure("student.architecture.width applies to layer chains (CNN/MLP); for BERT use student.keep_layers")
        }
        let lastDense = chain.specs.lastIndex { $0.type == .dense }
        let dropout = spec.architecture?.dropout
        let specs = chain.specs.enumerated().compactMap { i, s -> LayerSpec? in
            if s.type == .dropout, let dropout {
                guard dropout > 0 else { return nil }
                var s = s
                s.rate = Float(dropout)
                return s
            }
            var s = s
            if s.type == .conv2d || (s.type == .dense && i != lastDense), let out = s.outFeatures {
                s.outFeatures = max(1, Int((Double(out) * width).rounded()))
            }
            if s.type == .dense || s.type == .conv2d { s.inFeatures = nil }
            if s.type == .batchNorm { s.outFeatures = nil }
            return s
        }
        let student = try SequentialModel(inputShape: chain.inputShape, specs: specs)
        try initialize(student, seed: seed)
        return (
            LoadedModel(kind: .sequential(student), source: teacher.source, format: "in-memory"),
            "teacher architecture at width \(width) (\(specs.compactMap { $0.type == .conv2d || $0.type == .dense ? $0.outFeatures.map(String.init) : nil }.joined(separator: "-"))\(dropout.map { ", dropout \($0)" } ?? "")), random init"
        )
    }

    /// A copy with its own storage (the student must never write into the teacher's tensors).
    static func copy(_ t: Tensor) -> Tensor { t.dtype == .float32 ? Tensor(shape: t.shape, floats: t.floats) : t }

    /// Keras defaults: Glorot-uniform kernels, zero biases, BatchNorm γ = 1, β = 0, running mean 0 and variance 1;
    /// drawn from SplitMix64(seed) in parameter order, so the same seed builds the same student.
    static func initialize(_ model: Module, seed: UInt64) throws {
        var state = seed &+ 0x1234_5678
        func uniform() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        var params: [String: Tensor] = [:]
        for (path, t) in model.namedParameters() {
            let name = path.split(separator: ".").last.map(String.init) ?? path
            if t.rank >= 2 {
                // Dense (out, in); Conv2D (out, kh, kw, in): fan-in = kh·kw·in, fan-out = kh·kw·out.
                let receptive = t.shape.dropFirst().dropLast().reduce(1, *)
                let fanIn = receptive * t.shape.last!, fanOut = receptive * t.shape[0]
                let limit = (6 / Double(fanIn + fanOut)).squareRoot()
                params[path] = Tensor(shape: t.shape, floats: (0..<t.count).map { _ in Float((2 * uniform() - 1) * limit) })
            } else {
                let one = name == "gamma" || name == "variance"
                params[path] = Tensor(shape: t.shape, floats: [Float](repeating: one ? 1 : 0, count: t.count))
            }
        }
        try model.update(parameters: params)
    }
}

/// A distill/train stage failure found while running (models and data loaded): one line naming the field.
public struct StageFailure: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
