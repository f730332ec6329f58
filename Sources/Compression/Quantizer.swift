import CKernels
import Console
import Formats
import Foundation
import Layers
import Runtime
import Tensors

/// What quantization did to one module.
public struct QuantizedLayerReport: Codable, Sendable {
    public var path: String
    public var bits: Int
    public var method: QuantizationMethod
    /// `none`, `dynamic`, `static-<calibration>`, or `-` for embedding tables (no activations).
    public var activations: String
    public var bitsPerWeight: Double
    /// ‖W − Ŵ‖ / ‖W‖ on the (smoothed) weight (nil when the module was rebuilt by tuning).
    public var weightRelativeError: Double?
    /// SmoothQuant α or the α AWQ chose.
    public var smoothingAlpha: Float?

    public init(
        path: String, bits: Int, method: QuantizationMethod, activations: String, bitsPerWeight: Double, weightRelativeError: Double?,
        smoothingAlpha: Float?
    ) {
        self.path = path; self.bits = bits; self.method = method; self.activations = activations; self.bitsPerWeight = bitsPerWeight
        self.weightRelativeError = weightRelativeError; self.smoothingAlpha = smoothingAlpha
    }

    enum CodingKeys: String, CodingKey {
        case path, bits, method, activations, bitsPerWeight = "bits_per_weight", weightRelativeError = "weight_relative_error"
        case smoothingAlpha = "smoothing_alpha"
    }
}

/// Replaces a model's Linear modules by quantized ones, by path (STYLE rule 5), following a ``QuantizeConfig``.
public struct Quantizer {
    public let config: QuantizeConfig
    /// Runs the calibration passes.
    public let executor: Executor
    /// Modules quantized, with calibration batches nested in them.
    public var progress: ProgressReporter
    /// Per-path overrides for mixed precision: bits 8 or 4 for that module, or 32 to keep it fp32.
    public var overrides: [String: Int] = [:]

    public init(config: QuantizeConfig, executor: Executor, progress: ProgressReporter = .silent) {
        self.config = config
        self.executor = executor
        self.progress = progress
    }

    /// The fp32 Linear (and, for int8, Conv2D) paths the config selects.
    public func targetPaths(_ model: LoadedModel) throws -> [String] {
        let linears = model.root.namedModules().filter { $0.1 is Linear || ($0.1 is Conv2D && config.weights.bits == 8) }.map(\.0)
        let selected = try PathPattern.select(linears, targets: config.targets, ignore: config.ignore)
        guard !selected.isEmpty else {
            throw CompressionError.noTargets(
                "quantize: no Linear module matches targets \(config.targets ?? ["(all)"]) minus ignore \(config.ignore ?? [])")
        }
        return selected
    }

    /// Quantizes `model` in place; `calibration` items are required for static activations, SmoothQuant, GPTQ and AWQ.
    @discardableResult
    public func apply(to model: LoadedModel, calibration: ModelInputs?) throws -> [QuantizedLayerReport] {
        try config.validate()
        let paths = try targetPaths(model).filter { (overrides[$0] ?? config.weights.bits) != 32 }
        var linears: [String: Layer] = [:]
        for p in paths {
            // targetPaths only returns Linear and Conv2D paths, both Layers.
            guard let l = model.root.module(at: p) as? Layer else { throw ModelError.noSuchModule(p) }
            if l.parameter("weight").floats.contains(where: { !$0.isFinite }) {
                throw CompressionError.nonFinite("quantize: weight '\(p).weight' contains NaN or Inf")
            }
            let inFeatures = Self.weightMatrix(l).shape[1]
            if groupSize(p) > 0, inFeatures % groupSize(p) != 0 {
                throw CompressionError.invalidConfig(
                    key: "weights.group_size",
                    message: "group size \(groupSize(p)) does not divide the input dimension \(inFeatures) of '\(p)'")
            }
            linears[p] = l
        }
        // GPTQ runs block by block ("true sequential"): each block's Hessians come from inputs produced by the
        // blocks before it already quantized, so later layers correct for earlier rounding.
        let groups = config.method == .gptq ? Self.sequentialGroups(paths) : [paths]
        var reports: [QuantizedLayerReport] = []
        try progress.task("quantize (\(config.method))", total: paths.count) { _ in
            for group in groups {
                let groupLinears = linears.filter { group.contains($0.key) }
                reports += try quantizeGroup(group, groupLinears, model: model, calibration: calibration)
            }
        }
        if config.embeddings == true { reports += try quantizeEmbeddings(model) }
        return reports
    }

    /// Every fp32 embedding table not ignored → int8 rows with per-row scales (after the Linears: calibration
    /// above ran with fp32 tables).
    func quantizeEmbeddings(_ model: LoadedModel) throws -> [QuantizedLayerReport] {
        let ignore = try (config.ignore ?? []).map(PathPattern.init)
        var reports: [QuantizedLayerReport] = []
        for (path, module) in model.root.namedModules() {
            guard let table = module as? Embedding, !ignore.contains(where: { $0.matches(path) }) else { continue }
            let w = table.parameter("weight")
            if w.floats.contains(where: { !$0.isFinite }) {
                throw CompressionError.nonFinite("quantize: weight '\(path).weight' contains NaN or Inf")
            }
            var codes = Tensor(zeros: [table.count, table.dim], dtype: .int8)
            var scales = Tensor(zeros: [table.count])
            codes.withUnsafeMutableElements(as: Int8.self) { c in
                scales.withUnsafeMutableFloats { s in
                    w.withUnsafeFloats { wp in
                        ck_quantize_rows_s8(wp.baseAddress!, table.count, table.dim, c.baseAddress!, s.baseAddress!)
                    }
                }
            }
            let q = Int8Embedding(count: table.count, dim: table.dim)
            try q.setParameter("weight", codes)
            try q.setParameter("weight_scale", scales)
            try model.root.replaceModule(at: path, with: q)
            var num = 0.0, den = 0.0
            let a = w.floats
            for r in 0..<table.count {
                let row = UnsafeMutablePointer<Float>.allocate(capacity: table.dim)
                q.copyRow(r, into: row)
                for j in 0..<table.dim {
                    let x = Double(a[r * table.dim + j]); num += (x - Double(row[j])) * (x - Double(row[j])); den += x * x
                }
                row.deallocate()
            }
            reports.append(
                QuantizedLayerReport(
                    path: path, bits: 8, method: .rtn, activations: "-", bitsPerWeight: q.bitsPerWeight,
                    weightRelativeError: den > 0 ? (num / den).squareRoot() : 0, smoothingAlpha: nil))
        }
        return reports
    }

    /// Smoothing, calibration and quantization of one group of targets (all of them, or one block for GPTQ).
    func quantizeGroup(
        _ paths: [String], _ linears: [String: Layer], model: LoadedModel, calibration: ModelInputs?
    ) throws -> [QuantizedLayerReport] {
        var recorders: [String: CalibrationRecorder] = [:]
        if config.needsCalibration {
            recorders = try calibrate(model, linears: linears, items: calibration, observeScales: [:])
        }
        // SmoothQuant / AWQ scales per module.
        var smoothing: [String: (scale: [Float], alpha: Float)] = [:]
        for p in paths where linears[p] is Linear {
            let w = linears[p]!.parameter("weight")
            if let sq = config.smoothquant, let absMax = recorders[p]?.channelAbsMax {
                smoothing[p] = (SmoothQuant.scales(activationAbsMax: absMax, weight: w, alpha: sq.alpha), sq.alpha)
            } else if config.usesAWQScales, let r = recorders[p] {
                let rows = r.samples.count / w.shape[1]
                let inputs = Tensor(shape: [rows, w.shape[1]], floats: r.samples)
                let found = try AWQ.searchScales(w, inputs: inputs, bits: bits(p), groupSize: groupSize(p), symmetric: true)
                smoothing[p] = (found.scales, found.alpha)
            }
        }
        // Static activation ranges are measured on what the int8 GEMM will see: smoothed inputs.
        if config.activationMode == .static, !smoothing.isEmpty {
            recorders = try calibrate(model, linears: linears, items: calibration, observeScales: smoothing.mapValues(\.scale))
        }
        var reports: [QuantizedLayerReport] = []
        for p in paths {
            let (module, report) = try quantize(linears[p]!, path: p, smoothing: smoothing[p], recorder: recorders[p])
            try model.root.replaceModule(at: p, with: module)
            reports.append(report)
            progress.advance()
        }
        return reports
    }

    /// Targets grouped by block, in model order: a path's block is its prefix up to the first numeric component
    /// (`encoder.layer.3.attention.self.query` → `encoder.layer.3`); paths without one form their own group.
    static func sequentialGroups(_ paths: [String]) -> [[String]] {
        var groups: [[String]] = []
        var keys: [String] = []
        for p in paths {
            let parts = p.split(separator: ".")
            let key = parts.firstIndex { Int($0) != nil }.map { parts[...$0].joined(separator: ".") } ?? p
            if keys.last == key { groups[groups.count - 1].append(p) } else { keys.append(key); groups.append([p]) }
        }
        return groups
    }

    func bits(_ path: String) -> Int { overrides[path] ?? config.weights.bits }
    func groupSize(_ path: String) -> Int { bits(path) == 4 ? (config.groupSize > 0 ? config.groupSize : 32) : 0 }

    /// Runs calibration items through the model with recorders in place of the targets.
    func calibrate(
        _ model: LoadedModel, linears: [String: Layer], items: ModelInputs?, observeScales: [String: [Float]]
    ) throws -> [String: CalibrationRecorder] {
        guard let items, items.count > 0 else {
            throw CompressionError.calibration("data.calibration is required for static activations, smoothquant, gptq and awq")
        }
        let minimum = 8
        guard items.count >= minimum else {
            throw CompressionError.calibration("only \(items.count) calibration samples; at least \(minimum) are needed")
        }
        let n = min(items.count, config.calibrationSamples ?? 256)
        var recorders: [String: CalibrationRecorder] = [:]
        for (p, l) in linears {
            let r = CalibrationRecorder(wrapping: l, path: p)
            if config.activationMode == .static { r.observer = ActivationCalibration.Observer(); r.observeScale = observeScales[p] }
            if observeScales.isEmpty {
                if config.smoothquant != nil || config.usesAWQScales { r.channelAbsMax = [Float](repeating: 0, count: r.inFeatures) }
                if config.method == .gptq { r.hessian = GPTQ.HessianAccumulator(features: r.inFeatures) }
                if config.usesAWQScales { r.maxSamples = 512 }
            }
            recorders[p] = r
            try model.root.replaceModule(at: p, with: r)
        }
        defer { for (p, l) in linears { try? model.root.replaceModule(at: p, with: l) } }
        let maxTokens = config.maxSequenceLength ?? 128
        let batch = 16
        try progress.task("calibration", total: (n + batch - 1) / batch) { task in
            for start in stride(from: 0, to: n, by: batch) {
                var prepared = try model.prepare(items.slice(start..<min(n, start + batch)))
                if case let .tokens(ids, lengths) = prepared { prepared = Self.truncate(ids: ids, lengths: lengths, maxTokens: maxTokens) }
                _ = try model.run(prepared, on: executor)
                if let bad = recorders.first(where: { $0.value.sawNonFinite }) {
                    throw CompressionError.nonFinite(
                        "calibration: the input of '\(bad.key)' contains NaN or Inf (samples \(start)..<\(min(n, start + batch)))")
                }
                task.advance()
            }
        }
        return recorders
    }

    /// Caps each packed sequence at `maxTokens` (calibration statistics don't need 256-token tails).
    static func truncate(ids: [Int32], lengths: [Int], maxTokens: Int) -> PreparedInputs {
        var outIds: [Int32] = [], outLengths: [Int] = []
        var offset = 0
        for len in lengths {
            let keep = min(len, maxTokens)
            outIds += ids[offset..<(offset + keep)]
            outLengths.append(keep)
            offset += len
        }
        return .tokens(ids: outIds, lengths: outLengths)
    }

    /// The GEMM weight (out, in) of a Linear, or of a Conv2D as (filters, kh·kw·in).
    static func weightMatrix(_ l: Layer) -> Tensor {
        let w = l.parameter("weight")
        return w.reshaped([w.shape[0], -1])
    }

    /// One module: smoothing, weight quantization, and the replacement module.
    func quantize(
        _ target: Layer, path: String, smoothing: (scale: [Float], alpha: Float)?, recorder: CalibrationRecorder?
    ) throws -> (Layer, QuantizedLayerReport) {
        var w = Self.weightMatrix(target)  // (out, in)
        let (out, inF) = (w.shape[0], w.shape[1])
        let conv = target as? Conv2D
        let linear = target as? Linear
        guard let (useBias, activation) = linear.map({ ($0.useBias, $0.activation) }) ?? conv.map({ ($0.useBias, $0.activation) })
        else { throw ModelError.invalidConfig("quantize: '\(path)' is neither a Linear nor a Conv2D") }
        if let s = smoothing?.scale {
            w.withUnsafeMutableFloats { wp in for o in 0..<out { for j in 0..<inF { wp[o * inF + j] *= s[j] } } }
        }
        let b = bits(path), g = groupSize(path)
        let q: QuantizedWeight
        switch config.method {
        case .gptq:
            guard var h = recorder?.hessian?.hessian() else { throw CompressionError.calibration("no Hessian recorded for '\(path)'") }
            if let s = smoothing?.scale {
                // x' = x / s  ⇒  H' = diag(1/s) · H · diag(1/s)
                h.withUnsafeMutableFloats { hp in for i in 0..<inF { for j in 0..<inF { hp[i * inF + j] /= s[i] * s[j] } } }
            }
            q = try GPTQ.quantize(
                w, hessian: h, bits: b, groupSize: g, symmetric: true, actOrder: config.weights.actOrder ?? false,
                dampening: config.weights.dampening ?? 0.01, scaleSearch: config.weights.scaleSearch == .mse)
        case .rtn, .awq:
            if b == 8 && config.granularity == .perTensor {
                q = try RTN.quantizePerTensor(w, bits: 8)
            } else {
                q = try RTN.quantize(w, bits: b, groupSize: g, symmetric: true, scaleSearch: config.weights.scaleSearch == .mse)
            }
        }
        let deq = q.dequantized().floats, orig = w.floats
        var num = 0.0, den = 0.0
        for i in 0..<orig.count {
            // In Double: squares of weights near Float.greatestFiniteMagnitude overflow Float.
            let (o, d) = (Double(orig[i]), Double(deq[i]))
            num += (o - d) * (o - d); den += o * o
        }
        let relErr = den > 0 ? (num / den).squareRoot() : 0
        // Weights near the float32 limit (1e38) overflow inside GPTQ's Hessian updates or the scale search: say so,
        // rather than write NaN scales (or fail later encoding NaN into metrics.json).
        guard relErr.isFinite, q.scales.allSatisfy(\.isFinite), deq.allSatisfy(\.isFinite) else {
            let largest = orig.reduce(Float(0)) { max($0, abs($1)) }
            throw CompressionError.nonFinite(
                "quantize: module '\(path)': \(config.method) produced NaN or infinite values (largest |weight| \(largest) is too close to the float32 limit)"
            )
        }
        let method = config.method
        let module: Layer & QuantizedModule
        let gemm: Module
        var actDesc = "none"
        if b == 8 {
            let mode = config.activationMode
            actDesc = mode.rawValue
            let m: Int8Linear
            if let conv {
                let c = Int8Conv2D(
                    geometry: conv.geometry, filters: conv.filters, useBias: useBias, activation: activation, mode: mode, method: method)
                m = c.gemm
                module = c
            } else {
                m = Int8Linear(
                    name: target.name, inFeatures: inF, outFeatures: out, useBias: useBias, activation: activation, mode: mode,
                    inputScale: smoothing != nil, method: method)
                module = m
            }
            gemm = m
            try m.setParameter("weight", Tensor(shape: [out, inF], integers: q.codes, dtype: .int8))
            try m.setParameter("weight_scale", Tensor(shape: [out], floats: q.scales))
            if mode == .static {
                guard let o = recorder?.observer else { throw CompressionError.calibration("no activation statistics for '\(path)'") }
                let method = config.activations?.calibration ?? .minmax
                let (lo0, hi0) = try ActivationCalibration.range(
                    o, method: method, percentile: config.activations?.percentile ?? 99.99, symmetric: false)
                let lo = min(lo0, 0), hi = max(hi0, 0)
                let scale = hi > lo ? (hi - lo) / 255 : 1
                let zp = Int32(min(255, max(0, (-lo / scale).rounded(.toNearestOrEven))))
                try m.setParameter("act_scale", Tensor(shape: [1], floats: [scale]))
                try m.setParameter("act_zero_point", Tensor(shape: [1], integers: [zp], dtype: .int32))
                actDesc = "static-\(method.rawValue)"
            }
        } else {
            let m = try Int4Linear(
                name: target.name, inFeatures: inF, outFeatures: out, useBias: useBias, activation: activation,
                groupSize: g, inputScale: smoothing != nil, method: method)
            try m.setParameter("weight", Self.packQ4(q))
            module = m
            gemm = m
        }
        if useBias { try gemm.setParameter("bias", target.parameter("bias")) }
        if let s = smoothing?.scale { try gemm.setParameter("input_scale", Tensor(shape: [inF], floats: s)) }
        return (
            module,
            QuantizedLayerReport(
                path: path, bits: b, method: method, activations: actDesc, bitsPerWeight: module.bitsPerWeight,
                weightRelativeError: relErr, smoothingAlpha: smoothing?.alpha)
        )
    }

    /// Symmetric int4 codes in [-8, 7] with per-group scales → `ck_block_q4` rows (q = code + 8; element j in the
    /// low nibble and j + 16 in the high nibble of byte j).
    static func packQ4(_ q: QuantizedWeight) throws -> Tensor {
        let rows = q.rows, k = q.cols
        let blocks = ck_q4_blocks_per_row(k)
        let rowBytes = QuantOps.q4RowBytes(k)
        let groups = (k + q.groupSize - 1) / q.groupSize
        var t = Tensor(zeros: [rows, rowBytes], dtype: .uint8)
        t.withUnsafeMutableElements(as: UInt8.self) { bytes in
            let base = UnsafeMutableRawPointer(bytes.baseAddress!)
            for r in 0..<rows {
                let row = (base + r * rowBytes).assumingMemoryBound(to: ck_block_q4.self)
                for blk in 0..<blocks {
                    let first = blk * 32
                    row[blk].d = q.scales[r * groups + first / q.groupSize]
                    withUnsafeMutableBytes(of: &row[blk].qs) { qs in
                        for j in 0..<16 {
                            func code(_ c: Int) -> UInt8 { c < k ? UInt8(Int(q.codes[r * k + c]) + 8) : 8 }
                            qs[j] = code(first + j) | (code(first + j + 16) << 4)
                        }
                    }
                }
            }
        }
        return t
    }
}
