import Console
import Formats
import Foundation
import Runtime
import Tensors

/// Runs the measurements of `compress eval`.
public struct Evaluator {
    public struct Options: Sendable {
        /// Batch sizes to time; 1 gives the latency figures, the others throughput.
        public var batchSizes: [Int] = [1, 32]
        /// Batch size for computing outputs (not timed).
        public var outputBatchSize = 32
        /// Seconds of timed passes per batch size at most.
        public var timeBudget: Double = 10
        /// Items per timed pass.
        public var timedItems = 256
        public var zstdLevel = 3
        /// Skip timing (for quick fidelity checks and tests).
        public var skipTiming = false
        public init() {}
    }

    public var options: Options
    /// Where every forward pass runs (its thread count is reported with the timings).
    public let executor: Executor
    /// Batches of output passes and timed passes (stderr for commands).
    public var progress: ProgressReporter

    public init(options: Options = Options(), executor: Executor, progress: ProgressReporter = .silent) {
        self.options = options
        self.executor = executor
        self.progress = progress
    }

    /// Outputs for all items, computed in batches (a progress task named `label`).
    public func outputs(_ model: LoadedModel, _ items: ModelInputs, label: String = "outputs") throws -> Tensor {
        guard items.count > 0 else { throw TensorError.empty("no items to run") }
        let b = options.outputBatchSize
        var parts: [Tensor] = []
        try progress.task(label, total: (items.count + b - 1) / b) { task in
            for start in stride(from: 0, to: items.count, by: b) {
                parts.append(try model.predict(items.slice(start..<min(items.count, start + b)), on: executor))
                task.advance()
            }
        }
        return try Tensor.concatenateRows(parts)
    }

    /// Evaluates `model` on `data` (one or more specs), optionally against `reference`. `modelCache` and
    /// `referenceCache` hold outputs of the same model from earlier calls (only for a model that never changes).
    public func evaluate(
        _ model: LoadedModel, data: [EvalData], reference: LoadedModel? = nil, modelCache: OutputCache? = nil,
        referenceCache: OutputCache? = nil
    ) throws -> EvalReport {
        var accuracy: Double?
        var fidelity: FidelityReport?
        var paraphrase: ParaphraseResult?
        var itemCount = 0
        var cosines: [Double] = [], overlaps: [Double] = [], agreements: [Double] = [], spearmans: [Double] = []
        var maxDiff = 0.0
        var nonFinite = 0
        for d in data {
            let out = try cached(modelCache, d.spec) { try outputs(model, d.items, label: "outputs on \(d.spec)") }
            itemCount += d.items.count
            nonFinite += NonFinite.count(out)
            if let labels = d.labels {
                try d.validateLabels(classes: out.rank == 2 ? out.shape[1] : 0)
                accuracy = Fidelity.accuracy(out, labels: labels)
            }
            if !d.pairs.isEmpty { paraphrase = Fidelity.paraphraseCheck(out, isParaphrase: d.pairs.map(\.paraphrase)) }
            if let reference {
                let ref = try cached(referenceCache, d.spec) { try outputs(reference, d.items, label: "reference outputs on \(d.spec)") }
                guard ref.shape == out.shape else {
                    throw FormatError.invalid(
                        file: reference.source.path, message: "reference outputs \(ref.shape) differ in shape from the model's \(out.shape)"
                    )
                }
                cosines += Fidelity.rowCosines(out, ref)
                let diff = Fidelity.maxAbsDiff(out, ref)
                maxDiff = maxDiff.isNaN || diff.isNaN ? .nan : max(maxDiff, diff)
                if model.takesText {
                    // Neighbour search is quadratic: a 1000-item prefix is plenty to rank neighbours.
                    let k = min(out.shape[0], 1000)
                    overlaps.append(Fidelity.nearestNeighbourOverlap(out.rows(0..<k), ref.rows(0..<k), k: 5))
                    spearmans.append(Fidelity.pairwiseSimilaritySpearman(out.rows(0..<k), ref.rows(0..<k)))
                } else {
                    agreements.append(Fidelity.topOneAgreement(out, ref))
                }
            }
        }
        if let reference, !cosines.isEmpty {
            fidelity = FidelityReport(
                reference: reference.source.path, cosineMean: cosines.reduce(0, +) / Double(cosines.count),
                cosineMin: cosines.contains(where: \.isNaN) ? .nan : cosines.min()!, maxAbsDiff: maxDiff,
                top5Overlap: overlaps.isEmpty ? nil : overlaps.reduce(0, +) / Double(overlaps.count),
                topOneAgreement: agreements.isEmpty ? nil : agreements.reduce(0, +) / Double(agreements.count))
            fidelity?.pairwiseSpearman = spearmans.isEmpty ? nil : spearmans.reduce(0, +) / Double(spearmans.count)
        }
        var latency: Timing.Result?
        var throughput: [Timing.Result] = []
        if !options.skipTiming, let first = data.first {
            for b in options.batchSizes.sorted() {
                let r = try Timing.measure(
                    model, items: first.items, batchSize: b, maxItems: max(options.timedItems, b),
                    budget: options.timeBudget, on: executor, progress: progress)
                if b == 1 { latency = r } else { throughput.append(r) }
            }
        }
        var report = EvalReport(
            model: model.source.path, format: model.format, data: data.map(\.spec), items: itemCount,
            parameters: logicalParameterCount(model.root), accuracy: accuracy, fidelity: fidelity, paraphrase: paraphrase,
            latency: latency, throughput: throughput, size: try size(of: model), peakRssBytes: peakRSSBytes(),
            threads: executor.threads)
        report.nonFiniteOutputs = nonFinite
        return report
    }

    private func cached(_ cache: OutputCache?, _ spec: String, _ compute: () throws -> Tensor) throws -> Tensor {
        guard let cache else { return try compute() }
        return try cache.outputs(for: spec, compute)
    }

    /// File bytes on disk, raw weight bytes and their zstd size.
    public func size(of model: LoadedModel) throws -> SizeReport {
        let params = model.root.namedParameters()
        var tensors: [String: Tensor] = [:]
        for (k, v) in params { tensors[k] = v }
        let encoded = try SafeTensors.encode(tensors, metadata: [:])
        let zstdBytes = try Zstd.compress(encoded, level: options.zstdLevel).count
        return SizeReport(
            fileBytes: diskBytes(model.source), weightsBytes: encoded.count, weightsZstdBytes: zstdBytes, zstdLevel: options.zstdLevel)
    }

    /// Bytes of a file, or of the weight, config and tokenizer files in a model directory.
    func diskBytes(_ url: URL) -> Int {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDir) else { return 0 }
        if !isDir.boolValue { return (try? fm.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0 }
        let names = (try? fm.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".zst") || $0.hasSuffix(".json") || $0 == "vocab.txt" }
            .reduce(0) { $0 + ((try? fm.attributesOfItem(atPath: url.appendingPathComponent($1).path)[.size] as? Int) ?? 0) }
    }
}
