import Formats
import Layers
import Runtime
import Tensors

/// How a unit's importance is measured (the prune stage's `criterion`).
public enum PruningCriterion: String, ConfigEnum {
    /// Structured: the L2 norm of the group (Torch-Pruning's `MagnitudeImportance` default p = 2); unstructured: |w|.
    case magnitude
    /// Σ |w| over every scored slice of the unit.
    case l1
    /// √(Σ w²) over every scored slice of the unit.
    case l2
    /// Σ |w · ∂L/∂w| over the scored slices (first-order Taylor, Molchanov et al. 2019), gradients summed over the
    /// calibration batches by the training engine.
    case taylor
    /// Mean |input| of the consumers at the unit's indices over the calibration data; for whole BERT layers, the
    /// block influence 1 − cos(x_in, x_out) averaged over tokens (Men et al. 2024, "ShortGPT").
    case activation
}

/// Per-unit importance scores of pruning groups, keyed by group root.
public enum PruningImportance {
    /// Scores from the weights alone (magnitude, l1, l2), or with `gradients` (taylor, keyed by parameter path).
    /// Units of a ``PruningUnitKind/layers`` group have no weight score; ask ``ActivationImportance``.
    public static func scores(
        _ group: PruningGroup, parameters: [String: Tensor], criterion: PruningCriterion, gradients: [String: Tensor]? = nil
    ) throws -> [Double] {
        var total = [Double](repeating: 0, count: group.units)
        for slice in group.slices where slice.scored {
            guard let w = parameters[slice.parameter] else {
                throw CompressionError.pruning(key: "structure", message: "no parameter '\(slice.parameter)'")
            }
            let perIndex: [Double]
            switch criterion {
            case .magnitude, .l2: perIndex = w.sumAlong(axis: slice.axis) { Double($0) * Double($0) }
            case .l1: perIndex = w.sumAlong(axis: slice.axis) { abs(Double($0)) }
            case .taylor:
                guard let g = gradients?[slice.parameter], g.shape == w.shape else {
                    throw CompressionError.pruning(key: "criterion", message: "taylor needs the gradient of '\(slice.parameter)'")
                }
                perIndex = taylorAlong(w, g, axis: slice.axis)
            case .activation:
                throw CompressionError.pruning(key: "criterion", message: "activation scores come from calibration data")
            }
            for (u, idx) in slice.indices.enumerated() { for i in idx { total[u] += perIndex[i] } }
        }
        if criterion == .magnitude || criterion == .l2 { total = total.map { $0.squareRoot() } }
        return total
    }

    /// Σ |w·g| per index along `axis`.
    static func taylorAlong(_ w: Tensor, _ g: Tensor, axis: Int) -> [Double] {
        let shape = w.shape
        let outer = shape[..<axis].reduce(1, *), n = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        var out = [Double](repeating: 0, count: n)
        w.withUnsafeFloats { wp in
            g.withUnsafeFloats { gp in
                for o in 0..<outer {
                    for i in 0..<n {
                        let base = (o * n + i) * inner
                        var acc = 0.0
                        for j in 0..<inner { acc += abs(Double(wp[base + j]) * Double(gp[base + j])) }
                        out[i] += acc
                    }
                }
            }
        }
        return out
    }
}

/// Activation importance from calibration data: runs the model once per batch and keeps, for every group, the
/// mean |input| of its consumers at each unit's indices (and, for BERT layers, the block influence).
public enum ActivationImportance {
    /// Scores of `groups` (keyed by root) over `calibration` (tensor items or texts), in batches of `batch`.
    public static func scores(
        _ groups: [PruningGroup], model: LoadedModel, calibration: ModelInputs, batch: Int = 32, on executor: Executor
    ) throws -> [String: [Double]] {
        guard calibration.count > 0 else { throw CompressionError.calibration("activation importance needs calibration items") }
        var sums: [String: [Double]] = [:]
        var rows: [String: Double] = [:]
        for g in groups { sums[g.root] = [Double](repeating: 0, count: g.units) }
        // module path → (group root, unit indices) reading its input.
        var readers: [String: [(root: String, indices: [[Int]])]] = [:]
        for g in groups { for c in g.consumerInputs { readers[c.module, default: []].append((g.root, c.indices)) } }
        func observe(_ module: String, _ x: UnsafePointer<Float>, rows n: Int, width: Int) {
            for (root, indices) in readers[module] ?? [] {
                var s = sums[root]!
                for r in 0..<n {
                    let row = x + r * width
                    for (u, idx) in indices.enumerated() { for i in idx { s[u] += Double(abs(row[i])) } }
                }
                sums[root] = s
                rows[root, default: 0] += Double(n)
            }
        }
        var start = 0
        while start < calibration.count {
            let items = calibration.slice(start..<min(calibration.count, start + batch))
            start += batch
            switch (model.kind, try model.prepare(items)) {
            case let (.sequential(m), .tensor(x)):
                var h = x
                for layer in m.layers {
                    let width = h.shape.last ?? 1
                    h.withUnsafeFloats { observe(layer.name, $0.baseAddress!, rows: h.count / width, width: width) }
                    h = try layer.forward(h, on: executor)
                }
            case let (.sentenceEncoder(bert, _, _), .tokens(ids, lengths)):
                try BertProbe.run(bert, ids: ids, lengths: lengths, on: executor) { layer, ctx, mid, influence, t in
                    let p = "encoder.layer.\(layer)."
                    let s = bert.layers[layer].shape
                    observe(p + "attention.output.dense", ctx, rows: t, width: s.attentionWidth)
                    observe(p + "output.dense", mid, rows: t, width: s.intermediateSize)
                    if sums["encoder.layer"] != nil { sums["encoder.layer"]![layer] += influence }
                }
                rows["encoder.layer", default: 0] += Double(ids.count)
            default:
                throw CompressionError.calibration("calibration items do not match the model")
            }
        }
        var out: [String: [Double]] = [:]
        for g in groups { out[g.root] = sums[g.root]!.map { $0 / max(rows[g.root] ?? 1, 1) } }
        return out
    }
}

/// Runs a BERT encoder layer by layer through its public pieces, exposing each layer's attention context (T, A),
/// FFN activations (T, F) and block influence Σ_tokens (1 − cos(x_in, x_out)).
enum BertProbe {
    static func run(
        _ bert: BertModel, ids: [Int32], lengths: [Int], on executor: Executor,
        _ body: (_ layer: Int, _ ctx: UnsafePointer<Float>, _ mid: UnsafePointer<Float>, _ influence: Double, _ tokens: Int) -> Void
    ) throws {
        let h = bert.config.hiddenSize, t = ids.count
        var starts: [Int] = []
        var acc = 0
        for len in lengths { starts.append(acc); acc += len }
        guard let embeddings = bert.module(at: "embeddings") as? BertEmbeddings else { throw ModelError.noSuchModule("embeddings") }
        var x = [Float](repeating: 0, count: t * h)
        x.withUnsafeMutableBufferPointer { embeddings.forward(ids: ids, lengths: lengths, into: $0.baseAddress!, on: executor) }
        for (i, layer) in bert.layers.enumerated() {
            let p = "encoder.layer.\(i)."
            guard let attention = bert.module(at: p + "attention.self") as? BertSelfAttention,
                let attentionOutput = bert.module(at: p + "attention.output") as? BertResidualOutput,
                let intermediate = bert.module(at: p + "intermediate") as? BertIntermediate,
                let output = bert.module(at: p + "output") as? BertResidualOutput
            else { throw ModelError.noSuchModule(p) }
            let a = layer.shape.attentionWidth, f = layer.shape.intermediateSize
            var qkv = [Float](repeating: 0, count: t * 3 * a), ctx = [Float](repeating: 0, count: t * a)
            var attn = [Float](repeating: 0, count: t * h), mid = [Float](repeating: 0, count: t * f)
            var y = [Float](repeating: 0, count: t * h)
            x.withUnsafeBufferPointer { xp in
                qkv.withUnsafeMutableBufferPointer { attention.project(xp.baseAddress!, rows: t, into: $0.baseAddress!, on: executor) }
                qkv.withUnsafeBufferPointer { q in
                    ctx.withUnsafeMutableBufferPointer {
                        attention.attend(q.baseAddress!, lengths: lengths, starts: starts, into: $0.baseAddress!, on: executor)
                    }
                }
                ctx.withUnsafeBufferPointer { c in
                    attn.withUnsafeMutableBufferPointer {
                        attentionOutput.apply(c.baseAddress!, residual: xp.baseAddress!, rows: t, into: $0.baseAddress!, on: executor)
                    }
                }
            }
            attn.withUnsafeBufferPointer { ap in
                mid.withUnsafeMutableBufferPointer { intermediate.apply(ap.baseAddress!, rows: t, into: $0.baseAddress!, on: executor) }
                mid.withUnsafeBufferPointer { m in
                    y.withUnsafeMutableBufferPointer {
                        output.apply(m.baseAddress!, residual: ap.baseAddress!, rows: t, into: $0.baseAddress!, on: executor)
                    }
                }
            }
            var influence = 0.0
            for r in 0..<t {
                var dot = 0.0, nx = 0.0, ny = 0.0
                for j in 0..<h {
                    let u = Double(x[r * h + j]), v = Double(y[r * h + j])
                    dot += u * v; nx += u * u; ny += v * v
                }
                influence += 1 - dot / max((nx * ny).squareRoot(), 1e-12)
            }
            ctx.withUnsafeBufferPointer { c in mid.withUnsafeBufferPointer { m in body(i, c.baseAddress!, m.baseAddress!, influence, t) } }
            x = y
        }
    }
}
